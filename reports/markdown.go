package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/sglab/sglab/framework/results"
)

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;",
	"\r\n", " ", "\n", " ", "\r", " ",
)

func mdEscape(s string) string { return mdEscaper.Replace(s) }

// mdRow writes one Markdown table row.
func mdRow(w io.Writer, cells ...string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// mdHeader writes a header and its rule. The first left columns are left-aligned (names),
// the others right-aligned (numbers).
func mdHeader(w io.Writer, left int, cells ...string) {
	mdRow(w, cells...)
	rule := make([]string, len(cells))
	for i := range rule {
		rule[i] = "---:"
		if i < left {
			rule[i] = ":---"
		}
	}
	mdRow(w, rule...)
}

const maxErrorLen = 300

// writeMarkdown writes summary.md.
func writeMarkdown(out io.Writer, rep *report, title string) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "# %s\n\n", title)
	fmt.Fprintf(w, "%s (%d failed) and %s from `results.jsonl`.\n\n",
		plural(rep.Trials, "trial"), countKind(rep, "trial"), plural(rep.DiversityRows, "diversity row"))
	fmt.Fprintf(w, "A generator's samples are first averaged per task and seed; a cell is "+
		"the mean over (task, seed) units ± the sample standard deviation over seeds of the "+
		"per-seed mean over tasks. **Bold**: best of the column (oracle excluded). "+
		"95%% CI: percentile bootstrap over (task, seed) units, %d resamples.\n\n", rep.Boot.Resamples)
	if rep.Assumed {
		fmt.Fprintf(w, "Note: the manifest does not record the evaluator's metrics (an older sglab wrote it, or "+
			"there is none), so the metrics are assumed to be the CLIP retrieval ones: %s.\n\n", strings.Join(rep.Metrics.Names(), ", "))
	}
	fmt.Fprint(w, "Metrics, as the evaluator describes them (headline: "+strings.Join(rep.Metrics.Headline, ", ")+"):\n\n")
	for _, m := range rep.Metrics.All {
		fmt.Fprintf(w, "- `%s`: %s\n", m.Name, mdEscape(metricNote(m)))
	}

	for _, sp := range rep.Splits {
		fmt.Fprintf(w, "\n## Split %s\n\n", mdEscape(sp.Name))
		fmt.Fprintf(w, "%s; %s.\n\n", plural(len(sp.Tasks), "novel task"), seedList(sp))

		fmt.Fprint(w, "### Metrics\n\n")
		mdHeader(w, 1, append([]string{"Method"}, mdEscapeAll(rep.Metrics.Names())...)...)
		bold := make([]map[*method]bool, len(rep.Metrics.All))
		for i, k := range rep.Metrics.All {
			bold[i] = best(sp.Methods, k, 2)
		}
		for _, m := range sp.Methods {
			cells := []string{mdEscape(m.Name)}
			for i, k := range rep.Metrics.Names() {
				c := pm(m.Scores[k], 2, " ± ")
				if bold[i][m] {
					c = "**" + c + "**"
				}
				cells = append(cells, c)
			}
			mdRow(w, cells...)
		}

		fmt.Fprint(w, "\n### Parameter diversity\n\n")
		mdHeader(w, 1, "Method", "Samples", "div_cos", "div_frob", "r1_std")
		anyZero := false
		for _, m := range sp.Methods {
			if m.DivZero {
				anyZero = true
				mdRow(w, mdEscape(m.Name)+" †", fmt.Sprint(m.Samples), "0", "0", "0")
				continue
			}
			mdRow(w, mdEscape(m.Name), fmt.Sprint(m.Samples),
				sigfig(m.Div["div_cos"], " ± "), sigfig(m.Div["div_frob"], " ± "), sigfig(m.Div["r1_std"], " ± "))
		}
		if anyZero {
			fmt.Fprint(w, "\n† One adapter per task and seed: no spread, so diversity is zero.\n")
		}

		heads := rep.Metrics.Headline
		fmt.Fprint(w, "\n### Statistics (headline metrics)\n\n")
		header := []string{"Method", "Units", "Seeds", "Failed"}
		for _, h := range heads {
			header = append(header, mdEscape(h), "Std", "95% CI")
		}
		mdHeader(w, 1, header...)
		for _, m := range sp.Methods {
			first := m.Scores[heads[0]]
			cells := []string{mdEscape(m.Name), fmt.Sprint(first.Units), fmt.Sprint(first.Seeds), fmt.Sprint(m.Failed)}
			for _, h := range heads {
				s := m.Scores[h]
				cells = append(cells, num(s.Mean, 2), num(s.Std, 2), interval(s.CI, 2))
			}
			mdRow(w, cells...)
		}

		ref := sp.Reference
		switch {
		case ref == "" && rep.Reference != "":
			fmt.Fprintf(w, "\nNo paired comparison: reference method %s is not in this split.\n", mdEscape(rep.Reference))
		case ref == "":
			fmt.Fprintf(w, "\nNo paired comparison: default reference %s is not in this split.\n", mdEscape(DefaultReference))
		case len(sp.Methods) == 1:
			fmt.Fprintf(w, "\nNo paired comparison: %s is the only method.\n", mdEscape(ref))
		default:
			fmt.Fprintf(w, "\n### Paired comparison with %s\n\n", mdEscape(ref))
			fmt.Fprintf(w, "Δ = method − %s on the (task, seed) units both have; 95%% CI by bootstrap over "+
				"those units; win rate = share of units where the method scores better (higher, or lower "+
				"where the metric says so), ties counting one half.\n\n", mdEscape(ref))
			header := []string{"Method", "Units"}
			for _, h := range heads {
				header = append(header, "Δ "+mdEscape(h), "95% CI", "Win rate")
			}
			mdHeader(w, 1, header...)
			for _, m := range sp.Methods {
				if !m.HasPaired {
					continue
				}
				n := 0
				var cells []string
				for _, h := range heads {
					p := m.Paired[h]
					n = max(n, p.N)
					cells = append(cells, signed(p.MeanDiff, 2), signedInterval(p.CI, 2), percent(p.WinRate))
				}
				mdRow(w, append([]string{mdEscape(m.Name), fmt.Sprint(n)}, cells...)...)
			}
		}
	}

	if len(rep.Failed) > 0 {
		fmt.Fprintf(w, "\n## Failed (%d)\n\n", len(rep.Failed))
		fmt.Fprint(w, "Left out of every statistic.\n\n")
		mdHeader(w, 7, "Split", "Kind", "Task", "Method", "Seed", "Sample", "Error")
		for _, r := range rep.Failed {
			msg := r.Error
			if rs := []rune(msg); len(rs) > maxErrorLen {
				msg = string(rs[:maxErrorLen]) + "…"
			}
			mdRow(w, mdEscape(r.Split), r.Kind, mdEscape(r.Task), mdEscape(r.Method),
				fmt.Sprint(r.Seed), fmt.Sprint(r.Sample), mdEscape(msg))
		}
	}
	return w.Flush()
}

func mdEscapeAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = mdEscape(x)
	}
	return out
}

// metricNote is a metric's description and, when lower is better, that.
func metricNote(m results.Metric) string {
	d := m.Description
	if d == "" {
		d = "(no description)"
	}
	if m.LowerIsBetter {
		d += " (lower is better)"
	}
	return d
}

func countKind(rep *report, kind string) int {
	n := 0
	for _, r := range rep.Failed {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// plural is "1 trial", "2 trials".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// seedList is "seed 1", "seeds 1, 2" or "no seeds".
func seedList(sp *split) string {
	s := seedsOf(sp)
	switch {
	case s == "":
		return "no successful trials"
	case strings.Contains(s, ","):
		return "seeds " + s
	}
	return "seed " + s
}
