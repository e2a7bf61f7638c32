package figures

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette20 is Tableau's 20-colour qualitative palette, dark tones first, so the first ten
// methods get clearly distinct colours and the next ten the light partners.
var palette20 = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
	{174, 199, 232, 255}, {255, 187, 120, 255}, {152, 223, 138, 255}, {255, 152, 150, 255},
	{197, 176, 213, 255}, {196, 156, 148, 255}, {247, 182, 210, 255}, {199, 199, 199, 255},
	{219, 219, 141, 255}, {158, 218, 229, 255},
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{},
	draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{},
}

// Color is the colour of style i; a method keeps its index across every figure.
func Color(i int) color.Color { return palette20[i%len(palette20)] }

// Glyph is the marker of style i. With 20 colours and 8 markers the pair is unique for
// the first 40 styles.
func Glyph(i int) draw.GlyphDrawer { return glyphs[i%len(glyphs)] }

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = Label(title)
	p.Title.Padding = 6
	p.X.Label.Text = Label(xlabel)
	p.Y.Label.Text = Label(ylabel)
	p.X.Label.TextStyle.Font.Size = 11
	p.Y.Label.TextStyle.Font.Size = 11
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	return p
}

func grid(vertical bool) *plotter.Grid {
	g := plotter.NewGrid()
	g.Horizontal.Color = color.Gray{Y: 225}
	g.Vertical.Color = nil
	if vertical {
		g.Vertical.Color = color.Gray{Y: 225}
	}
	return g
}

// Value is a number with its error-bar half-width (NaN or 0 for none) and its spread.
type Value struct{ V, Err float64 }

// BarSeries is one method's bars, one value per group.
type BarSeries struct {
	Name   string
	Style  int
	Values []Value
}

// Bars is a panel of grouped bars: for each group (x category) one bar per series.
type Bars struct {
	Title, YLabel string
	Groups        []string
	Series        []BarSeries
}

// groupedBars draws the bars in data coordinates, so the bar width follows the panel.
type groupedBars struct {
	series []BarSeries
	groups int
	width  float64 // of a whole group, in x units
}

func (b *groupedBars) barX(s, g int) (x0, x1 float64) {
	w := b.width / float64(len(b.series))
	x0 = float64(g) - b.width/2 + float64(s)*w
	return x0, x0 + w
}

func (b *groupedBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	outline := draw.LineStyle{Color: color.Gray{Y: 60}, Width: 0.4}
	for s, ser := range b.series {
		for g, v := range ser.Values {
			if g >= b.groups || math.IsNaN(v.V) {
				continue
			}
			x0, x1 := b.barX(s, g)
			pts := []vg.Point{
				{X: trX(x0), Y: trY(0)}, {X: trX(x1), Y: trY(0)},
				{X: trX(x1), Y: trY(v.V)}, {X: trX(x0), Y: trY(v.V)},
			}
			c.FillPolygon(Color(ser.Style), c.ClipPolygonXY(pts))
			c.StrokeLines(outline, c.ClipLinesXY(append(pts, pts[0]))...)
		}
	}
}

func (b *groupedBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymax = math.Inf(-1)
	for _, ser := range b.series {
		for _, v := range ser.Values {
			if !math.IsNaN(v.V) {
				ymax = math.Max(ymax, v.V+finite(v.Err))
				ymin = math.Min(ymin, v.V)
			}
		}
	}
	if math.IsInf(ymax, -1) {
		ymax = 1
	}
	return -0.5, float64(b.groups) - 0.5, ymin, ymax
}

// barThumb is a legend swatch.
type barThumb struct{ c color.Color }

func (t barThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	pts := []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}
	c.FillPolygon(t.c, c.ClipPolygonY(pts))
}

// BarPlot builds a grouped bar panel with error bars of ±Err.
func BarPlot(b Bars) (*plot.Plot, error) {
	p := newPlot(b.Title, "", b.YLabel)
	p.Add(grid(false))
	gb := &groupedBars{series: b.Series, groups: len(b.Groups), width: 0.8}
	p.Add(gb)
	var errs errPoints
	for s, ser := range b.Series {
		for g, v := range ser.Values {
			if g < len(b.Groups) && !math.IsNaN(v.V) && finite(v.Err) > 0 {
				x0, x1 := gb.barX(s, g)
				errs = append(errs, errPoint{x: (x0 + x1) / 2, y: v.V, ye: v.Err})
			}
		}
	}
	if len(errs) > 0 {
		eb, err := plotter.NewYErrorBars(errs)
		if err != nil {
			return nil, err
		}
		eb.CapWidth = 3
		eb.LineStyle.Width = 0.8
		p.Add(eb)
	}
	if len(b.Groups) > 0 {
		p.NominalX(labels(b.Groups)...)
	}
	p.X.Min, p.X.Max = -0.5, float64(len(b.Groups))-0.5
	p.Y.Min = math.Min(0, p.Y.Min)
	p.Y.Max *= 1.05
	return p, nil
}

