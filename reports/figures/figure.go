// Package figures draws the paper figures of a report with gonum/plot: panels built from
// plain numbers (grouped bars, scatter with two-way error bars, lines, heat maps) laid out
// in a grid with one shared legend or colour bar at the right. Sizes are computed from the
// text the figure holds, so long method names and many methods widen the figure instead of
// being clipped. The package knows nothing about results files; package reports feeds it.
package figures

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"
	"unicode/utf8"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgeps"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/sglab/sglab/framework/atomicfile"
)

// DPI is the resolution of PNG output: a figure of w points is w/72·DPI pixels wide.
const DPI = 150

// MaxLabel bounds, in characters, every text a figure draws (titles, axis labels, tick
// labels, legend entries): a longer one is cut with "…", so that a long method name
// cannot make a figure, and the image behind it, absurdly large.
const MaxLabel = 80

// Label is s cut to MaxLabel characters.
func Label(s string) string {
	if utf8.RuneCountInString(s) <= MaxLabel {
		return s
	}
	r := []rune(s)
	return string(r[:MaxLabel-1]) + "…"
}

func labels(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Label(s)
	}
	return out
}

// Formats are the output formats Write accepts.
var Formats = []string{"png", "svg", "pdf", "eps"}

const (
	margin  = vg.Length(8)  // around the whole figure
	gap     = vg.Length(12) // between the panel grid and the legend column
	tilePad = vg.Length(10) // between panels
)

// LegendEntry is one line of the shared legend.
type LegendEntry struct {
	Name   string
	Thumbs []plot.Thumbnailer
}

// Figure is a grid of panels (rows × columns, nil panels allowed) with a title and, at the
// right, either a legend or a side plot such as a colour bar.
type Figure struct {
	Title  string
	Panels [][]*plot.Plot
	// PanelW and PanelH are the size of one tile; Size grows them when a panel title
	// would not fit.
	PanelW, PanelH vg.Length
	Legend         []LegendEntry
	Side           *plot.Plot // drawn right of the grid, SideW wide, one tile high
	SideW          vg.Length
}

// titleStyle is the figure title's style: bold, except in PDF, where vgpdf (gonum/plot
// v0.17) registers every font as regular and then fails to find the bold one.
func titleStyle(bold bool) text.Style {
	fnt := font.From(plot.DefaultFont, 14)
	if bold {
		fnt.Weight = xfont.WeightBold
	}
	return text.Style{Color: color.Black, Font: fnt, XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
}

func (f *Figure) legend() plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = 10
	l.Padding = 3
	for _, e := range f.Legend {
		l.Add(Label(e.Name), e.Thumbs...)
	}
	return l
}

func (f *Figure) dims() (rows, cols int) {
	rows = len(f.Panels)
	for _, r := range f.Panels {
		cols = max(cols, len(r))
	}
	return rows, cols
}

// layout returns the tile size, the right column's width and height, and the title height.
func (f *Figure) layout(ts text.Style) (tileW, tileH, sideW, sideH, titleH vg.Length) {
	tileW, tileH = f.PanelW, f.PanelH
	for _, r := range f.Panels {
		for _, p := range r {
			if p != nil && p.Title.Text != "" {
				tileW = max(tileW, p.Title.TextStyle.Width(p.Title.Text)+2*tilePad)
			}
		}
	}
	switch {
	case f.Side != nil:
		sideW, sideH = f.SideW, tileH
	case len(f.Legend) > 0:
		l := f.legend()
		r := l.Rectangle(draw.Canvas{})
		sideW, sideH = r.Size().X+4, r.Size().Y+4
	}
	if f.Title != "" {
		titleH = ts.Height(Label(f.Title)) + 6
	}
	return
}

// Size is the figure's size in points.
func (f *Figure) Size() (w, h vg.Length) { return f.size(titleStyle(true)) }

func (f *Figure) size(ts text.Style) (w, h vg.Length) {
	rows, cols := f.dims()
	tileW, tileH, sideW, sideH, titleH := f.layout(ts)
	w = 2*margin + vg.Length(cols)*tileW
	if sideW > 0 {
		w += gap + sideW
	}
	if f.Title != "" {
		w = max(w, ts.Width(Label(f.Title))+2*margin)
	}
	h = 2*margin + titleH + max(vg.Length(rows)*tileH, sideH)
	return w, h
}

// Draw draws the figure onto c, which should be Size() large.
func (f *Figure) Draw(c draw.Canvas) { f.draw(c, titleStyle(true)) }

func (f *Figure) draw(c draw.Canvas, ts text.Style) {
	rows, cols := f.dims()
	tileW, tileH, sideW, sideH, titleH := f.layout(ts)
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	top := c.Max.Y - margin
	if f.Title != "" {
		c.FillText(ts, vg.Point{X: c.Center().X, Y: top}, Label(f.Title))
		top -= titleH
	}
	content := vg.Length(cols) * tileW // centred under a title wider than it
	if sideW > 0 {
		content += gap + sideW
	}
	left := c.Min.X + max(margin, (c.Max.X-c.Min.X-content)/2)
	if rows > 0 && cols > 0 {
		grid := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: left, Y: top - vg.Length(rows)*tileH},
			Max: vg.Point{X: left + vg.Length(cols)*tileW, Y: top},
		}}
		panels := make([][]*plot.Plot, rows)
		for i := range panels {
			panels[i] = make([]*plot.Plot, cols)
			copy(panels[i], f.Panels[i])
		}
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: tilePad, PadY: tilePad}
		canvases := plot.Align(panels, tiles, grid)
		for i := range panels {
			for j, p := range panels[i] {
				if p != nil {
					p.Draw(canvases[i][j])
				}
			}
		}
		// A side plot (a colour bar) spans the data area of the first row's last panel.
		if p := panels[0][cols-1]; f.Side != nil && p != nil {
			dc := p.DataCanvas(canvases[0][cols-1])
			sideH, top = dc.Max.Y-dc.Min.Y, dc.Max.Y
		}
	}
	if sideW == 0 {
		return
	}
	x0 := left + vg.Length(cols)*tileW + gap
	side := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: x0, Y: top - sideH},
		Max: vg.Point{X: x0 + sideW, Y: top},
	}}
	if f.Side != nil {
		f.Side.Draw(side)
		return
	}
	l := f.legend()
	l.Draw(draw.Crop(side, 2, -2, 2, -2))
}

// Write encodes the figure in format (one of Formats) to w.
func (f *Figure) Write(w io.Writer, format string) error {
	ts := titleStyle(format != "pdf")
	width, height := f.size(ts)
	var cw vg.CanvasWriterTo
	switch format {
	case "png":
		cw = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(DPI))}
	case "svg":
		cw = vgsvg.New(width, height)
	case "pdf":
		cw = vgpdf.New(width, height)
	case "eps":
		cw = vgeps.New(width, height)
	default:
		return fmt.Errorf("figures: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
	f.draw(draw.New(cw), ts)
	_, err := cw.WriteTo(w)
	return err
}

// Save writes the figure to path, in the format named by its extension, atomically.
func (f *Figure) Save(path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if err := atomicfile.Write(path, func(w io.Writer) error { return f.Write(w, format) }); err != nil {
		return fmt.Errorf("figures: %s: %w", path, err)
	}
	return nil
}

// PixelSize is the size in pixels of the figure's PNG.
func (f *Figure) PixelSize() (w, h int) {
	width, height := f.Size()
	return int(float64(width/vg.Inch*DPI) + 0.5), int(float64(height/vg.Inch*DPI) + 0.5)
}

// finite replaces NaN and ±Inf by 0, for error bars that do not exist.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
