package merge

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/sglab/sglab/framework/lora"
)

// Delta writes ΔW = B·A of module i of the flat adapter v into dst (out×in,
// row-major). The PEFT scale alpha/rank is left out: it is the same for every adapter
// of a schema, so merging and refactorising commute with it.
func Delta(dst []float64, s lora.Schema, i int, v []float32) {
	m := s[i]
	if len(dst) != m.Out*m.In {
		panic(fmt.Sprintf("merge: ΔW of %s needs %d elements, have %d", m.Name, m.Out*m.In, len(dst)))
	}
	off := s.Offset(i)
	b, a := v[off:off+m.Out*m.Rank], v[off+m.Out*m.Rank:off+m.Size()]
	clear(dst)
	for o := range m.Out {
		row := dst[o*m.In : (o+1)*m.In]
		for r := range m.Rank {
			w := float64(b[o*m.Rank+r])
			if w == 0 {
				continue
			}
			for j, x := range a[r*m.In : (r+1)*m.In] {
				row[j] += w * float64(x)
			}
		}
	}
}

// Factorize writes the best rank-r approximation of the out×in matrix d (Eckart–Young)
// into module i of the flat adapter v as B = U_r·√S_r and A = √S_r·V_rᵀ, from the
// leading r singular triplets of d (topSVD). Splitting √S evenly gives B and A the
// same scale, as trained LoRA factors roughly have; any split gives the same ΔW. Rank
// beyond min(out, in) is filled with zeros.
func Factorize(v []float32, s lora.Schema, i int, d []float64) error {
	m := s[i]
	if len(d) != m.Out*m.In {
		panic(fmt.Sprintf("merge: ΔW of %s needs %d elements, have %d", m.Name, m.Out*m.In, len(d)))
	}
	r := min(m.Rank, m.Out, m.In)
	u, vals, vt, err := topSVD(mat.NewDense(m.Out, m.In, d), r, uint64(i))
	if err != nil {
		return fmt.Errorf("merge: SVD of the merged ΔW of %s: %w", m.Name, err)
	}
	off := s.Offset(i)
	b, a := v[off:off+m.Out*m.Rank], v[off+m.Out*m.Rank:off+m.Size()]
	clear(b)
	clear(a)
	for k := range r {
		sq := math.Sqrt(vals[k])
		for o := range m.Out {
			b[o*m.Rank+k] = float32(u.At(o, k) * sq)
		}
		for j := range m.In {
			a[k*m.In+j] = float32(vt.At(k, j) * sq)
		}
	}
	return nil
}

// Parameters of the randomized truncated SVD: extra directions sampled beyond r, and
// power iterations. The error of the leading subspace shrinks like
// (σ_{r+oversample+1}/σ_r)^(2·powerIters+1) (Halko, Martinsson & Tropp 2011, §10).
const (
	oversample = 10
	powerIters = 8
)

// topSVD returns the r leading singular triplets of d (rows×cols): U (rows×r), the
// singular values, Vᵀ (r×cols). When r+oversample is a small part of min(rows, cols)
// it uses the randomized range finder with power iterations and re-orthonormalisation
// (Halko, Martinsson & Tropp 2011, Algorithms 4.4 and 5.1), seeded by seed, which at
// paper scale (768×768, r = 2) takes milliseconds instead of the seconds of a full
// SVD; a matrix of rank ≤ r+oversample (task arithmetic of a few experts) is captured
// exactly. Otherwise it takes the full thin SVD.
func topSVD(d *mat.Dense, r int, seed uint64) (u *mat.Dense, vals []float64, vt *mat.Dense, err error) {
	rows, cols := d.Dims()
	k := r + oversample
	if 2*k > min(rows, cols) {
		return fullSVD(d, r)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5bd))
	omega := mat.NewDense(cols, k, nil)
	for i := range cols {
		for j := range k {
			omega.Set(i, j, rng.NormFloat64())
		}
	}
	var y, z mat.Dense
	y.Mul(d, omega)
	q := orth(&y)
	for range powerIters {
		z.Mul(d.T(), q)
		y.Mul(d, orth(&z))
		q = orth(&y)
	}
	var small mat.Dense // Qᵀ·d, k×cols
	small.Mul(q.T(), d)
	su, vals, svt, err := fullSVD(&small, r)
	if err != nil {
		return nil, nil, nil, err
	}
	u = mat.NewDense(rows, r, nil)
	u.Mul(q, su)
	return u, vals, svt, nil
}

// fullSVD returns the r leading triplets of a thin SVD.
func fullSVD(d mat.Matrix, r int) (*mat.Dense, []float64, *mat.Dense, error) {
	var svd mat.SVD
	if !svd.Factorize(d, mat.SVDThin) {
		return nil, nil, nil, fmt.Errorf("SVD did not converge")
	}
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	rows, _ := u.Dims()
	cols, _ := v.Dims()
	uu := mat.DenseCopyOf(u.Slice(0, rows, 0, r))
	vt := mat.DenseCopyOf(v.Slice(0, cols, 0, r).T())
	return uu, svd.Values(nil)[:r], vt, nil
}

// orth returns an orthonormal basis of the columns of y by modified Gram–Schmidt,
// applied twice to hold orthogonality to rounding ("twice is enough"); a column that
// vanishes (y rank-deficient) is left zero, which only drops a direction of the
// sampled range. gonum's QR would form the full rows×rows Q.
func orth(y *mat.Dense) *mat.Dense {
	rows, cols := y.Dims()
	q := mat.DenseCopyOf(y)
	col := make([]float64, rows)
	norms := make([]float64, cols)
	for j := range cols {
		mat.Col(col, j, q)
		norms[j] = floats.Norm(col, 2)
	}
	for range 2 {
		for j := range cols {
			mat.Col(col, j, q)
			for i := range j {
				prev := mat.Col(nil, i, q)
				floats.AddScaled(col, -floats.Dot(prev, col), prev)
			}
			n := floats.Norm(col, 2)
			if n <= 1e-12*norms[j] || n == 0 {
				clear(col)
			} else {
				floats.Scale(1/n, col)
			}
			q.SetCol(j, col)
		}
	}
	return q
}

// InDelta merges the flat adapters vs module by module in ΔW space: combine receives
// the experts' ΔW of one module and writes the merged ΔW into dst, which is then
// factorised back to the schema's rank. Only one module's matrices are held at a time.
func InDelta(s lora.Schema, vs [][]float32, combine func(module int, dst []float64, deltas [][]float64)) ([]float32, error) {
	out := make([]float32, s.NumParams())
	for i, m := range s {
		deltas := make([][]float64, len(vs))
		for t, v := range vs {
			deltas[t] = make([]float64, m.Out*m.In)
			Delta(deltas[t], s, i, v)
		}
		merged := make([]float64, m.Out*m.In)
		combine(i, merged, deltas)
		if err := Factorize(out, s, i, merged); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeltaThresholds returns, for each adapter, the TIES trim threshold of its whole
// task vector in ΔW space (all modules' ΔW together), as TIES trims a task vector
// globally.
func DeltaThresholds(s lora.Schema, vs [][]float32, density float64) []float64 {
	thr := make([]float64, len(vs))
	for t, v := range vs {
		parts := make([][]float64, len(s))
		for i, m := range s {
			parts[i] = make([]float64, m.Out*m.In)
			Delta(parts[i], s, i, v)
		}
		thr[t] = Threshold(density, parts...)
	}
	return thr
}