// BarLegend is the legend of bar series.
func BarLegend(series []BarSeries) []LegendEntry {
	var l []LegendEntry
	for _, s := range series {
		l = append(l, LegendEntry{Name: s.Name, Thumbs: []plot.Thumbnailer{barThumb{Color(s.Style)}}})
	}
	return l
}

// errPoint is a point with symmetric x and y errors; it satisfies the plotter interfaces
// of error bars as a slice.
type errPoint struct{ x, y, xe, ye float64 }

type errPoints []errPoint

func (e errPoints) Len() int                        { return len(e) }
func (e errPoints) XY(i int) (float64, float64)     { return e[i].x, e[i].y }
func (e errPoints) XError(i int) (float64, float64) { return e[i].xe, e[i].xe }
func (e errPoints) YError(i int) (float64, float64) { return e[i].ye, e[i].ye }
func (e errPoints) withErr(x bool) (out errPoints) {
	for _, p := range e {
		if x && p.xe > 0 || !x && p.ye > 0 {
			out = append(out, p)
		}
	}
	return out
}

// Point is one marker: a position and the half-widths of its error bars.
type Point struct{ X, Y, XErr, YErr float64 }

// Series is a named set of points drawn in one style.
type Series struct {
	Name   string
	Style  int
	Dashed bool // lines only
	Points []Point
}

// Scatter is a panel of markers with error bars in both axes.
type Scatter struct {
	Title, XLabel, YLabel string
	Series                []Series
	// XFromZero keeps 0 on the x axis, so points at zero sit on the left edge of the range.
	XFromZero bool
}

func toErrPoints(ps []Point) errPoints {
	out := make(errPoints, 0, len(ps))
	for _, p := range ps {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) {
			continue
		}
		out = append(out, errPoint{x: p.X, y: p.Y, xe: finite(p.XErr), ye: finite(p.YErr)})
	}
	return out
}

func glyphStyle(style int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: Color(style), Radius: 3.5, Shape: Glyph(style)}
}

func addErrorBars(p *plot.Plot, pts errPoints, c color.Color, x, y bool) error {
	ls := draw.LineStyle{Color: c, Width: 0.9}
	if y {
		if ye := pts.withErr(false); len(ye) > 0 {
			eb, err := plotter.NewYErrorBars(ye)
			if err != nil {
				return err
			}
			eb.LineStyle, eb.CapWidth = ls, 4
			p.Add(eb)
		}
	}
	if x {
		if xe := pts.withErr(true); len(xe) > 0 {
			eb, err := plotter.NewXErrorBars(xe)
			if err != nil {
				return err
			}
			eb.LineStyle, eb.CapWidth = ls, 4
			p.Add(eb)
		}
	}
	return nil
}

// ScatterPlot builds a scatter panel.
func ScatterPlot(s Scatter) (*plot.Plot, error) {
	p := newPlot(s.Title, s.XLabel, s.YLabel)
	p.Add(grid(true))
	for _, ser := range s.Series {
		pts := toErrPoints(ser.Points)
		if len(pts) == 0 {
			continue
		}
		if err := addErrorBars(p, pts, Color(ser.Style), true, true); err != nil {
			return nil, err
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = glyphStyle(ser.Style)
		p.Add(sc)
	}
	if s.XFromZero {
		p.X.Min = math.Min(0, p.X.Min)
	}
	widen(&p.X)
	widen(&p.Y)
	return p, nil
}

// widen gives a degenerate or tight axis range some room, so markers are not glued to
// the frame.
func widen(a *plot.Axis) {
	if math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) {
		a.Min, a.Max = 0, 1
		return
	}
	span := a.Max - a.Min
	if span <= 1e-12*math.Max(1, math.Abs(a.Max)) {
		d := math.Max(math.Abs(a.Max)*0.1, 0.5)
		a.Min, a.Max = a.Min-d, a.Max+d
		return
	}
	a.Min -= 0.05 * span
	a.Max += 0.05 * span
}

// MarkerLegend is the legend of scatter series.
func MarkerLegend(series []Series) []LegendEntry {
	var l []LegendEntry
	for _, s := range series {
		sc := &plotter.Scatter{GlyphStyle: glyphStyle(s.Style)}
		l = append(l, LegendEntry{Name: s.Name, Thumbs: []plot.Thumbnailer{sc}})
	}
	return l
}

