package reports

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/stats"
)

var keep = flag.String("keep", "", "write the stress report into this folder, to look at it")

// stressRows is a crowded journal: three splits, fourteen methods (one with a very long
// name, one that always fails), a numeric sweep over three decades, a categorical sweep,
// and a split with a single seed.
func stressRows() []results.Row {
	rng := rand.New(rand.NewPCG(11, 12))
	type m struct {
		name, base string
		sweep      map[string]any
		samples    int
		level      float64
	}
	methods := []m{
		{name: "Zero-shot", samples: 1, level: 20},
		{name: "Model Soup", samples: 1, level: 28},
		{name: "AdapterSoup", samples: 1, level: 29},
		{name: "Top-K Weighted", samples: 1, level: 33},
		{name: "Task Arithmetic", samples: 1, level: 30},
		{name: "TIES-Merging (trim 20%, λ=0.5)", samples: 1, level: 31},
		{name: "DARE + TIES with rescaled deltas and a very long descriptive name", samples: 1, level: 32},
		{name: "LoRAHub", samples: 1, level: 34},
		{name: "Text-to-LoRA", samples: 1, level: 35},
		{name: "Cond-P-Diff", samples: 4, level: 36},
		{name: "Broken generator", samples: 2, level: 0},
		{name: "SG-LoRA", samples: 4, level: 40},
		{name: "SG-LoRA lr=0.0001", base: "SG-LoRA", sweep: map[string]any{"lr": 1e-4}, samples: 4, level: 37},
		{name: "SG-LoRA lr=0.001", base: "SG-LoRA", sweep: map[string]any{"lr": 1e-3}, samples: 4, level: 40},
		{name: "SG-LoRA lr=0.01", base: "SG-LoRA", sweep: map[string]any{"lr": 1e-2}, samples: 4, level: 38},
		{name: "SG-LoRA cond=concat", base: "SG-LoRA", sweep: map[string]any{"condition": "concat"}, samples: 4, level: 39},
		{name: "SG-LoRA cond=projection", base: "SG-LoRA", sweep: map[string]any{"condition": "projection"}, samples: 4, level: 41},
		{name: "Oracle", samples: 1, level: 42},
	}
	for _, k := range []float64{2, 4, 8} {
		for _, tau := range []float64{0.1, 1} {
			methods = append(methods, m{name: fmt.Sprintf("SG-LoRA k=%g τ=%g", k, tau), base: "SG-LoRA",
				sweep: map[string]any{"top_k": k, "tau": tau}, samples: 2, level: 36 + k/2 - tau})
		}
	}
	splits := []struct {
		name  string
		tasks []string
		seeds []uint64
	}{
		{"mnist-rotations", []string{"rotate 15", "rotate 30", "rotate 45", "rotate 60", "rotate 75", "rotate 90"}, []uint64{1, 2, 3}},
		{"fashion-corruptions", []string{"gaussian blur σ=2", "impulse noise", "occlusion 30%", "elastic transform"}, []uint64{1, 2, 3}},
		{"single-seed", []string{"a", "b"}, []uint64{7}},
	}
	var rows []results.Row
	for _, sp := range splits {
		for _, seed := range sp.seeds {
			for ti, task := range sp.tasks {
				for _, me := range methods {
					for s := range me.samples {
						r := results.Row{Kind: results.KindTrial, Split: sp.name, Task: task, Method: me.name, Seed: seed, Sample: s,
							Base: me.base, Sweep: me.sweep, Metrics: map[string]float64{}, Seconds: 1}
						if me.name == "Broken generator" {
							r.Error = "generator: decode: shape mismatch"
						} else {
							base := me.level + float64(ti) - 2 + rng.NormFloat64()
							for i, k := range results.LegacyMetrics.Names() {
								v := base + float64(i%3)*15 - float64(i/3)*8 + rng.NormFloat64()
								r.Metrics[k] = math.Round(math.Max(0, math.Min(100, v))*2) / 2
							}
						}
						rows = append(rows, r)
					}
					if me.samples > 1 && me.name != "Broken generator" {
						rows = append(rows, results.Row{Kind: results.KindDiversity, Split: sp.name, Task: task, Method: me.name, Seed: seed,
							Base: me.base, Sweep: me.sweep, Metrics: map[string]float64{
								"div_cos": 0.1 + 0.02*rng.NormFloat64() + me.level/400, "div_frob": 3 + rng.NormFloat64(), "r1_std": 1 + 0.1*rng.NormFloat64()}})
					}
				}
			}
		}
	}
	return rows
}

func TestStressRender(t *testing.T) {
	dir := *keep
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, results.FileName)) // a kept folder from an earlier run
	w, err := results.Create(filepath.Join(dir, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	rows := stressRows()
	for _, r := range rows {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if err := Render(dir, Options{Title: "Stress", Formats: []string{"png"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := aggregate(rows, results.LegacyMetrics, nil, "", stats.DefaultBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	figs, err := buildFigures(rep, "Stress")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"metrics": true, "diversity": true, "ablation_condition": true, "ablation_lr": true,
		"ablation_tau": true, "ablation_top_k": true, "heatmap": true}
	for _, f := range figs {
		if !want[f.name] {
			t.Errorf("unexpected figure %s", f.name)
		}
		delete(want, f.name)
		pw, ph := f.fig.PixelSize()
		checkPNG(t, filepath.Join(dir, f.name+".png"), pw, ph)
	}
	if len(want) > 0 {
		t.Errorf("missing figures %v", want)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	single := rep.Splits[2].method("SG-LoRA").Scores["i2t_r1"]
	if !math.IsNaN(single.Std) || single.Seeds != 1 {
		t.Errorf("one seed: std %v seeds %d, want NaN and 1", single.Std, single.Seeds)
	}
	broken := rep.Splits[0].method("Broken generator")
	if broken.Scores["i2t_r1"].ok() || broken.Failed != 6*3*2 {
		t.Errorf("always-failing method: %+v failed %d", broken.Scores["i2t_r1"], broken.Failed)
	}
	if len(md) == 0 {
		t.Fatal("empty summary")
	}
	t.Logf("rendered into %s", dir)
}
