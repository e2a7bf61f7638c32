package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, want NaN", name, got)
		}
		return
	}
	if !scalar.EqualWithinAbsOrRel(got, want, 1e-12, 1e-12) {
		t.Errorf("%s = %.17g, want %.17g", name, got, want)
	}
}

func TestMeanStdDev(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		x         []float64
		mean, std float64
	}{
		{nil, nan, nan},
		{[]float64{7}, 7, nan},
		{[]float64{1, 3}, 2, math.Sqrt2}, // ((1)^2+(1)^2)/1 = 2
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, 2.138089935299395}, // sqrt(32/7)
		{[]float64{60, 60, 60}, 60, 0},
	} {
		near(t, "Mean", Mean(c.x), c.mean)
		near(t, "StdDev", StdDev(c.x), c.std)
	}
}

func TestQuantile(t *testing.T) {
	x := []float64{1, 2, 3, 4, 10}
	for _, c := range []struct{ p, want float64 }{
		{0, 1}, {1, 10}, {0.5, 3}, {0.25, 2}, {0.875, 7}, // h=3.5: 4+0.5*6
		{-0.1, math.NaN()}, {1.1, math.NaN()},
	} {
		near(t, "Quantile", Quantile(x, c.p), c.want)
	}
	near(t, "Quantile(empty)", Quantile(nil, 0.5), math.NaN())
	near(t, "Quantile(single)", Quantile([]float64{4}, 0.3), 4)
}

func TestMeanCIDegenerate(t *testing.T) {
	b := DefaultBootstrap
	for _, x := range [][]float64{{42.5}, {42.5, 42.5, 42.5, 42.5}} {
		ci := b.MeanCI(x)
		near(t, "Lo", ci.Lo, 42.5)
		near(t, "Hi", ci.Hi, 42.5)
	}
	ci := b.MeanCI(nil)
	if !math.IsNaN(ci.Lo) || !math.IsNaN(ci.Hi) {
		t.Fatalf("empty sample: %v, want NaN bounds", ci)
	}
}

// TestMeanCIClosedForm checks the bootstrap against the exact distribution of the
// resampled mean. For x = {0, 0, 0, 1} the resampled mean is K/4 with K ~ Binomial(4, 1/4):
// P(K=0) = .316, P(K≤2) = .949, P(K≤3) = .996, so the 2.5 % and 97.5 % quantiles are 0
// and 3/4, far from any boundary. For {0, 1}: means 0, ½, 1 with probabilities ¼, ½, ¼,
// so the 95 % interval is [0, 1].
func TestMeanCIClosedForm(t *testing.T) {
	b := DefaultBootstrap
	for _, c := range []struct {
		x      []float64
		lo, hi float64
	}{
		{[]float64{0, 0, 0, 1}, 0, 0.75},
		{[]float64{0, 1}, 0, 1},
	} {
		ci := b.MeanCI(c.x)
		near(t, "Lo", ci.Lo, c.lo)
		near(t, "Hi", ci.Hi, c.hi)
	}
}

// TestMeanCINormal compares the bootstrap interval of a large sample with the normal
// approximation mean ± 1.96·s/√n.
func TestMeanCINormal(t *testing.T) {
	x := make([]float64, 400)
	for i := range x {
		x[i] = float64(i % 20) // mean 9.5, sd ≈ 5.77
	}
	ci := DefaultBootstrap.MeanCI(x)
	half := 1.96 * StdDev(x) / math.Sqrt(float64(len(x)))
	if math.Abs(ci.Lo-(9.5-half)) > 0.1*half || math.Abs(ci.Hi-(9.5+half)) > 0.1*half {
		t.Fatalf("bootstrap %v, normal approximation [%v, %v]", ci, 9.5-half, 9.5+half)
	}
}

func TestMeanCIDeterministic(t *testing.T) {
	x := make([]float64, 8)
	for i := range x {
		x[i] = math.Sqrt(float64(i + 2)) // no ties among resampled means
	}
	b := DefaultBootstrap
	if b.MeanCI(x) != b.MeanCI(x) {
		t.Fatal("same seed, different interval")
	}
	b2 := b
	b2.Seed++
	if b.MeanCI(x) == b2.MeanCI(x) {
		t.Fatal("interval ignores the seed")
	}
}

