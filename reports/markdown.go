package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
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
	fmt.Fprintf(w, "Recall@K in %%. A generator's samples are first averaged per task and seed; a cell is "+
		"the mean over (task, seed) units ± the sample standard deviation over seeds of the "+
		"per-seed mean over tasks. **Bold**: best of the column (oracle excluded). "+
		"95%% CI: percentile bootstrap over (task, seed) units, %d resamples.\n", rep.Boot.Resamples)

	for _, sp := range rep.Splits {
		fmt.Fprintf(w, "\n## Split %s\n\n", mdEscape(sp.Name))
		fmt.Fprintf(w, "%s; %s.\n\n", plural(len(sp.Tasks), "novel task"), seedList(sp))

		fmt.Fprint(w, "### Retrieval (Recall@K, %)\n\n")
		mdHeader(w, 1, append([]string{"Method"}, recallHeaders...)...)
		bold := make([]map[*method]bool, len(recallKeys))
		for i, k := range recallKeys {
			bold[i] = best(sp.Methods, k, 2)
		}
		for _, m := range sp.Methods {
			cells := []string{mdEscape(m.Name)}
			for i, k := range recallKeys {
				c := pm(m.Recall[k], 2, " ± ")
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

		fmt.Fprint(w, "\n### Statistics (R@1, %)\n\n")
		mdHeader(w, 1, "Method", "Units", "Seeds", "Failed",
			"I2T R@1", "Std", "95% CI", "T2I R@1", "Std", "95% CI")
		for _, m := range sp.Methods {
			i, t := m.Recall["i2t_r1"], m.Recall["t2i_r1"]
			mdRow(w, mdEscape(m.Name), fmt.Sprint(i.Units), fmt.Sprint(i.Seeds), fmt.Sprint(m.Failed),
				num(i.Mean, 2), num(i.Std, 2), interval(i.CI, 2),
				num(t.Mean, 2), num(t.Std, 2), interval(t.CI, 2))
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
				"those units; win rate = share of units where the method scores higher, ties counting one half.\n\n", mdEscape(ref))
			mdHeader(w, 1, "Method", "Units", "Δ I2T R@1", "95% CI", "Win rate", "Δ T2I R@1", "95% CI", "Win rate")
			for _, m := range sp.Methods {
				if !m.HasPaired {
					continue
				}
				i, t := m.Paired["i2t_r1"], m.Paired["t2i_r1"]
				mdRow(w, mdEscape(m.Name), fmt.Sprint(max(i.N, t.N)),
					signed(i.MeanDiff, 2), signedInterval(i.CI, 2), percent(i.WinRate),
					signed(t.MeanDiff, 2), signedInterval(t.CI, 2), percent(t.WinRate))
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
