package reports_test

import (
	"os"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports"
)

func ExampleTable() {
	row := func(method string, seed uint64, sample int, r1 float64) results.Row {
		return results.Row{Kind: results.KindTrial, Split: "digits", Task: "rotate 45", Method: method, Seed: seed, Sample: sample,
			Metrics: map[string]float64{"i2t_r1": r1, "i2t_r5": r1 + 20, "i2t_r10": r1 + 30, "t2i_r1": r1 - 10, "t2i_r5": r1 + 10, "t2i_r10": r1 + 20}}
	}
	rows := []results.Row{
		row("Top-K Weighted", 1, 0, 40), row("Top-K Weighted", 2, 0, 42),
		// SG-LoRA draws two adapters per seed; their scores are averaged first.
		row("SG-LoRA", 1, 0, 49), row("SG-LoRA", 1, 1, 51), row("SG-LoRA", 2, 0, 52), row("SG-LoRA", 2, 1, 54),
		{Kind: results.KindDiversity, Split: "digits", Task: "rotate 45", Method: "SG-LoRA", Seed: 1, Metrics: map[string]float64{"div_cos": 0.12}},
		{Kind: results.KindDiversity, Split: "digits", Task: "rotate 45", Method: "SG-LoRA", Seed: 2, Metrics: map[string]float64{"div_cos": 0.14}},
	}
	if err := reports.Table(os.Stdout, rows, results.LegacyMetrics, []string{"digits"}); err != nil {
		panic(err)
	}
	// Output:
	// Split digits: 1 novel task, seeds 1, 2 (mean ± std over seeds)
	// ┌────────────────┬──────────────┬──────────────┬──────────────┬──────────────┬──────────────┬──────────────┬───────────────┬────────┐
	// │ Method         │       i2t_r1 │       i2t_r5 │      i2t_r10 │       t2i_r1 │       t2i_r5 │      t2i_r10 │       div_cos │ Failed │
	// ├────────────────┼──────────────┼──────────────┼──────────────┼──────────────┼──────────────┼──────────────┼───────────────┼────────┤
	// │ Top-K Weighted │ 41.00 ± 1.41 │ 61.00 ± 1.41 │ 71.00 ± 1.41 │ 31.00 ± 1.41 │ 51.00 ± 1.41 │ 61.00 ± 1.41 │             0 │      0 │
	// │ SG-LoRA        │ 51.50 ± 2.12 │ 71.50 ± 2.12 │ 81.50 ± 2.12 │ 41.50 ± 2.12 │ 61.50 ± 2.12 │ 71.50 ± 2.12 │ 0.130 ± 0.014 │      0 │
	// └────────────────┴──────────────┴──────────────┴──────────────┴──────────────┴──────────────┴──────────────┴───────────────┴────────┘
}
