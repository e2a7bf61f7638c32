// Package taskarithmetic is the "task-arithmetic" baseline (Ilharco et al. 2023,
// "Editing Models with Task Arithmetic"): the merged adapter is λ·Σ of the experts'
// task vectors. A LoRA's task vector is its ΔW = B·A; merging in factor space
// ([B; A], the SG-LoRA paper's convention and the default) sums the factors instead,
// which adds cross terms B_i·A_j to ΔW, while "delta" space sums the ΔW themselves and
// returns to rank r by a truncated SVD (package merge).
package taskarithmetic

import (
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/merge"
)

// Config holds the method's parameters.
type Config struct {
	Lambda float64 `param:"lambda" doc:"scaling λ of the summed task vectors; Ilharco et al. choose it on held-out data and mostly land on 0.3–0.5, and no novel-task data exists here, so 0.3, which with 4 experts is 1.2× their mean"`
	TopK   int     `param:"top_k" min:"0" doc:"sum the top-K experts by description similarity; 0 sums all, the paper's multi-task setting. 4, SG-LoRA's K, so that the comparison isolates the merge rule"`
	Space  string  `param:"space" oneof:"factor|delta" doc:"\"factor\" sums the [B; A] vectors (as the SG-LoRA paper merges); \"delta\" sums ΔW = B·A per module and refactorises to rank r by truncated SVD (B = U√S, A = √S Vᵀ)"`
}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "task-arithmetic"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "Task arithmetic (Ilharco et al. 2023, \"Editing Models with Task Arithmetic\"): λ times the " +
			"sum of the top-K experts' task vectors, in factor space [B; A] or in ΔW space with a rank-r SVD",
		Defaults: func() Config { return Config{Lambda: 0.3, TopK: 4, Space: "factor"} },
		Check: func(c Config) error {
			var ps params.Problems
			if c.Lambda == 0 {
				ps.Add("lambda", "0 gives the empty adapter")
			}
			return ps.Err()
		},
		Merge: func(c Config, lib *library.Library, target []float32, _ int, _ uint64) ([][]float32, error) {
			ns, err := lib.Neighbours(target, c.TopK, 1)
			if err != nil {
				return nil, err
			}
			vs := baseline.Prototypes(lib, ns)
			w := make([]float64, len(vs))
			for i := range w {
				w[i] = c.Lambda
			}
			if c.Space == "factor" {
				out := make([]float32, lib.Schema.NumParams())
				merge.Weighted(out, vs, w)
				return [][]float32{out}, nil
			}
			out, err := merge.InDelta(lib.Schema, vs, func(_ int, dst []float64, deltas [][]float64) {
				merge.Weighted(dst, deltas, w)
			})
			if err != nil {
				return nil, err
			}
			return [][]float32{out}, nil
		},
	})
}
