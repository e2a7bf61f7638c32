package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/stats"
)

// diversityKeys are the driver's diversity rows' metrics (framework/metrics.Diversity);
// the trial metrics are the evaluator's, which the report is given.
var diversityKeys = []string{"div_cos", "div_frob", "r1_std"}

// DefaultReference is the method others are compared with when Options.Reference is empty.
const DefaultReference = "SG-LoRA"

// unit is one (task, seed) pair: the resampling unit of every statistic.
type unit struct {
	task string
	seed uint64
}

// summary describes one metric of one method over its units.
type summary struct {
	Mean  float64        // mean over (task, seed) units
	Std   float64        // sample std over seeds of the per-seed task-mean; NaN with one seed
	CI    stats.Interval // percentile bootstrap over units
	Units int
	Seeds int
}

func (s summary) ok() bool { return s.Units > 0 }

// method holds everything a report says about one method in one split.
type method struct {
	Name      string
	Base      string
	Sweep     map[string]any
	Reference string // "zero-shot", "oracle" or ""
	Failed    int    // rows with an error, of any kind
	Samples   int    // most samples seen for one unit

	units  []unit                      // with at least one successful sample, ordered
	values map[string]map[unit]float64 // metric → unit → mean over samples
	div    map[string]map[unit]float64 // diversity metric → unit → value

	Scores    map[string]summary // evaluator metric → summary
	Div       map[string]summary
	DivZero   bool                          // no diversity rows and one sample per unit: diversity is zero
	PerTask   map[string]map[string]float64 // metric → task → mean over seeds
	Paired    map[string]stats.Paired       // headline metric → comparison with the split's reference
	HasPaired bool
}

// split is one zero-shot split of the experiment.
type split struct {
	Name      string
	Methods   []*method // first-appearance order
	Tasks     []string  // first-appearance order
	Reference string    // method compared against; "" when absent
}

