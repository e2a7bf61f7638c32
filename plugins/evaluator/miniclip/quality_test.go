package miniclip

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
)

// TestQuality measures what the lead's experiments rely on, on catalog tasks with the
// default configuration: zero-shot and oracle image→text R@1, the prototype (mean of an
// expert's snapshots) on its own task, the seconds one Train takes, and that the same
// seed reproduces the numbers. It trains for minutes, so it runs only when
// MINICLIP_QUALITY is set (to a comma-separated list of seeds, e.g. "1,2,3"):
//
//	MINICLIP_QUALITY=1,2,3 go test -run Quality -v ./plugins/evaluator/miniclip/
//
// MINICLIP_QUALITY_TASKS, a comma-separated list of catalog task ids
// (experiments/tasks/catalog.toml), measures those instead, without targets.
//
// It fails when a strong-shift task misses the targets: oracle ≥ zero-shot + 10 points,
// zero-shot between 3× chance and 80. Edge maps are measured but not held to the +10
// target: Canny keeps outlines only, so two of the five caption attributes (stroke
// thickness and ink darkness) cannot be seen, and exact-caption R@1 stays low whatever
// the adapter (oracle ≈ 11–15 against ≈ 50 on clean digits).
func TestQuality(t *testing.T) {
	env := os.Getenv("MINICLIP_QUALITY")
	if env == "" {
		t.Skip("set MINICLIP_QUALITY=1,2,3 to run")
	}
	var seeds []uint64
	for _, s := range strings.Split(env, ",") {
		var v uint64
		if _, err := fmt.Sscan(s, &v); err != nil {
			t.Fatalf("MINICLIP_QUALITY: %v", err)
		}
		seeds = append(seeds, v)
	}
	tasks := []struct {
		id, dataset string
		chain       []string
		strong      bool // held to the targets
	}{
		{"digits-clean", "digits", nil, false},
		{"fashion-rotate-left", "fashion", []string{"rotate(45)"}, false},
		{"digits-heavy-blur", "digits", []string{"gaussian_blur(3)"}, false},
		{"digits-sideways-edges", "digits", []string{"rotate(90)", "canny_edges"}, false},
		{"digits-sideways-inverted", "digits", []string{"rotate(90)", "invert"}, true},
		{"fashion-sideways-inverted", "fashion", []string{"rotate(90)", "invert"}, true},
		{"digits-blur-noise", "digits", []string{"gaussian_blur(1.5)", "gaussian_noise(0.3)"}, true},
		{"fashion-blur-noise", "fashion", []string{"gaussian_blur(1.5)", "gaussian_noise(0.3)"}, true},
		{"digits-edges", "digits", []string{"canny_edges"}, false},
		{"fashion-edges", "fashion", []string{"canny_edges"}, false},
	}
	if ids := os.Getenv("MINICLIP_QUALITY_TASKS"); ids != "" {
		exp, err := config.Load("../../../experiments/quickstart.toml")
		if err != nil {
			t.Fatal(err)
		}
		tasks = tasks[:0]
		for _, id := range strings.Split(ids, ",") {
			tk, ok := exp.Task(id)
			if !ok {
				t.Fatalf("no catalog task %q", id)
			}
			var chain []string
			for _, tr := range tk.Domain {
				chain = append(chain, tr.String())
			}
			tasks = append(tasks, struct {
				id, dataset string
				chain       []string
				strong      bool
			}{tk.ID, tk.Dataset, chain, false})
		}
	}
	e := New()
	ctx := context.Background()
	opts := plugin.TrainOptions{Epochs: 20, Snapshots: 10}
	dir := t.TempDir()
	t.Logf("%-26s %8s %8s %8s %8s %9s", "task", "zs_i2t", "orc_i2t", "proto", "zs_t2i", "train_s")
	for _, tc := range tasks {
		tk := mustTask(t, tc.id, tc.dataset, tc.chain...)
		var zs, orc, proto, zst, secs float64
		for _, seed := range seeds {
			z, err := e.Evaluate(ctx, tk, nil, seed)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.safetensors", tc.id, seed))
			start := time.Now()
			if _, err := e.Train(ctx, tk, seed, opts, path); err != nil {
				t.Fatal(err)
			}
			secs += time.Since(start).Seconds()
			s, snaps, _, err := lora.ReadSnapshots(path)
			if err != nil {
				t.Fatal(err)
			}
			last, _ := lora.FromFlat(s, snaps[len(snaps)-1])
			o, err := e.Evaluate(ctx, tk, last, seed)
			if err != nil {
				t.Fatal(err)
			}
			mean := make([]float32, len(snaps[0]))
			for _, v := range snaps {
				for i, x := range v {
					mean[i] += x / float32(len(snaps))
				}
			}
			pa, _ := lora.FromFlat(s, mean)
			p, err := e.Evaluate(ctx, tk, pa, seed)
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.Evaluate(ctx, tk, last, seed)
			if err != nil {
				t.Fatal(err)
			}
			if again["i2t_r1"] != o["i2t_r1"] || again["t2i_r10"] != o["t2i_r10"] {
				t.Errorf("%s seed %d: evaluating the same adapter twice gave %v and %v", tc.id, seed, o, again)
			}
			zs += z["i2t_r1"]
			orc += o["i2t_r1"]
			proto += p["i2t_r1"]
			zst += z["t2i_r1"]
		}
		k := float64(len(seeds))
		zs, orc, proto, zst, secs = zs/k, orc/k, proto/k, zst/k, secs/k
		t.Logf("%-26s %8.1f %8.1f %8.1f %8.1f %9.2f", tc.id, zs, orc, proto, zst, secs)
		if tc.strong {
			chance := 100.0 / float64(10*e.cfg.TestPerClass)
			if orc < zs+10 {
				t.Errorf("%s: oracle %.1f is not 10 points above zero-shot %.1f", tc.id, orc, zs)
			}
			if zs < 3*chance || zs > 80 {
				t.Errorf("%s: zero-shot %.1f outside [3×chance = %.1f, 80]", tc.id, zs, 3*chance)
			}
		}
	}
}
