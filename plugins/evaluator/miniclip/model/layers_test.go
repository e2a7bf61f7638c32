package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExp32 compares exp32 with math.Exp over the whole float32 range it serves.
func TestExp32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	xs := []float32{0, 1, -1, 0.5, -0.3465736, 0.3465736, 10, -10, 80, -80, 88.7, -87.3}
	for range 100000 {
		xs = append(xs, float32(rng.Float64()*175.7-87.3))
	}
	for _, x := range xs {
		want := math.Exp(float64(x))
		got := float64(exp32(x))
		if math.Abs(got-want) > 3e-7*want {
			t.Fatalf("exp32(%v) = %v, want %v (rel err %.2g)", x, got, want, math.Abs(got-want)/want)
		}
	}
	for _, tc := range []struct{ x, want float32 }{{-100, 0}, {float32(math.Inf(-1)), 0}, {100, float32(math.Inf(1))}} {
		if got := exp32(tc.x); got != tc.want {
			t.Errorf("exp32(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if nan := float32(math.NaN()); exp32(nan) == exp32(nan) {
		t.Error("exp32(NaN) is not NaN")
	}
}

// TestGemmBruteForce checks the blocked kernel against the triple loop, with and
// without bias and accumulation, for row counts that are and are not multiples of 4.
func TestGemmBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{1, 3, 4, 7, 8} {
		for _, acc := range []bool{false, true} {
			in, out := 5, 6
			x, w, b := randVec(rng, n*in, 1), randVec(rng, out*in, 1), randVec(rng, out, 1)
			y := randVec(rng, n*out, 1)
			want := make([]float64, len(y))
			for r := 0; r < n; r++ {
				for o := 0; o < out; o++ {
					s := b[o]
					for i := 0; i < in; i++ {
						s += x[r*in+i] * w[o*in+i]
					}
					if acc {
						s += y[r*out+o]
					}
					want[r*out+o] = s
				}
			}
			gemm(y, x, w, b, n, in, out, acc)
			for i := range y {
				if math.Abs(y[i]-want[i]) > 1e-12 {
					t.Fatalf("n=%d acc=%v: y[%d] = %v, want %v", n, acc, i, y[i], want[i])
				}
			}
		}
	}
}
