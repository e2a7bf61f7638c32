// Package dare is the "dare" baseline (Yu et al. 2024, "Language Models are Super
// Mario: Absorbing Abilities from Homologous Models as a Free Lunch"): drop each entry
// of each expert's [B; A] vector with probability p, rescale the survivors by
// 1/(1−p), then merge. The drop is random, so every sample draws its own masks from
// the Generate seed; the merging methods' runs ask for one.
package dare

import (
	"math/rand/v2"

	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/merge"
)

// Config holds the method's parameters.
type Config struct {
	Rate   float64 `param:"rate" min:"0" below:"1" doc:"drop probability p; Yu et al. drop up to 0.9 of the small, redundant deltas of full fine-tuning, but LoRA factors are few and not small, so 0.5"`
	TopK   int     `param:"top_k" min:"0" doc:"merge the top-K experts by description similarity; 0 merges all. 4, SG-LoRA's K"`
	Merge  string  `param:"merge" oneof:"sum|mean|weighted" doc:"how the dropped vectors combine: \"sum\" λ·Σ (task arithmetic, the paper's main pairing), \"mean\" the uniform mean (AdapterSoup), \"weighted\" SG-LoRA's α = softmax(sim/τ)"`
	Lambda float64 `param:"lambda" doc:"scaling λ for merge = \"sum\"; 0.3 as the task-arithmetic baseline"`
	Tau    float64 `param:"tau" above:"0" doc:"softmax temperature for merge = \"weighted\"; 0.1 as SG-LoRA"`
}

// Generator is the plugin.
type Generator = baseline.Plugin[Config]

// Name is the method's name, in experiment files and in its Info.
const Name = "dare"

// New returns the plugin.
func New() *Generator {
	return baseline.New(baseline.Method[Config]{
		Name: Name,
		Description: "DARE (Yu et al. 2024, \"Language Models are Super Mario\"): random drop with rate p and " +
			"rescale by 1/(1−p) of each top-K expert's [B; A], then a sum, mean or α-weighted merge; seeded per sample",
		Defaults: func() Config { return Config{Rate: 0.5, TopK: 4, Merge: "sum", Lambda: 0.3, Tau: 0.1} },
		Check: func(c Config) error {
			var ps params.Problems
			if c.Merge == "sum" && c.Lambda == 0 {
				ps.Add("lambda", "0 gives the empty adapter")
			}
			return ps.Err()
		},
		Merge: func(c Config, lib *library.Library, target []float32, n int, seed uint64) ([][]float32, error) {
			ns, err := lib.Neighbours(target, c.TopK, c.Tau)
			if err != nil {
				return nil, err
			}
			vs := baseline.Prototypes(lib, ns)
			w := baseline.Weights(ns)
			for i := range w {
				switch c.Merge {
				case "sum":
					w[i] = c.Lambda
				case "mean":
					w[i] = 1 / float64(len(w))
				}
			}
			P := lib.Schema.NumParams()
			out := make([][]float32, n)
			dropped := make([][]float32, len(vs))
			for k := range dropped {
				dropped[k] = make([]float32, P)
			}
			for s := range out {
				r := rand.New(rand.NewPCG(seed, uint64(s)))
				for k, v := range vs {
					merge.DARE(dropped[k], v, c.Rate, r)
				}
				out[s] = make([]float32, P)
				merge.Weighted(out[s], dropped, w)
			}
			return out, nil
		},
	})
}
