package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/figures"
	"github.com/sglab/sglab/reports/stats"
)

// Files of the transfer diagnostic, written into its output folder.
const (
	TransferJSON    = "transfer.json"
	TransferCSV     = "transfer.csv"
	TransferGain    = "transfer_gain"    // figure: the gain matrices, one panel per split
	TransferScatter = "transfer_scatter" // figure: gain against similarity
)

// TransferReport is the analysis of a transfer measurement, written as transfer.json.
//
// Metrics are averaged over seeds first; an expert's gain on a target is its mean metric
// minus the bare backbone's. A pair whose expert is the target's own task (the diagonal)
// is left out of every statistic. Spearman is the rank correlation (average ranks for
// ties) between description similarity and gain over the off-diagonal pairs of every
// split, each distinct (expert, target) pair counted once: an expert and its scores do
// not depend on the split, so a pair shared by several splits is one measurement. A
// target is a (split, task); its nearest expert is the most similar one other than
// itself (ties go to the first in the split's seen order), and it wins when its gain
// exceeds stats.TieTolerance. The novel figures restrict both to novel targets. A
// statistic that is undefined is null, with the reason in Notes.
type TransferReport struct {
	Experiment string   `json:"experiment"`
	ConfigHash string   `json:"config_hash"`
	Metric     string   `json:"metric"`
	Seeds      []uint64 `json:"seeds"`

	Spearman    *float64 `json:"spearman"`
	Pairs       int      `json:"pairs"` // distinct off-diagonal pairs behind Spearman
	Top1WinRate *float64 `json:"top1_win_rate"`
	Top1Wins    int      `json:"top1_wins"`
	Targets     int      `json:"targets"` // targets that have a nearest expert

	NovelSpearman    *float64 `json:"novel_spearman"`
	NovelPairs       int      `json:"novel_pairs"`
	NovelTop1WinRate *float64 `json:"novel_top1_win_rate"`
	NovelTop1Wins    int      `json:"novel_top1_wins"`
	NovelTargets     int      `json:"novel_targets"`

	PerTarget []TransferTarget `json:"per_target"`
	Splits    []TransferSplit  `json:"splits"`
	Notes     []string         `json:"notes"`
}

// TransferTarget is one target's view: how well similarity ranks its experts' gains,
// and what its nearest and its best expert give.
type TransferTarget struct {
	Split        string   `json:"split"`
	Task         string   `json:"task"`
	Novel        bool     `json:"novel"`
	Experts      int      `json:"experts"` // its experts other than itself
	Spearman     *float64 `json:"spearman"`
	SpearmanNote string   `json:"spearman_note,omitempty"`
	Nearest      string   `json:"nearest_expert,omitempty"`
	Similarity   *float64 `json:"nearest_similarity"`
	Gain         *float64 `json:"nearest_gain"`
	Win          *bool    `json:"nearest_wins"`
	// Best is the expert with the highest gain other than itself: what a perfect
	// selector would pick.
	Best     string   `json:"best_expert,omitempty"`
	BestGain *float64 `json:"best_gain"`
}

// TransferSplit holds one split's seed-mean matrices: rows are the experts (the seen
// tasks), columns the targets (the seen tasks, then the novel ones).
type TransferSplit struct {
	Name       string      `json:"name"`
	Experts    []string    `json:"experts"`
	Targets    []string    `json:"targets"`
	Novel      []string    `json:"novel"`
	Similarity [][]float64 `json:"similarity"`
	ZeroShot   []float64   `json:"zero_shot"`
	Metric     [][]float64 `json:"metric"`
	Gain       [][]float64 `json:"gain"`
}

