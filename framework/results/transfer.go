package results

import (
	"fmt"
	"math"
	"slices"
)

// Transfer is what the transfer diagnostic measured (`runner transfer`): whether an
// expert whose description is near a task's description helps that task. The driver
// fills it; package reports turns it into statistics, transfer.json, transfer.csv and
// figures.
type Transfer struct {
	Experiment string
	ConfigHash string
	Metric     string // the evaluator metric scored: its primary headline metric unless asked otherwise
	// LowerIsBetter is the metric's direction: a gain is then a decrease.
	LowerIsBetter bool
	Seeds         []uint64 // the experiment's seeds, in order; the first index of the per-seed values
	Splits        []TransferSplit
}

// TransferSplit is one split's measurement. Experts are the seen tasks; targets are the
// seen tasks followed by the novel ones, so expert i and target i are the same task
// (the diagonal).
type TransferSplit struct {
	Name  string
	Seen  []string
	Novel []string
	// Similarity[e][t] is the cosine similarity of expert e's and target t's description
	// embeddings.
	Similarity [][]float64
	// ZeroShot[s][t] is the bare backbone's metric on target t with seed s.
	ZeroShot [][]float64
	// Expert[s][e][t] is the metric of expert e's prototype (the mean of its snapshots)
	// on target t with seed s.
	Expert [][][]float64
}

// Targets are the seen tasks followed by the novel ones.
func (s TransferSplit) Targets() []string {
	return append(append([]string(nil), s.Seen...), s.Novel...)
}

// Check reports the first inconsistency of the measurement: matrices whose shapes do not
// match the seeds, experts and targets, or a value that is not finite.
func (m *Transfer) Check() error {
	if len(m.Seeds) == 0 {
		return fmt.Errorf("transfer: no seeds")
	}
	for _, sp := range m.Splits {
		ne, nt := len(sp.Seen), len(sp.Seen)+len(sp.Novel)
		bad := len(sp.Similarity) != ne || len(sp.ZeroShot) != len(m.Seeds) || len(sp.Expert) != len(m.Seeds)
		for _, row := range sp.Similarity {
			bad = bad || len(row) != nt
		}
		for s := range sp.ZeroShot {
			bad = bad || len(sp.ZeroShot[s]) != nt || len(sp.Expert[s]) != ne
		}
		for _, mat := range sp.Expert {
			for _, row := range mat {
				bad = bad || len(row) != nt
			}
		}
		if bad {
			return fmt.Errorf("transfer: split %s: matrices do not match %d seeds, %d experts and %d targets", sp.Name, len(m.Seeds), ne, nt)
		}
		rows := slices.Concat(sp.Similarity, sp.ZeroShot)
		for _, mat := range sp.Expert {
			rows = append(rows, mat...)
		}
		for _, row := range rows {
			for _, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("transfer: split %s holds the non-finite value %v", sp.Name, v)
				}
			}
		}
	}
	return nil
}
