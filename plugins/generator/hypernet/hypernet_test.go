package hypernet

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/memory"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
)

func small(t *testing.T) *library.Library {
	t.Helper()
	lib, err := librarytest.New(librarytest.Options{Schema: librarytest.Schema(3, 6, 6, 2), Experts: 6, Snapshots: 8, Dim: 8}, 9)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func fit(t *testing.T, lib *library.Library, seed uint64) *Generator {
	t.Helper()
	g := New()
	if err := g.Configure(context.Background(), plugin.Params{"hidden": int64(64), "epochs": int64(150), "batch_size": int64(8)}); err != nil {
		t.Fatal(err)
	}
	if err := g.FitLibrary(context.Background(), lib, seed); err != nil {
		t.Fatal(err)
	}
	return g
}

func dist(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// TestLearnsTheLibrary: the loss falls, and at an expert's own description the MLP
// emits an adapter nearer that expert's prototype than any other's.
func TestLearnsTheLibrary(t *testing.T) {
	lib := small(t)
	means := lib.Means()
	g := fit(t, lib, 1)
	f, _ := g.Fitted()
	if l := f.losses; !(l[len(l)-1] < 0.1*l[0]) {
		t.Fatalf("loss %v → %v", l[0], l[len(l)-1])
	}
	for k, e := range lib.Experts {
		ads, err := g.Generate(context.Background(), e.Embedding, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		if dist(ads[0].Params, ads[1].Params) != 0 {
			t.Fatal("copies differ")
		}
		own := dist(ads[0].Params, means[k])
		for j := range means {
			if j != k && dist(ads[0].Params, means[j]) <= own {
				t.Fatalf("expert %d: own prototype at %v, expert %d's at %v", k, own, j, dist(ads[0].Params, means[j]))
			}
		}
	}
	// The same seed trains the same network.
	a, _ := g.Generate(context.Background(), lib.Experts[0].Embedding, 1, 0)
	b, _ := fit(t, small(t), 1).Generate(context.Background(), lib.Experts[0].Embedding, 1, 0)
	if dist(a[0].Params, b[0].Params) != 0 {
		t.Fatal("same seed, different network")
	}
}

func TestPluginSurface(t *testing.T) {
	ctx := context.Background()
	g := New()
	for key, p := range map[string]plugin.Params{
		"hiden": {"hiden": int64(3)}, "hidden": {"hidden": int64(0)}, "lr": {"lr": -1.0}, "epochs": {"epochs": 2.5},
	} {
		if err := g.Configure(ctx, p); err == nil || !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Errorf("Configure(%v) = %v", p, err)
		}
	}
	info, _ := g.Info(ctx)
	if info.Name != "hypernet" || !strings.Contains(info.Description, "Charakorn") || len(info.Params) != 5 {
		t.Fatalf("info %+v", info)
	}
	lib := small(t)
	if _, err := g.Generate(ctx, lib.Experts[0].Embedding, 1, 0); err == nil {
		t.Fatal("Generate before Fit")
	}
	dir := t.TempDir()
	pl := plugin.Library{Schema: lib.Schema}
	for _, e := range lib.Experts {
		path := filepath.Join(dir, e.ID+".safetensors")
		if err := lora.WriteSnapshots(path, lib.Schema, e.Snapshots, nil); err != nil {
			t.Fatal(err)
		}
		pl.Experts = append(pl.Experts, plugin.Expert{ID: e.ID, Embedding: e.Embedding, SnapshotPath: path})
	}
	if err := g.Configure(ctx, plugin.Params{"epochs": int64(3), "hidden": int64(8)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Fit(ctx, pl, 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target []float32
		n      int
	}{{[]float32{1}, 1}, {make([]float32, 8), 1}, {lib.Experts[0].Embedding, 0}} {
		if _, err := g.Generate(ctx, tc.target, tc.n, 0); err == nil {
			t.Errorf("Generate(%v, %d) accepted", tc.target, tc.n)
		}
	}
}

// TestFitRefusesWhatCannotFit: a hidden width within Configure's bound whose network
// would not fit in memory is refused by Fit with a message, before any allocation.
func TestFitRefusesWhatCannotFit(t *testing.T) {
	if memory.Physical() == 0 {
		t.Skip("memory size unknown here")
	}
	cfg := DefaultConfig()
	cfg.Hidden = 1 << 20
	_, err := train(context.Background(), cfg, small(t), 1, hclog.NewNullLogger())
	if err == nil || !strings.Contains(err.Error(), "lower hidden") {
		t.Fatalf("train = %v, want a refusal naming the memory", err)
	}
}
