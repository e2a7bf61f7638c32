// Package caption gives every image a fine-grained caption: its class name plus words for
// attributes measured from that very image, such as "a small faint narrow thin seven
// leaning right". The evaluator retrieves images by these captions, so retrieval inside
// one task is instance-level, not just classification.
//
// Attributes are measured on the clean image (before any domain transform), so a caption
// describes content, never the domain. Each measurement is bucketed into three words by
// tertiles fitted per class on a training set (Fit); the thresholds are frozen with the
// data so captions never change. Per-class tertiles make every word about as frequent
// inside each class (one third), which is what instance-level retrieval needs: with
// dataset-wide cuts, every bag would be "large" and every sandal "thin".
//
// Every measurement is a ratio of integer sums, so it is bit-identical on every platform
// (no fused multiply-add or summation-order drift) and so are the frozen thresholds.
package caption

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Attr names one measured attribute.
type Attr int

// The attributes, in the order Measures holds them.
const (
	Size      Attr = iota // ink area in pixels
	Thickness             // ink area / skeleton length: mean stroke width in pixels
	Slant                 // shear of the ink: x ≈ x0 + Slant·(y0 − y), > 0 when the top leans right
	Darkness              // mean intensity of the ink in [0, 1]
	Width                 // bounding-box width / height
	NumAttrs  = 5
)

var attrNames = [NumAttrs]string{"size", "thickness", "slant", "darkness", "width"}

func (a Attr) String() string {
	if a < 0 || a >= NumAttrs {
		return fmt.Sprintf("Attr(%d)", int(a))
	}
	return attrNames[a]
}

// attrWords are the words for the low, middle and high bucket of each attribute. An
// empty middle word is left out of the caption; size, thickness and slant always speak,
// so every caption carries at least three attributes. All are common English words
// that GloVe knows.
var attrWords = [NumAttrs][3]string{
	Size:      {"small", "medium", "large"},
	Thickness: {"thin", "regular", "thick"},
	Slant:     {"leaning left", "standing upright", "leaning right"},
	Darkness:  {"faint", "", "dark"},
	Width:     {"narrow", "", "wide"},
}

// Caption word order: adjectives before the noun, the slant phrase after it.
var (
	beforeNoun = []Attr{Size, Darkness, Width, Thickness}
	afterNoun  = []Attr{Slant}
)

// Measures holds one value per attribute, indexed by Attr.
type Measures [NumAttrs]float64

// Measure measures a w×h row-major grey image whose ink is bright (MNIST and
// Fashion-MNIST store ink as high values on a zero background). A pixel is ink when its
// value exceeds a quarter of the image's maximum, so faint garments still have a body.
// A blank image measures all zero. It panics if len(pix) != w*h.
func Measure(pix []uint8, w, h int) Measures {
	if w <= 0 || h <= 0 || len(pix) != w*h {
		panic(fmt.Sprintf("caption: %d pixels for a %d×%d image", len(pix), w, h))
	}
	maxv := slices.Max(pix)
	if maxv == 0 {
		return Measures{}
	}
	mask := make([]bool, len(pix))
	var n, sumV int64
	var sx, sy, sxy, syy int64 // intensity-weighted raw moments of the ink
	minX, maxX, minY, maxY := w, -1, h, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := int64(pix[y*w+x])
			if 4*v <= int64(maxv) {
				continue
			}
			mask[y*w+x] = true
			n++
			sumV += v
			sx += v * int64(x)
			sy += v * int64(y)
			sxy += v * int64(x) * int64(y)
			syy += v * int64(y) * int64(y)
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
		}
	}
	var m Measures
	m[Size] = float64(n)
	m[Thickness] = float64(n) / float64(max(1, Skeleton(mask, w, h)))
	// Central moments times the total weight, exactly in integers.
	mu11 := sumV*sxy - sx*sy
	mu02 := sumV*syy - sy*sy
	if mu02 != 0 {
		m[Slant] = float64(-mu11) / float64(mu02)
	}
	m[Darkness] = float64(sumV) / float64(255*n)
	m[Width] = float64(maxX-minX+1) / float64(maxY-minY+1)
	return m
}

