package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The backward passes are checked against central finite differences in float64, where
// truncation error (O(h²) with h = 1e-5) and rounding (≈1e-16/h) are both far below the
// 1e-6 relative tolerance, so a wrong term of any size shows up.

const (
	fdStep = 1e-5
	fdRel  = 1e-6
	fdAbs  = 1e-8
)

func tinyConfig() Config {
	return Config{
		ImageSize: 8, Patch: 4, Width: 8, Heads: 2, Blocks: 2, MLP: 12,
		Embed: 6, WordDim: 5, TextHidden: 7, PixelMean: 0.3, PixelStd: 0.4,
	}
}

func randVec(rng *rand.Rand, n int, std float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64() * std
	}
	return v
}

// checkGrad compares analytic[i] with the central difference of f in x[i] for every i
// in idx (all indices when idx is nil).
func checkGrad(t *testing.T, name string, x, analytic []float64, f func() float64, idx []int) {
	t.Helper()
	if idx == nil {
		idx = make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
	}
	bad := 0
	for _, i := range idx {
		orig := x[i]
		x[i] = orig + fdStep
		fp := f()
		x[i] = orig - fdStep
		fm := f()
		x[i] = orig
		num := (fp - fm) / (2 * fdStep)
		if math.Abs(num-analytic[i]) > fdAbs+fdRel*math.Max(math.Abs(num), math.Abs(analytic[i])) {
			if bad < 5 {
				t.Errorf("%s[%d]: analytic %.10g, finite difference %.10g", name, i, analytic[i], num)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d coordinates disagree", name, bad, len(idx))
	}
}

// project is the scalar test loss Σ y⊙r, whose gradient with respect to y is r.
func project(y, r []float64) float64 {
	var s float64
	for i := range r {
		s += y[i] * r[i]
	}
	return s
}

func TestLinearGrad(t *testing.T) {
	for _, tc := range []struct{ n, in, out int }{{1, 3, 2}, {5, 4, 3}, {9, 7, 6}} {
		t.Run(fmt.Sprintf("%dx%dto%d", tc.n, tc.in, tc.out), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.n)))
			x, w, b := randVec(rng, tc.n*tc.in, 1), randVec(rng, tc.out*tc.in, 1), randVec(rng, tc.out, 1)
			r := randVec(rng, tc.n*tc.out, 1)
			y := make([]float64, tc.n*tc.out)
			f := func() float64 { linearForward(y, x, w, b, tc.n, tc.in, tc.out); return project(y, r) }
			dx, dw, db := make([]float64, len(x)), make([]float64, len(w)), make([]float64, len(b))
			linearBackward(&scratch[float64]{}, dx, dw, db, r, x, w, tc.n, tc.in, tc.out)
			checkGrad(t, "dx", x, dx, f, nil)
			checkGrad(t, "dw", w, dw, f, nil)
			checkGrad(t, "db", b, db, f, nil)
		})
	}
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 0))
	n, d := 4, 6
	x, g, b := randVec(rng, n*d, 2), randVec(rng, d, 1), randVec(rng, d, 1)
	r := randVec(rng, n*d, 1)
	y, xh, rs := make([]float64, n*d), make([]float64, n*d), make([]float64, n)
	f := func() float64 { layerNormForward(y, xh, rs, x, g, b, n, d); return project(y, r) }
	f()
	dx, dg, db := make([]float64, n*d), make([]float64, d), make([]float64, d)
	layerNormBackward(dx, dg, db, r, xh, rs, g, n, d)
	checkGrad(t, "dx", x, dx, f, nil)
	checkGrad(t, "dgain", g, dg, f, nil)
	checkGrad(t, "dbias", b, db, f, nil)
}

func TestGELUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 0))
	x := randVec(rng, 40, 2)
	x = append(x, 0, -6, 6, 1e-3)
	r := randVec(rng, len(x), 1)
	y, sig := make([]float64, len(x)), make([]float64, len(x))
	f := func() float64 { geluForward(y, sig, x); return project(y, r) }
	f()
	dx := make([]float64, len(x))
	geluBackward(dx, r, x, sig)
	checkGrad(t, "dx", x, dx, f, nil)
	// Closed forms: QuickGELU(x) = x·σ(1.702x).
	geluForward(y, sig, x)
	for i, v := range x {
		if want := v / (1 + math.Exp(-1.702*v)); math.Abs(y[i]-want) > 1e-15 {
			t.Errorf("QuickGELU(%v) = %v, want %v", v, y[i], want)
		}
	}
}

