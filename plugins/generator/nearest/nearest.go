// Package nearest is the "nearest" baseline: the prototype of the single expert whose
// description is most similar to the target (top-1 retrieval, the K = 1 limit of
// AdapterSoup and Top-K Weighted). It measures how much any merging adds over reuse.
package nearest

import (
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
)

// Config is empty: the method has no parameters.
type Config struct{}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "nearest"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "Nearest expert: the prototype of the top-1 expert by cosine similarity of descriptions " +
			"(the K = 1 case of AdapterSoup, Chronopoulou et al. 2023, and of the SG-LoRA paper's Top-K Weighted)",
		Defaults: func() Config { return Config{} },
		Merge: func(_ Config, lib *library.Library, target []float32, _ int, _ uint64) ([][]float32, error) {
			ns, err := lib.Neighbours(target, 1, 1)
			if err != nil {
				return nil, err
			}
			return [][]float32{append([]float32(nil), lib.Experts[ns[0].Index].Mean...)}, nil
		},
	})
}
