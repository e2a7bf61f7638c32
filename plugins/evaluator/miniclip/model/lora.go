package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sglab/sglab/framework/lora"
)

// projNames are the adapted projections of every block, in schema order.
var projNames = [3]string{"q_proj", "k_proj", "v_proj"}

// ModuleName is the PEFT-style name of projection j (0 q, 1 k, 2 v) of block b.
func ModuleName(b, j int) string {
	return fmt.Sprintf("visual.blocks.%d.attn.%s", b, projNames[j])
}

// Schema is the LoRA schema of c: W_q, W_k and W_v of every image-tower block, block by
// block, each rank r with lora_alpha alpha.
func Schema(c Config, rank int, alpha float64) lora.Schema {
	s := make(lora.Schema, 0, 3*c.Blocks)
	for b := 0; b < c.Blocks; b++ {
		for j := range projNames {
			s = append(s, lora.Module{Name: ModuleName(b, j), In: c.Width, Out: c.Width, Rank: rank, Alpha: alpha})
		}
	}
	return s
}

// CheckSchema reports whether adapters of schema s fit a model of config c: the module
// names and shapes of Schema(c, ·, ·) in the same order; ranks and alphas may vary.
func CheckSchema(c Config, s lora.Schema) error {
	if err := s.Validate(); err != nil {
		return err
	}
	want := Schema(c, 1, 1)
	if len(s) != len(want) {
		return fmt.Errorf("model: adapter has %d modules, the backbone adapts %d (%s … %s)", len(s), len(want), want[0].Name, want[len(want)-1].Name)
	}
	for i, m := range s {
		if m.Name != want[i].Name || m.In != want[i].In || m.Out != want[i].Out {
			return fmt.Errorf("model: adapter module %d is %s; the backbone expects %s[out=%d in=%d]", i, m, want[i].Name, want[i].Out, want[i].In)
		}
	}
	return nil
}

// LoRA is an adapter bound to the model's numerics: views of B (out×r) and A (r×in) of
// each module inside a flat vector in lora's canonical order ([B; A] per module).
type LoRA[T Float] struct {
	Schema lora.Schema
	Flat   []T
	Mods   []LoRAModule[T]
}

// LoRAModule is one adapted projection.
type LoRAModule[T Float] struct {
	Rank  int
	Scale T // alpha / rank
	B, A  []T
}

// BindLoRA returns views of flat as an adapter of schema s for a model of config c.
func BindLoRA[T Float](c Config, s lora.Schema, flat []T) (*LoRA[T], error) {
	if err := CheckSchema(c, s); err != nil {
		return nil, err
	}
	if len(flat) != s.NumParams() {
		return nil, fmt.Errorf("model: adapter has %d values, schema needs %d", len(flat), s.NumParams())
	}
	l := &LoRA[T]{Schema: s, Flat: flat, Mods: make([]LoRAModule[T], len(s))}
	off := 0
	for i, m := range s {
		nb, na := m.Out*m.Rank, m.Rank*m.In
		l.Mods[i] = LoRAModule[T]{
			Rank: m.Rank, Scale: T(m.Scale()),
			B: flat[off : off+nb : off+nb],
			A: flat[off+nb : off+nb+na : off+nb+na],
		}
		off += nb + na
	}
	return l, nil
}

// InitLoRA fills l as PEFT does: A ~ U(−1/√in, 1/√in) (Kaiming-uniform with a = √5), B = 0,
// so a fresh adapter leaves the backbone unchanged but has a gradient.
func InitLoRA[T Float](l *LoRA[T], rng *rand.Rand) {
	for i, m := range l.Mods {
		clear(m.B)
		bound := 1 / math.Sqrt(float64(l.Schema[i].In))
		for k := range m.A {
			m.A[k] = T((2*rng.Float64() - 1) * bound)
		}
	}
}

// merge writes base + ΔW of block b's q, k and v modules into dst (3D×D).
func (l *LoRA[T]) merge(dst, base []T, b, d int) {
	copy(dst, base[:3*d*d])
	for j := 0; j < 3; j++ {
		m := l.Mods[3*b+j]
		blk := dst[j*d*d : (j+1)*d*d]
		for o := 0; o < d; o++ {
			row := blk[o*d : (o+1)*d]
			for r := 0; r < m.Rank; r++ {
				axpy(m.Scale*m.B[o*m.Rank+r], m.A[r*d:(r+1)*d], row)
			}
		}
	}
}

// backward accumulates the gradients of block b's modules into g given dqkv (rows × 3D,
// the gradient of the q/k/v outputs) and x (rows × D, their input):
// dB = s·dYᵀ(X Aᵀ), dA = s·(dY B)ᵀ X, at cost O(rows·D·r).
func (l *LoRA[T]) backward(g *LoRA[T], b int, dqkv, x []T, rows, d int) {
	for j := 0; j < 3; j++ {
		m, gm := l.Mods[3*b+j], g.Mods[3*b+j]
		if m.Rank == 2 {
			backwardRank2(m.A, m.B, gm.A, gm.B, m.Scale, dqkv[j*d:], x, rows, d)
			continue
		}
		backwardModule(m.A, m.B, gm.A, gm.B, m.Scale, m.Rank, dqkv[j*d:], x, rows, d)
	}
}

// backwardModule is backward's loop over rows for one module of rank r. dqkv holds row
// n's output gradient at n·3d.
func backwardModule[T Float](a, b, ga, gb []T, scale T, r int, dqkv, x []T, rows, d int) {
	var u, v [8]T
	us, vs := u[:], v[:]
	if r > len(u) {
		us, vs = make([]T, r), make([]T, r)
	}
	for n := 0; n < rows; n++ {
		xn := x[n*d : (n+1)*d]
		dy := dqkv[n*3*d : n*3*d+d]
		for k := 0; k < r; k++ {
			us[k] = scale * dot(a[k*d:(k+1)*d], xn)
			vs[k] = 0
		}
		for o, g := range dy {
			if g == 0 {
				continue
			}
			bo := b[o*r : (o+1)*r]
			gbo := gb[o*r : (o+1)*r]
			for k := 0; k < r; k++ {
				gbo[k] += g * us[k]
				vs[k] += g * bo[k]
			}
		}
		for k := 0; k < r; k++ {
			axpy(scale*vs[k], xn, ga[k*d:(k+1)*d])
		}
	}
}

// backwardRank2 is backward's loop over rows for one module of rank 2 (the paper's and
// the default rank), with the two ranks' values in locals instead of slices: the same
// operations in the same order as backwardModule, so the same bits, without its inner
// loops over k. dqkv holds row n's output gradient at n·3d.
func backwardRank2[T Float](a, b, ga, gb []T, scale T, dqkv, x []T, rows, d int) {
	a0, a1 := a[:d], a[d:2*d]
	ga0, ga1 := ga[:d], ga[d:2*d]
	b, gb = b[:2*d], gb[:2*d]
	for n := 0; n < rows; n++ {
		xn := x[n*d : (n+1)*d]
		dy := dqkv[n*3*d : n*3*d+d]
		u0 := scale * dot(a0, xn)
		u1 := scale * dot(a1, xn)
		var v0, v1 T
		for o, g := range dy {
			if g == 0 {
				continue
			}
			bo := b[2*o : 2*o+2]
			gbo := gb[2*o : 2*o+2]
			gbo[0] += g * u0
			v0 += g * bo[0]
			gbo[1] += g * u1
			v1 += g * bo[1]
		}
		axpy(scale*v0, xn, ga0)
		axpy(scale*v1, xn, ga1)
	}
}
