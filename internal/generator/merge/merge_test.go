package merge

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/sglab/sglab/framework/lora"
)

func TestTIESHandWorked(t *testing.T) {
	vs := [][]float64{
		{4, -1, 0.5, -3},
		{2, 3, 1, -1},
		{1, -5, 2, 0.2},
	}
	// density 0.5 keeps two entries of each:
	//   [4, 0, 0, −3], [2, 3, 0, 0], [0, −5, 2, 0]
	// summed [6, −2, 2, −3] elects signs [+, −, +, −]; disjoint means
	//   (4+2)/2 = 3, −5 (the +3 disagrees), 2, −3.
	thr := make([]float64, len(vs))
	for i, v := range vs {
		thr[i] = Threshold(0.5, v)
	}
	if thr[0] != 3 || thr[1] != 2 || thr[2] != 2 {
		t.Fatalf("thresholds %v, want [3 2 2]", thr)
	}
	got := make([]float64, 4)
	TIES(got, vs, thr, 1)
	want := []float64{3, -5, 2, -3}
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("TIES = %v, want %v", got, want)
		}
	}
	TIES(got, vs, thr, 0.5)
	for j := range want {
		if got[j] != 0.5*want[j] {
			t.Fatalf("TIES λ=0.5 = %v, want %v", got, want)
		}
	}
	// Trimmed values summing to zero elect no sign.
	TIES(got[:1], [][]float64{{2}, {-2}}, []float64{0, 0}, 1)
	if got[0] != 0 {
		t.Fatalf("cancelling coordinate = %v", got[0])
	}
	// density 1 keeps everything; density 0 keeps nothing.
	if th := Threshold(1, vs[0]); th != 0.5 {
		t.Fatalf("density 1 threshold %v", th)
	}
	if th := Threshold(0, vs[0]); !math.IsInf(th, 1) {
		t.Fatalf("density 0 threshold %v", th)
	}
	trimmed := make([]float64, 4)
	Trim(trimmed, vs[1], Threshold(0.5, vs[1]))
	if trimmed[0] != 2 || trimmed[1] != 3 || trimmed[2] != 0 || trimmed[3] != 0 {
		t.Fatalf("Trim = %v", trimmed)
	}
}

// seq is a rand source replaying fixed words: Float64 maps word w to (w>>11)/2⁵³.
type seq struct {
	words []uint64
	i     int
}

func (s *seq) Uint64() uint64 { w := s.words[s.i%len(s.words)]; s.i++; return w }

func TestDAREHandWorked(t *testing.T) {
	v := []float32{1, -2, 3, 4}
	// Draws 0 (< p: drop), max (keep), max (keep), 0 (drop).
	r := rand.New(&seq{words: []uint64{0, math.MaxUint64, math.MaxUint64, 0}})
	got := make([]float32, 4)
	DARE(got, v, 0.75, r)
	want := []float32{0, -8, 12, 0} // survivors scaled by 1/(1−0.75) = 4
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("DARE = %v, want %v", got, want)
		}
	}
	DARE(got, v, 0, rand.New(rand.NewPCG(1, 1)))
	for j := range v {
		if got[j] != v[j] {
			t.Fatalf("DARE with p=0 changed the vector: %v", got)
		}
	}
}

func TestDAREStatistics(t *testing.T) {
	const n, p = 20000, 0.3
	v := make([]float64, n)
	for j := range v {
		v[j] = 1
	}
	got := make([]float64, n)
	DARE(got, v, p, rand.New(rand.NewPCG(5, 6)))
	dropped, sum := 0, 0.0
	for _, x := range got {
		if x == 0 {
			dropped++
		} else if math.Abs(x-1/(1-p)) > 1e-12 {
			t.Fatalf("survivor %v, want %v", x, 1/(1-p))
		}
		sum += x
	}
	// Binomial: the dropped fraction has sd √(p(1−p)/n) ≈ 0.0032.
	if f := float64(dropped) / n; math.Abs(f-p) > 0.02 {
		t.Fatalf("dropped fraction %v, want ≈ %v", f, p)
	}
	if m := sum / n; math.Abs(m-1) > 0.03 {
		t.Fatalf("mean after rescaling %v, want ≈ 1", m)
	}
}

