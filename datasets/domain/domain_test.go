package domain

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sglab/sglab/datasets/caption"
	"github.com/sglab/sglab/framework/task"
)

// img is a hand-made test image.
type img [Pixels]float32

func (m *img) set(x, y int, v float32) *img { m[y*Side+x] = v; return m }

func (m *img) rect(x0, y0, x1, y1 int, v float32) *img {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			m[y*Side+x] = v
		}
	}
	return m
}

func (m *img) fill(v float32) *img {
	for i := range m {
		m[i] = v
	}
	return m
}

func (m *img) sum() float64 {
	s := 0.0
	for _, v := range m {
		s += float64(v)
	}
	return s
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// run applies a chain written as TOML strings.
func run(t *testing.T, src *img, rng *rand.Rand, chain ...string) *img {
	t.Helper()
	p, err := Compile(parse(t, chain...))
	if err != nil {
		t.Fatal(err)
	}
	var dst img
	p.Apply(dst[:], src[:], rng)
	return &dst
}

func parse(t *testing.T, chain ...string) []task.Transform {
	t.Helper()
	var out []task.Transform
	for _, s := range chain {
		tr, err := task.ParseTransform(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tr)
	}
	return out
}

// testImage is a smooth, asymmetric blob so geometric tests see every direction.
func testImage() *img {
	var m img
	for y := range Side {
		for x := range Side {
			dx, dy := float64(x)-11, float64(y)-15
			m[y*Side+x] = float32(math.Exp(-(dx*dx/18 + dy*dy/8)))
		}
	}
	m.rect(15, 6, 18, 20, 0.8)
	return &m
}

func maxDiff(a, b *img) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestCatalog(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("Names() not sorted and unique: %v", names)
	}
	for _, want := range []string{"identity", "rotate", "shear", "scale", "translate", "flip_h", "flip_v",
		"gaussian_blur", "motion_blur", "gaussian_noise", "shot_noise", "impulse_noise", "brightness",
		"contrast", "invert", "fog", "pixelate", "elastic", "occlude", "stripe", "zigzag", "dotted_line",
		"canny_edges", "spatter", "glass_blur"} {
		if _, ok := Lookup(want); !ok {
			t.Errorf("transform %q missing", want)
		}
	}
	for _, in := range Describe() {
		if in.Doc == "" || strings.Contains(in.Doc, "\n") {
			t.Errorf("%s: doc must be one non-empty line", in.Name)
		}
		ex, err := task.ParseTransform(in.Example)
		if err != nil || ex.Name != in.Name {
			t.Errorf("%s: example %q does not parse to it", in.Name, in.Example)
			continue
		}
		p, err := Compile([]task.Transform{ex})
		if err != nil {
			t.Errorf("%s: example: %v", in.Name, err)
			continue
		}
		if p.Random() != in.Random && in.Name != "rotate" {
			t.Errorf("%s: Info.Random %v but compiled example Random %v", in.Name, in.Random, p.Random())
		}
		for _, prm := range in.Params {
			if !prm.Required && (prm.Default < prm.Min || prm.Default > prm.Max) {
				t.Errorf("%s: default %s = %v outside [%v, %v]", in.Name, prm.Name, prm.Default, prm.Min, prm.Max)
			}
		}
	}
	if got := mustLookup(t, "rotate").Signature(); got != "rotate(deg, jitter=0)" {
		t.Errorf("rotate signature %q", got)
	}
	if got := mustLookup(t, "invert").Signature(); got != "invert" {
		t.Errorf("invert signature %q", got)
	}
}

func mustLookup(t *testing.T, name string) Info {
	t.Helper()
	in, ok := Lookup(name)
	if !ok {
		t.Fatalf("no transform %q", name)
	}
	return in
}