func TestAttentionGrad(t *testing.T) {
	for _, tc := range []struct{ l, d, heads int }{{1, 4, 1}, {5, 8, 2}, {7, 12, 3}} {
		t.Run(fmt.Sprintf("l%d_d%d_h%d", tc.l, tc.d, tc.heads), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, uint64(tc.l)))
			qkv := randVec(rng, tc.l*3*tc.d, 1)
			r := randVec(rng, tc.l*tc.d, 1)
			out, probs := make([]float64, tc.l*tc.d), make([]float64, tc.heads*tc.l*tc.l)
			f := func() float64 { attentionForward(out, probs, qkv, tc.l, tc.d, tc.heads); return project(out, r) }
			f()
			dqkv := make([]float64, len(qkv))
			attentionBackward(dqkv, r, probs, qkv, make([]float64, tc.l), tc.l, tc.d, tc.heads)
			checkGrad(t, "dqkv", qkv, dqkv, f, nil)
		})
	}
}

// TestAttentionBruteForce compares the kernel with a direct per-head computation.
func TestAttentionBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 0))
	l, d, heads := 4, 6, 2
	dh := d / heads
	qkv := randVec(rng, l*3*d, 1)
	out, probs := make([]float64, l*d), make([]float64, heads*l*l)
	attentionForward(out, probs, qkv, l, d, heads)
	q32 := make([]float32, len(qkv))
	for i, v := range qkv {
		q32[i] = float32(v)
	}
	out32, probs32 := make([]float32, l*d), make([]float32, heads*l*l)
	attentionForward(out32, probs32, q32, l, d, heads)
	for h := 0; h < heads; h++ {
		for i := 0; i < l; i++ {
			w := make([]float64, l)
			var z float64
			for j := 0; j < l; j++ {
				var s float64
				for k := 0; k < dh; k++ {
					s += qkv[i*3*d+h*dh+k] * qkv[j*3*d+d+h*dh+k]
				}
				w[j] = math.Exp(s / math.Sqrt(float64(dh)))
				z += w[j]
			}
			for k := 0; k < dh; k++ {
				var o float64
				for j := 0; j < l; j++ {
					o += w[j] / z * qkv[j*3*d+2*d+h*dh+k]
				}
				if got := out[i*d+h*dh+k]; math.Abs(got-o) > 1e-12 {
					t.Fatalf("head %d token %d dim %d: %v, want %v", h, i, k, got, o)
				}
				if got := out32[i*d+h*dh+k]; math.Abs(float64(got)-o) > 1e-5 {
					t.Fatalf("float32: head %d token %d dim %d: %v, want %v", h, i, k, got, o)
				}
			}
		}
	}
}

func TestNormalizeGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 0))
	n, d := 3, 5
	x := randVec(rng, n*d, 1)
	r := randVec(rng, n*d, 1)
	y, norms := make([]float64, n*d), make([]float64, n)
	f := func() float64 { normalizeForward(y, norms, x, n, d); return project(y, r) }
	f()
	dx := make([]float64, n*d)
	normalizeBackward(dx, r, y, norms, n, d)
	checkGrad(t, "dx", x, dx, f, nil)
}

// groupsCases cover distinct pairs (plain CLIP) and repeated captions in a batch.
var groupsCases = []struct {
	name   string
	groups []int
}{
	{"distinct", []int{0, 1, 2, 3, 4}},
	{"repeated", []int{7, 1, 7, 2, 1}},
	{"all same", []int{3, 3, 3, 3, 3}},
}

func TestInfoNCEGrad(t *testing.T) {
	for _, tc := range groupsCases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 0))
			n, e := len(tc.groups), 4
			img, txt := randVec(rng, n*e, 1), randVec(rng, n*e, 1)
			ls := []float64{1.3}
			f := func() float64 {
				l, _ := InfoNCE(img, txt, tc.groups, n, e, ls[0], nil, nil)
				return l
			}
			di, dt := make([]float64, n*e), make([]float64, n*e)
			_, dls := InfoNCE(img, txt, tc.groups, n, e, ls[0], di, dt)
			checkGrad(t, "dimg", img, di, f, nil)
			checkGrad(t, "dtxt", txt, dt, f, nil)
			checkGrad(t, "dlogscale", ls, []float64{dls}, f, nil)
		})
	}
}

