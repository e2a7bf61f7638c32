package metrics

import (
	"fmt"
	"math"
	"slices"

	"github.com/sglab/sglab/framework/lora"
)

// Diversity measures how different the adapters generated for one task are, the
// paper's claim that sampling gives diverse LoRAs where merging gives one:
//
//   - div_cos: mean over pairs of the cosine distance 1 − cos(p_i, p_j) of the flat
//     parameter vectors;
//   - div_frob: mean over pairs of the Frobenius distance of the weight updates,
//     sqrt(Σ_modules ‖ΔW_i − ΔW_j‖²_F) (see FrobeniusDistance);
//   - r1_std: the population standard deviation of r1, the per-sample values of the
//     evaluator's primary headline metric (i2t R@1 for the CLIP evaluators; the name is
//     kept for the journals that have it); present only when r1 is given, with one value
//     per adapter.
//
// Population (not sample) deviation because the samples are the whole set being
// described, and so that one sample gives 0 rather than an undefined value. With one
// adapter every measure is exactly 0; identical adapters give exactly 0 too.
// Adapters must share one schema and be finite; an all-zero adapter has no direction,
// so pairing it with a different adapter is an error.
func Diversity(adapters []*lora.Adapter, r1 []float64) (map[string]float64, error) {
	if len(adapters) == 0 {
		return nil, fmt.Errorf("metrics: diversity of no adapters")
	}
	if r1 != nil && len(r1) != len(adapters) {
		return nil, fmt.Errorf("metrics: %d R@1 values for %d adapters", len(r1), len(adapters))
	}
	for i, x := range r1 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("metrics: R@1 value %d is %v", i, x)
		}
	}
	for i, a := range adapters {
		if err := checkAdapter(a, adapters[0]); err != nil {
			return nil, fmt.Errorf("metrics: adapter %d: %w", i, err)
		}
	}
	norms := make([]float64, len(adapters))
	selfs := make([][]float64, len(adapters))
	for i, a := range adapters {
		selfs[i] = selfInner(a)
		for _, x := range a.Params {
			norms[i] += float64(x) * float64(x)
		}
		norms[i] = math.Sqrt(norms[i])
	}
	var sumCos, sumFrob float64
	pairs := 0
	for i := range adapters {
		for j := i + 1; j < len(adapters); j++ {
			pairs++
			a, b := adapters[i], adapters[j]
			if slices.Equal(a.Params, b.Params) {
				continue // exactly 0 for both, free of rounding
			}
			if norms[i] == 0 || norms[j] == 0 {
				return nil, fmt.Errorf("metrics: adapters %d and %d differ and one is all zeros; their cosine distance is undefined", i, j)
			}
			var dot float64
			for k, x := range a.Params {
				dot += float64(x) * float64(b.Params[k])
			}
			sumCos += 1 - dot/(norms[i]*norms[j])
			sumFrob += math.Sqrt(frobenius2(a, b, selfs[i], selfs[j]))
		}
	}
	out := map[string]float64{"div_cos": 0, "div_frob": 0}
	if pairs > 0 {
		out["div_cos"] = sumCos / float64(pairs)
		out["div_frob"] = sumFrob / float64(pairs)
	}
	if r1 != nil {
		out["r1_std"] = PopStd(r1)
	}
	return out, nil
}

func checkAdapter(a, ref *lora.Adapter) error {
	if a == nil {
		return fmt.Errorf("nil")
	}
	if err := a.Schema.Compatible(ref.Schema); err != nil {
		return err
	}
	if len(a.Params) != a.Schema.NumParams() {
		return fmt.Errorf("%d parameters, schema needs %d", len(a.Params), a.Schema.NumParams())
	}
	return a.CheckFinite()
}

// FrobeniusDistance is sqrt(Σ_modules ‖ΔW_a − ΔW_b‖²_F) for two adapters of one schema,
// computed in factor space: with ΔW = s·B·A,
//
//	‖s(B_a A_a − B_b A_b)‖² = s²(⟨a,a⟩ + ⟨b,b⟩ − 2⟨a,b⟩),  ⟨a,b⟩ = Σ_pq (B_aᵀB_b)_pq (A_aA_bᵀ)_pq,
//
// which costs O(r²(out+in)) per module instead of O(r·out·in) to materialise ΔW. The
// sum is accumulated in float64; rounding can leave a tiny positive value (never a
// negative one: it is clamped) for nearly identical adapters, and exactly identical
// ones give exactly 0.
func FrobeniusDistance(a, b *lora.Adapter) (float64, error) {
	if err := checkAdapter(a, a); err != nil {
		return 0, fmt.Errorf("metrics: first adapter: %w", err)
	}
	if err := checkAdapter(b, a); err != nil {
		return 0, fmt.Errorf("metrics: second adapter: %w", err)
	}
	if slices.Equal(a.Params, b.Params) {
		return 0, nil
	}
	return math.Sqrt(frobenius2(a, b, selfInner(a), selfInner(b))), nil
}

// frobenius2 is Σ_modules ‖ΔW_a − ΔW_b‖²_F given each adapter's per-module ⟨x,x⟩
// (selfInner), which Diversity computes once per adapter rather than once per pair.
func frobenius2(a, b *lora.Adapter, selfA, selfB []float64) float64 {
	var total float64
	for i, m := range a.Schema {
		d := selfA[i] + selfB[i] - 2*inner(m, a.B(i), a.A(i), b.B(i), b.A(i))
		s := m.Scale()
		total += s * s * math.Max(d, 0)
	}
	return total
}

// selfInner is ⟨B·A, B·A⟩ per module of a.
func selfInner(a *lora.Adapter) []float64 {
	out := make([]float64, len(a.Schema))
	for i, m := range a.Schema {
		out[i] = inner(m, a.B(i), a.A(i), a.B(i), a.A(i))
	}
	return out
}

// inner is the Frobenius inner product ⟨B1·A1, B2·A2⟩ for module m's shapes:
// B (out×r) and A (r×in), row-major.
func inner(m lora.Module, b1, a1, b2, a2 []float32) float64 {
	r := m.Rank
	var sum float64
	for p := range r {
		for q := range r {
			var g, h float64 // (B1ᵀB2)_pq and (A1A2ᵀ)_pq
			for o := range m.Out {
				g += float64(b1[o*r+p]) * float64(b2[o*r+q])
			}
			rowP, rowQ := a1[p*m.In:(p+1)*m.In], a2[q*m.In:(q+1)*m.In]
			for k, x := range rowP {
				h += float64(x) * float64(rowQ[k])
			}
			sum += g * h
		}
	}
	return sum
}

// PopStd is the population standard deviation of xs: exactly 0 for fewer than two
// values or for equal values.
func PopStd(xs []float64) float64 {
	if len(xs) < 2 || !slices.ContainsFunc(xs, func(x float64) bool { return x != xs[0] }) {
		return 0
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)))
}