// Transforms built in code, not parsed from TOML, can carry a NaN.
func TestCheckNonFinite(t *testing.T) {
	err := Check([]task.Transform{{Name: "rotate", Args: []float64{math.NaN()}}})
	if err == nil || !strings.Contains(err.Error(), "deg = NaN must be a finite number") {
		t.Fatalf("Check(rotate(NaN)): %v", err)
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		chain string
		want  string
	}{
		{"blurr", `transform "blurr": unknown transform (known: `},
		{"rotat(3)", `transform "rotat(3)": unknown transform (did you mean "rotate"?)`},
		{"rotate", `transform "rotate": needs 1 argument (deg), got 0`},
		{"rotate(1, 2, 3)", `transform "rotate(1, 2, 3)": takes at most 2 arguments (deg, jitter), got 3`},
		{"invert(1)", `transform "invert(1)": takes no arguments, got 1`},
		{"gaussian_blur(-1)", `transform "gaussian_blur(-1)": sigma = -1 is out of range [0, 10]`},
		{"pixelate(2.5)", `transform "pixelate(2.5)": block = 2.5 must be a whole number`},
		{"impulse_noise(1.5)", `p = 1.5 is out of range [0, 1]`},
		{"canny_edges(1, 0.5, 0.2)", `transform "canny_edges(1, 0.5, 0.2)": low must not exceed high`},
		{"translate(3)", `needs 2 arguments (dx, dy), got 1`},
		{"scale(0)", `f = 0 is out of range`},
	}
	for _, tt := range tests {
		chain := parse(t, "identity", tt.chain)
		err := Check(chain)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%q): error %v, want one containing %q", tt.chain, err, tt.want)
		}
		var dst img
		if err := Apply(dst[:], dst[:], chain, newRNG(1)); err == nil {
			t.Errorf("Apply(%q) did not fail", tt.chain)
		}
	}
	if err := Check(parse(t, "rotate(30)", "gaussian_blur(1)", "stripe", "canny_edges(1, 0.2, 0.2)")); err != nil {
		t.Errorf("valid chain: %v", err)
	}
	if err := Check(nil); err != nil {
		t.Errorf("empty chain: %v", err)
	}
}

func TestRotate(t *testing.T) {
	var src img
	src.set(20, 13, 1) // 6.5 right of the centre, 0.5 above it
	got := run(t, &src, nil, "rotate(90)")
	// Counterclockwise as displayed: right of centre goes above it, to (13, 7).
	if got[7*Side+13] != 1 || got.sum() != 1 {
		t.Errorf("rotate(90): pixel (20,13) should land exactly on (13,7); got %v there, sum %v", got[7*Side+13], got.sum())
	}
	m := testImage()
	four := run(t, m, nil, "rotate(90)", "rotate(90)", "rotate(90)", "rotate(90)")
	if d := maxDiff(four, m); d != 0 {
		t.Errorf("four quarter turns differ from identity by %g", d)
	}
	if d := maxDiff(run(t, m, nil, "rotate(180)"), run(t, m, nil, "flip_h", "flip_v")); d != 0 {
		t.Errorf("rotate(180) differs from flip_h∘flip_v by %g", d)
	}
	if d := maxDiff(run(t, m, nil, "rotate(-90)"), run(t, m, nil, "rotate(270)")); d != 0 {
		t.Errorf("rotate(-90) differs from rotate(270) by %g", d)
	}
	// A small turn and back only loses interpolation detail on a smooth image: each
	// bilinear pass blurs by a variance of at most 1/4 pixel² per axis, which takes
	// some 5-8% off the peak of a blob with σ = 2 to 3 pixels.
	var smooth img
	for y := range Side {
		for x := range Side {
			dx, dy := float64(x)-11, float64(y)-15
			smooth[y*Side+x] = float32(math.Exp(-(dx*dx/18 + dy*dy/8)))
		}
	}
	if d := maxDiff(run(t, &smooth, nil, "rotate(20)", "rotate(-20)"), &smooth); d > 0.1 {
		t.Errorf("rotate(20) then rotate(-20) differs by %g", d)
	}
	// Rotation about the centre keeps the ink's centroid at the rotated place.
	cx, cy := centroid(m)
	rx, ry := centroid(run(t, m, nil, "rotate(30)"))
	s, c := math.Sincos(math.Pi / 6)
	wx, wy := centre+(cx-centre)*c+(cy-centre)*s, centre-(cx-centre)*s+(cy-centre)*c
	if math.Hypot(rx-wx, ry-wy) > 0.05 {
		t.Errorf("rotate(30): centroid (%.3f, %.3f), want (%.3f, %.3f)", rx, ry, wx, wy)
	}
}

