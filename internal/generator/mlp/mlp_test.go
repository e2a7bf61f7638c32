package mlp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// lossOf is Σ y⊙r, linear in y, so its gradient with respect to y is r.
func lossOf(d *Dense, x, r []float32, n int) float64 {
	y := make([]float32, n*d.Out)
	d.Forward(y, x, n)
	s := 0.0
	for i := range y {
		s += float64(y[i]) * float64(r[i])
	}
	return s
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func TestDenseBackwardMatchesFiniteDifferences(t *testing.T) {
	for _, tc := range []struct{ in, out, n, from int }{{3, 2, 1, 0}, {7, 20, 5, 4}, {30, 17, 9, 0}, {8, 5, 3, 8}} {
		rng := rand.New(rand.NewPCG(7, uint64(tc.in)))
		d := NewDense(tc.in, tc.out, 2, rng)
		for i := range d.B {
			d.B[i] = float32(rng.NormFloat64())
		}
		x := randVec(rng, tc.n*tc.in)
		r := randVec(rng, tc.n*tc.out)
		var dx []float32
		if tc.from < tc.in {
			dx = make([]float32, tc.n*(tc.in-tc.from))
		}
		d.Backward(dx, x, r, tc.n, tc.from, &Scratch{})
		const h = 1e-2 // the loss is linear in every parameter, so only rounding limits h
		fd := func(p *float32) float64 {
			old := *p
			*p = old + h
			up := lossOf(d, x, r, tc.n)
			*p = old - h
			down := lossOf(d, x, r, tc.n)
			*p = old
			return (up - down) / (2 * h)
		}
		check := func(what string, i int, got float32, want float64) {
			t.Helper()
			if math.Abs(float64(got)-want) > 1e-3*(1+math.Abs(want)) {
				t.Errorf("%+v: %s[%d] = %v, finite difference %v", tc, what, i, got, want)
			}
		}
		for i := range d.W {
			check("GW", i, d.GW[i], fd(&d.W[i]))
		}
		for i := range d.B {
			check("GB", i, d.GB[i], fd(&d.B[i]))
		}
		for s := range tc.n {
			for j := tc.from; j < tc.in; j++ {
				check("dx", s*tc.in+j, dx[s*(tc.in-tc.from)+j-tc.from], fd(&x[s*tc.in+j]))
			}
		}
	}
}

// TestBackwardOverwrites: a step's gradients replace the last step's, whatever was in
// GW and GB, bit for bit what accumulating into cleared gradients gave.
func TestBackwardOverwrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	d := NewDense(300, 37, 2, rng) // 300 input rows: two blocks of the k loop
	x, dy := randVec(rng, 2*300), randVec(rng, 2*37)
	for i := range d.GW {
		d.GW[i] = float32(math.NaN())
	}
	for i := range d.GB {
		d.GB[i] = float32(math.Inf(1))
	}
	d.Backward(nil, x, dy, 2, 300, &Scratch{})
	gw, gb := make([]float32, len(d.GW)), make([]float32, len(d.GB))
	for s := range 2 {
		for i := range 300 {
			for j := range 37 {
				gw[i*37+j] += x[s*300+i] * dy[s*37+j]
			}
		}
		for j := range 37 {
			gb[j] += dy[s*37+j]
		}
	}
	for i := range gw {
		if math.Abs(float64(d.GW[i]-gw[i])) > 1e-5*(1+math.Abs(float64(gw[i]))) {
			t.Fatalf("GW[%d] = %v, want %v", i, d.GW[i], gw[i])
		}
	}
	for j := range gb {
		if math.Float32bits(d.GB[j]) != math.Float32bits(gb[j]) {
			t.Fatalf("GB[%d] = %v, want %v", j, d.GB[j], gb[j])
		}
	}
	first := append([]float32(nil), d.GW...)
	d.Backward(nil, x, dy, 2, 300, &Scratch{})
	for i := range first {
		if math.Float32bits(d.GW[i]) != math.Float32bits(first[i]) {
			t.Fatalf("GW[%d] = %v after a second pass, %v after the first", i, d.GW[i], first[i])
		}
	}
}

func TestFreezeKeepsForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	d := NewDense(37, 50, 2, rng)
	for i := range d.B {
		d.B[i] = float32(rng.NormFloat64())
	}
	x := randVec(rng, 3*37)
	before := make([]float32, 3*50)
	d.Forward(before, x, 3)
	d.Freeze()
	after := make([]float32, 3*50)
	d.Forward(after, x, 3)
	for i := range before {
		if math.Abs(float64(before[i]-after[i])) > 1e-5*(1+math.Abs(float64(before[i]))) {
			t.Fatalf("output %d: %v before Freeze, %v after", i, before[i], after[i])
		}
	}
	if d.W != nil || d.GW != nil {
		t.Fatal("Freeze kept W or its gradient")
	}
}

func TestAdamKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 1003 // not a multiple of 8: the tail runs in Go
	w, g := randVec(rng, n), randVec(rng, n)
	m, v := randVec(rng, n), randVec(rng, n)
	for i := range v {
		v[i] *= v[i]
	}
	w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
	adamUpdate(w, g, m, v, 0.9, 0.999, 0.01, 1.5, 1e-8)
	adamGo(w2, g, m2, v2, 0.9, 0.999, 0.01, 1.5, 1e-8)
	for i := range w {
		if math.Abs(float64(w[i]-w2[i])) > 1e-6*(1+math.Abs(float64(w2[i]))) || math.Abs(float64(m[i]-m2[i])) > 1e-6*(1+math.Abs(float64(m2[i]))) || math.Abs(float64(v[i]-v2[i])) > 1e-7*(1+float64(v2[i])) {
			t.Fatalf("element %d: (%v %v %v) vs Go (%v %v %v)", i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
		}
	}
}

func TestReLU(t *testing.T) {
	x := []float32{-1, 0, 2}
	y := make([]float32, 3)
	ReLU(y, x)
	if y[0] != 0 || y[1] != 0 || y[2] != 2 {
		t.Fatalf("ReLU = %v", y)
	}
	dy := []float32{5, 6, 7}
	ReLUBackward(dy, y)
	if dy[0] != 0 || dy[1] != 0 || dy[2] != 7 {
		t.Fatalf("ReLUBackward = %v", dy)
	}
}

// TestAdamFirstStepsMatchReference compares against the update rule written out in
// float64, and checks that Adam minimises a quadratic.
func TestAdamFirstStepsMatchReference(t *testing.T) {
	w := []float32{1, -2, 3}
	g := make([]float32, 3)
	a := NewAdam(0.1, []Param{{W: w, G: g}})
	ref := []float64{1, -2, 3}
	m, v := make([]float64, 3), make([]float64, 3)
	for step := 1; step <= 200; step++ {
		for i := range w {
			g[i] = 2 * w[i] // ∇ of Σ w²
		}
		a.Step()
		for i := range ref {
			gi := 2 * ref[i]
			m[i] = 0.9*m[i] + 0.1*gi
			v[i] = 0.999*v[i] + 0.001*gi*gi
			mh, vh := m[i]/(1-math.Pow(0.9, float64(step))), v[i]/(1-math.Pow(0.999, float64(step)))
			ref[i] -= 0.1 * mh / (math.Sqrt(vh) + 1e-8)
		}
		if step <= 3 {
			for i := range ref {
				if math.Abs(float64(w[i])-ref[i]) > 1e-5 {
					t.Fatalf("step %d: w[%d] = %v, reference %v", step, i, w[i], ref[i])
				}
			}
		}
	}
	for i, x := range w {
		if math.Abs(float64(x)) > 0.05 {
			t.Errorf("w[%d] = %v after 200 steps on Σw², want ≈ 0", i, x)
		}
	}
}
