package sglora

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

// small is a library of 6 experts × 8 snapshots of a 72-parameter schema.
func small(t *testing.T, seed uint64) *library.Library {
	t.Helper()
	lib, err := librarytest.New(librarytest.Options{Schema: librarytest.Schema(3, 6, 6, 2), Experts: 6, Snapshots: 8, Dim: 8}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// smallConfig shrinks the nets to the small library.
func smallConfig() Config {
	c := DefaultConfig()
	c.Latent, c.EncoderHidden, c.PriorHidden, c.DecoderHidden, c.ConditionDim = 4, 48, 32, 48, 16
	c.Epochs, c.BatchSize = 150, 8
	return c
}

func fitWith(t *testing.T, cfg Config, lib *library.Library, seed uint64) *Generator {
	t.Helper()
	g := New()
	g.SetConfig(cfg)
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

// TestTrainingReconstructs: the loss falls, and each training snapshot passed through
// the encoder's mean and the decoder comes back with little of its variance lost.
func TestTrainingReconstructs(t *testing.T) {
	for _, tc := range []struct{ cond, decoder string }{
		{"concat", "direct"}, {"projection", "direct"}, {"projection", "residual"},
	} {
		t.Run(tc.cond+"/"+tc.decoder, func(t *testing.T) {
			lib := small(t, 1)
			snaps := make([][][]float32, len(lib.Experts))
			for e, x := range lib.Experts {
				snaps[e] = x.Snapshots
			}
			cfg := smallConfig()
			cfg.Condition, cfg.Decoder = tc.cond, tc.decoder
			f, err := train(context.Background(), cfg, lib, 7, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			if first, last := f.losses[0], f.losses[len(f.losses)-1]; !(last < 0.1*first) {
				t.Fatalf("loss %v → %v, want a tenfold fall", first, last)
			}
			conds, err := f.trainingConditions()
			if err != nil {
				t.Fatal(err)
			}
			P := f.model.P
			var b batch
			var resid, total float64
			grand := make([]float64, P)
			count := 0.0
			for _, ss := range snaps {
				for _, x := range ss {
					for j, v := range x {
						grand[j] += float64(v)
					}
					count++
				}
			}
			for e, ss := range snaps {
				b.resize(f.model, len(ss))
				b.experts = b.experts[:0]
				for i, x := range ss {
					b.experts = append(b.experts, e)
					f.z.Normalize(b.x[i*P:(i+1)*P], x)
				}
				clear(b.eps) // decode the posterior mean
				f.model.forward(&b, conds)
				for i, x := range ss {
					out := append([]float32(nil), b.xhat[i*P:(i+1)*P]...)
					f.z.Denormalize(out, out)
					for j := range x {
						d := float64(out[j] - x[j])
						resid += d * d
						c := float64(x[j]) - grand[j]/count
						total += c * c
					}
				}
			}
			if fvu := resid / total; fvu > 0.05 {
				t.Fatalf("reconstruction leaves %.1f%% of the snapshots' variance unexplained", 100*fvu)
			}
		})
	}
}

// TestTargetAtAnExpert: a target whose embedding equals an expert's yields adapters
// closer to that expert's prototype than to any other expert's, and within a quarter
// of the distance from that prototype to the nearest other one, with either decoder.
func TestTargetAtAnExpert(t *testing.T) {
	for _, decoder := range []string{"direct", "residual"} {
		t.Run(decoder, func(t *testing.T) {
			lib := small(t, 2)
			means := lib.Means()
			cfg := smallConfig()
			cfg.Decoder = decoder
			g := fitWith(t, cfg, lib, 3)
			for k, e := range lib.Experts {
				ads, err := g.Generate(context.Background(), e.Embedding, 4, uint64(k))
				if err != nil {
					t.Fatal(err)
				}
				gap := math.Inf(1)
				for j := range means {
					if j != k {
						gap = min(gap, dist(means[j], means[k]))
					}
				}
				for i, a := range ads {
					own := dist(a.Params, means[k])
					if own > gap/4 {
						t.Fatalf("expert %d sample %d: distance to own prototype %v, to the nearest other prototype %v", k, i, own, gap)
					}
					for j := range means {
						if j != k && dist(a.Params, means[j]) <= own {
							t.Fatalf("expert %d sample %d: distance to own prototype %v, to expert %d's %v", k, i, own, j, dist(a.Params, means[j]))
						}
					}
				}
			}
		})
	}
}

func TestSeeds(t *testing.T) {
	lib := small(t, 3)
	cfg := smallConfig()
	cfg.Epochs = 20
	g := fitWith(t, cfg, lib, 5)
	target := []float32{1, -1, 0.5, 0, 2, 0.1, -0.3, 1}
	gen := func(g *Generator, seed uint64) []*lora.Adapter {
		t.Helper()
		a, err := g.Generate(context.Background(), target, 3, seed)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	same := func(a, b []*lora.Adapter) bool {
		for i := range a {
			for j := range a[i].Params {
				if a[i].Params[j] != b[i].Params[j] {
					return false
				}
			}
		}
		return true
	}
	a1, a2, b := gen(g, 1), gen(g, 1), gen(g, 2)
	if !same(a1, a2) {
		t.Fatal("same seed, different samples")
	}
	if same(a1, b) {
		t.Fatal("different seeds, same samples")
	}
	if dist(a1[0].Params, a1[1].Params) == 0 {
		t.Fatal("samples within one call are identical")
	}
	// Fitting again with the same seed gives the same model.
	if !same(a1, gen(fitWith(t, cfg, small(t, 3), 5), 1)) {
		t.Fatal("refitting with the same seed changed the samples")
	}
	if same(a1, gen(fitWith(t, cfg, small(t, 3), 6), 1)) {
		t.Fatal("a different fit seed gave the same samples")
	}
	// Decoding the prior mean is deterministic whatever the seed.
	cfg.Sample = "mean"
	gm := fitWith(t, cfg, small(t, 3), 5)
	m1, m2 := gen(gm, 1), gen(gm, 2)
	if !same(m1, m2) || dist(m1[0].Params, m1[2].Params) != 0 {
		t.Fatal("sample = \"mean\" is not deterministic")
	}
}

func TestLeaveOneOutAndStandardPriorTrain(t *testing.T) {
	cfg := smallConfig()
	cfg.Epochs = 30
	cfg.LeaveOneOut, cfg.Prior = true, "standard"
	g := fitWith(t, cfg, small(t, 4), 1)
	if _, err := g.Generate(context.Background(), make([]float32, 8), 1, 1); err == nil {
		t.Fatal("zero target accepted")
	}
	lib := small(t, 4)
	lib.Experts = lib.Experts[:1]
	g2 := New()
	g2.SetConfig(cfg)
	if err := g2.FitLibrary(context.Background(), lib, 1); err == nil || !strings.Contains(err.Error(), "leave_one_out") {
		t.Fatalf("leave-one-out with one expert: %v", err)
	}
}

func TestConfigure(t *testing.T) {
	g := New()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    plugin.Params
		want string // "" means accepted
	}{
		{"defaults", nil, ""},
		{"all options", plugin.Params{"top_k": int64(2), "tau": 0.5, "condition": "concat", "prior": "standard", "sample": "mean", "leave_one_out": true, "decoder": "residual"}, ""},
		{"unknown", plugin.Params{"topk": int64(3)}, `"topk"`},
		{"top_k", plugin.Params{"top_k": int64(0)}, `"top_k"`},
		{"tau", plugin.Params{"tau": -1.0}, `"tau"`},
		{"lr", plugin.Params{"lr": 0.0}, `"lr"`},
		{"kl_weight", plugin.Params{"kl_weight": -0.5}, `"kl_weight"`},
		{"prior", plugin.Params{"prior": "gaussian"}, `"prior"`},
		{"condition", plugin.Params{"condition": "film"}, `"condition"`},
		{"sample", plugin.Params{"sample": "max"}, `"sample"`},
		{"decoder", plugin.Params{"decoder": "delta"}, `"decoder"`},
		{"type", plugin.Params{"epochs": "ten"}, `"epochs"`},
		{"latent", plugin.Params{"latent": int64(0)}, `"latent"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := g.Configure(ctx, tc.p)
			if tc.want == "" && err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
	info, err := g.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != plugin.KindGenerator || info.Name != "sglora" || !strings.Contains(info.Description, "2509.10535") {
		t.Fatalf("info %+v", info)
	}
	names := map[string]string{}
	for _, p := range info.Params {
		names[p.Name] = p.Default
		if p.Doc == "" {
			t.Errorf("parameter %s undocumented", p.Name)
		}
	}
	if names["top_k"] != "4" || names["kl_weight"] != "1" || names["prior"] != `"learned"` || names["decoder"] != `"direct"` || len(names) != 17 {
		t.Fatalf("params %v", names)
	}
}

func TestFitFromFilesAndErrors(t *testing.T) {
	ctx := context.Background()
	lib := small(t, 5)
	dir := t.TempDir()
	pl := plugin.Library{Schema: lib.Schema}
	for _, e := range lib.Experts {
		path := filepath.Join(dir, e.ID+".safetensors")
		if err := lora.WriteSnapshots(path, lib.Schema, e.Snapshots, nil); err != nil {
			t.Fatal(err)
		}
		pl.Experts = append(pl.Experts, plugin.Expert{ID: e.ID, Embedding: e.Embedding, SnapshotPath: path})
	}
	g := New()
	if _, err := g.Generate(ctx, lib.Experts[0].Embedding, 1, 1); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Fatalf("Generate before Fit: %v", err)
	}
	if err := g.Configure(ctx, plugin.Params{"epochs": int64(5), "latent": int64(4), "encoder_hidden": int64(16), "prior_hidden": int64(16), "decoder_hidden": int64(16)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Fit(ctx, pl, 1); err != nil {
		t.Fatal(err)
	}
	ads, err := g.Generate(ctx, lib.Experts[0].Embedding, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 2 || lib.Schema.Compatible(ads[0].Schema) != nil || len(ads[0].Params) != lib.Schema.NumParams() {
		t.Fatalf("adapters %d of schema %v", len(ads), ads[0].Schema)
	}
	if _, err := g.Generate(ctx, lib.Experts[0].Embedding, 0, 1); err == nil {
		t.Fatal("n = 0 accepted")
	}
	if _, err := g.Generate(ctx, []float32{1, 2}, 1, 1); err == nil || !strings.Contains(err.Error(), "dimensions") {
		t.Fatalf("short target: %v", err)
	}
	pl.Schema = librarytest.Schema(3, 6, 6, 1)
	if err := g.Fit(ctx, pl, 1); err == nil || !strings.Contains(err.Error(), lib.Experts[0].ID) {
		t.Fatalf("schema mismatch: %v", err)
	}
	// A cancelled context stops training.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.FitLibrary(cctx, small(t, 5), 1); err == nil {
		t.Fatal("training ignored a cancelled context")
	}
}

// TestFitRefusesWhatCannotFit: widths within the bounds of Configure whose network
// would not fit in memory are refused by Fit with a message, before any allocation.
func TestFitRefusesWhatCannotFit(t *testing.T) {
	if memory.Physical() == 0 {
		t.Skip("memory size unknown here")
	}
	g := New()
	ctx := context.Background()
	if err := g.Configure(ctx, plugin.Params{"decoder_hidden": int64(1 << 20), "encoder_hidden": int64(1 << 20)}); err != nil {
		t.Fatal(err)
	}
	err := g.FitLibrary(ctx, small(t, 1), 1)
	if err == nil || !strings.Contains(err.Error(), "lower the widths") {
		t.Fatalf("Fit = %v, want a refusal naming the memory", err)
	}
	if err := g.Configure(ctx, plugin.Params{"latent": int64(1 << 30)}); err == nil || !strings.Contains(err.Error(), `"latent"`) {
		t.Errorf("latent 2^30 accepted: %v", err)
	}
}
