// Package mlp holds the pieces the generators' networks are built from: dense layers
// with hand-written backward passes, ReLU, and Adam. Everything is float32 and
// batch-major (a batch of B vectors of width n is a B×n row-major slice); the matrix
// products run through package gemm.
package mlp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sglab/sglab/framework/gemm"
)

// Dense is a fully connected layer y = x·W + b. W is stored In×Out row-major so that
// the forward pass streams W row by row, which is what makes generation with a wide
// output layer fast. Backward accumulates into GW and GB.
type Dense struct {
	In, Out int
	W, B    []float32
	GW, GB  []float32

	packed *gemm.Packed // set by Freeze
}

// NewDense returns a layer with weights drawn from N(0, gain/In) (He initialisation
// for gain 2, the right scale in front of a ReLU) and zero bias.
func NewDense(in, out int, gain float64, r *rand.Rand) *Dense {
	d := &Dense{
		In: in, Out: out,
		W: make([]float32, in*out), B: make([]float32, out),
		GW: make([]float32, in*out), GB: make([]float32, out),
	}
	std := math.Sqrt(gain / float64(in))
	for i := range d.W {
		d.W[i] = float32(std * r.NormFloat64())
	}
	return d
}

// Params lists the layer's parameter groups for an optimiser.
func (d *Dense) Params() []Param {
	return []Param{{W: d.W, G: d.GW}, {W: d.B, G: d.GB}}
}

// Forward writes y = x·W + b for a batch of n rows (x: n×In, y: n×Out).
func (d *Dense) Forward(y, x []float32, n int) {
	if len(x) < n*d.In || len(y) < n*d.Out {
		panic(fmt.Sprintf("mlp: Dense %d→%d forward of %d rows: x has %d, y has %d", d.In, d.Out, n, len(x), len(y)))
	}
	for i := range n {
		copy(y[i*d.Out:(i+1)*d.Out], d.B)
	}
	if d.packed != nil {
		gemm.GemmPacked(n, x, d.In, 1, d.packed, 1, y, d.Out)
		return
	}
	gemm.Gemm(n, d.Out, d.In, x, d.In, 1, d.W, d.Out, 1, y, d.Out)
}

// Freeze readies a trained layer for inference: W is repacked into the layout the
// matrix kernel streams (gemm.Pack), which makes a thin forward pass read W once,
// sequentially, and W and the gradients are released. Backward must not follow.
func (d *Dense) Freeze() {
	d.packed = gemm.Pack(d.W, d.In, d.Out, d.Out)
	d.W, d.GW, d.GB = nil, nil, nil
}

// Weights returns the In×Out weight matrix, unpacked when the layer is frozen.
func (d *Dense) Weights() []float32 {
	if d.packed != nil {
		return d.packed.Unpack()
	}
	return d.W
}

// Backward writes GW = xᵀ·dy and GB = Σ dy over the n rows (a step's gradients: each
// layer runs once per step, so nothing needs clearing, and the weight gradient, as
// large as the weights, is written without being read), and, when dx is not nil,
// writes the gradient with respect to the input columns [from, In):
// dx (n×(In−from)) = dy·W[from:]ᵀ. Asking only for a tail of the input avoids the
// largest product when the head is data (the snapshot itself).
func (d *Dense) Backward(dx, x, dy []float32, n, from int, s *Scratch) {
	if len(x) < n*d.In || len(dy) < n*d.Out {
		panic(fmt.Sprintf("mlp: Dense %d→%d backward of %d rows: x has %d, dy has %d", d.In, d.Out, n, len(x), len(dy)))
	}
	gemm.Gemm(d.In, d.Out, n, x, 1, d.In, dy, d.Out, 0, d.GW, d.Out)
	clear(d.GB)
	for i := range n {
		row := dy[i*d.Out : (i+1)*d.Out]
		for j, v := range row {
			d.GB[j] += v
		}
	}
	if dx == nil {
		return
	}
	w := d.In - from
	if len(dx) < n*w {
		panic(fmt.Sprintf("mlp: Dense %d→%d backward: dx has %d, needs %d", d.In, d.Out, len(dx), n*w))
	}
	// dxᵀ = W[from:]·dyᵀ keeps the long dimension (Out) as the reduction, with dyᵀ
	// row-major as gemm wants its B operand.
	dyT := s.get(0, n*d.Out)
	gemm.Transpose(dyT, dy, n, d.Out)
	dxT := s.get(1, w*n)
	gemm.Gemm(w, n, d.Out, d.W[from*d.Out:], d.Out, 1, dyT, n, 0, dxT, n)
	gemm.Transpose(dx, dxT, w, n)
}

