package dare

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	bt "github.com/sglab/sglab/internal/generator/baseline/baselinetest"
)

func TestDARE(t *testing.T) {
	// Rate 0 drops nothing: DARE + sum is task arithmetic.
	for _, o := range bt.Run(t, New, plugin.Params{"rate": 0.0, "top_k": int64(2), "lambda": 0.5}, 2, 1) {
		bt.Near(t, o, []float64{2.5, -3, 1.25, -1.4})
	}
	// One expert, mean merge, rate 0.5: every entry is 0 or twice the prototype's.
	out := bt.Run(t, New, plugin.Params{"rate": 0.5, "top_k": int64(1), "merge": "mean"}, 50, 7)
	zeros, kept := 0, 0
	for _, o := range out {
		for j, v := range o {
			switch v {
			case 0:
				zeros++
			case 2 * bt.Prototypes[0][j]:
				kept++
			default:
				t.Fatalf("entry %d = %v, neither 0 nor %v", j, v, 2*bt.Prototypes[0][j])
			}
		}
	}
	if zeros < 60 || kept < 60 { // 200 draws of a fair coin
		t.Fatalf("%d dropped, %d kept of 200", zeros, kept)
	}
	// Samples differ from each other; the seed reproduces them.
	a := bt.Run(t, New, plugin.Params{"top_k": int64(0)}, 4, 3)
	b := bt.Run(t, New, plugin.Params{"top_k": int64(0)}, 4, 3)
	c := bt.Run(t, New, plugin.Params{"top_k": int64(0)}, 4, 4)
	same := func(x, y []float32) bool {
		for j := range x {
			if x[j] != y[j] {
				return false
			}
		}
		return true
	}
	for i := range a {
		if !same(a[i], b[i]) {
			t.Fatal("same seed, different samples")
		}
	}
	if same(a[0], a[1]) && same(a[1], a[2]) && same(a[2], a[3]) {
		t.Fatal("all samples identical")
	}
	if same(a[0], c[0]) && same(a[1], c[1]) && same(a[2], c[2]) {
		t.Fatal("different seeds, same samples")
	}
	bt.Rejects(t, New, map[string]plugin.Params{
		"rate": {"rate": 1.0}, "merge": {"merge": "ties"}, "top_k": {"top_k": int64(-1)},
		"tau": {"tau": -1.0}, "lambda": {"lambda": 0.0},
	})
	bt.Describes(t, New, "dare", "Yu et al.")
}