func TestWeighted(t *testing.T) {
	got := make([]float32, 2)
	Weighted(got, [][]float32{{1, 2}, {3, -4}}, []float64{0.25, 0.75})
	if got[0] != 2.5 || got[1] != -2.5 {
		t.Fatalf("Weighted = %v", got)
	}
}

func schema() lora.Schema {
	return lora.Schema{
		{Name: "m0", In: 7, Out: 5, Rank: 2, Alpha: 4},
		{Name: "m1", In: 3, Out: 6, Rank: 3, Alpha: 3},
		{Name: "m2", In: 2, Out: 2, Rank: 4, Alpha: 4}, // rank beyond min(out, in)
	}
}

func randFlat(r *rand.Rand, s lora.Schema) []float32 {
	v := make([]float32, s.NumParams())
	for j := range v {
		v[j] = float32(r.NormFloat64())
	}
	return v
}

func TestDeltaMatchesAdapter(t *testing.T) {
	s := schema()
	v := randFlat(rand.New(rand.NewPCG(1, 2)), s)
	a := &lora.Adapter{Schema: s, Params: v}
	for i, m := range s {
		d := make([]float64, m.Out*m.In)
		Delta(d, s, i, v)
		ref := a.DeltaW(nil, i) // scaled by alpha/rank
		for j := range d {
			if w := float64(ref[j]) / m.Scale(); math.Abs(d[j]-w) > 1e-5*(1+math.Abs(w)) {
				t.Fatalf("module %d ΔW[%d] = %v, adapter says %v", i, j, d[j], w)
			}
		}
	}
}

