package reports

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/sglab/sglab/reports/figures"
)

// namedFigure is a figure and the file name (without extension) it is saved under.
type namedFigure struct {
	name string
	fig  *figures.Figure
}

// styles gives every method one style index for all figures: its first appearance in the
// journal.
func styles(rep *report) (map[string]int, []string) {
	idx := map[string]int{}
	var order []string
	for _, sp := range rep.Splits {
		for _, m := range sp.Methods {
			if _, ok := idx[m.Name]; !ok {
				idx[m.Name] = len(order)
				order = append(order, m.Name)
			}
		}
	}
	return idx, order
}

// buildFigures returns every figure the report has data for.
func buildFigures(rep *report, title string) ([]namedFigure, error) {
	var out []namedFigure
	for _, build := range []func(*report, string) ([]namedFigure, error){metricsFigure, diversityFigure, ablationFigures, heatmapFigure} {
		f, err := build(rep, title)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// hasHeadline says whether m has a score of a headline metric.
func hasHeadline(rep *report, m *method) bool {
	for _, h := range rep.Metrics.Headline {
		if m.Scores[h].ok() {
			return true
		}
	}
	return false
}

func val(s summary) figures.Value {
	if !s.ok() {
		return figures.Value{V: math.NaN()}
	}
	return figures.Value{V: s.Mean, Err: s.Std}
}

// metricsFigure: grouped bars of every evaluator metric per method, one panel per split.
func metricsFigure(rep *report, title string) ([]namedFigure, error) {
	idx, order := styles(rep)
	names := rep.Metrics.Names()
	fig := &figures.Figure{Title: title + ": evaluator metrics (mean ± std over seeds)", PanelH: 230}
	used := map[string]bool{}
	for _, sp := range rep.Splits {
		var series []figures.BarSeries
		for _, m := range sp.Methods {
			if !hasHeadline(rep, m) {
				continue
			}
			used[m.Name] = true
			s := figures.BarSeries{Name: m.Name, Style: idx[m.Name]}
			for _, k := range names {
				s.Values = append(s.Values, val(m.Scores[k]))
			}
			series = append(series, s)
		}
		if len(series) == 0 {
			continue
		}
		fig.PanelW = max(fig.PanelW, vg.Length(len(names)*(len(series)*10+24)+70), 260)
		p, err := figures.BarPlot(figures.Bars{
			Title:  panelTitle(rep, sp, "metrics"),
			Groups: names,
			Series: series,
		})
		if err != nil {
			return nil, fmt.Errorf("metrics figure, split %s: %w", sp.Name, err)
		}
		fig.Panels = append(fig.Panels, []*plot.Plot{p})
	}
	if len(fig.Panels) == 0 {
		return nil, nil
	}
	var legend []figures.BarSeries
	for _, name := range order {
		if used[name] {
			legend = append(legend, figures.BarSeries{Name: name, Style: idx[name]})
		}
	}
	fig.Legend = figures.BarLegend(legend)
	return []namedFigure{{"metrics", fig}}, nil
}

func panelTitle(rep *report, sp *split, what string) string {
	if len(rep.Splits) == 1 {
		return what
	}
	return sp.Name + " — " + what
}

// diversityFigure: the primary headline metric against parameter diversity, one marker
// per method (the SG-LoRA paper's figure 1), one panel per split.
func diversityFigure(rep *report, title string) ([]namedFigure, error) {
	idx, order := styles(rep)
	primary := rep.Metrics.Primary().Name
	fig := &figures.Figure{Title: title + ": accuracy vs. parameter diversity", PanelW: 320, PanelH: 260}
	used := map[string]bool{}
	var row []*plot.Plot
	for _, sp := range rep.Splits {
		var series []figures.Series
		for _, m := range sp.Methods {
			d, r := m.Div["div_cos"], m.Scores[primary]
			if !d.ok() || !r.ok() {
				continue
			}
			used[m.Name] = true
			series = append(series, figures.Series{Name: m.Name, Style: idx[m.Name], Points: []figures.Point{
				{X: d.Mean, Y: r.Mean, XErr: d.Std, YErr: r.Std},
			}})
		}
		if len(series) == 0 {
			continue
		}
		p, err := figures.ScatterPlot(figures.Scatter{
			Title:     panelTitle(rep, sp, primary+" vs. diversity"),
			XLabel:    "Parameter diversity (div_cos)",
			YLabel:    primary,
			Series:    series,
			XFromZero: true,
		})
		if err != nil {
			return nil, fmt.Errorf("diversity figure, split %s: %w", sp.Name, err)
		}
		row = append(row, p)
	}
	if len(row) == 0 {
		return nil, nil
	}
	fig.Panels = [][]*plot.Plot{row}
	var legend []figures.Series
	for _, name := range order {
		if used[name] {
			legend = append(legend, figures.Series{Name: name, Style: idx[name]})
		}
	}
	fig.Legend = figures.MarkerLegend(legend)
	return []namedFigure{{"diversity", fig}}, nil
}

// sweepParams lists every swept key, sorted.
func sweepParams(rep *report) []string {
	var keys []string
	for _, sp := range rep.Splits {
		for _, m := range sp.Methods {
			if m.Base == "" {
				continue
			}
			for k := range m.Sweep {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// sweepGroup names the line a swept method belongs to: its base and the values of the
// other swept keys.
func sweepGroup(m *method, param string) string {
	var others []string
	for k, v := range m.Sweep {
		if k != param {
			others = append(others, k+"="+sweepValue(v))
		}
	}
	slices.Sort(others)
	if len(others) == 0 {
		return m.Base
	}
	return m.Base + ", " + strings.Join(others, ", ")
}

type sweepPoint struct {
	x      any
	scores []summary // of the headline metrics, in order
}

// ablationFigures: one figure per swept parameter, the headline metrics against the
// value.
func ablationFigures(rep *report, title string) ([]namedFigure, error) {
	var out []namedFigure
	for _, param := range sweepParams(rep) {
		// Gather the points of every (split, group).
		type line struct {
			split  *split
			group  string
			points []sweepPoint
		}
		var lines []*line
		var groups []string
		numeric := true
		var cats []string
		for _, sp := range rep.Splits {
			byGroup := map[string]*line{}
			for _, m := range sp.Methods {
				v, ok := m.Sweep[param]
				if m.Base == "" || !ok || !hasHeadline(rep, m) {
					continue
				}
				g := sweepGroup(m, param)
				l := byGroup[g]
				if l == nil {
					l = &line{split: sp, group: g}
					byGroup[g] = l
					lines = append(lines, l)
					if !slices.Contains(groups, g) {
						groups = append(groups, g)
					}
				}
				p := sweepPoint{x: v}
				for _, h := range rep.Metrics.Headline {
					p.scores = append(p.scores, m.Scores[h])
				}
				l.points = append(l.points, p)
				if _, isNum := v.(float64); !isNum {
					numeric = false
				}
				if s := sweepValue(v); !slices.Contains(cats, s) {
					cats = append(cats, s)
				}
			}
		}
		if len(lines) == 0 {
			continue
		}
		var xs []float64
		if numeric {
			for _, l := range lines {
				for _, p := range l.points {
					if x := p.x.(float64); !slices.Contains(xs, x) {
						xs = append(xs, x)
					}
				}
			}
			slices.Sort(xs)
		}
		xOf := func(v any) float64 {
			if numeric {
				return v.(float64)
			}
			return float64(slices.Index(cats, sweepValue(v)))
		}

		fig := &figures.Figure{Title: fmt.Sprintf("%s: ablation of %s (mean ± std over seeds)", title, param), PanelW: 320, PanelH: 240}
		var legend []figures.Series
		seen := map[string]bool{}
		var row []*plot.Plot
		for _, sp := range rep.Splits {
			var series []figures.Series
			for _, l := range lines {
				if l.split != sp {
					continue
				}
				g := slices.Index(groups, l.group)
				pts := slices.Clone(l.points)
				slices.SortStableFunc(pts, func(a, b sweepPoint) int {
					xa, xb := xOf(a.x), xOf(b.x)
					return cmpFloat(xa, xb)
				})
				heads := rep.Metrics.Headline
				for d, metric := range heads {
					name := metric
					if len(groups) > 1 {
						name = l.group + ": " + metric
					}
					s := figures.Series{Name: name, Style: len(heads)*g + d, Dashed: d > 0}
					for _, p := range pts {
						if sum := p.scores[d]; sum.ok() {
							s.Points = append(s.Points, figures.Point{X: xOf(p.x), Y: sum.Mean, YErr: sum.Std})
						}
					}
					series = append(series, s)
					if !seen[name] {
						seen[name] = true
						legend = append(legend, figures.Series{Name: name, Style: s.Style, Dashed: s.Dashed})
					}
				}
			}
			if len(series) == 0 {
				continue
			}
			what := "headline metrics vs. " + param
			if len(groups) == 1 {
				what = groups[0]
			}
			lp := figures.Lines{
				Title:  panelTitle(rep, sp, what),
				XLabel: param,
				YLabel: strings.Join(rep.Metrics.Headline, ", "),
				Series: series,
			}
			if numeric {
				lp.LogX = xs[0] > 0 && xs[len(xs)-1]/xs[0] >= 50
				if len(xs) <= 8 {
					lp.Ticks = xs
				}
			} else {
				lp.Categories = cats
			}
			p, err := figures.LinePlot(lp)
			if err != nil {
				return nil, fmt.Errorf("ablation figure %s, split %s: %w", param, sp.Name, err)
			}
			row = append(row, p)
		}
		fig.Panels = [][]*plot.Plot{row}
		fig.Legend = figures.LineLegend(legend)
		out = append(out, namedFigure{"ablation_" + fileSafe(param), fig})
	}
	return out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fileSafe keeps letters, digits, '-' and '_' of a parameter name for a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// heatmapFigure: the primary headline metric per method and novel task (mean over
// seeds), the tasks of every split side by side.
func heatmapFigure(rep *report, title string) ([]namedFigure, error) {
	_, order := styles(rep)
	primary := rep.Metrics.Primary().Name
	var cols []string
	type col struct {
		sp   *split
		task string
	}
	var cs []col
	for _, sp := range rep.Splits {
		for _, t := range sp.Tasks {
			cs = append(cs, col{sp, t})
			if len(rep.Splits) > 1 {
				t = sp.Name + ": " + t
			}
			cols = append(cols, t)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	var rows []string
	var vals [][]float64
	for _, name := range order {
		r := make([]float64, len(cs))
		any := false
		for j, c := range cs {
			r[j] = math.NaN()
			if m := c.sp.method(name); m != nil {
				if v, ok := m.PerTask[primary][c.task]; ok {
					r[j], any = v, true
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		if any {
			rows = append(rows, name)
			vals = append(vals, r)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	heat := figures.Heat{
		XLabel: "Novel task",
		Rows:   rows,
		Cols:   cols,
		Values: vals,
		Min:    lo,
		Max:    hi,
	}
	p, w, h, err := figures.HeatPlot(heat)
	if err != nil {
		return nil, fmt.Errorf("heatmap: %w", err)
	}
	cm, err := heat.ColorMap()
	if err != nil {
		return nil, fmt.Errorf("heatmap: %w", err)
	}
	cb := figures.ColorBar(cm, primary)
	fig := &figures.Figure{
		Title:  title + ": " + primary + " per novel task (mean over seeds)",
		Panels: [][]*plot.Plot{{p}},
		PanelW: w, PanelH: h,
		Side: cb, SideW: 60,
	}
	return []namedFigure{{"heatmap", fig}}, nil
}