func TestCompare(t *testing.T) {
	b := DefaultBootstrap
	// d = a − ref = {0, 1, −1, 2}: mean ½; wins: tie ½ + 1 + 0 + 1 = 2.5 of 4.
	p := b.Compare([]float64{50, 61, 39, 72}, []float64{50, 60, 40, 70})
	if p.N != 4 {
		t.Fatalf("N = %d", p.N)
	}
	near(t, "MeanDiff", p.MeanDiff, 0.5)
	near(t, "WinRate", p.WinRate, 0.625)
	if !(p.CI.Lo <= p.MeanDiff && p.MeanDiff <= p.CI.Hi) || p.CI.Lo < -1 || p.CI.Hi > 2 {
		t.Fatalf("CI %v must hold the mean difference and stay within [min d, max d]", p.CI)
	}
	want := b.MeanCI([]float64{0, 1, -1, 2})
	if p.CI != want {
		t.Fatalf("CI %v, want the bootstrap of the differences %v", p.CI, want)
	}

	// A constant shift: every unit a win, a zero-width interval at the shift.
	p = b.Compare([]float64{11, 21, 31}, []float64{10, 20, 30})
	near(t, "MeanDiff", p.MeanDiff, 1)
	near(t, "WinRate", p.WinRate, 1)
	near(t, "CI.Lo", p.CI.Lo, 1)
	near(t, "CI.Hi", p.CI.Hi, 1)

	// All ties: win rate one half.
	p = b.Compare([]float64{5, 6}, []float64{5, 6})
	near(t, "WinRate(ties)", p.WinRate, 0.5)

	p = b.Compare(nil, nil)
	if p.N != 0 || !math.IsNaN(p.MeanDiff) || !math.IsNaN(p.WinRate) {
		t.Fatalf("empty comparison: %+v", p)
	}
}

func TestSpearmanTiesByHand(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		name string
		x, y []float64
		want float64
	}{
		// Ranks x: 1 2.5 2.5 4, y: 1 3 2 4; centred on 2.5: Σdxdy = 4.5, Σdx² = 4.5,
		// Σdy² = 5, so ρ = 4.5/√22.5 = 3/√10.
		{"ties in x", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 3 / math.Sqrt(10)},
		{"ties reversed", []float64{1, 2, 2, 3}, []float64{30, 20, 20, 10}, -1},
		// Ranks x: 1 2 3.5 3.5 5, y: 2 2 2 4.5 4.5; centred on 3: dx = −2 −1 .5 .5 2,
		// dy = −1 −1 −1 1.5 1.5, so Σdxdy = 6.25, Σdx² = 9.5, Σdy² = 7.5.
		{"ties in both", []float64{1, 2, 4, 4, 9}, []float64{5, 5, 5, 8, 8}, 6.25 / math.Sqrt(9.5*7.5)},
		{"one pair", []float64{1}, []float64{2}, nan},
		{"constant x", []float64{3, 3, 3}, []float64{1, 2, 3}, nan},
		{"constant y", []float64{1, 2, 3}, []float64{0, 0, 0}, nan},
	} {
		near(t, c.name, Spearman(c.x, c.y), c.want)
	}
	r := make([]float64, 6)
	Ranks(r, []float64{0.5, -1, 0.5, 7, 0.5, -1})
	want := []float64{4, 1.5, 4, 6, 4, 1.5}
	for i := range r {
		near(t, "Ranks", r[i], want[i])
	}
}

// TestSpearmanBruteForce checks Spearman on tie-heavy random data against ranks counted
// pair by pair and a textbook Pearson correlation.
func TestSpearmanBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rank := func(x []float64) []float64 {
		r := make([]float64, len(x))
		for i := range x {
			r[i] = 1
			for j := range x {
				switch {
				case x[j] < x[i]:
					r[i]++
				case j != i && x[j] == x[i]:
					r[i] += 0.5
				}
			}
		}
		return r
	}
	pearson := func(a, b []float64) float64 {
		ma, mb := Mean(a), Mean(b)
		var s, sa, sb float64
		for i := range a {
			s += (a[i] - ma) * (b[i] - mb)
			sa += (a[i] - ma) * (a[i] - ma)
			sb += (b[i] - mb) * (b[i] - mb)
		}
		return s / math.Sqrt(sa*sb)
	}
	for trial := range 50 {
		n := 2 + rng.IntN(30)
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i] = float64(rng.IntN(5)) // few values: many ties
			y[i] = x[i] + float64(rng.IntN(4))
		}
		want := pearson(rank(x), rank(y))
		if math.IsNaN(want) || math.IsInf(want, 0) {
			want = math.NaN()
		}
		near(t, fmt.Sprintf("trial %d", trial), Spearman(x, y), want)
	}
}
