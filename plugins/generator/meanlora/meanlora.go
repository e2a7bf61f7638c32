// Package meanlora is the "mean-lora" baseline: the uniform mean of every expert's
// prototype, whatever the target. The SG-LoRA paper reports it as Model Soup
// (Wortsman et al. 2022, "Model soups: averaging weights of multiple fine-tuned
// models improves accuracy without increasing inference time"), merged in factor
// space.
package meanlora

import (
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/merge"
)

// Config is empty: the method has no parameters.
type Config struct{}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "mean-lora"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "Model Soup (Wortsman et al. 2022), as the SG-LoRA paper's baseline: the uniform mean of all " +
			"expert prototypes in factor space [B; A], independent of the target",
		Defaults: func() Config { return Config{} },
		Merge: func(_ Config, lib *library.Library, _ []float32, _ int, _ uint64) ([][]float32, error) {
			means := lib.Means()
			w := make([]float64, len(means))
			for i := range w {
				w[i] = 1 / float64(len(w))
			}
			out := make([]float32, lib.Schema.NumParams())
			merge.Weighted(out, means, w)
			return [][]float32{out}, nil
		},
	})
}