// TestInfoNCEClosedForm checks the loss against CLIP's formula for distinct pairs and
// against log n when every logit is equal.
func TestInfoNCEClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 0))
	n, e := 4, 3
	img, txt := randVec(rng, n*e, 1), randVec(rng, n*e, 1)
	groups := []int{0, 1, 2, 3}
	scale := 2.5
	got, _ := InfoNCE(img, txt, groups, n, e, math.Log(scale), nil, nil)
	s := func(i, j int) float64 { return scale * dot(img[i*e:(i+1)*e], txt[j*e:(j+1)*e]) }
	var want float64
	for i := 0; i < n; i++ {
		var zr, zc float64
		for j := 0; j < n; j++ {
			zr += math.Exp(s(i, j))
			zc += math.Exp(s(j, i))
		}
		want += -(s(i, i) - math.Log(zr)) - (s(i, i) - math.Log(zc))
	}
	want /= 2 * float64(n)
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("InfoNCE = %v, CLIP formula gives %v", got, want)
	}
	zero := make([]float64, n*e)
	if got, _ := InfoNCE(zero, zero, groups, n, e, 0, nil, nil); math.Abs(got-math.Log(float64(n))) > 1e-12 {
		t.Errorf("InfoNCE with equal logits = %v, want log %d = %v", got, n, math.Log(float64(n)))
	}
}

// sampleIdx picks up to k indices of [0, n) deterministically, always including the ends.
func sampleIdx(rng *rand.Rand, n, k int) []int {
	if n <= k {
		return nil
	}
	idx := []int{0, n - 1}
	for len(idx) < k {
		idx = append(idx, rng.IntN(n))
	}
	return idx
}

// randomModel perturbs a fresh model so LayerNorm gains, biases and the like are not at
// their special initial values, which could hide a missing term.
func randomModel(t *testing.T, c Config, seed uint64) *Model[float64] {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	m, err := New[float64](c, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params {
		m.Params[i] += rng.NormFloat64() * 0.2
	}
	m.W.LogitScale[0] = 1.1
	return m
}

// TestImageTowerGrad checks every image-tower tensor, patch embedding included, through
// the full forward pass from pixels to unit embeddings.
func TestImageTowerGrad(t *testing.T) {
	c := tinyConfig()
	m := randomModel(t, c, 9)
	rng := rand.New(rand.NewPCG(9, 2))
	n := 3
	pix := make([]float64, n*c.Pixels())
	for i := range pix {
		pix[i] = rng.Float64()
	}
	r := randVec(rng, n*c.Embed, 1)
	tape := m.NewImageTape(n)
	f := func() float64 { return project(tape.Forward(pix, n, nil), r) }
	f()
	grad := make([]float64, len(m.Params))
	gw := Bind(c, grad)
	tape.Backward(r, &gw, nil)
	for _, ts := range c.Layout() {
		if ts.Name[:6] != "visual" {
			continue
		}
		t.Run(ts.Name, func(t *testing.T) {
			x := m.Params[ts.Offset : ts.Offset+ts.Size()]
			a := grad[ts.Offset : ts.Offset+ts.Size()]
			checkGrad(t, ts.Name, x, a, f, sampleIdx(rng, len(x), 24))
		})
	}
	// Text-tower gradients must stay untouched by the image backward pass.
	for _, ts := range c.Layout() {
		if ts.Name[:4] == "text" || ts.Name == "logit_scale" {
			for _, v := range grad[ts.Offset : ts.Offset+ts.Size()] {
				if v != 0 {
					t.Fatalf("image backward wrote into %s", ts.Name)
				}
			}
		}
	}
}

func TestTextTowerGrad(t *testing.T) {
	c := tinyConfig()
	m := randomModel(t, c, 10)
	rng := rand.New(rand.NewPCG(10, 2))
	n := 4
	feats := randVec(rng, n*c.WordDim, 1)
	r := randVec(rng, n*c.Embed, 1)
	tape := m.NewTextTape(n)
	f := func() float64 { return project(tape.Forward(feats, n), r) }
	f()
	grad := make([]float64, len(m.Params))
	gw := Bind(c, grad)
	tape.Backward(r, &gw)
	for _, name := range []string{"text.fc1.weight", "text.fc1.bias", "text.fc2.weight", "text.fc2.bias"} {
		ts := tensorByName(t, c, name)
		checkGrad(t, name, m.Params[ts.Offset:ts.Offset+ts.Size()], grad[ts.Offset:ts.Offset+ts.Size()], f, nil)
	}
}

func tensorByName(t *testing.T, c Config, name string) Tensor {
	t.Helper()
	for _, ts := range c.Layout() {
		if ts.Name == name {
			return ts
		}
	}
	t.Fatalf("no tensor %q", name)
	return Tensor{}
}

// TestLoRAGrad checks the adapter gradient through the whole image tower, with B
// non-zero so that both dA and dB are exercised, for two ranks and per-module alphas.
func TestLoRAGrad(t *testing.T) {
	c := tinyConfig()
	m := randomModel(t, c, 11)
	for _, rank := range []int{1, 3} {
		t.Run(fmt.Sprintf("rank%d", rank), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(rank)))
			s := Schema(c, rank, 2*float64(rank))
			s[1].Alpha = 0.5 // per-module scales must be honoured
			ad, err := BindLoRA(c, s, randVec(rng, s.NumParams(), 0.3))
			if err != nil {
				t.Fatal(err)
			}
			n := 2
			pix := make([]float64, n*c.Pixels())
			for i := range pix {
				pix[i] = rng.Float64()
			}
			tokens := make([]float64, n*c.Tokens()*c.Width)
			m.Embed(tokens, pix, n)
			r := randVec(rng, n*c.Embed, 1)
			tape := m.NewImageTape(n)
			f := func() float64 { return project(tape.ForwardTokens(tokens, n, ad), r) }
			f()
			g, _ := BindLoRA(c, s, make([]float64, s.NumParams()))
			tape.Backward(r, nil, g)
			checkGrad(t, "lora", ad.Flat, g.Flat, f, nil)
		})
	}
}

