// Package library is a generator's view of the expert library (SG-LoRA §3.1): for
// every seen task its description embedding, its M snapshot adapters read from the
// file the runner names (lora.ReadSnapshots), its prototype μ_n (the mean of the
// snapshots) and its element-wise variance σ_n². It also holds the per-tensor z-score
// the trained generators work in.
package library

import (
	"context"
	"fmt"
	"math"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// Expert is one seen task.
type Expert struct {
	ID          string
	Description string
	Embedding   []float32
	Snapshots   [][]float32 // canonical flat vectors; nil after DropSnapshots
	Mean        []float32   // prototype μ_n
	Var         []float32   // σ_n², the population variance (1/M) over the snapshots
}

// Library is a validated set of experts sharing one schema and embedding width.
type Library struct {
	Schema  lora.Schema
	Experts []Expert
}

// Load reads every expert's snapshots file and builds the library. A file whose schema
// differs from lib.Schema is an error naming the expert and the file.
func Load(ctx context.Context, lib plugin.Library) (*Library, error) {
	experts := make([]Expert, len(lib.Experts))
	for i, e := range lib.Experts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, snaps, _, err := lora.ReadSnapshots(e.SnapshotPath)
		if err != nil {
			return nil, fmt.Errorf("library: expert %s: %w", name(i, e.ID), err)
		}
		if err := lib.Schema.Compatible(s); err != nil {
			return nil, fmt.Errorf("library: expert %s: snapshots %s do not match the library schema: %w", name(i, e.ID), e.SnapshotPath, err)
		}
		experts[i] = Expert{ID: e.ID, Description: e.Description, Embedding: e.Embedding, Snapshots: snaps}
	}
	return New(lib.Schema, experts)
}

// New validates experts held in memory and computes their prototypes and variances
// (any Mean and Var given are replaced).
func New(schema lora.Schema, experts []Expert) (*Library, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	if len(experts) == 0 {
		return nil, fmt.Errorf("library: no experts")
	}
	p := schema.NumParams()
	dim := len(experts[0].Embedding)
	for i := range experts {
		e := &experts[i]
		who := name(i, e.ID)
		if len(e.Embedding) == 0 || len(e.Embedding) != dim {
			return nil, fmt.Errorf("library: expert %s has a %d-dimensional embedding, expert %s has %d", who, len(e.Embedding), name(0, experts[0].ID), dim)
		}
		norm := 0.0
		for _, v := range e.Embedding {
			norm += float64(v) * float64(v)
		}
		if norm == 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
			return nil, fmt.Errorf("library: expert %s has a zero or non-finite embedding", who)
		}
		if len(e.Snapshots) == 0 {
			return nil, fmt.Errorf("library: expert %s has no snapshots", who)
		}
		for m, s := range e.Snapshots {
			if len(s) != p {
				return nil, fmt.Errorf("library: expert %s snapshot %d has %d parameters, schema needs %d", who, m, len(s), p)
			}
			for j, v := range s {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("library: expert %s snapshot %d parameter %d is %v", who, m, j, v)
				}
			}
		}
		e.Mean, e.Var = moments(e.Snapshots)
	}
	return &Library{Schema: schema, Experts: experts}, nil
}

func name(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("#%d", i)
	}
	return fmt.Sprintf("%q", id)
}

// moments returns the element-wise mean and population variance, in float64 sums.
func moments(snaps [][]float32) (mean, variance []float32) {
	p := len(snaps[0])
	mean, variance = make([]float32, p), make([]float32, p)
	m := float64(len(snaps))
	for j := range p {
		s := 0.0
		for _, x := range snaps {
			s += float64(x[j])
		}
		mu := s / m
		ss := 0.0
		for _, x := range snaps {
			d := float64(x[j]) - mu
			ss += d * d
		}
		mean[j], variance[j] = float32(mu), float32(ss/m)
	}
	return mean, variance
}

// Embeddings lists the experts' description embeddings in library order.
func (l *Library) Embeddings() [][]float32 {
	out := make([][]float32, len(l.Experts))
	for i, e := range l.Experts {
		out[i] = e.Embedding
	}
	return out
}

// Means lists the prototypes μ_n in library order.
func (l *Library) Means() [][]float32 {
	out := make([][]float32, len(l.Experts))
	for i, e := range l.Experts {
		out[i] = e.Mean
	}
	return out
}

// Vars lists the variances σ_n² in library order.
func (l *Library) Vars() [][]float32 {
	out := make([][]float32, len(l.Experts))
	for i, e := range l.Experts {
		out[i] = e.Var
	}
	return out
}

// Neighbours ranks the experts by cosine similarity to target and keeps the top k
// (k ≤ 0: all) with softmax(sim/τ) weights; see similarity.TopK.
func (l *Library) Neighbours(target []float32, k int, tau float64) ([]similarity.Neighbour, error) {
	if len(target) != len(l.Experts[0].Embedding) {
		return nil, fmt.Errorf("target embedding has %d dimensions, the library's have %d", len(target), len(l.Experts[0].Embedding))
	}
	return similarity.TopK(target, l.Embeddings(), k, tau, -1)
}

// DropSnapshots releases the snapshots once only prototypes are needed (the merging
// baselines), which at paper scale frees ~4 GB.
func (l *Library) DropSnapshots() {
	for i := range l.Experts {
		l.Experts[i].Snapshots = nil
	}
}

// Adapters returns n independent adapters holding copies of flat; the merging
// methods return one merge n times.
func (l *Library) Adapters(flat []float32, n int) []*lora.Adapter {
	out := make([]*lora.Adapter, n)
	for i := range out {
		out[i] = &lora.Adapter{Schema: l.Schema, Params: append([]float32(nil), flat...)}
	}
	return out
}