// Skeleton thins a w×h binary mask to one-pixel-wide lines (Zhang and Suen, 1984) and
// returns the number of skeleton pixels: the stroke length. mask is not modified.
func Skeleton(mask []bool, w, h int) int {
	pw := w + 2 // pad by one pixel of background so neighbours always exist
	g := make([]bool, pw*(h+2))
	var on []int // indices of the pixels still set
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask[y*w+x] {
				i := (y+1)*pw + x + 1
				g[i] = true
				on = append(on, i)
			}
		}
	}
	// Neighbour offsets P2..P9: N, NE, E, SE, S, SW, W, NW; bit k of a pattern is P(k+2).
	nb := [8]int{-pw, -pw + 1, 1, pw + 1, pw, pw - 1, -1, -pw - 1}
	var del []int
	for {
		changed := false
		for step := range 2 {
			del = del[:0]
			for _, i := range on {
				pat := 0
				for k, o := range nb {
					if g[i+o] {
						pat |= 1 << k
					}
				}
				if thinDelete[step][pat] {
					del = append(del, i)
				}
			}
			for _, i := range del {
				g[i] = false
			}
			if len(del) > 0 {
				changed = true
				on = slices.DeleteFunc(on, func(i int) bool { return !g[i] })
			}
		}
		if !changed {
			return len(on)
		}
	}
}

// thinDelete[step][pattern] says whether Zhang–Suen deletes a set pixel with that
// neighbour pattern in sub-iteration step.
var thinDelete = func() (t [2][256]bool) {
	for pat := range 256 {
		p := func(k int) bool { return pat>>(k%8)&1 == 1 }
		b := bits.OnesCount8(uint8(pat))
		a := 0 // 0→1 transitions around the ring P2, P3, ..., P9, P2
		for k := range 8 {
			if !p(k) && p(k+1) {
				a++
			}
		}
		if b < 2 || b > 6 || a != 1 {
			continue
		}
		n, e, s, w := p(0), p(2), p(4), p(6)
		t[0][pat] = !(n && e && s) && !(e && s && w)
		t[1][pat] = !(n && e && w) && !(n && s && w)
	}
	return t
}()

// Thresholds holds, per class, the two cut points (low|middle, middle|high) of each
// attribute.
type Thresholds [][NumAttrs][2]float64

// Fit computes per-class tertile thresholds from training measures, byClass[c] holding
// the measures of class c's images. Each cut lies midway between the neighbouring sorted
// values, so a value never sits on a cut unless it is tied across it (ties go to the
// middle bucket).
func Fit(byClass [][]Measures) (Thresholds, error) {
	t := make(Thresholds, len(byClass))
	vals := []float64{}
	for c, ms := range byClass {
		n := len(ms)
		if n < 3 {
			return nil, fmt.Errorf("caption: class %d has %d training images, need at least 3 to fit tertiles", c, n)
		}
		for a := range NumAttrs {
			vals = vals[:0]
			for _, m := range ms {
				vals = append(vals, m[a])
			}
			slices.Sort(vals)
			k1, k2 := n/3, 2*n/3
			t[c][a] = [2]float64{(vals[k1-1] + vals[k1]) / 2, (vals[k2-1] + vals[k2]) / 2}
		}
	}
	return t, nil
}

// Bucket returns 0, 1 or 2 for a value below, between or above the cuts.
func Bucket(v float64, cuts [2]float64) int {
	switch {
	case v < cuts[0]:
		return 0
	case v > cuts[1]:
		return 2
	}
	return 1
}

// Caption writes the caption of an image of class c named noun, e.g. "a large dark
// wide thick boot standing upright". It panics if c is not a class of t.
func (t Thresholds) Caption(c int, noun string, m Measures) string {
	var b strings.Builder
	b.WriteString("a")
	add := func(attrs []Attr) {
		for _, a := range attrs {
			if w := attrWords[a][Bucket(m[a], t[c][a])]; w != "" {
				b.WriteByte(' ')
				b.WriteString(w)
			}
		}
	}
	add(beforeNoun)
	b.WriteByte(' ')
	b.WriteString(noun)
	add(afterNoun)
	return b.String()
}

// Words returns every word a caption can hold besides the class nouns, sorted and
// unique.
func Words() []string {
	ws := []string{"a"}
	for _, tri := range attrWords {
		for _, phrase := range tri {
			ws = append(ws, strings.Fields(phrase)...)
		}
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}