func centroid(m *img) (float64, float64) {
	var s, sx, sy float64
	for y := range Side {
		for x := range Side {
			v := float64(m[y*Side+x])
			s += v
			sx += v * float64(x)
			sy += v * float64(y)
		}
	}
	return sx / s, sy / s
}

func TestRotateJitter(t *testing.T) {
	m := testImage()
	a := run(t, m, newRNG(1), "rotate(0, 40)")
	b := run(t, m, newRNG(1), "rotate(0, 40)")
	c := run(t, m, newRNG(2), "rotate(0, 40)")
	if maxDiff(a, b) != 0 {
		t.Error("same seed, different jittered rotations")
	}
	if maxDiff(a, c) == 0 {
		t.Error("different seeds, same jittered rotation")
	}
	p, _ := Compile(parse(t, "rotate(30)"))
	q, _ := Compile(parse(t, "rotate(30, 5)"))
	if p.Random() || !q.Random() {
		t.Errorf("Random(): rotate(30) %v, rotate(30, 5) %v; want false, true", p.Random(), q.Random())
	}
}

func TestFlipsAndInvertAreInvolutions(t *testing.T) {
	m := testImage()
	for _, name := range []string{"flip_h", "flip_v", "invert", "stripe"} {
		if d := maxDiff(run(t, m, nil, name, name), m); d > 1e-7 {
			t.Errorf("%s twice differs from identity by %g", name, d)
		}
	}
	var src img
	src.set(3, 5, 1)
	if run(t, &src, nil, "flip_h")[5*Side+24] != 1 || run(t, &src, nil, "flip_v")[22*Side+3] != 1 {
		t.Error("flips do not map (3,5) to (24,5) and (3,22)")
	}
	inv := run(t, &src, nil, "invert")
	if inv[5*Side+3] != 0 || inv[0] != 1 {
		t.Error("invert does not map 1→0 and 0→1")
	}
}