// AnalyzeTransfer computes the statistics of m (see TransferReport).
func AnalyzeTransfer(m *results.Transfer) (*TransferReport, error) {
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	rep := &TransferReport{Experiment: m.Experiment, ConfigHash: m.ConfigHash, Metric: m.Metric, Seeds: m.Seeds,
		PerTarget: []TransferTarget{}, Notes: []string{}}
	type pair struct{ expert, target string }
	var all, novel struct{ sim, gain []float64 }
	counted := map[pair]bool{}
	countedNovel := map[pair]bool{}
	shared, undefined := 0, 0
	for _, sp := range m.Splits {
		ts := meanSplit(sp, m.LowerIsBetter)
		rep.Splits = append(rep.Splits, ts)
		for j, target := range ts.Targets {
			isNovel := j >= len(sp.Seen)
			tt := TransferTarget{Split: sp.Name, Task: target, Novel: isNovel}
			var sims, gains []float64
			for e, expert := range ts.Experts {
				if e == j {
					continue // the diagonal: the target's own expert
				}
				s, g := ts.Similarity[e][j], ts.Gain[e][j]
				sims, gains = append(sims, s), append(gains, g)
				p := pair{expert, target}
				if counted[p] {
					shared++
				} else {
					counted[p] = true
					all.sim, all.gain = append(all.sim, s), append(all.gain, g)
				}
				if isNovel && !countedNovel[p] {
					countedNovel[p] = true
					novel.sim, novel.gain = append(novel.sim, s), append(novel.gain, g)
				}
				if tt.Nearest == "" || s > *tt.Similarity {
					tt.Nearest, tt.Similarity, tt.Gain = expert, &s, &g
				}
				if tt.Best == "" || g > *tt.BestGain {
					tt.Best, tt.BestGain = expert, &g
				}
			}
			tt.Experts = len(sims)
			tt.Spearman, tt.SpearmanNote = spearman(sims, gains)
			if tt.Spearman == nil {
				undefined++
			}
			if tt.Nearest != "" {
				win := *tt.Gain > stats.TieTolerance
				tt.Win = &win
				rep.Targets++
				if isNovel {
					rep.NovelTargets++
				}
				if win {
					rep.Top1Wins++
					if isNovel {
						rep.NovelTop1Wins++
					}
				}
			}
			rep.PerTarget = append(rep.PerTarget, tt)
		}
	}
	note := func(format string, a ...any) { rep.Notes = append(rep.Notes, fmt.Sprintf(format, a...)) }
	var why string
	rep.Pairs = len(all.sim)
	if rep.Spearman, why = spearman(all.sim, all.gain); why != "" {
		note("spearman is null: %s", why)
	}
	if shared > 0 {
		note("%d off-diagonal (expert, target) pairs occur in more than one split; each counts once in spearman", shared)
	}
	rep.Top1WinRate = rate(rep.Top1Wins, rep.Targets)
	if rep.Targets == 0 {
		note("top1_win_rate is null: no target has an expert other than itself")
	}
	rep.NovelPairs = len(novel.sim)
	rep.NovelTop1WinRate = rate(rep.NovelTop1Wins, rep.NovelTargets)
	hasNovel := slices.ContainsFunc(m.Splits, func(s results.TransferSplit) bool { return len(s.Novel) > 0 })
	switch {
	case !hasNovel:
		note("novel_spearman and novel_top1_win_rate are null: no split has novel tasks")
	default:
		if rep.NovelSpearman, why = spearman(novel.sim, novel.gain); why != "" {
			note("novel_spearman is null: %s", why)
		}
		if rep.NovelTargets == 0 {
			note("novel_top1_win_rate is null: no novel target has an expert")
		}
	}
	if undefined > 0 {
		note("per-target spearman is null for %d of %d targets (see their spearman_note)", undefined, len(rep.PerTarget))
	}
	return rep, nil
}

// meanSplit averages a split's per-seed measurements and takes the gains: the increase
// over zero-shot, or the decrease for a metric where lower is better.
func meanSplit(sp results.TransferSplit, lowerIsBetter bool) TransferSplit {
	sign := 1.0
	if lowerIsBetter {
		sign = -1
	}
	targets := sp.Targets()
	ns := float64(len(sp.ZeroShot))
	ts := TransferSplit{Name: sp.Name, Experts: sp.Seen, Targets: targets, Novel: append([]string{}, sp.Novel...), Similarity: sp.Similarity,
		ZeroShot: make([]float64, len(targets))}
	for _, zs := range sp.ZeroShot {
		for j, v := range zs {
			ts.ZeroShot[j] += v / ns
		}
	}
	for e := range sp.Seen {
		metric, gain := make([]float64, len(targets)), make([]float64, len(targets))
		for _, mat := range sp.Expert {
			for j, v := range mat[e] {
				metric[j] += v / ns
			}
		}
		for j := range gain {
			gain[j] = sign * (metric[j] - ts.ZeroShot[j])
		}
		ts.Metric, ts.Gain = append(ts.Metric, metric), append(ts.Gain, gain)
	}
	return ts
}