// TestLoRAMatchesDeltaW checks that injecting an adapter equals adding lora's DeltaW to
// the base weights, and that a zero-B adapter (PEFT init) leaves the output unchanged.
func TestLoRAMatchesDeltaW(t *testing.T) {
	c := tinyConfig()
	m := randomModel(t, c, 12)
	rng := rand.New(rand.NewPCG(12, 0))
	s := Schema(c, 2, 4)
	flat32 := make([]float32, s.NumParams())
	for i := range flat32 {
		flat32[i] = float32(rng.NormFloat64() * 0.3)
	}
	flat := make([]float64, len(flat32))
	for i, v := range flat32 {
		flat[i] = float64(v)
	}
	ad, err := BindLoRA(c, s, flat)
	if err != nil {
		t.Fatal(err)
	}
	n := 2
	pix := make([]float64, n*c.Pixels())
	for i := range pix {
		pix[i] = rng.Float64()
	}
	tape := m.NewImageTape(n)
	withLoRA := append([]float64(nil), tape.Forward(pix, n, ad)...)

	merged := &Model[float64]{Cfg: c, Params: append([]float64(nil), m.Params...)}
	merged.W = Bind(c, merged.Params)
	lad := loraAdapter(t, s, flat32)
	d := c.Width
	for i := range s {
		dw := lad.DeltaW(nil, i)
		b, j := i/3, i%3
		dst := merged.W.Blocks[b].QKV[j*d*d : (j+1)*d*d]
		for k, v := range dw {
			dst[k] += float64(v)
		}
	}
	want := merged.NewImageTape(n).Forward(pix, n, nil)
	for i := range want {
		if math.Abs(withLoRA[i]-want[i]) > 1e-5 { // DeltaW works in float32
			t.Fatalf("embedding %d: with LoRA %v, merged DeltaW %v", i, withLoRA[i], want[i])
		}
	}

	InitLoRA(ad, rng)
	base := append([]float64(nil), tape.Forward(pix, n, nil)...)
	fresh := tape.Forward(pix, n, ad)
	for i := range base {
		if base[i] != fresh[i] {
			t.Fatalf("fresh adapter changed embedding %d: %v vs %v", i, fresh[i], base[i])
		}
	}
}

// TestFloat32MatchesFloat64 runs the production float32 path against the checked
// float64 path on the same weights.
func TestFloat32MatchesFloat64(t *testing.T) {
	c := tinyConfig()
	m64 := randomModel(t, c, 13)
	p32 := make([]float32, len(m64.Params))
	for i, v := range m64.Params {
		p32[i] = float32(v)
		m64.Params[i] = float64(p32[i])
	}
	m32, err := FromParams(c, p32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 0))
	n := 3
	pix64 := make([]float64, n*c.Pixels())
	pix32 := make([]float32, len(pix64))
	for i := range pix64 {
		pix32[i] = rng.Float32()
		pix64[i] = float64(pix32[i])
	}
	e64 := m64.NewImageTape(n).Forward(pix64, n, nil)
	e32 := m32.NewImageTape(n).Forward(pix32, n, nil)
	for i := range e64 {
		if math.Abs(e64[i]-float64(e32[i])) > 1e-5 {
			t.Fatalf("embedding %d: float32 %v, float64 %v", i, e32[i], e64[i])
		}
	}
}
