package ties

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
	"github.com/sglab/sglab/internal/generator/merge"
)

func TestTIES(t *testing.T) {
	// All three experts, density 0.5 keeps two entries of each:
	//   [4, 0, 0, −3], [2, 3, 0, 0], [0, −5, 2, 0]
	// elected signs [+, −, +, −]; disjoint means [3, −5, 2, −3].
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(0), "density": 0.5}, 1, 1)[0], []float64{3, -5, 2, -3})
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(0), "density": 0.5, "lambda": 2.0}, 1, 1)[0], []float64{6, -10, 4, -6})
	// Top-2 (experts 0 and 2), density 0.25 keeps one entry each: 4 and −5.
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(2), "density": 0.25}, 1, 1)[0], []float64{4, -5, 0, 0})

	// Delta space: ΔW = B·A is 1×1 here, so trimming at density 1 keeps it and with
	// one expert the merge is that ΔW, refactorised.
	out := bt.Run(t, New, plugin.Params{"top_k": int64(1), "density": 1.0, "space": "delta"}, 1, 1)[0]
	got, want := make([]float64, 1), make([]float64, 1)
	merge.Delta(got, bt.Schema, 0, out)
	merge.Delta(want, bt.Schema, 0, bt.Prototypes[0])
	bt.Near(t, []float32{float32(got[0])}, want)

	bt.Rejects(t, New, map[string]plugin.Params{
		"density": {"density": 0.0}, "lambda": {"lambda": 0.0}, "top_k": {"top_k": int64(-2)}, "space": {"space": "x"},
	})
	bt.Describes(t, New, "ties", "Yadav")
}