// spearman is stats.Spearman as a JSON value: nil, with the reason, when undefined.
func spearman(x, y []float64) (*float64, string) {
	rho := stats.Spearman(x, y)
	if !math.IsNaN(rho) {
		return &rho, ""
	}
	switch {
	case len(x) < 2:
		return nil, fmt.Sprintf("%d off-diagonal pairs, at least 2 are needed", len(x))
	case slices.Min(x) == slices.Max(x):
		return nil, "every pair has the same similarity"
	default:
		return nil, "every pair has the same gain"
	}
}

func rate(k, n int) *float64 {
	if n == 0 {
		return nil
	}
	r := float64(k) / float64(n)
	return &r
}

// WriteTransfer analyses m and writes transfer.json, transfer.csv and the figures
// transfer_gain and transfer_scatter (PNG and SVG) into dir, which must exist.
func WriteTransfer(dir string, m *results.Transfer) (*TransferReport, error) {
	rep, err := AnalyzeTransfer(m)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, TransferJSON), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, TransferCSV), func(w io.Writer) error { return writeTransferCSV(w, m, rep) }); err != nil {
		return nil, err
	}
	gain, err := transferGainFigure(rep)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w", TransferGain, err)
	}
	scatter, err := transferScatterFigure(rep, m)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w", TransferScatter, err)
	}
	for _, f := range []namedFigure{{TransferGain, gain}, {TransferScatter, scatter}} {
		for _, format := range []string{"png", "svg"} {
			if err := writeFile(filepath.Join(dir, f.name+"."+format), func(w io.Writer) error { return f.fig.Write(w, format) }); err != nil {
				return nil, err
			}
		}
	}
	return rep, nil
}

