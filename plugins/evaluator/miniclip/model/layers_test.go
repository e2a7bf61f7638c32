package model

import (
	"math"
	"math/rand/v2"
	"slices"
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

// TestGemm32MatchesScalar checks that the float32 SIMD path gives the scalar loop's
// bits for every shape class: row counts below, at and past multiples of four, output
// widths below, at and past multiples of sixteen, with and without bias and
// accumulation, and values spanning magnitudes (so that a different summation order or
// a fused multiply-add would show).
func TestGemm32MatchesScalar(t *testing.T) {
	if !haveKernel {
		t.Skip("no SIMD kernel on this machine: gemm is gemmScalar")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
		}
		return v
	}
	for _, n := range []int{1, 3, 4, 5, 8, 17, 64} {
		for _, in := range []int{1, 7, 32, 33} {
			for _, out := range []int{1, 15, 16, 17, 40, 96} {
				for _, bias := range []bool{false, true} {
					for _, acc := range []bool{false, true} {
						x, w, y0 := vec(n*in), vec(out*in), vec(n*out)
						var b []float32
						if bias {
							b = vec(out)
						}
						want, got := slices.Clone(y0), slices.Clone(y0)
						gemmScalar(want, x, w, b, n, in, out, acc)
						gemm32(got, x, w, b, n, in, out, acc)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("n=%d in=%d out=%d bias=%v acc=%v: y[%d] = %v, scalar %v", n, in, out, bias, acc, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkGemm compares the float32 kernel with the scalar loop on the backbone's
// shapes (a batch of 32 images × 17 tokens through the q/k/v projection).
func BenchmarkGemm(b *testing.B) {
	const n, in, out = 32 * 17, 32, 96
	rng := rand.New(rand.NewPCG(1, 2))
	v := func(k int) []float32 {
		s := make([]float32, k)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	x, w, bias, y := v(n*in), v(out*in), v(out), v(n*out)
	for _, c := range []struct {
		name string
		f    func([]float32, []float32, []float32, []float32, int, int, int, bool)
	}{{"scalar", gemmScalar[float32]}, {"kernel", gemm[float32]}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.f(y, x, w, bias, n, in, out, false)
			}
			b.ReportMetric(float64(2*n*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestAttention8MatchesScalar checks that attentionForward's float32 kernels give the
// scalar code's bits, outputs and probabilities, for token counts below, at and past
// multiples of eight and for one and several heads.
func TestAttention8MatchesScalar(t *testing.T) {
	if !haveKernel {
		t.Skip("no SIMD kernel on this machine")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, l := range []int{1, 5, 8, 9, 17, 33} {
		for _, heads := range []int{1, 4} {
			d := 8 * heads
			qkv := make([]float32, l*3*d)
			for i := range qkv {
				qkv[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(4)-2)))
			}
			want, got := make([]float32, l*d), make([]float32, l*d)
			wantP, gotP := make([]float32, heads*l*l), make([]float32, heads*l*l)
			attentionForwardScalar(want, wantP, qkv, l, d, heads)
			attentionForward8(got, gotP, qkv, l, d, heads)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("l=%d heads=%d: out[%d] = %v, scalar %v", l, heads, i, got[i], want[i])
				}
			}
			for i := range wantP {
				if math.Float32bits(gotP[i]) != math.Float32bits(wantP[i]) {
					t.Fatalf("l=%d heads=%d: probs[%d] = %v, scalar %v", l, heads, i, gotP[i], wantP[i])
				}
			}
		}
	}
}

// TestAttentionBackward8MatchesScalar checks that attentionBackward's float32 kernels
// give the scalar code's bits in dq, dk and dv, accumulating into gradients that are
// already there (some of them −0), with probabilities from the forward pass of which
// some are set to zero, so that the skipped ds = 0 terms show, for token counts below,
// at and past multiples of eight and for one and several heads.
func TestAttentionBackward8MatchesScalar(t *testing.T) {
	if !haveKernel {
		t.Skip("no SIMD kernel on this machine")
	}
	rng := rand.New(rand.NewPCG(7, 9))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(4)-2)))
		}
		return v
	}
	for _, l := range []int{1, 5, 8, 9, 17, 33} {
		for _, heads := range []int{1, 4} {
			d := 8 * heads
			qkv, dout := vec(l*3*d), vec(l*d)
			probs := make([]float32, heads*l*l)
			attentionForwardScalar(make([]float32, l*d), probs, qkv, l, d, heads)
			for i := range probs {
				if rng.IntN(10) == 0 {
					probs[i] = 0
				}
			}
			want := vec(l * 3 * d)
			for i := range want {
				if rng.IntN(10) == 0 {
					want[i] = float32(math.Copysign(0, -1))
				}
			}
			got := slices.Clone(want)
			attentionBackwardScalar(want, dout, probs, qkv, make([]float32, l), l, d, heads)
			attentionBackward8(got, dout, probs, qkv, l, d, heads)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("l=%d heads=%d: dqkv[%d] = %v, scalar %v", l, heads, i, got[i], want[i])
				}
			}
		}
	}
}

// TestExp32sMatchesExp32 checks that the eight-lane exp8 path of exp32s gives exp32's
// bits for every value: a dense sweep of exp8's range, its two bounds and their float32
// neighbours, values past them (which exp32 does alone: infinities, flushes to zero,
// NaN, the two-step scaling above 88), and slices whose lengths leave partial blocks
// and whose out-of-range values sit at every lane position.
func TestExp32sMatchesExp32(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 on this machine: exp32s is exp32 one value at a time")
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.5, -0.5,
		expVecMin, math.Nextafter32(expVecMin, 0), math.Nextafter32(expVecMin, -100),
		expVecMax, math.Nextafter32(expVecMax, 0), math.Nextafter32(expVecMax, 100),
		88.5, 88.72283, 89, -87.5, -100, -1e30, 1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	var xs []float32
	for v := float32(-88); v <= 89; v += 0.0137 {
		xs = append(xs, v)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 4096 {
		xs = append(xs, float32(rng.NormFloat64()*float64(rng.IntN(30))))
	}
	for pos := range 8 { // each special value at each lane of a block
		for _, s := range special {
			block := make([]float32, 8)
			for i := range block {
				block[i] = float32(rng.NormFloat64())
			}
			block[pos] = s
			xs = append(xs, block...)
		}
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, len(xs)} {
		for start := 0; start+n <= len(xs); start += max(n, 1) * 97 {
			got := slices.Clone(xs[start : start+n])
			exp32s(got)
			for i, x := range xs[start : start+n] {
				want := exp32(x)
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("n=%d: exp(%v) = %v (bits %#x), exp32 %v (bits %#x)", n, x, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
				}
			}
			if n == 0 {
				break
			}
		}
	}
}

// BenchmarkExp32s compares exp32s with exp32 one by one over the backbone's MLP
// activations (a batch of 32 images × 17 tokens × 64 hidden units).
func BenchmarkExp32s(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 32*17*64)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	buf := make([]float32, len(x))
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			copy(buf, x)
			exp32s(buf)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			copy(buf, x)
			for i, v := range buf {
				buf[i] = exp32(v)
			}
		}
	})
}

