package driver

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/reports"
	"github.com/sglab/sglab/reports/stats"
)

// A second split shares pairs with the first: (a, bb) is a seen target there and a novel
// one here, (a, ccc) the other way round.
const transferSplit = `
[[split]]
name = "other"
seen = ["a", "ccc"]
novel = ["bb"]
`

// TestTransfer runs the diagnostic on the toy world after `run` filled the expert cache,
// checks the measurement against the fake evaluator's closed form, and recomputes the
// statistics of transfer.json from the matrices written beside them.
func TestTransfer(t *testing.T) {
	exp := load(t, experiment+transferSplit)
	cache, out := t.TempDir(), t.TempDir()
	host := &rpc.Host{}
	defer host.KillAll()
	if _, err := Run(context.Background(), exp, Options{Out: t.TempDir(), Cache: cache, Jobs: 2, Host: host, Spec: testSpec, StartTimeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	m, err := Transfer(context.Background(), exp, TransferOptions{Metric: "xfer", Options: Options{Out: out, Cache: cache, Jobs: 2,
		Host: host, Spec: testSpec, Log: log, StartTimeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(logs.Bytes(), []byte("trained:")); n != 0 {
		t.Errorf("transfer trained %d experts that run had cached", n)
	}
	if _, err := os.Stat(filepath.Join(out, TransferManifestFile)); err != nil {
		t.Error(err)
	}

	// Shapes, and the closed form: the prototype of expert e (the mean of its two
	// snapshots) scores 5·len(e) + 10.25 − 4·len(t) on target t, the backbone 10 + len(t).
	if len(m.Splits) != 2 || len(m.Seeds) != 2 || m.Metric != "xfer" {
		t.Fatalf("measurement: %d splits, seeds %v, metric %q", len(m.Splits), m.Seeds, m.Metric)
	}
	for _, sp := range m.Splits {
		targets := sp.Targets()
		if len(sp.Similarity) != len(sp.Seen) || len(sp.ZeroShot) != 2 || len(sp.Expert) != 2 {
			t.Fatalf("split %s: shapes", sp.Name)
		}
		for s := range m.Seeds {
			for j, tg := range targets {
				if got, want := sp.ZeroShot[s][j], 10+float64(len(tg)); math.Abs(got-want) > 1e-4 {
					t.Errorf("split %s zero-shot on %s = %v, want %v", sp.Name, tg, got, want)
				}
				for e, ex := range sp.Seen {
					if got, want := sp.Expert[s][e][j], 5*float64(len(ex))+10.25-4*float64(len(tg)); math.Abs(got-want) > 1e-4 {
						t.Errorf("split %s expert %s on %s = %v, want %v", sp.Name, ex, tg, got, want)
					}
					if len(sp.Similarity[e]) != len(targets) || (e == j && math.Abs(sp.Similarity[e][j]-1) > 1e-9) {
						t.Errorf("split %s: similarity row %s %v", sp.Name, ex, sp.Similarity[e])
					}
				}
			}
		}
	}

	rep, err := reports.WriteTransfer(out, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"transfer.json", "transfer.csv", "transfer_gain.png", "transfer_gain.svg", "transfer_scatter.png", "transfer_scatter.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, reports.TransferJSON))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spearman         *float64 `json:"spearman"`
		NovelSpearman    *float64 `json:"novel_spearman"`
		Top1WinRate      *float64 `json:"top1_win_rate"`
		NovelTop1WinRate *float64 `json:"novel_top1_win_rate"`
		Pairs            int      `json:"pairs"`
		NovelPairs       int      `json:"novel_pairs"`
		PerTarget        []struct {
			Split, Task   string
			NearestExpert string `json:"nearest_expert"`
		} `json:"per_target"`
		Splits []struct {
			Experts, Targets, Novel  []string
			Similarity, Metric, Gain [][]float64
			ZeroShot                 []float64 `json:"zero_shot"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// Recompute from the written matrices: off-diagonal pairs, each distinct one once.
	type pair struct{ e, t string }
	var sims, gains, nsims, ngains []float64
	seen, nseen := map[pair]bool{}, map[pair]bool{}
	var wins, targets, nwins, ntargets float64
	for _, sp := range doc.Splits {
		if len(sp.Gain) != len(sp.Experts) || len(sp.Metric) != len(sp.Experts) || len(sp.ZeroShot) != len(sp.Targets) {
			t.Fatalf("written split: %d experts, %d targets, gain %d rows", len(sp.Experts), len(sp.Targets), len(sp.Gain))
		}
		for j, tg := range sp.Targets {
			novel := j >= len(sp.Experts)
			best, bestSim := -1, math.Inf(-1)
			for e, ex := range sp.Experts {
				g := sp.Metric[e][j] - sp.ZeroShot[j]
				if math.Abs(g-sp.Gain[e][j]) > 1e-9 || math.Abs(g-(5*float64(len(ex)-len(tg))+0.25)) > 1e-4 {
					t.Errorf("gain of %s on %s: %v", ex, tg, sp.Gain[e][j])
				}
				if ex == tg {
					continue // the diagonal
				}
				if p := (pair{ex, tg}); !seen[p] {
					seen[p] = true
					sims, gains = append(sims, sp.Similarity[e][j]), append(gains, g)
				}
				if p := (pair{ex, tg}); novel && !nseen[p] {
					nseen[p] = true
					nsims, ngains = append(nsims, sp.Similarity[e][j]), append(ngains, g)
				}
				if sp.Similarity[e][j] > bestSim {
					best, bestSim = e, sp.Similarity[e][j]
				}
			}
			if best < 0 {
				continue
			}
			targets++
			win := sp.Gain[best][j] > stats.TieTolerance
			if win {
				wins++
			}
			if novel {
				ntargets++
				if win {
					nwins++
				}
			}
		}
	}
	// main: 2 experts × 4 targets − 2 diagonal = 6; other: 2 × 3 − 2 = 4, of which
	// (a, bb) and (a, ccc) are main's again. Novel: 2 × 2 in main, 2 in other.
	if doc.Pairs != 8 || len(sims) != 8 || doc.NovelPairs != len(nsims) || doc.NovelPairs != 6 {
		t.Errorf("pairs %d (recomputed %d), novel %d (recomputed %d)", doc.Pairs, len(sims), doc.NovelPairs, len(nsims))
	}
	for _, c := range []struct {
		name string
		got  *float64
		want float64
	}{
		{"spearman", doc.Spearman, stats.Spearman(sims, gains)},
		{"novel_spearman", doc.NovelSpearman, stats.Spearman(nsims, ngains)},
		{"top1_win_rate", doc.Top1WinRate, wins / targets},
		{"novel_top1_win_rate", doc.NovelTop1WinRate, nwins / ntargets},
	} {
		if c.got == nil || math.IsNaN(c.want) || math.Abs(*c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, recomputed %v", c.name, c.got, c.want)
		}
	}
	if *doc.Top1WinRate <= 0 || *doc.Top1WinRate >= 1 {
		t.Errorf("top1_win_rate %v: the toy world has gains of both signs", *doc.Top1WinRate)
	}
	if len(doc.PerTarget) != 7 || rep.Targets != 7 {
		t.Errorf("%d per-target entries, %d targets; want 7", len(doc.PerTarget), rep.Targets)
	}
	for _, pt := range doc.PerTarget {
		if pt.NearestExpert == pt.Task || pt.NearestExpert == "" {
			t.Errorf("target %s/%s: nearest expert %q", pt.Split, pt.Task, pt.NearestExpert)
		}
	}

	// transfer.csv: per split, every seed and the mean, every expert × target.
	f, err := os.Open(filepath.Join(out, reports.TransferCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 3*(2*4) + 3*(2*3); len(recs) != want {
		t.Fatalf("transfer.csv has %d lines, want %d", len(recs), want)
	}
	if strings.Join(recs[0], ",") != "split,seed,expert,target,novel,diagonal,similarity,expert_xfer,zero_shot_xfer,gain" {
		t.Errorf("transfer.csv header %v", recs[0])
	}
	diag := 0
	for _, r := range recs[1:] {
		if r[5] == "true" {
			diag++
			if r[2] != r[3] {
				t.Errorf("diagonal row with expert %s and target %s", r[2], r[3])
			}
		}
	}
	if diag != 3*2+3*2 {
		t.Errorf("%d diagonal rows, want 12", diag)
	}
}

// TestTransferNamesFailedEvaluation checks that a failed evaluation stops the diagnostic
// with an error naming the expert, the target and the seed.
func TestTransferNamesFailedEvaluation(t *testing.T) {
	text := strings.Replace(experiment, `id = "dddd"`, `id = "kill-evaluator"`, 1)
	text = strings.Replace(text, `"dddd"]`, `"kill-evaluator"]`, 1)
	exp := load(t, text)
	host := &rpc.Host{}
	defer host.KillAll()
	_, err := Transfer(context.Background(), exp, TransferOptions{Options: Options{Out: t.TempDir(), Jobs: 1,
		Host: host, Spec: testSpec, StartTimeout: 20 * time.Second}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"expert ", "target kill-evaluator", "seed 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	_, err = Transfer(context.Background(), load(t, experiment), TransferOptions{Metric: "i2t_r2", Options: Options{Out: t.TempDir(),
		Host: host, Spec: testSpec, StartTimeout: 20 * time.Second}})
	if err == nil || !strings.Contains(err.Error(), `no metric "i2t_r2"`) || !strings.Contains(err.Error(), "its metrics: score, seed, xfer") {
		t.Errorf("unknown metric: %v", err)
	}
}
