package topkweighted

import (
	"math"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
)

func TestSoftmaxWeightedTopK(t *testing.T) {
	// Top-2 for (1,0): experts 0 (sim 1) and 2 (sim 1/√2); with τ = 0.5,
	// α_0 = 1/(1 + e^{(1/√2 − 1)/0.5}).
	a0 := 1 / (1 + math.Exp((1/math.Sqrt2-1)/0.5))
	want := make([]float64, 4)
	for j := range want {
		want[j] = a0*float64(bt.Prototypes[0][j]) + (1-a0)*float64(bt.Prototypes[2][j])
	}
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(2), "tau": 0.5}, 1, 1)[0], want)
	bt.Rejects(t, New, map[string]plugin.Params{"top_k": {"top_k": int64(0)}, "tau": {"tau": 0.0}, "lambda": {"lambda": 1.0}})
	bt.Describes(t, New, "topk-weighted", "2509.10535")
}