// BenchmarkExpSoftmaxRow times exp32s on one attention row (17 tokens: two blocks for
// exp8 and one value for exp32), where a kernel call's set-up counts.
func BenchmarkExpSoftmaxRow(b *testing.B) {
	x := make([]float32, 17)
	buf := make([]float32, 17)
	for i := range x {
		x[i] = -float32(i) * 0.3
	}
	for b.Loop() {
		copy(buf, x)
		exp32s(buf)
	}
}

// TestBackwardRank2MatchesModule checks that the rank-2 loop of the LoRA backward pass
// gives backwardModule's bits in both gradients, accumulating into gradients already
// there, with some output gradients exactly zero (the skipped terms), for widths that
// are and are not multiples of four, in float32 and float64.
func TestBackwardRank2MatchesModule(t *testing.T) {
	t.Run("float32", func(t *testing.T) { backwardRank2Case[float32](t) })
	t.Run("float64", func(t *testing.T) { backwardRank2Case[float64](t) })
}

func backwardRank2Case[T Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	vec := func(n int, zeros bool) []T {
		v := make([]T, n)
		for i := range v {
			if zeros && rng.IntN(8) == 0 {
				continue
			}
			v[i] = T(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(4)-2)))
		}
		return v
	}
	for _, d := range []int{1, 4, 7, 32} {
		for _, rows := range []int{1, 5, 17} {
			a, b := vec(2*d, false), vec(2*d, false)
			dqkv, x := vec(rows*3*d, true), vec(rows*d, false)
			wantA, wantB := vec(2*d, false), vec(2*d, false)
			gotA, gotB := slices.Clone(wantA), slices.Clone(wantB)
			backwardModule(a, b, wantA, wantB, 0.75, 2, dqkv[d:], x, rows, d)
			backwardRank2(a, b, gotA, gotB, 0.75, dqkv[d:], x, rows, d)
			same := func(x, y []T) bool {
				return slices.EqualFunc(x, y, func(p, q T) bool { return math.Float64bits(float64(p)) == math.Float64bits(float64(q)) })
			}
			if !same(gotA, wantA) || !same(gotB, wantB) {
				t.Fatalf("d=%d rows=%d: rank-2 loop differs:\n gA %v\n    %v\n gB %v\n    %v", d, rows, gotA, wantA, gotB, wantB)
			}
		}
	}
}
