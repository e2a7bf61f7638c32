// Package baseline is what the merging baselines (mean-lora, adaptersoup,
// topk-weighted, nearest, task-arithmetic, ties, dare) share on top of the generator
// shell: Fit keeps only the experts' embeddings and prototypes, and Generate hands
// the target to the method's merge rule, which ranks the experts as it needs. A method
// package supplies its parameter struct and that rule and nothing else.
package baseline

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/shell"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// Version of every baseline plugin.
const Version = "0.1.0"

// Method describes one baseline. C is its parameter struct (params tags).
type Method[C any] struct {
	Name        string
	Description string // says which paper defines the method
	Defaults    func() C
	// Check validates what the parameters' tags cannot (several parameters together, a
	// forbidden value); its errors name the parameter.
	Check func(C) error
	// Merge returns the flat adapters for target: one vector for a deterministic
	// merge (the shell repeats it n times) or n vectors for a seeded random one.
	Merge func(c C, lib *library.Library, target []float32, n int, seed uint64) ([][]float32, error)
}

// Plugin is a merging method's generator plugin: the shell, fitted on the library.
type Plugin[C any] = shell.Plugin[C, *library.Library]

// New returns the plugin with the method's defaults. Fit keeps only the experts'
// embeddings and prototypes (merging needs no training, so the seed is unused);
// the parameters apply to Generate without fitting again.
func New[C any](m Method[C]) *Plugin[C] {
	return shell.New(shell.Method[C, *library.Library]{
		Name: m.Name, Version: Version, Description: m.Description, Defaults: m.Defaults, Check: m.Check,
		Fit: func(_ context.Context, _ C, l *library.Library, _ uint64, log hclog.Logger) (*library.Library, error) {
			l.DropSnapshots()
			log.Info("fitted", "experts", len(l.Experts), "params", l.Schema.NumParams())
			return l, nil
		},
		Generate: func(c C, l *library.Library, target []float32, n int, seed uint64, _ hclog.Logger) ([][]float32, error) {
			return m.Merge(c, l, target, n, seed)
		},
	})
}

// Prototypes returns the prototypes μ of the neighbours, in neighbour order.
func Prototypes(lib *library.Library, ns []similarity.Neighbour) [][]float32 {
	out := make([][]float32, len(ns))
	for i, n := range ns {
		out[i] = lib.Experts[n.Index].Mean
	}
	return out
}

// Weights returns the neighbours' weights, in neighbour order.
func Weights(ns []similarity.Neighbour) []float64 {
	out := make([]float64, len(ns))
	for i, n := range ns {
		out[i] = n.Weight
	}
	return out
}
