package reports

import (
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/stats"
)

// Table prints, for each split in the experiment's order (splits; nil for the order
// the rows first name them), a terminal table of the methods: the evaluator's metrics
// ms as mean ± std over seeds, the mean parameter diversity (div_cos) and the number of
// failed rows. The aggregation is the one summary.md uses.
func Table(w io.Writer, rows []results.Row, ms results.Metrics, splits []string) error {
	if err := ms.Check("the evaluator"); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	rep, err := aggregate(rows, ms, splits, "", stats.DefaultBootstrap)
	if err != nil {
		return err
	}
	header := append([]any{"Method"}, toAny(ms.Names())...)
	header = append(header, "div_cos", "Failed")
	align := tw.Alignment{tw.AlignLeft}
	for range len(header) - 1 {
		align = append(align, tw.AlignRight)
	}
	for i, sp := range rep.Splits {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Split %s: %s, %s (mean ± std over seeds)\n",
			sp.Name, plural(len(sp.Tasks), "novel task"), seedList(sp))
		t := tablewriter.NewTable(w,
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithAlignment(align),
		)
		t.Header(header...)
		for _, m := range sp.Methods {
			row := []any{m.Name}
			for _, k := range ms.Names() {
				row = append(row, pm(m.Scores[k], 2, " ± "))
			}
			div := sigfig(m.Div["div_cos"], " ± ")
			if m.DivZero {
				div = "0"
			}
			row = append(row, div, m.Failed)
			if err := t.Append(row...); err != nil {
				return fmt.Errorf("reports: table for split %s: %w", sp.Name, err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("reports: table for split %s: %w", sp.Name, err)
		}
	}
	return nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
