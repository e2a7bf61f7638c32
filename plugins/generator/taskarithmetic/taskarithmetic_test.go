package taskarithmetic

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
	"github.com/sglab/sglab/internal/generator/merge"
)

func TestScaledSum(t *testing.T) {
	// Factor space, top-2 (experts 0 and 2), λ = 0.5.
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(2), "lambda": 0.5}, 1, 1)[0], []float64{2.5, -3, 1.25, -1.4})
	// top_k = 0 sums all three with the default λ = 0.3.
	bt.Near(t, bt.Run(t, New, plugin.Params{"top_k": int64(0)}, 1, 1)[0], []float64{2.1, -0.9, 1.05, -1.14})

	// Delta space: with one expert the rank-2 ΔW is refactorised exactly, so the
	// merged ΔW is λ·ΔW_0 (B and A themselves change: the SVD balances them).
	out := bt.Run(t, New, plugin.Params{"top_k": int64(1), "lambda": 0.5, "space": "delta"}, 1, 1)[0]
	got, want := make([]float64, 1), make([]float64, 1)
	merge.Delta(got, bt.Schema, 0, out)
	merge.Delta(want, bt.Schema, 0, bt.Prototypes[0])
	bt.Near(t, []float32{float32(got[0])}, []float64{0.5 * want[0]})
	// With two experts ΔW space is linear, factor space is not: the two differ.
	f := bt.Run(t, New, plugin.Params{"top_k": int64(2), "lambda": 0.5}, 1, 1)[0]
	d := bt.Run(t, New, plugin.Params{"top_k": int64(2), "lambda": 0.5, "space": "delta"}, 1, 1)[0]
	fd, dd := make([]float64, 1), make([]float64, 1)
	merge.Delta(fd, bt.Schema, 0, f)
	merge.Delta(dd, bt.Schema, 0, d)
	d0, d2 := make([]float64, 1), make([]float64, 1)
	merge.Delta(d0, bt.Schema, 0, bt.Prototypes[0])
	merge.Delta(d2, bt.Schema, 0, bt.Prototypes[2])
	bt.Near(t, []float32{float32(dd[0])}, []float64{0.5 * (d0[0] + d2[0])})
	if fd[0] == dd[0] {
		t.Fatal("factor and delta merges agree; the cross terms are missing")
	}

	bt.Rejects(t, New, map[string]plugin.Params{
		"top_k": {"top_k": int64(-1)}, "lambda": {"lambda": 0.0}, "space": {"space": "weights"}, "density": {"density": 0.2},
	})
	bt.Describes(t, New, "task-arithmetic", "Ilharco")
}
