package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/stats"
)

// dash stands for a value that does not exist (no units, or one seed for a std).
const dash = "–"

// num formats v with prec decimals; NaN is a dash and a rounded zero has no sign.
func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dash
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// signed is num with an explicit sign, for differences.
func signed(v float64, prec int) string {
	s := num(v, prec)
	if s != dash && !strings.HasPrefix(s, "-") && strings.Trim(s, "0.") != "" {
		s = "+" + s
	}
	return s
}

// pm is "mean ± std" (sep is the ± as the output format writes it); just the mean when
// the std does not exist, a dash when the mean does not.
func pm(s summary, prec int, sep string) string {
	if !s.ok() {
		return dash
	}
	if math.IsNaN(s.Std) {
		return num(s.Mean, prec)
	}
	return num(s.Mean, prec) + sep + num(s.Std, prec)
}

func interval(iv stats.Interval, prec int) string {
	if math.IsNaN(iv.Lo) {
		return dash
	}
	return "[" + num(iv.Lo, prec) + ", " + num(iv.Hi, prec) + "]"
}

func signedInterval(iv stats.Interval, prec int) string {
	if math.IsNaN(iv.Lo) {
		return dash
	}
	return "[" + signed(iv.Lo, prec) + ", " + signed(iv.Hi, prec) + "]"
}

func percent(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return num(100*v, 1) + "%"
}

// sigfig formats a diversity value, whose scale depends on the measure: three significant
// digits of the mean, the std to the same decimals.
func sigfig(s summary, sep string) string {
	if !s.ok() {
		return dash
	}
	prec := 3
	if a := math.Abs(s.Mean); a > 0 {
		prec = max(0, 2-int(math.Floor(math.Log10(a))))
	}
	if math.IsNaN(s.Std) {
		return num(s.Mean, prec)
	}
	return num(s.Mean, prec) + sep + num(s.Std, prec)
}

// best marks, for one metric, the methods whose mean rounds to the column's best value:
// the highest, or the lowest where lower is better. Oracle references are left out:
// they train on the novel task's own data.
func best(methods []*method, metric results.Metric, prec int) map[*method]bool {
	scale := math.Pow(10, float64(prec))
	sign := 1.0
	if metric.LowerIsBetter {
		sign = -1
	}
	top := math.Inf(-1)
	for _, m := range methods {
		if s := m.Scores[metric.Name]; s.ok() && m.Reference != "oracle" {
			top = math.Max(top, sign*math.Round(s.Mean*scale))
		}
	}
	out := map[*method]bool{}
	for _, m := range methods {
		if s := m.Scores[metric.Name]; s.ok() && m.Reference != "oracle" && sign*math.Round(s.Mean*scale) == top {
			out[m] = true
		}
	}
	return out
}

// seedsOf lists the seeds a split's units use, ascending.
func seedsOf(sp *split) string {
	seen := map[uint64]bool{}
	var seeds []uint64
	for _, m := range sp.Methods {
		for _, u := range m.units {
			if !seen[u.seed] {
				seen[u.seed] = true
				seeds = append(seeds, u.seed)
			}
		}
	}
	slices.Sort(seeds)
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ", ")
}
