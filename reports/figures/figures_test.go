package figures

import (
	"bytes"
	"encoding/xml"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string // labelled ticks
	}{
		{0, 83, "0 20 40 60 80"},
		{27.3, 51.2, "30 35 40 45 50"},
		{-0.004, 0.157, "0.00 0.05 0.10 0.15"},
		{16, 44, "20 30 40"}, // span/5 = 5.6: the step is 10, the next round value above 5.6
		{27.4, 38.9, "27.5 30.0 32.5 35.0 37.5"},
		{-3, 3, "-2 0 2"}, // span/5 = 1.2: step 2
	} {
		var labels []string
		for _, tk := range (niceTicks{}).Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
			if tk.Value < c.lo-1e-9 || tk.Value > c.hi+1e-9 {
				t.Errorf("[%v, %v]: tick %v outside the range", c.lo, c.hi, tk.Value)
			}
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("[%v, %v]: ticks %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	if ts := (niceTicks{}).Ticks(1, 1); ts != nil {
		t.Errorf("empty range: %v", ts)
	}
}

func testFigure(t *testing.T) *Figure {
	t.Helper()
	series := []BarSeries{
		{Name: "Zero-shot", Style: 0, Values: []Value{{V: 30, Err: 1}, {V: 50, Err: 2}, {V: 60}}},
		{Name: "a method with a rather long name to test the legend width", Style: 1, Values: []Value{{V: 40, Err: math.NaN()}, {V: math.NaN()}, {V: 70, Err: 1}}},
	}
	var row []*plot.Plot
	for _, title := range []string{"image-to-text", "text-to-image"} {
		p, err := BarPlot(Bars{Title: title, YLabel: "Recall (%)", Groups: []string{"R@1", "R@5", "R@10"}, Series: series})
		if err != nil {
			t.Fatal(err)
		}
		row = append(row, p)
	}
	return &Figure{Title: "test", Panels: [][]*plot.Plot{row}, PanelW: 200, PanelH: 180, Legend: BarLegend(series)}
}

func TestFigureWrite(t *testing.T) {
	f := testFigure(t)
	w, h := f.Size()
	// Two 200 pt tiles plus the legend column: wider than the tiles alone.
	if w <= 2*200+2*margin || h != 2*margin+titleStyle(true).Height("test")+6+180 {
		t.Errorf("size %v × %v", w, h)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	pw, ph := f.PixelSize()
	if b := img.Bounds(); b.Dx() != pw || b.Dy() != ph || pw != int(float64(w)/72*DPI+0.5) {
		t.Errorf("png %v, want %d×%d", b, pw, ph)
	}

	buf.Reset()
	if err := f.Write(&buf, "svg"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name
		Width   string `xml:"width,attr"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Local != "svg" || !strings.HasSuffix(doc.Width, "pt") {
		t.Errorf("svg root %v width %q", doc.XMLName, doc.Width)
	}
	for _, format := range []string{"pdf", "eps"} {
		buf.Reset()
		if err := f.Write(&buf, format); err != nil || buf.Len() == 0 {
			t.Errorf("%s: %v (%d bytes)", format, err, buf.Len())
		}
	}
	if err := f.Write(&buf, "gif"); err == nil || !strings.Contains(err.Error(), "gif") {
		t.Errorf("unknown format: %v", err)
	}
}

// TestLongTitleWidens checks that a panel title longer than the tile widens the tile.
func TestLongTitleWidens(t *testing.T) {
	f := testFigure(t)
	w0, _ := f.Size()
	f.Panels[0][0].Title.Text = strings.Repeat("a very long panel title ", 6)
	w1, _ := f.Size()
	if w1 <= w0 {
		t.Errorf("width %v with a long title, %v without", w1, w0)
	}
}

func TestHeatPlot(t *testing.T) {
	h := Heat{Rows: []string{"m1", "m2"}, Cols: []string{"short", "a task with a long name"},
		Values: [][]float64{{10, math.NaN()}, {20, 30}}, Min: 10, Max: 30}
	p, w, hgt, err := HeatPlot(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.X.Tick.Label.Rotation == 0 {
		t.Error("long column names must be slanted")
	}
	if w <= 0 || hgt <= 0 {
		t.Fatalf("size %v × %v", w, hgt)
	}
	cm, err := h.ColorMap()
	if err != nil {
		t.Fatal(err)
	}
	cb := ColorBar(cm, "I2T R@1 (%)")
	f := &Figure{Panels: [][]*plot.Plot{{p}}, PanelW: w, PanelH: hgt, Side: cb, SideW: 60}
	var buf bytes.Buffer
	if err := f.Write(&buf, "png"); err != nil {
		t.Fatal(err)
	}
}

// TestDivergingColorMap checks that gains are coloured by sign around a white-grey zero
// over a range symmetric about zero.
func TestDivergingColorMap(t *testing.T) {
	cm := DivergingColorMap(-2, 5)
	if cm.Min() != -5 || cm.Max() != 5 {
		t.Fatalf("range [%v, %v], want [-5, 5]", cm.Min(), cm.Max())
	}
	rgb := func(v float64) (r, g, b uint32) {
		c, err := cm.At(v)
		if err != nil {
			t.Fatal(err)
		}
		r, g, b, _ = c.RGBA()
		return r, g, b
	}
	if r, _, b := rgb(-4); r <= b {
		t.Errorf("a loss is not red: r %d b %d", r, b)
	}
	if r, _, b := rgb(4); b <= r {
		t.Errorf("a gain is not blue: r %d b %d", r, b)
	}
	if r, g, b := rgb(0); luminance(color.RGBA64{uint16(r), uint16(g), uint16(b), 0xffff}) < 0.7 {
		t.Errorf("zero is not light: %d %d %d", r, g, b)
	}
	if c := DivergingColorMap(0, 0); c.Min() >= c.Max() {
		t.Errorf("all-zero range [%v, %v]", c.Min(), c.Max())
	}
}