// writeTransferCSV writes one line per split, seed (then "mean") and (expert, target).
func writeTransferCSV(out io.Writer, m *results.Transfer, rep *TransferReport) error {
	w := csv.NewWriter(out)
	w.Write([]string{"split", "seed", "expert", "target", "novel", "diagonal", "similarity",
		"expert_" + m.Metric, "zero_shot_" + m.Metric, "gain"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, sp := range m.Splits {
		ts := rep.Splits[i]
		line := func(seed string, e, j int, metric, zs float64) {
			w.Write([]string{sp.Name, seed, ts.Experts[e], ts.Targets[j], strconv.FormatBool(j >= len(sp.Seen)),
				strconv.FormatBool(e == j), f(ts.Similarity[e][j]), f(metric), f(zs), f(metric - zs)})
		}
		for s, seed := range m.Seeds {
			for e := range ts.Experts {
				for j := range ts.Targets {
					line(strconv.FormatUint(seed, 10), e, j, sp.Expert[s][e][j], sp.ZeroShot[s][j])
				}
			}
		}
		for e := range ts.Experts {
			for j := range ts.Targets {
				line("mean", e, j, ts.Metric[e][j], ts.ZeroShot[j])
			}
		}
	}
	w.Flush()
	return w.Error()
}

// transferGainFigure: the gain matrix of every split, experts × targets, in diverging
// colours centred at zero on one shared scale.
func transferGainFigure(rep *TransferReport) (*figures.Figure, error) {
	lim := 0.0
	for _, ts := range rep.Splits {
		for _, row := range ts.Gain {
			for _, v := range row {
				lim = math.Max(lim, math.Abs(v))
			}
		}
	}
	fig := &figures.Figure{
		Title: fmt.Sprintf("%s: gain in %s over zero-shot (mean over %s)", rep.Experiment, rep.Metric, plural(len(rep.Seeds), "seed")),
		SideW: 70,
	}
	for _, ts := range rep.Splits {
		cols := slices.Clone(ts.Targets)
		for j := len(ts.Experts); j < len(cols); j++ {
			cols[j] += " *"
		}
		title := ""
		if len(rep.Splits) > 1 {
			title = "split " + ts.Name
		}
		heat := figures.Heat{Title: title, XLabel: "target task (* novel)", YLabel: "expert",
			Rows: ts.Experts, Cols: cols, Values: ts.Gain, Min: -lim, Max: lim, Format: "%+.1f", Diverging: true}
		p, w, h, err := figures.HeatPlot(heat)
		if err != nil {
			return nil, err
		}
		fig.PanelW, fig.PanelH = max(fig.PanelW, w), max(fig.PanelH, h)
		fig.Panels = append(fig.Panels, []*plot.Plot{p})
		if fig.Side == nil {
			cm, err := heat.ColorMap()
			if err != nil {
				return nil, err
			}
			fig.Side = figures.ColorBar(cm, "gain in "+rep.Metric)
		}
	}
	return fig, nil
}

// transferScatterFigure: gain against similarity for every distinct off-diagonal pair,
// novel targets in their own style, with a line at zero gain.
func transferScatterFigure(rep *TransferReport, m *results.Transfer) (*figures.Figure, error) {
	type pair struct{ expert, target string }
	novel := map[pair]bool{}
	for i, ts := range rep.Splits {
		for j := len(m.Splits[i].Seen); j < len(ts.Targets); j++ {
			for _, e := range ts.Experts {
				novel[pair{e, ts.Targets[j]}] = true
			}
		}
	}
	series := []figures.Series{{Name: "seen target", Style: 0}, {Name: "novel target", Style: 1}}
	done := map[pair]bool{}
	for _, ts := range rep.Splits {
		for e, expert := range ts.Experts {
			for j, target := range ts.Targets {
				p := pair{expert, target}
				if e == j || done[p] {
					continue
				}
				done[p] = true
				k := 0
				if novel[p] {
					k = 1
				}
				series[k].Points = append(series[k].Points, figures.Point{X: ts.Similarity[e][j], Y: ts.Gain[e][j]})
			}
		}
	}
	title := fmt.Sprintf("Spearman ρ = %s over %s", num(value(rep.Spearman), 2), plural(rep.Pairs, "pair"))
	if rep.NovelPairs > 0 {
		title += fmt.Sprintf("; novel targets ρ = %s over %d", num(value(rep.NovelSpearman), 2), rep.NovelPairs)
	}
	p, err := figures.ScatterPlot(figures.Scatter{Title: title, XLabel: "cosine similarity of the descriptions",
		YLabel: "gain in " + rep.Metric + " over zero-shot", Series: series})
	if err != nil {
		return nil, err
	}
	zero := plotter.NewFunction(func(float64) float64 { return 0 })
	zero.Color, zero.Width, zero.Dashes = color.Gray{Y: 120}, 1, []vg.Length{4, 3}
	p.Add(zero)
	series = slices.DeleteFunc(series, func(s figures.Series) bool { return len(s.Points) == 0 })
	return &figures.Figure{
		Title:  rep.Experiment + ": does an expert with a nearer description help more?",
		Panels: [][]*plot.Plot{{p}}, PanelW: 420, PanelH: 320,
		Legend: figures.MarkerLegend(series),
	}, nil
}

func value(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// Summary prints the diagnostic's headline figures and notes.
func (t *TransferReport) Summary(w io.Writer) {
	fmt.Fprintf(w, "transfer diagnostic of %s: %s, mean over %s\n", t.Experiment, t.Metric, plural(len(t.Seeds), "seed"))
	fmt.Fprintf(w, "  spearman(similarity, gain)  %s over %s\n", num(value(t.Spearman), 3), plural(t.Pairs, "off-diagonal pair"))
	fmt.Fprintf(w, "  top-1 win rate              %s (%d of %d targets gain from their most similar expert)\n", num(value(t.Top1WinRate), 3), t.Top1Wins, t.Targets)
	fmt.Fprintf(w, "  novel targets only          spearman %s over %s, top-1 win rate %s (%d of %d)\n",
		num(value(t.NovelSpearman), 3), plural(t.NovelPairs, "pair"), num(value(t.NovelTop1WinRate), 3), t.NovelTop1Wins, t.NovelTargets)
	for _, n := range t.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
