// Package adaptersoup is the "adaptersoup" baseline (Chronopoulou et al. 2023,
// "AdapterSoup: Weight Averaging to Improve Generalization of Pretrained Language
// Models"): the uniform mean of the prototypes of the top-K experts most similar to
// the target, as the SG-LoRA paper compares against, in factor space.
package adaptersoup

import (
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/merge"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// Config holds the method's parameters.
type Config struct {
	TopK int `param:"top_k" min:"1" doc:"experts averaged, by cosine similarity of their descriptions to the target; 4 as SG-LoRA's K, so the two see the same experts"`
}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "adaptersoup"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "AdapterSoup (Chronopoulou et al. 2023), as the SG-LoRA paper's baseline: the uniform mean of " +
			"the top-K most similar experts' prototypes in factor space [B; A]",
		Defaults: func() Config { return Config{TopK: 4} },
		Merge: func(c Config, lib *library.Library, target []float32, _ int, _ uint64) ([][]float32, error) {
			ns, err := lib.Neighbours(target, c.TopK, 1)
			if err != nil {
				return nil, err
			}
			similarity.Uniform(ns)
			out := make([]float32, lib.Schema.NumParams())
			merge.Weighted(out, baseline.Prototypes(lib, ns), baseline.Weights(ns))
			return [][]float32{out}, nil
		},
	})
}