// Scratch holds reusable temporary buffers so that training steps do not allocate.
type Scratch struct{ bufs [2][]float32 }

func (s *Scratch) get(i, n int) []float32 {
	if cap(s.bufs[i]) < n {
		s.bufs[i] = make([]float32, n)
	}
	return s.bufs[i][:n]
}

// ReLU writes max(x, 0) into y (which may be x).
func ReLU(y, x []float32) {
	for i, v := range x[:len(y)] {
		y[i] = max(v, 0)
	}
}

// ReLUBackward zeroes dy where the ReLU output y is not positive, in place.
func ReLUBackward(dy, y []float32) {
	for i, v := range y[:len(dy)] {
		if v <= 0 {
			dy[i] = 0
		}
	}
}

// Param is one parameter tensor and its gradient, flat.
type Param struct{ W, G []float32 }

// Adam is the optimiser of Kingma & Ba (2015) with bias correction.
type Adam struct {
	LR, Beta1, Beta2, Eps float64

	params []Param
	m, v   [][]float32
	t      int
}

// NewAdam returns Adam with the usual β1 = 0.9, β2 = 0.999, ε = 1e-8 over params.
func NewAdam(lr float64, params []Param) *Adam {
	a := &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, params: params}
	for _, p := range params {
		a.m = append(a.m, make([]float32, len(p.W)))
		a.v = append(a.v, make([]float32, len(p.W)))
	}
	return a
}

// Step applies one update from the accumulated gradients (it does not clear them).
// At paper scale the networks hold ~10⁸ parameters and the update is bound by memory
// traffic, so it is spread over GOMAXPROCS goroutines in fixed segments.
func (a *Adam) Step() {
	a.t++
	c1 := 1 - math.Pow(a.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.Beta2, float64(a.t))
	// lr·m̂/(√v̂+ε) = (lr/c1)·m/(√(v/c2)+ε)
	step, inv2 := float32(a.LR/c1), float32(1/c2)
	type segment struct{ p, lo, hi int }
	const size = 1 << 16
	var segs []segment
	for i, p := range a.params {
		for lo := 0; lo < len(p.W); lo += size {
			segs = append(segs, segment{i, lo, min(lo+size, len(p.W))})
		}
	}
	run := func(s segment) {
		a.update(a.params[s.p].W[s.lo:s.hi], a.params[s.p].G[s.lo:s.hi], a.m[s.p][s.lo:s.hi], a.v[s.p][s.lo:s.hi], step, inv2)
	}
	workers := min(runtime.GOMAXPROCS(0), len(segs))
	if workers <= 1 {
		for _, s := range segs {
			run(s)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := next.Add(1) - 1; j < int64(len(segs)); j = next.Add(1) - 1 {
				run(segs[j])
			}
		})
	}
	wg.Wait()
}

func (a *Adam) update(w, g, m, v []float32, step, inv2 float32) {
	w, m, v = w[:len(g)], m[:len(g)], v[:len(g)]
	adamUpdate(w, g, m, v, float32(a.Beta1), float32(a.Beta2), step, inv2, float32(a.Eps))
}

// adamUpdate applies the update to one segment; an AVX2 version replaces it when the
// CPU allows.
var adamUpdate = adamGo

func adamGo(w, g, m, v []float32, b1, b2, step, inv2, eps float32) {
	for j, gj := range g {
		mj := b1*m[j] + (1-b1)*gj
		vj := b2*v[j] + (1-b2)*gj*gj
		m[j], v[j] = mj, vj
		w[j] -= step * mj / (float32(math.Sqrt(float64(vj*inv2))) + eps)
	}
}
