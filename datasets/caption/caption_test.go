package caption

import (
	"math"
	"slices"
	"strings"
	"testing"
)

const side = 28

// canvas is a hand-made test image.
type canvas [side * side]uint8

// rect paints [x0, x1) × [y0, y1) with value v.
func (c *canvas) rect(x0, y0, x1, y1 int, v uint8) *canvas {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c[y*side+x] = v
		}
	}
	return c
}

// shearedBar paints a bar of width w over rows [y0, y1) whose left edge is at
// x0 + round(s·(13.5 − y)): the top leans right for s > 0.
func (c *canvas) shearedBar(x0, w, y0, y1 int, s float64) *canvas {
	for y := y0; y < y1; y++ {
		off := int(math.Round(s * (13.5 - float64(y))))
		c.rect(x0+off, y, x0+off+w, y+1, 255)
	}
	return c
}

func measure(c *canvas) Measures { return Measure(c[:], side, side) }

func TestSkeletonOfLineIsItself(t *testing.T) {
	var c canvas
	c.rect(5, 4, 6, 24, 255) // one pixel wide, 20 long
	mask := make([]bool, len(c))
	for i, v := range c {
		mask[i] = v > 0
	}
	if got := Skeleton(mask, side, side); got != 20 {
		t.Errorf("skeleton of a 1×20 line has %d pixels, want 20", got)
	}
	for i, v := range c { // Skeleton must not touch its input
		if mask[i] != (v > 0) {
			t.Fatal("Skeleton modified its mask")
		}
	}
}

func TestThickness(t *testing.T) {
	// The skeleton of a w×L bar is a centre line that thinning may shorten by at most
	// w/2 at each end, so its thickness lies in [w, w·L/(L−w)].
	const length = 20
	prev := 0.0
	for _, w := range []int{1, 2, 3, 4, 6, 8} {
		var c canvas
		c.rect(10, 4, 10+w, 4+length, 255)
		got := measure(&c)[Thickness]
		lo, hi := float64(w), float64(w*length)/float64(length-w)
		if got < lo || got > hi {
			t.Errorf("bar of width %d: thickness %.3f, want in [%g, %.3f]", w, got, lo, hi)
		}
		if got <= prev {
			t.Errorf("bar of width %d: thickness %.3f not above the thinner bar's %.3f", w, got, prev)
		}
		prev = got
	}
}

func TestSlant(t *testing.T) {
	var upright canvas
	upright.rect(12, 4, 15, 24, 255)
	if got := measure(&upright)[Slant]; got != 0 {
		t.Errorf("vertical bar: slant %g, want exactly 0", got)
	}
	for _, s := range []float64{0.2, 0.5, -0.3} {
		var c canvas
		c.shearedBar(12, 3, 4, 24, s)
		got := measure(&c)[Slant]
		// Rounding each row's offset to whole pixels bends the line a little.
		if math.Abs(got-s) > 0.06 {
			t.Errorf("bar sheared by %g: slant %.4f, want %g ± 0.06", s, got, s)
		}
	}
}

func TestDarknessSizeWidth(t *testing.T) {
	var faint, dark canvas
	faint.rect(8, 8, 20, 20, 80)
	dark.rect(8, 8, 20, 20, 255)
	mf, md := measure(&faint), measure(&dark)
	if want := 80.0 / 255; math.Abs(mf[Darkness]-want) > 1e-12 {
		t.Errorf("faint blob: darkness %g, want %g", mf[Darkness], want)
	}
	if md[Darkness] != 1 {
		t.Errorf("dark blob: darkness %g, want 1", md[Darkness])
	}
	if mf[Size] != 144 || md[Size] != 144 {
		t.Errorf("12×12 blobs: sizes %g and %g, want 144", mf[Size], md[Size])
	}

	// A halo below a quarter of the maximum is background: it changes neither size
	// nor darkness.
	var halo canvas
	halo.rect(7, 7, 21, 21, 60).rect(8, 8, 20, 20, 255)
	if m := measure(&halo); m[Size] != 144 || m[Darkness] != 1 {
		t.Errorf("blob with faint halo: size %g darkness %g, want 144 and 1", m[Size], m[Darkness])
	}

	var tall, flat canvas
	tall.rect(10, 4, 14, 24, 255) // 4 wide, 20 high
	flat.rect(4, 10, 24, 14, 255)
	if got := measure(&tall)[Width]; got != 0.2 {
		t.Errorf("4×20 bar: width %g, want 0.2", got)
	}
	if got := measure(&flat)[Width]; got != 5 {
		t.Errorf("20×4 bar: width %g, want 5", got)
	}
}

