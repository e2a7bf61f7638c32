// Package reports turns an experiment's journal (results.jsonl, see framework/results)
// into what goes into a paper: summary.md, table.tex (booktabs), results.csv and figures
// (metrics, diversity, ablation_<param>, heatmap as PNG and SVG), and prints the same
// numbers as a terminal table. It reads only the journal and what the manifest beside it
// says of the evaluator's metrics (results.ReadMetrics), so it can render a run that is
// still going or was merged from a cluster. The tables' columns are the evaluator's
// metrics; the statistics, paired comparisons and figures use its headline metrics, a
// "best" value being the highest or, for a metric where lower is better, the lowest. WriteTransfer renders the transfer diagnostic
// (transfer.json, transfer.csv, transfer_gain, transfer_scatter) from what the driver
// measured; see TransferReport for its statistics.
//
// # Aggregation
//
// Rows with an error are failed: they are left out of every statistic, counted per
// method and listed in summary.md. Of the rest:
//
//  1. Samples. A generator produces several adapters per (split, task, seed). Their scores
//     are averaged into one value per (split, method, task, seed): the expected score of
//     one draw. Single-sample methods are unchanged by this.
//  2. Units. The resulting (task, seed) pairs are the units of every statistic. The mean
//     is the mean over units. The std (the "±" in tables, the error bars in figures) is
//     the sample standard deviation (n−1) over seeds of the per-seed mean over tasks, so
//     it measures run-to-run variation rather than task difficulty; it is absent with one
//     seed. The 95% CI is a percentile bootstrap of the mean over units (2000 resamples
//     from a fixed seed, quantiles by linear interpolation), so a report is the same bytes
//     every time.
//  3. Paired comparison. Each method is compared with a reference (Options.Reference,
//     else "SG-LoRA" when the split has it) on the units both have: the mean of
//     method − reference with a bootstrap CI over those units, and the win rate, the
//     share of units where the method scores higher, a tie (|Δ| ≤ 1e-9) counting one half.
//  4. Diversity rows (div_cos, div_frob, r1_std, one per split, task, method and seed) get
//     the same mean and std. A method with one sample per unit and no diversity rows is a
//     deterministic merge: its diversity is zero, shown with a † in summary.md and placed at
//     zero in the diversity figure.
//
// Splits come in the order the experiment declares them (the manifest records it), since
// concurrent blocks of trials append to the journal in the order they finish; methods
// keep the order in which they first appear in the journal. The best value of a
// column is the one that is highest at the printed precision (every tied method is bold);
// methods marked as the oracle reference are left out, since they train on the novel
// task's own data. Sweeps (methods with Base and Sweep) also appear as their own rows; each
// swept key gets an ablation figure, numeric on the x axis when every value is a number
// (log scale when the values span 50× or more) and categorical otherwise.
package reports
