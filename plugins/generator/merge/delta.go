package merge

import (
	"fmt"
	"math"

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

// Factorize writes the best rank-r approximation of the out×in matrix d (Eckart–Young,
// by a thin SVD d = U·S·Vᵀ) into module i of the flat adapter v as B = U_r·√S_r and
// A = √S_r·V_rᵀ. Splitting √S evenly gives B and A the same scale, as trained LoRA
// factors roughly have; any split gives the same ΔW. Rank beyond min(out, in) is
// filled with zeros.
func Factorize(v []float32, s lora.Schema, i int, d []float64) error {
	m := s[i]
	if len(d) != m.Out*m.In {
		panic(fmt.Sprintf("merge: ΔW of %s needs %d elements, have %d", m.Name, m.Out*m.In, len(d)))
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(m.Out, m.In, d), mat.SVDThin) {
		return fmt.Errorf("merge: SVD of the merged ΔW of %s did not converge", m.Name)
	}
	vals := svd.Values(nil)
	var u, vt mat.Dense
	svd.UTo(&u)
	svd.VTo(&vt)
	off := s.Offset(i)
	b, a := v[off:off+m.Out*m.Rank], v[off+m.Out*m.Rank:off+m.Size()]
	clear(b)
	clear(a)
	for r := range min(m.Rank, len(vals)) {
		sq := math.Sqrt(vals[r])
		for o := range m.Out {
			b[o*m.Rank+r] = float32(u.At(o, r) * sq)
		}
		for j := range m.In {
			a[r*m.In+j] = float32(vt.At(j, r) * sq)
		}
	}
	return nil
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
