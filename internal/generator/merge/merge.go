// Package merge combines expert adapters into one. The SG-LoRA paper's baselines merge
// in factor space: the flat [B; A] vectors are combined element-wise, as Model Soup and
// AdapterSoup average weights. Merging the factors of different experts mixes
// cross terms into ΔW = B·A, so task arithmetic and TIES can also merge the products
// ΔW themselves (the task vectors of their papers), module by module, and return to a
// rank-r adapter with a truncated SVD (delta.go).
package merge

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Float is the element type of the vectors merged: float32 factors or float64 ΔW.
type Float interface{ ~float32 | ~float64 }

// Weighted writes dst = Σ_i w_i·vs_i, summing in float64.
func Weighted[T Float](dst []T, vs [][]T, w []float64) {
	if len(vs) != len(w) {
		panic(fmt.Sprintf("merge: %d vectors and %d weights", len(vs), len(w)))
	}
	for j := range dst {
		s := 0.0
		for i, v := range vs {
			s += w[i] * float64(v[j])
		}
		dst[j] = T(s)
	}
}

// Threshold returns the magnitude a TIES trim keeps at or above: the k-th largest |v|
// with k = round(density·len(v)), +Inf when k is 0. The magnitudes are visited in
// parts so that callers can pass the ΔW of several modules as one task vector; the
// k-th largest is found by selection in linear time (a paper-scale ΔW task vector has
// 21 million entries).
func Threshold[T Float](density float64, parts ...[]T) float64 {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	mags := make([]float64, 0, n)
	for _, p := range parts {
		for _, v := range p {
			mags = append(mags, math.Abs(float64(v)))
		}
	}
	k := int(math.Round(density * float64(len(mags))))
	if k <= 0 {
		return math.Inf(1)
	}
	return kthLargest(mags, min(k, len(mags)))
}

// kthLargest returns the k-th largest element (1-based) of x, reordering x:
// quickselect with a median-of-three pivot and three-way partitioning, so that runs
// of equal values (zeros in trimmed vectors) cost nothing.
func kthLargest(x []float64, k int) float64 {
	lo, hi := 0, len(x)-1 // x[lo..hi] holds the answer at index k−1 (descending)
	want := k - 1
	for lo < hi {
		a, b, c := x[lo], x[(lo+hi)/2], x[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		// Partition descending: [lo, lt) > pivot, [lt, gt] == pivot, (gt, hi] < pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case x[i] > pivot:
				x[lt], x[i] = x[i], x[lt]
				lt++
				i++
			case x[i] < pivot:
				x[i], x[gt] = x[gt], x[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case want < lt:
			hi = lt - 1
		case want > gt:
			lo = gt + 1
		default:
			return pivot
		}
	}
	return x[want]
}

// Trim writes v with every entry of magnitude below thr (and every zero) set to zero:
// TIES step 1, "reset the small changes".
func Trim[T Float](dst, v []T, thr float64) {
	for j, x := range v {
		if a := math.Abs(float64(x)); a < thr || a == 0 {
			dst[j] = 0
		} else {
			dst[j] = x
		}
	}
}

// TIES merges task vectors as Yadav et al. (2023, "TIES-Merging: Resolving
// Interference When Merging Models") do: trim each vector vs_t to its entries of
// magnitude ≥ thr_t (Threshold), elect per coordinate the sign of the summed trimmed
// values (the sign with the larger total magnitude), and take the disjoint mean of the
// trimmed entries agreeing with it; dst = λ·that mean. A coordinate whose trimmed
// values sum to exactly zero is zero.
func TIES[T Float](dst []T, vs [][]T, thr []float64, lambda float64) {
	if len(vs) != len(thr) {
		panic(fmt.Sprintf("merge: %d vectors and %d thresholds", len(vs), len(thr)))
	}
	for j := range dst {
		sum := 0.0
		for t, v := range vs {
			if x := float64(v[j]); math.Abs(x) >= thr[t] {
				sum += x
			}
		}
		if sum == 0 {
			dst[j] = 0
			continue
		}
		agree, n := 0.0, 0
		for t, v := range vs {
			x := float64(v[j])
			if math.Abs(x) >= thr[t] && x != 0 && (x > 0) == (sum > 0) {
				agree += x
				n++
			}
		}
		dst[j] = T(lambda * agree / float64(n))
	}
}

// DARE drops each entry of v with probability p and rescales the survivors by
// 1/(1−p), so the expectation is v (Yu et al. 2024, "Language Models are Super
// Mario: Absorbing Abilities from Homologous Models as a Free Lunch"). p must be in
// [0, 1).
func DARE[T Float](dst, v []T, p float64, r *rand.Rand) {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("merge: DARE drop rate %v outside [0, 1)", p))
	}
	scale := 1 / (1 - p)
	for j, x := range v {
		if r.Float64() < p {
			dst[j] = 0
		} else {
			dst[j] = T(float64(x) * scale)
		}
	}
}