// TestFactorizeIsBestRankR: an adapter's own ΔW factorises back exactly, and the
// merge of several has the Eckart–Young error with balanced factors.
func TestFactorizeIsBestRankR(t *testing.T) {
	s := schema()
	r := rand.New(rand.NewPCG(3, 4))
	v := randFlat(r, s)
	out := make([]float32, s.NumParams())
	for i, m := range s {
		d := make([]float64, m.Out*m.In)
		Delta(d, s, i, v)
		if err := Factorize(out, s, i, d); err != nil {
			t.Fatal(err)
		}
		back := make([]float64, len(d))
		Delta(back, s, i, out)
		for j := range d {
			if math.Abs(back[j]-d[j]) > 1e-4*(1+math.Abs(d[j])) {
				t.Fatalf("module %d: refactorised ΔW[%d] = %v, want %v", i, j, back[j], d[j])
			}
		}
	}
	// A sum of three rank-2 matrices has rank up to 6; factorising keeps the top 2.
	vs := [][]float32{randFlat(r, s), randFlat(r, s), randFlat(r, s)}
	merged, err := InDelta(s, vs, func(_ int, dst []float64, ds [][]float64) {
		for _, d := range ds {
			for j := range dst {
				dst[j] += d[j]
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	m := s[0]
	full := make([]float64, m.Out*m.In)
	tmp := make([]float64, len(full))
	for _, x := range vs {
		Delta(tmp, s, 0, x)
		for j := range full {
			full[j] += tmp[j]
		}
	}
	approx := make([]float64, len(full))
	Delta(approx, s, 0, merged)
	resid := 0.0
	for j := range full {
		resid += (full[j] - approx[j]) * (full[j] - approx[j])
	}
	vals := singularValues(full, m.Out, m.In)
	tail := 0.0
	for _, sv := range vals[m.Rank:] {
		tail += sv * sv
	}
	if math.Abs(resid-tail) > 1e-4*(1+tail) {
		t.Fatalf("residual %v, Eckart–Young says %v", resid, tail)
	}
	// Balanced split: column k of B and row k of A both have norm √s_k.
	off := s.Offset(0)
	for k := range m.Rank {
		nb, na := 0.0, 0.0
		for o := range m.Out {
			x := float64(merged[off+o*m.Rank+k])
			nb += x * x
		}
		for j := range m.In {
			x := float64(merged[off+m.Out*m.Rank+k*m.In+j])
			na += x * x
		}
		if math.Abs(nb-vals[k]) > 1e-4*vals[k] || math.Abs(na-vals[k]) > 1e-4*vals[k] {
			t.Fatalf("component %d: ‖B_k‖² = %v, ‖A_k‖² = %v, s_k = %v", k, nb, na, vals[k])
		}
	}
}

func TestDeltaThresholdsAreGlobal(t *testing.T) {
	s := schema()
	v := randFlat(rand.New(rand.NewPCG(9, 9)), s)
	var all []float64
	for i, m := range s {
		d := make([]float64, m.Out*m.In)
		Delta(d, s, i, v)
		all = append(all, d...)
	}
	thr := DeltaThresholds(s, [][]float32{v}, 0.2)[0]
	kept := 0
	for _, x := range all {
		if math.Abs(x) >= thr {
			kept++
		}
	}
	if want := int(math.Round(0.2 * float64(len(all)))); kept != want {
		t.Fatalf("threshold keeps %d of %d, want %d", kept, len(all), want)
	}
}

func singularValues(d []float64, rows, cols int) []float64 {
	var svd mat.SVD
	svd.Factorize(mat.NewDense(rows, cols, append([]float64(nil), d...)), mat.SVDNone)
	return svd.Values(nil)
}

func TestKthLargest(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{1, 2, 7, 100, 1001} {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(r.IntN(5)) // many ties
			if n > 100 {
				x[i] = r.NormFloat64()
			}
		}
		sorted := append([]float64(nil), x...)
		slices.Sort(sorted)
		for _, k := range []int{1, n / 2, n} {
			if k < 1 {
				continue
			}
			if got, want := kthLargest(append([]float64(nil), x...), k), sorted[n-k]; got != want {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, want)
			}
		}
	}
}

// TestTopSVD checks the randomized truncated SVD against gonum's full SVD: exact for
// a matrix of low rank (task arithmetic of a few experts), and within rounding for a
// full-rank matrix with a decaying spectrum.
func TestTopSVD(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	const rows, cols, rank = 80, 60, 2
	randMat := func(n, m int) *mat.Dense {
		d := mat.NewDense(n, m, nil)
		for i := range n {
			for j := range m {
				d.Set(i, j, r.NormFloat64())
			}
		}
		return d
	}
	var lowRank mat.Dense // rank 8
	lowRank.Mul(randMat(rows, 8), randMat(8, cols))
	// Full rank, singular values 2^-i.
	var decay mat.Dense
	var svd mat.SVD
	svd.Factorize(randMat(rows, cols), mat.SVDThin)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	s := mat.NewDiagDense(cols, nil)
	for i := range cols {
		s.SetDiag(i, math.Pow(2, -float64(i)))
	}
	decay.Product(&u, s, v.T())
	for name, d := range map[string]*mat.Dense{"low rank": &lowRank, "decaying": &decay} {
		fu, fvals, fvt, err := fullSVD(d, rank)
		if err != nil {
			t.Fatal(err)
		}
		ru, rvals, rvt, err := topSVD(d, rank, 1)
		if err != nil {
			t.Fatal(err)
		}
		var want, got mat.Dense
		want.Product(fu, mat.NewDiagDense(rank, fvals), fvt)
		got.Product(ru, mat.NewDiagDense(rank, rvals), rvt)
		for k := range rank {
			if math.Abs(rvals[k]-fvals[k]) > 1e-9*fvals[0] {
				t.Errorf("%s: σ_%d = %v, full SVD %v", name, k, rvals[k], fvals[k])
			}
		}
		if !mat.EqualApprox(&got, &want, 1e-8*fvals[0]) {
			t.Errorf("%s: rank-%d approximations differ", name, rank)
		}
	}
}