func TestMeasureBlank(t *testing.T) {
	var c canvas
	if m := measure(&c); m != (Measures{}) {
		t.Errorf("blank image measures %v, want all zero", m)
	}
}

func TestMeasurePanicsOnBadSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Measure of 10 pixels as 28×28 did not panic")
		}
	}()
	Measure(make([]uint8, 10), side, side)
}

func TestFitTertiles(t *testing.T) {
	var ms []Measures
	for v := 1; v <= 9; v++ {
		var m Measures
		for a := range m {
			m[a] = float64(v * (a + 1))
		}
		ms = append(ms, m)
	}
	th, err := Fit([][]Measures{ms})
	if err != nil {
		t.Fatal(err)
	}
	for a := range NumAttrs {
		k := float64(a + 1)
		if want := [2]float64{3.5 * k, 6.5 * k}; th[0][a] != want {
			t.Errorf("attribute %s: cuts %v, want %v", Attr(a), th[0][a], want)
		}
		counts := [3]int{}
		for _, m := range ms {
			counts[Bucket(m[a], th[0][a])]++
		}
		if counts != [3]int{3, 3, 3} {
			t.Errorf("attribute %s: bucket counts %v, want 3 each", Attr(a), counts)
		}
	}
	if _, err := Fit([][]Measures{ms, ms[:2]}); err == nil || !strings.Contains(err.Error(), "class 1") {
		t.Errorf("Fit with 2 images in class 1: error %v, want one naming class 1", err)
	}
}

func TestBucketTiesGoToMiddle(t *testing.T) {
	cuts := [2]float64{2, 2}
	for _, tt := range []struct {
		v    float64
		want int
	}{{1.9, 0}, {2, 1}, {2.1, 2}} {
		if got := Bucket(tt.v, cuts); got != tt.want {
			t.Errorf("Bucket(%g, %v) = %d, want %d", tt.v, cuts, got, tt.want)
		}
	}
}

func TestCaption(t *testing.T) {
	th := Thresholds{{
		Size:      {10, 20},
		Thickness: {2, 3},
		Slant:     {-0.1, 0.1},
		Darkness:  {0.5, 0.7},
		Width:     {0.5, 0.8},
	}}
	tests := []struct {
		m    Measures
		want string
	}{
		{Measures{5, 1, -0.5, 0.2, 0.3}, "a small faint narrow thin seven leaning left"},
		{Measures{30, 4, 0.5, 0.9, 1.0}, "a large dark wide thick seven leaning right"},
		{Measures{15, 2.5, 0, 0.6, 0.6}, "a medium regular seven standing upright"},
	}
	for _, tt := range tests {
		if got := th.Caption(0, "seven", tt.m); got != tt.want {
			t.Errorf("Caption(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestCaptionAlwaysHasThreeAttributeWords(t *testing.T) {
	th := Thresholds{{{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}}}
	for _, v := range []float64{0, 1.5, 3} {
		m := Measures{v, v, v, v, v}
		c := th.Caption(0, "bag", m)
		n := 0
		for _, ws := range attrWords {
			for _, w := range ws {
				if w != "" && strings.Contains(c, w) {
					n++
				}
			}
		}
		if n < 3 {
			t.Errorf("caption %q has %d attributes, want at least 3", c, n)
		}
	}
}

func TestWords(t *testing.T) {
	ws := Words()
	if !slices.IsSorted(ws) || len(slices.Compact(slices.Clone(ws))) != len(ws) {
		t.Errorf("Words() = %v, want sorted and unique", ws)
	}
	th := Thresholds{{{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}}}
	for _, v := range []float64{0, 1.5, 3} {
		for _, w := range strings.Fields(th.Caption(0, "noun", Measures{v, v, v, v, v})) {
			if _, ok := slices.BinarySearch(ws, w); !ok && w != "noun" {
				t.Errorf("caption word %q missing from Words()", w)
			}
		}
	}
}