// Lines is a panel of lines with markers and y error bars. When Categories is set, x is
// the index of a category and the axis is labelled with the names; otherwise x is
// numeric, with a log scale when LogX.
type Lines struct {
	Title, XLabel, YLabel string
	Categories            []string
	LogX                  bool
	// Ticks, if set, are the x values to label (numeric axes only).
	Ticks  []float64
	Series []Series
}

func lineStyle(s Series) draw.LineStyle {
	ls := draw.LineStyle{Color: Color(s.Style), Width: 1.5}
	if s.Dashed {
		ls.Dashes = []vg.Length{5, 3}
	}
	return ls
}

// LinePlot builds a line panel.
func LinePlot(l Lines) (*plot.Plot, error) {
	p := newPlot(l.Title, l.XLabel, l.YLabel)
	p.Add(grid(false))
	for _, ser := range l.Series {
		pts := toErrPoints(ser.Points)
		if len(pts) == 0 {
			continue
		}
		if err := addErrorBars(p, pts, Color(ser.Style), false, true); err != nil {
			return nil, err
		}
		line, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		line.LineStyle = lineStyle(ser)
		sc.GlyphStyle = glyphStyle(ser.Style)
		p.Add(line, sc)
	}
	switch {
	case len(l.Categories) > 0:
		p.NominalX(l.Categories...)
		p.X.Min, p.X.Max = -0.5, float64(len(l.Categories))-0.5
	case l.LogX:
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Min, p.X.Max = p.X.Min/1.25, p.X.Max*1.25
	default:
		widen(&p.X)
	}
	if len(l.Categories) == 0 && len(l.Ticks) > 0 {
		ticks := make([]plot.Tick, len(l.Ticks))
		for i, v := range l.Ticks {
			ticks[i] = plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	widen(&p.Y)
	return p, nil
}

// LineLegend is the legend of line series.
func LineLegend(series []Series) []LegendEntry {
	var l []LegendEntry
	for _, s := range series {
		line := &plotter.Line{LineStyle: lineStyle(s)}
		sc := &plotter.Scatter{GlyphStyle: glyphStyle(s.Style)}
		l = append(l, LegendEntry{Name: s.Name, Thumbs: []plot.Thumbnailer{line, sc}})
	}
	return l
}

// Heat is a panel of coloured cells, rows top to bottom, one column per Cols entry, with
// the value printed in each cell. NaN cells are grey and labelled "–".
type Heat struct {
	Title, XLabel, YLabel string
	Rows, Cols            []string
	Values                [][]float64 // [row][col]
	Min, Max              float64     // colour range; shared across panels for one colour bar
	Format                string      // cell label format, e.g. "%.1f"
	// Diverging colours by sign, for differences such as gains: see DivergingColorMap.
	Diverging bool
}

// ColorMap is the panel's colour map: HeatColorMap, or DivergingColorMap when Diverging.
func (h Heat) ColorMap() (palette.ColorMap, error) {
	if h.Diverging {
		return DivergingColorMap(h.Min, h.Max), nil
	}
	return HeatColorMap(h.Min, h.Max)
}

// HeatColorMap is the colour map of heat panels: YlGnBu, light yellow for low values to
// dark blue for high ones.
func HeatColorMap(min, max float64) (palette.ColorMap, error) {
	cm, err := moreland.NewLuminance([]color.Color{ // increasing luminance, as required
		color.RGBA{8, 29, 88, 255}, color.RGBA{34, 94, 168, 255}, color.RGBA{65, 182, 196, 255},
		color.RGBA{199, 233, 180, 255}, color.RGBA{255, 255, 217, 255},
	})
	if err != nil {
		return nil, fmt.Errorf("heat colour map: %w", err)
	}
	if !(max > min) {
		min, max = min-1, max+1
	}
	cm.SetMin(min)
	cm.SetMax(max)
	return palette.Reverse(cm), nil
}

// DivergingColorMap is the colour map of signed differences: red below zero, white-grey
// at zero, blue above (Moreland's smooth diverging map, in the RdBu orientation), over a
// range symmetric about zero that holds both min and max, so equal colours mean equal
// magnitudes on either side.
func DivergingColorMap(min, max float64) palette.ColorMap {
	lim := math.Max(math.Abs(min), math.Abs(max))
	if !(lim > 0) || math.IsInf(lim, 0) {
		lim = 1
	}
	cm := moreland.SmoothBlueRed()
	cm.SetMin(-lim)
	cm.SetMax(lim)
	return palette.Reverse(cm)
}

type heatGrid struct {
	v [][]float64 // [row][col], row 0 drawn on top
}

func (g heatGrid) Dims() (c, r int) {
	if len(g.v) == 0 {
		return 0, 0
	}
	return len(g.v[0]), len(g.v)
}
func (g heatGrid) Z(c, r int) float64 { return g.v[len(g.v)-1-r][c] }
func (g heatGrid) X(c int) float64    { return float64(c) }
func (g heatGrid) Y(r int) float64    { return float64(r) }

// HeatPlot builds a heat map panel and returns the size it needs.
func HeatPlot(h Heat) (p *plot.Plot, w, hgt vg.Length, err error) {
	p = newPlot(h.Title, h.XLabel, h.YLabel)
	h.Title, h.Rows, h.Cols = Label(h.Title), labels(h.Rows), labels(h.Cols)
	nr, nc := len(h.Rows), len(h.Cols)
	if nr == 0 || nc == 0 {
		return p, 200, 120, nil
	}
	cm, err := h.ColorMap()
	if err != nil {
		return nil, 0, 0, err
	}
	hm := plotter.NewHeatMap(heatGrid{h.Values}, cm.Palette(256))
	hm.Min, hm.Max = cm.Min(), cm.Max()
	hm.NaN = color.Gray{Y: 210}
	hm.Underflow, hm.Overflow = hm.Palette.Colors()[0], hm.Palette.Colors()[255]
	p.Add(hm)

	var labels plotter.XYLabels
	var styles []text.Style
	base := p.X.Tick.Label
	base.XAlign, base.YAlign = draw.XCenter, draw.YCenter
	base.Font.Size = 9
	format := h.Format
	if format == "" {
		format = "%.1f"
	}
	for r := range nr {
		for c := range nc {
			v := h.Values[r][c]
			s := base
			lbl := "–"
			if !math.IsNaN(v) {
				lbl = fmt.Sprintf(format, v)
				if col, err := cm.At(math.Min(math.Max(v, cm.Min()), cm.Max())); err == nil && luminance(col) < 0.45 {
					s.Color = color.White
				}
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(nr - 1 - r)})
			labels.Labels = append(labels.Labels, lbl)
			styles = append(styles, s)
		}
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, 0, 0, err
	}
	lab.TextStyle = styles
	p.Add(lab)

	rows := make([]string, nr)
	for i, r := range h.Rows {
		rows[nr-1-i] = r
	}
	p.NominalX(h.Cols...)
	p.NominalY(rows...)
	// The axis draws labels a font descent above the tick; centre them on the row.
	lbl := p.Y.Tick.Label
	p.Y.Tick.Label.YAlign = draw.YCenter - draw.YAlignment(lbl.FontExtents().Descent/lbl.Height("M"))
	p.X.Padding, p.Y.Padding = 4, 0
	p.X.Min, p.X.Max = -0.5, float64(nc)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(nr)-0.5

	// Cells fit their value; column names that do not fit are slanted.
	cellW, cellH := vg.Length(38), vg.Length(22)
	var nameW, colW vg.Length
	for _, r := range h.Rows {
		nameW = max(nameW, p.Y.Tick.Label.Width(r))
	}
	for _, c := range h.Cols {
		colW = max(colW, p.X.Tick.Label.Width(c))
	}
	w = nameW + vg.Length(nc)*cellW + 40
	hgt = vg.Length(nr)*cellH + 70
	if colW > cellW-4 {
		const angle = math.Pi / 6
		p.X.Tick.Label.Rotation = angle
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YTop
		hgt += colW * vg.Length(math.Sin(angle))
		// The first column's name reaches left past the row names when those are short.
		w += max(0, p.X.Tick.Label.Width(h.Cols[0])*vg.Length(math.Cos(angle))-nameW)
	} else {
		cellW = max(cellW, colW+8)
		w = nameW + vg.Length(nc)*cellW + 40
	}
	if h.Title != "" {
		hgt += p.Title.TextStyle.Height(h.Title)
	}
	return p, w, hgt, nil
}

// ColorBar is a vertical colour bar plot for heat panels of colour map cm (see
// Heat.ColorMap), labelled label.
func ColorBar(cm palette.ColorMap, label string) *plot.Plot {
	p := plot.New()
	cb := &plotter.ColorBar{ColorMap: cm, Vertical: true}
	p.Add(cb)
	p.HideX()
	p.X.Padding, p.Y.Padding = 0, 0
	p.Y.Tick.Marker = niceTicks{}
	p.Y.Label.Text = label
	p.Y.Label.TextStyle.Font.Size = 11
	return p
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}