func (s *split) method(name string) *method {
	for _, m := range s.Methods {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// report is the aggregated journal.
type report struct {
	Splits        []*split
	Failed        []results.Row
	Trials        int // trial rows, failed included
	DiversityRows int
	Reference     string // requested reference
	Boot          stats.Bootstrap
	// Metrics are the evaluator's metrics (the tables' columns) and headline metrics
	// (statistics, comparisons, figures); Assumed says they were not recorded with the
	// run but assumed (results.LegacyMetrics), which summary.md notes.
	Metrics results.Metrics
	Assumed bool
}

// aggregate turns journal rows into per-split, per-method statistics. See the package
// documentation for the rules. order is the experiment's order of its splits
// (results.ReadSplits); splits it does not name follow, in the order the rows first
// name them.
func aggregate(rows []results.Row, ms results.Metrics, order []string, reference string, boot stats.Bootstrap) (*report, error) {
	rep := &report{Reference: reference, Boot: boot, Metrics: ms}
	splits := map[string]*split{}
	methods := map[[2]string]*method{}
	taskOrder := map[[2]string]int{}
	// successful rows of each method: unit → metric → one value per sample
	samples := map[*method]map[unit]map[string][]float64{}
	divs := map[*method]map[unit]map[string][]float64{}
	nsamples := map[*method]map[unit]int{}

	for i, r := range rows {
		switch r.Kind {
		case results.KindTrial:
			rep.Trials++
		case results.KindDiversity:
			rep.DiversityRows++
		default:
			return nil, fmt.Errorf("reports: row %d (%s/%s/%s): unknown kind %q", i+1, r.Split, r.Task, r.Method, r.Kind)
		}
		sp := splits[r.Split]
		if sp == nil {
			sp = &split{Name: r.Split}
			splits[r.Split] = sp
			rep.Splits = append(rep.Splits, sp)
		}
		if _, seen := taskOrder[[2]string{r.Split, r.Task}]; !seen {
			taskOrder[[2]string{r.Split, r.Task}] = len(sp.Tasks)
			sp.Tasks = append(sp.Tasks, r.Task)
		}
		m := methods[[2]string{r.Split, r.Method}]
		if m == nil {
			m = &method{Name: r.Method, Base: r.Base, Sweep: r.Sweep, Reference: r.Reference}
			methods[[2]string{r.Split, r.Method}] = m
			sp.Methods = append(sp.Methods, m)
		}
		if r.Error != "" {
			m.Failed++
			rep.Failed = append(rep.Failed, r)
			continue
		}
		u := unit{r.Task, r.Seed}
		dst := samples
		if r.Kind == results.KindDiversity {
			dst = divs
		}
		if dst[m] == nil {
			dst[m] = map[unit]map[string][]float64{}
		}
		if dst[m][u] == nil {
			dst[m][u] = map[string][]float64{}
		}
		for k, v := range r.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("reports: row %d (%s/%s/%s seed %d): metric %s is %v", i+1, r.Split, r.Task, r.Method, r.Seed, k, v)
			}
			dst[m][u][k] = append(dst[m][u][k], v)
		}
		if r.Kind == results.KindTrial {
			if nsamples[m] == nil {
				nsamples[m] = map[unit]int{}
			}
			nsamples[m][u]++
		}
	}

	// Concurrent blocks of trials append to the journal in the order they finish, so
	// the rows' order of the splits is not the experiment's.
	rank := func(sp *split) int {
		if i := slices.Index(order, sp.Name); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(rep.Splits, func(a, b *split) int { return cmp.Compare(rank(a), rank(b)) })

	for _, sp := range rep.Splits {
		// The bootstrap sees units by task name and seed, not in the journal's order, so
		// that the same rows give the same intervals however they were appended (a
		// resumed run, shards merged).
		less := func(a, b unit) int {
			return cmp.Or(cmp.Compare(a.task, b.task), cmp.Compare(a.seed, b.seed))
		}
		for _, m := range sp.Methods {
			m.values = meanOverSamples(samples[m])
			m.div = meanOverSamples(divs[m])
			for u, n := range nsamples[m] {
				m.units = append(m.units, u)
				m.Samples = max(m.Samples, n)
			}
			slices.SortFunc(m.units, less)
			m.Scores = map[string]summary{}
			m.PerTask = map[string]map[string]float64{}
			for _, k := range ms.Names() {
				m.Scores[k] = summarize(m.values[k], less, boot)
				m.PerTask[k] = perTask(m.values[k])
			}
			m.Div = map[string]summary{}
			hasDiv := false
			for _, k := range diversityKeys {
				m.Div[k] = summarize(m.div[k], less, boot)
				hasDiv = hasDiv || m.Div[k].ok()
			}
			if !hasDiv && m.Samples == 1 {
				// One adapter per task and seed: the parameter spread is zero by definition.
				m.DivZero = true
				zero := map[unit]float64{}
				for _, u := range m.units {
					zero[u] = 0
				}
				for _, k := range diversityKeys {
					m.Div[k] = summarize(zero, less, boot)
				}
			}
		}
		sp.Reference = resolveReference(sp, reference)
		if ref := sp.method(sp.Reference); ref != nil {
			for _, m := range sp.Methods {
				if m == ref {
					continue
				}
				m.HasPaired = true
				m.Paired = map[string]stats.Paired{}
				for _, k := range ms.Headline {
					p := compare(m.values[k], ref.values[k], ref.units, boot)
					if ms.Lookup(k).LowerIsBetter {
						p.WinRate = 1 - p.WinRate // ties count one half either way
					}
					m.Paired[k] = p
				}
			}
		}
	}
	return rep, nil
}

func resolveReference(sp *split, requested string) string {
	if requested != "" {
		if sp.method(requested) != nil {
			return requested
		}
		return ""
	}
	if sp.method(DefaultReference) != nil {
		return DefaultReference
	}
	return ""
}

// meanOverSamples averages each metric over the samples of a unit: the expected score of
// one draw from a generator.
func meanOverSamples(in map[unit]map[string][]float64) map[string]map[unit]float64 {
	out := map[string]map[unit]float64{}
	for u, ms := range in {
		for k, vs := range ms {
			if out[k] == nil {
				out[k] = map[unit]float64{}
			}
			sort.Float64s(vs) // summation order fixed, whatever the rows' order
			out[k][u] = stats.Mean(vs)
		}
	}
	return out
}

func summarize(vals map[unit]float64, less func(a, b unit) int, boot stats.Bootstrap) summary {
	units := make([]unit, 0, len(vals))
	for u := range vals {
		units = append(units, u)
	}
	slices.SortFunc(units, less) // the bootstrap sees units in a fixed order
	x := make([]float64, len(units))
	bySeed := map[uint64][]float64{}
	var seeds []uint64
	for i, u := range units {
		x[i] = vals[u]
		if _, ok := bySeed[u.seed]; !ok {
			seeds = append(seeds, u.seed)
		}
		bySeed[u.seed] = append(bySeed[u.seed], vals[u])
	}
	slices.Sort(seeds)
	seedMeans := make([]float64, len(seeds))
	for i, s := range seeds {
		seedMeans[i] = stats.Mean(bySeed[s])
	}
	return summary{
		Mean:  stats.Mean(x),
		Std:   stats.StdDev(seedMeans),
		CI:    boot.MeanCI(x),
		Units: len(x),
		Seeds: len(seeds),
	}
}

func perTask(vals map[unit]float64) map[string]float64 {
	by := map[string][]float64{}
	for u, v := range vals {
		by[u.task] = append(by[u.task], v)
	}
	out := make(map[string]float64, len(by))
	for t, vs := range by {
		sort.Float64s(vs) // summation order fixed: the same bits every run
		out[t] = stats.Mean(vs)
	}
	return out
}

// compare pairs a method with the reference on the units both have, in the reference's
// unit order.
func compare(a, ref map[unit]float64, order []unit, boot stats.Bootstrap) stats.Paired {
	var x, y []float64
	for _, u := range order {
		va, okA := a[u]
		vr, okR := ref[u]
		if okA && okR {
			x = append(x, va)
			y = append(y, vr)
		}
	}
	return boot.Compare(x, y)
}

// sweepValue formats a swept value as it appears in labels.
func sweepValue(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}
