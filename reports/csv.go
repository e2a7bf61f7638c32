package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/sglab/sglab/framework/results"
)

// writeCSV writes results.csv: one line per trial row, failed ones included, with every
// metric any trial reported (the evaluator's declared ones first, in order, then the rest
// by name).
func writeCSV(out io.Writer, rows []results.Row, ms results.Metrics) error {
	keys := ms.Names()
	var extra []string
	for _, r := range rows {
		if r.Kind != results.KindTrial {
			continue
		}
		for k := range r.Metrics {
			if !slices.Contains(keys, k) && !slices.Contains(extra, k) {
				extra = append(extra, k)
			}
		}
	}
	slices.Sort(extra)
	keys = append(keys, extra...)

	w := csv.NewWriter(out)
	header := append([]string{"split", "task", "method", "seed", "sample"}, keys...)
	header = append(header, "seconds", "error")
	if err := w.Write(header); err != nil {
		return fmt.Errorf("results.csv: %w", err)
	}
	for _, r := range rows {
		if r.Kind != results.KindTrial {
			continue
		}
		rec := []string{r.Split, r.Task, r.Method, strconv.FormatUint(r.Seed, 10), strconv.Itoa(r.Sample)}
		for _, k := range keys {
			v, ok := r.Metrics[k]
			if !ok {
				rec = append(rec, "")
				continue
			}
			rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
		}
		rec = append(rec, strconv.FormatFloat(r.Seconds, 'g', -1, 64), r.Error)
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("results.csv: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("results.csv: %w", err)
	}
	return nil
}
