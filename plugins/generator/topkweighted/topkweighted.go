// Package topkweighted is the "topk-weighted" baseline of the SG-LoRA paper (Li et
// al., arXiv 2509.10535): the prototypes of the top-K experts merged with the very
// weights SG-LoRA conditions on, α = softmax(sim/τ). It is SG-LoRA's condition mean
// μ* used directly as the adapter, so the pair isolates what the CVAE adds.
package topkweighted

import (
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/merge"
)

// Config holds the method's parameters.
type Config struct {
	TopK int     `param:"top_k" min:"1" doc:"experts merged; the paper's K = 4, as SG-LoRA"`
	Tau  float64 `param:"tau" above:"0" doc:"softmax temperature of α = softmax(sim/τ); 0.1, SG-LoRA's default, so both weigh experts alike"`
}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "topk-weighted"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "Top-K Weighted, the SG-LoRA paper's baseline (Li et al., arXiv 2509.10535): the top-K " +
			"experts' prototypes merged in factor space with SG-LoRA's weights α = softmax(sim/τ)",
		Defaults: func() Config { return Config{TopK: 4, Tau: 0.1} },
		Merge: func(c Config, lib *library.Library, target []float32, _ int, _ uint64) ([][]float32, error) {
			ns, err := lib.Neighbours(target, c.TopK, c.Tau)
			if err != nil {
				return nil, err
			}
			out := make([]float32, lib.Schema.NumParams())
			merge.Weighted(out, baseline.Prototypes(lib, ns), baseline.Weights(ns))
			return [][]float32{out}, nil
		},
	})
}