func TestShearMatchesCaptionSlant(t *testing.T) {
	var bar img
	bar.rect(12, 4, 16, 24, 1)
	for _, s := range []float64{0.3, -0.4} {
		out := run(t, &bar, nil, "shear("+fmtF(s)+")")
		pix := make([]uint8, Pixels)
		for i, v := range out {
			pix[i] = uint8(math.Round(float64(v) * 255))
		}
		got := caption.Measure(pix, Side, Side)[caption.Slant]
		if math.Abs(got-s) > 0.03 {
			t.Errorf("shear(%g) of a vertical bar: measured slant %.4f", s, got)
		}
	}
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func TestScaleAndTranslate(t *testing.T) {
	m := testImage()
	if d := maxDiff(run(t, m, nil, "scale(1)"), m); d != 0 {
		t.Errorf("scale(1) differs from identity by %g", d)
	}
	// Zooming by 2 about the centre doubles every distance from the centre, so the
	// spread of a small central blob doubles.
	var blob img
	for y := range Side {
		for x := range Side {
			dx, dy := float64(x)-centre, float64(y)-centre
			blob[y*Side+x] = float32(math.Exp(-(dx*dx + dy*dy) / 8))
		}
	}
	r1, r2 := spread(&blob), spread(run(t, &blob, nil, "scale(2)"))
	if math.Abs(r2/r1-2) > 0.05 {
		t.Errorf("scale(2): spread ratio %.3f, want 2", r2/r1)
	}
	var src img
	src.set(5, 10, 1)
	got := run(t, &src, nil, "translate(3, -2)")
	if got[8*Side+8] != 1 || got.sum() != 1 {
		t.Error("translate(3, -2) does not move (5,10) exactly to (8,8)")
	}
	half := run(t, &src, nil, "translate(0.5, 0)")
	if half[10*Side+5] != 0.5 || half[10*Side+6] != 0.5 {
		t.Error("translate(0.5, 0) does not split a pixel evenly")
	}
}

func spread(m *img) float64 {
	cx, cy := centroid(m)
	var s, v2 float64
	for y := range Side {
		for x := range Side {
			v := float64(m[y*Side+x])
			s += v
			v2 += v * ((float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy))
		}
	}
	return math.Sqrt(v2 / s)
}

func TestGaussianBlur(t *testing.T) {
	var pt img
	pt.set(14, 13, 1)
	for _, sigma := range []float64{1, 2} {
		out := run(t, &pt, nil, "gaussian_blur("+fmtF(sigma)+")")
		if math.Abs(out.sum()-1) > 1e-5 {
			t.Errorf("sigma %g: blurred point has mass %g, want 1", sigma, out.sum())
		}
		// The variance along x of a blurred point is the kernel's: σ² up to sampling.
		cx, _ := centroid(out)
		var vx float64
		for y := range Side {
			for x := range Side {
				vx += float64(out[y*Side+x]) * (float64(x) - cx) * (float64(x) - cx)
			}
		}
		if math.Abs(vx-sigma*sigma)/(sigma*sigma) > 0.02 {
			t.Errorf("sigma %g: variance %.4f, want %.4f", sigma, vx, sigma*sigma)
		}
	}
	m := testImage()
	if maxDiff(run(t, m, nil, "gaussian_blur(0)"), m) != 0 {
		t.Error("gaussian_blur(0) is not the identity")
	}
	// A constant image stays constant: the border is replicated, not zero-padded.
	var c img
	c.fill(0.6)
	if d := maxDiff(run(t, &c, nil, "gaussian_blur(3)"), &c); d > 1e-6 {
		t.Errorf("blurred constant image changes by %g", d)
	}
}

func TestMotionBlur(t *testing.T) {
	var pt img
	pt.set(14, 13, 1)
	h := run(t, &pt, nil, "motion_blur(4, 0)")
	for y := range Side {
		for x := range Side {
			want := float32(0)
			if y == 13 && x >= 12 && x <= 16 {
				want = 0.2 // 5 samples at offsets −2..2 pick the point once each
			}
			if math.Abs(float64(h[y*Side+x]-want)) > 1e-6 {
				t.Fatalf("motion_blur(4, 0) at (%d,%d) = %g, want %g", x, y, h[y*Side+x], want)
			}
		}
	}
	v := run(t, &pt, nil, "motion_blur(4, 90)")
	if v[11*Side+14] != 0.2 || v[13*Side+12] != 0 {
		t.Error("motion_blur(4, 90) does not smear vertically")
	}
}

func TestNoiseStatistics(t *testing.T) {
	var grey img
	grey.fill(0.5)
	const images = 40
	stats := func(chain string, src *img) (mean, variance float64) {
		var s, s2 float64
		rng := newRNG(7)
		for range images {
			out := run(t, src, rng, chain)
			for _, v := range out {
				s += float64(v)
				s2 += float64(v) * float64(v)
			}
		}
		n := float64(images * Pixels)
		return s / n, s2/n - (s/n)*(s/n)
	}
	m, v := stats("gaussian_noise(0.1)", &grey)
	if math.Abs(m-0.5) > 0.003 || math.Abs(v-0.01) > 0.0005 {
		t.Errorf("gaussian_noise(0.1) on 0.5: mean %.4f var %.5f, want 0.5 and 0.01", m, v)
	}
	var dim img
	dim.fill(0.2)
	m, v = stats("shot_noise(10)", &dim) // Poisson(2)/10: mean 0.2, variance 0.02
	if math.Abs(m-0.2) > 0.004 || math.Abs(v-0.02) > 0.001 {
		t.Errorf("shot_noise(10) on 0.2: mean %.4f var %.5f, want 0.2 and 0.02", m, v)
	}
	hit, ones := 0, 0
	rng := newRNG(3)
	for range images {
		for _, v := range run(t, &grey, rng, "impulse_noise(0.2)") {
			if v != 0.5 {
				hit++
				if v == 1 {
					ones++
				}
			}
		}
	}
	if f := float64(hit) / (images * Pixels); math.Abs(f-0.2) > 0.01 {
		t.Errorf("impulse_noise(0.2) hit %.4f of pixels", f)
	}
	if f := float64(ones) / float64(hit); math.Abs(f-0.5) > 0.03 {
		t.Errorf("impulse_noise: %.3f of hits are salt, want 0.5", f)
	}
}

func TestPoisson(t *testing.T) {
	rng := newRNG(11)
	for _, mean := range []float64{0.5, 3, 9.5, 10, 40, 500} {
		const n = 20000
		var s, s2 float64
		for range n {
			k := float64(poisson(rng, mean))
			s += k
			s2 += k * k
		}
		m := s / n
		v := s2/n - m*m
		// Standard error of the mean is √(mean/n); of the variance about mean·√(2/n).
		if math.Abs(m-mean) > 4*math.Sqrt(mean/n) || math.Abs(v-mean) > 5*mean*math.Sqrt(2.0/n)+0.01 {
			t.Errorf("Poisson(%g): sample mean %.4f variance %.4f", mean, m, v)
		}
	}
	if poisson(rng, 0) != 0 {
		t.Error("Poisson(0) is not 0")
	}
}

func TestIntensity(t *testing.T) {
	var m img
	m.rect(0, 0, Side, Side/2, 0.8).rect(0, Side/2, Side, Side, 0.2)
	up := run(t, &m, nil, "brightness(0.5)")
	down := run(t, &m, nil, "brightness(-0.5)")
	if up[0] != 1 || math.Abs(float64(up[Pixels-1])-0.7) > 1e-6 || down[0] != float32(0.8)-0.5 || down[Pixels-1] != 0 {
		t.Errorf("brightness: got %v %v %v %v, want 1 0.7 0.3 0 (clamped)", up[0], up[Pixels-1], down[0], down[Pixels-1])
	}
	flat := run(t, &m, nil, "contrast(0)")
	for _, v := range flat {
		if math.Abs(float64(v)-0.5) > 1e-6 {
			t.Fatalf("contrast(0) gives %v, want the mean 0.5 everywhere", v)
		}
	}
	half := run(t, &m, nil, "contrast(0.5)")
	if math.Abs(float64(half[0])-0.65) > 1e-6 || math.Abs(half.sum()-m.sum()) > 1e-3 {
		t.Errorf("contrast(0.5): %v at a 0.8 pixel (want 0.65), sum %v (want %v)", half[0], half.sum(), m.sum())
	}
	if maxDiff(run(t, &m, nil, "contrast(1)"), &m) > 1e-7 {
		t.Error("contrast(1) is not the identity")
	}
}

func TestPixelate(t *testing.T) {
	m := testImage()
	if maxDiff(run(t, m, nil, "pixelate(1)"), m) != 0 {
		t.Error("pixelate(1) is not the identity")
	}
	out := run(t, m, nil, "pixelate(4)")
	for by := 0; by < Side; by += 4 {
		for bx := 0; bx < Side; bx += 4 {
			var s float64
			for y := by; y < by+4; y++ {
				for x := bx; x < bx+4; x++ {
					s += float64(m[y*Side+x])
				}
			}
			for y := by; y < by+4; y++ {
				for x := bx; x < bx+4; x++ {
					if math.Abs(float64(out[y*Side+x])-s/16) > 1e-6 {
						t.Fatalf("pixelate(4) at (%d,%d) = %v, want tile mean %v", x, y, out[y*Side+x], s/16)
					}
				}
			}
		}
	}
}

func TestOccludeAndStripe(t *testing.T) {
	var ones img
	ones.fill(1)
	rng := newRNG(5)
	for range 20 {
		out := run(t, &ones, rng, "occlude(0.25)")
		if zeros := Pixels - int(out.sum()); zeros != 14*14 {
			t.Fatalf("occlude(0.25) zeroed %d pixels, want 196", zeros)
		}
	}
	if run(t, &ones, rng, "occlude(0.25, 0.5)").sum() != Pixels-196*0.5 {
		t.Error("occlude with value 0.5 does not paint 0.5")
	}
	if run(t, &ones, rng, "occlude(0)").sum() != Pixels {
		t.Error("occlude(0) changed the image")
	}
	var zero img
	out := run(t, &zero, nil, "stripe")
	for y := range Side {
		for x := range Side {
			want := float32(0)
			if x < 7 || x >= 21 {
				want = 1
			}
			if out[y*Side+x] != want {
				t.Fatalf("stripe at (%d,%d) = %v, want %v", x, y, out[y*Side+x], want)
			}
		}
	}
}

func TestLinesAndSpatter(t *testing.T) {
	var blank img
	for seed := range uint64(10) {
		dl := run(t, &blank, newRNG(seed), "dotted_line")
		ink := 0
		for y := range Side {
			for x := range Side {
				if v := dl[y*Side+x]; v > 0 {
					ink++
					if (x/2)%2 == 0 {
						t.Fatalf("dotted_line has ink in gap column %d", x)
					}
				}
			}
		}
		if ink < 14 {
			t.Errorf("dotted_line drew only %d pixels", ink)
		}
		zz := run(t, &blank, newRNG(seed), "zigzag")
		if zz.sum() < 30 {
			t.Errorf("zigzag drew only %.1f of ink", zz.sum())
		}
		sp := run(t, &blank, newRNG(seed), "spatter(0.2)")
		covered := 0
		for _, v := range sp {
			if v > 0 {
				covered++
				if v > 0.25+1e-6 {
					t.Fatalf("spatter painted %v, brighter than the mud", v)
				}
			}
		}
		if f := float64(covered) / Pixels; f < 0.1 || f > 0.3 {
			t.Errorf("spatter(0.2) covered %.3f of the image", f)
		}
	}
}

func TestCannyEdges(t *testing.T) {
	var sq img
	sq.rect(8, 8, 20, 20, 1)
	out := run(t, &sq, nil, "canny_edges")
	edges := 0
	for y := range Side {
		for x := range Side {
			v := out[y*Side+x]
			if v != 0 && v != 1 {
				t.Fatalf("canny_edges gave %v, want 0 or 1", v)
			}
			if v == 0 {
				continue
			}
			edges++
			// Every edge pixel lies within a pixel of the square's boundary.
			inX, inY := x >= 7 && x <= 20, y >= 7 && y <= 20
			nearX, nearY := x >= 7 && x <= 8 || x >= 19 && x <= 20, y >= 7 && y <= 8 || y >= 19 && y <= 20
			if !(inX && inY && (nearX || nearY)) {
				t.Errorf("edge pixel (%d,%d) is not on the square's boundary", x, y)
			}
		}
	}
	if edges < 40 {
		t.Errorf("canny_edges found %d edge pixels around a 12×12 square, want its outline", edges)
	}
	var flat img
	flat.fill(0.5)
	if run(t, &flat, nil, "canny_edges").sum() != 0 {
		t.Error("canny_edges found edges in a flat image")
	}
}

// TestEveryTransform checks, for each transform's example: the output is in [0, 1],
// the same seed gives the same output, and dst may alias src.
func TestEveryTransform(t *testing.T) {
	m := testImage()
	for _, in := range Describe() {
		a := run(t, m, newRNG(9), in.Example)
		b := run(t, m, newRNG(9), in.Example)
		if maxDiff(a, b) != 0 {
			t.Errorf("%s: same seed, different output", in.Name)
		}
		for _, v := range a {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("%s: value %v outside [0, 1]", in.Name, v)
			}
		}
		p, _ := Compile(parse(t, in.Example))
		if p.Random() {
			if maxDiff(a, run(t, m, newRNG(10), in.Example)) == 0 {
				t.Errorf("%s: random transform gives the same output for two seeds", in.Name)
			}
		} else if in.Name != "identity" && maxDiff(a, m) == 0 {
			t.Errorf("%s: example left the image unchanged", in.Name)
		}
		alias := *m
		p.Apply(alias[:], alias[:], newRNG(9))
		if maxDiff(&alias, a) != 0 {
			t.Errorf("%s: in-place Apply differs", in.Name)
		}
	}
}

func TestChainComposes(t *testing.T) {
	m := testImage()
	chain := []string{"rotate(15)", "gaussian_noise(0.1)", "occlude(0.1)", "gaussian_blur(0.8)"}
	whole := run(t, m, newRNG(4), chain...)
	rng := newRNG(4)
	step := m
	for _, c := range chain {
		step = run(t, step, rng, c)
	}
	if maxDiff(whole, step) != 0 {
		t.Error("a chain differs from its transforms applied one by one with the same rng")
	}
}

func TestApplyPanicsOnMisuse(t *testing.T) {
	p, _ := Compile(parse(t, "gaussian_noise(0.1)"))
	for name, f := range map[string]func(){
		"short dst": func() { p.Apply(make([]float32, 10), make([]float32, Pixels), newRNG(1)) },
		"nil rng":   func() { p.Apply(make([]float32, Pixels), make([]float32, Pixels), nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
