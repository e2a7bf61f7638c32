// Package stats holds the few statistics a results report needs: the mean, the sample
// standard deviation, percentile-bootstrap confidence intervals of a mean, a paired
// comparison of two methods on shared units, and Spearman's rank correlation (for the
// transfer diagnostic). Every random draw comes from a caller-given seed, so a report is
// the same bytes each time it is rendered.
package stats

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Mean is the arithmetic mean of x; NaN when x is empty.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// StdDev is the sample standard deviation of x (denominator n−1); NaN when x has fewer
// than two values, since one value says nothing about spread.
func StdDev(x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	m := Mean(x)
	var ss float64
	for _, v := range x {
		d := v - m
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// Quantile is the p-quantile of sorted (ascending) by linear interpolation between order
// statistics: h = (n−1)·p, Q = x[⌊h⌋] + (h−⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]) (Hyndman–Fan type 7,
// the default of R and NumPy). NaN when sorted is empty or p is outside [0, 1].
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Interval is a closed interval [Lo, Hi]; both NaN when undefined.
type Interval struct{ Lo, Hi float64 }

// Bootstrap configures a percentile bootstrap. The zero value is not usable; start from
// DefaultBootstrap.
type Bootstrap struct {
	Resamples int     // number of resamples, e.g. 2000
	Level     float64 // coverage, e.g. 0.95
	Seed      uint64  // seed of the PCG stream every call starts from
}

// DefaultBootstrap is what reports use: 2000 resamples, 95 %, a fixed seed.
var DefaultBootstrap = Bootstrap{Resamples: 2000, Level: 0.95, Seed: 20250910}

// MeanCI is the percentile bootstrap confidence interval of the mean of x: x is resampled
// with replacement Resamples times, and the interval runs between the (1−Level)/2 and
// (1+Level)/2 quantiles (see Quantile) of the resampled means. Each call draws from a fresh
// PCG seeded with b.Seed, so the interval depends only on x and b. A single value or a
// constant sample gives a zero-width interval; an empty x gives NaN bounds.
func (b Bootstrap) MeanCI(x []float64) Interval {
	n := len(x)
	if n == 0 || b.Resamples < 1 || !(b.Level > 0 && b.Level < 1) {
		return Interval{math.NaN(), math.NaN()}
	}
	rng := rand.New(rand.NewPCG(b.Seed, 0x9e3779b97f4a7c15))
	means := make([]float64, b.Resamples)
	for r := range means {
		var s float64
		for range n {
			s += x[rng.IntN(n)]
		}
		means[r] = s / float64(n)
	}
	slices.Sort(means)
	alpha := (1 - b.Level) / 2
	return Interval{Quantile(means, alpha), Quantile(means, 1-alpha)}
}

// TieTolerance is how close two paired values must be to count as a tie. Recall values
// are percentages over finite query sets, so anything closer than this is rounding noise.
const TieTolerance = 1e-9

// Paired is a comparison of a method against a reference on the units both have.
type Paired struct {
	N        int      // shared units
	MeanDiff float64  // mean over units of (method − reference)
	CI       Interval // bootstrap interval of MeanDiff over units
	WinRate  float64  // share of units where method > reference; ties count one half
}

// Compare pairs a[i] with ref[i] (the caller aligns them by unit) and reports the mean
// difference a−ref with its bootstrap interval and the win rate of a. A difference within
// TieTolerance is a tie and counts as half a win. Panics if the lengths differ.
func (b Bootstrap) Compare(a, ref []float64) Paired {
	if len(a) != len(ref) {
		panic("stats: Compare: length mismatch")
	}
	if len(a) == 0 {
		nan := math.NaN()
		return Paired{MeanDiff: nan, CI: Interval{nan, nan}, WinRate: nan}
	}
	d := make([]float64, len(a))
	var wins float64
	for i := range a {
		d[i] = a[i] - ref[i]
		switch {
		case math.Abs(d[i]) <= TieTolerance:
			wins += 0.5
		case d[i] > 0:
			wins++
		}
	}
	return Paired{
		N:        len(d),
		MeanDiff: Mean(d),
		CI:       b.MeanCI(d),
		WinRate:  wins / float64(len(d)),
	}
}

// Ranks writes into dst the ranks of x, 1 for the smallest value, tied values sharing
// the mean of the ranks they span (fractional ranking: 1, 2.5, 2.5, 4). NaN values are
// not ordered and must not occur. Panics if the lengths differ.
func Ranks(dst, x []float64) {
	if len(dst) != len(x) {
		panic("stats: Ranks: length mismatch")
	}
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && x[idx[hi]] == x[idx[lo]] {
			hi++
		}
		r := float64(lo+hi+1) / 2 // mean of the 1-based ranks lo+1 … hi
		for _, i := range idx[lo:hi] {
			dst[i] = r
		}
		lo = hi
	}
}

// Spearman is Spearman's rank correlation of the pairs (x[i], y[i]): the Pearson
// correlation of their ranks (see Ranks), which stays exact with ties, unlike the
// 1 − 6Σd²/(n(n²−1)) shortcut. NaN when it is undefined: fewer than two pairs, or x or y
// constant. Panics if the lengths differ.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) {
		panic("stats: Spearman: length mismatch")
	}
	if len(x) < 2 {
		return math.NaN()
	}
	rx, ry := make([]float64, len(x)), make([]float64, len(y))
	Ranks(rx, x)
	Ranks(ry, y)
	m := float64(len(x)+1) / 2 // the mean of any ranking of n items
	var sxy, sxx, syy float64
	for i := range rx {
		dx, dy := rx[i]-m, ry[i]-m
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}
