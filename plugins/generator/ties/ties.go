// Package ties is the "ties" baseline (Yadav et al. 2023, "TIES-Merging: Resolving
// Interference When Merging Models"): trim each expert's task vector to its top
// density fraction of magnitudes, elect each coordinate's sign by the summed trimmed
// values, average the trimmed values that agree with it, and scale by λ. It runs in
// factor space ([B; A], as the SG-LoRA paper merges) or on ΔW = B·A with a truncated
// SVD back to rank r, like PEFT's "ties" and "ties_svd".
package ties

import (
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/merge"
)

// Config holds the method's parameters.
type Config struct {
	Density float64 `param:"density" above:"0" max:"1" doc:"fraction of each task vector's entries kept by magnitude; the paper's default top-20%"`
	Lambda  float64 `param:"lambda" doc:"scaling λ of the merged vector; 1, the value Yadav et al. recommend for TIES"`
	TopK    int     `param:"top_k" min:"0" doc:"merge the top-K experts by description similarity; 0 merges all, the paper's multi-task setting. 4, SG-LoRA's K, so that the comparison isolates the merge rule"`
	Space   string  `param:"space" oneof:"factor|delta" doc:"\"factor\" merges the [B; A] vectors; \"delta\" merges ΔW = B·A (trimming each expert's ΔW over all modules at once) and refactorises each module to rank r by truncated SVD (B = U√S, A = √S Vᵀ)"`
}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "ties"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "TIES-Merging (Yadav et al. 2023): trim to the top-density magnitudes, elect signs, disjoint " +
			"mean of the top-K experts, in factor space [B; A] or in ΔW space with a rank-r SVD",
		Defaults: func() Config { return Config{Density: 0.2, Lambda: 1, TopK: 4, Space: "factor"} },
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
			if c.Space == "factor" {
				thr := make([]float64, len(vs))
				for i, v := range vs {
					thr[i] = merge.Threshold(c.Density, v)
				}
				out := make([]float32, lib.Schema.NumParams())
				merge.TIES(out, vs, thr, c.Lambda)
				return [][]float32{out}, nil
			}
			thr := merge.DeltaThresholds(lib.Schema, vs, c.Density)
			out, err := merge.InDelta(lib.Schema, vs, func(_ int, dst []float64, deltas [][]float64) {
				merge.TIES(dst, deltas, thr, c.Lambda)
			})
			if err != nil {
				return nil, err
			}
			return [][]float32{out}, nil
		},
	})
}
