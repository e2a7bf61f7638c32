package sglora

import (
	"runtime"
	"slices"
	"sync"

	"github.com/sglab/sglab/framework/gemm"
	"github.com/sglab/sglab/internal/generator/mlp"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// mixtures tabulates the condition projection ĉ = W_μᵀμ* + W_σᵀσ*² + b of every
// mixture of the library's experts, so that Generate does not read the projection's
// weights. ĉ is linear in the condition, and the condition is a quadratic form in the
// weights α: μ* = Σ_k α_k μ_k and, expanding similarity.Mixture's law of total
// variance σ*² = Σ_k α_k (σ_k² + (μ_k − μ*)²),
//
//	σ*² = Σ_k α_k (σ_k² + μ_k²) − (2 − s)·Σ_kl α_k α_l μ_k⊙μ_l,   s = Σ_k α_k (1),
//
// so that
//
//	ĉ = b + Σ_k α_k lin_k − (2 − s)·Σ_kl α_k α_l quad_kl,
//	lin_k = W_μᵀμ_k + W_σᵀ(σ_k² + μ_k²),   quad_kl = W_σᵀ(μ_k⊙μ_l),
//
// one lin row per expert and one quad row per pair of experts. At paper scale
// (P = 110,592, 100 experts, C = 64) the tables are 5,150 rows of 64 numbers (1.3 MB),
// built once per fit from 71 GFLOP of products in 1.2 s (BenchmarkGenerate), against
// about 89 s for one training epoch; the build grows with the square of the number of
// experts, an epoch with the number. A batch-1 generation then reads the decoder's last
// layer and little more, where the direct projection read its 2P×C weights (56 MB) and
// the K experts' statistics (3.5 MB) on every call. ĉ agrees with the direct
// projection up to float32 rounding (the sums run in another order; the combination
// runs in float64), not bit for bit.
type mixtures struct {
	c    int
	bias []float32
	lin  []float32 // E×C
	quad []float32 // E(E+1)/2×C; the pair k ≤ l is row l(l+1)/2 + k
}

// mixtureRows counts the tables' rows for E experts (lin and quad), in float64 so
// that train can check an absurd library against the machine's memory.
func mixtureRows(E int) float64 {
	e := float64(E)
	return e + e*(e+1)/2
}

// pairRow is the row of quad holding the pair {k, l}.
func pairRow(k, l int) int {
	if k > l {
		k, l = l, k
	}
	return l*(l+1)/2 + k
}

// newMixtures tabulates proj (2P → C, weights unpacked) for the experts' normalised
// means and variances.
func newMixtures(proj *mlp.Dense, means, vars [][]float32) *mixtures {
	P, C, E := proj.In/2, proj.Out, len(means)
	wMu, wVar := proj.W[:P*C], proj.W[P*C:]
	t := &mixtures{c: C, bias: slices.Clone(proj.B), lin: make([]float32, E*C), quad: make([]float32, E*(E+1)/2*C)}
	projectRows(t.lin, E, P, wMu, C, 0, func(k int, dst []float32) { copy(dst, means[k]) })
	projectRows(t.lin, E, P, wVar, C, 1, func(k int, dst []float32) {
		for j, m := range means[k] {
			dst[j] = vars[k][j] + m*m
		}
	})
	// Pairs in pairRow's order.
	pairs := make([][2]int, 0, E*(E+1)/2)
	for l := range E {
		for k := 0; k <= l; k++ {
			pairs = append(pairs, [2]int{k, l})
		}
	}
	projectRows(t.quad, len(pairs), P, wVar, C, 0, func(r int, dst []float32) {
		mk, ml := means[pairs[r][0]], means[pairs[r][1]]
		for j := range dst {
			dst[j] = mk[j] * ml[j]
		}
	})
	return t
}

// mixtureBlock bounds the rows projectRows materialises at once: 96 rows of P =
// 110,592 are 42 MB, enough for the matrix kernel to reuse each packed block of W
// across many rows.
const mixtureBlock = 96

// projectRows computes out = beta·out + X·w for the n×P matrix X whose row i fill
// writes, in blocks of mixtureBlock rows filled in parallel; w is P×C.
func projectRows(out []float32, n, P int, w []float32, C int, beta float32, fill func(i int, dst []float32)) {
	buf := make([]float32, min(n, mixtureBlock)*P)
	for i0 := 0; i0 < n; i0 += mixtureBlock {
		rows := min(mixtureBlock, n-i0)
		var wg sync.WaitGroup
		workers := min(runtime.GOMAXPROCS(0), rows)
		for g := range workers {
			wg.Go(func() {
				for i := g; i < rows; i += workers {
					fill(i0+i, buf[i*P:(i+1)*P])
				}
			})
		}
		wg.Wait()
		gemm.Gemm(rows, C, P, buf, P, 1, w, C, beta, out[i0*C:], C)
	}
}

// project writes ĉ for the weighted neighbours into cf (C numbers).
func (t *mixtures) project(cf []float32, ns []similarity.Neighbour) {
	C := t.c
	lin, quad := make([]float64, C), make([]float64, C)
	s := 0.0
	for _, a := range ns {
		s += a.Weight
		for j, v := range t.lin[a.Index*C : (a.Index+1)*C] {
			lin[j] += a.Weight * float64(v)
		}
		for _, b := range ns {
			w, r := a.Weight*b.Weight, pairRow(a.Index, b.Index)
			for j, v := range t.quad[r*C : (r+1)*C] {
				quad[j] += w * float64(v)
			}
		}
	}
	for j := range cf[:C] {
		cf[j] = float32(float64(t.bias[j]) + lin[j] - (2-s)*quad[j])
	}
}
