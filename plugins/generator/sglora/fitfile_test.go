package sglora

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/gemm"
	"github.com/sglab/sglab/framework/plugin"
)

// TestSaveLoadFitBitIdentical: a fit saved and loaded into a fresh generator generates
// the very adapters the original does for the same target and seed, for every
// combination of condition, prior and decoder; a loaded fit refuses another library or
// configuration.
func TestSaveLoadFitBitIdentical(t *testing.T) {
	ctx := context.Background()
	variants := map[string]func(*Config){
		"default": func(*Config) {},
		"concat": func(c *Config) {
			c.Condition = "concat"
			c.Prior = "standard"
			c.Decoder = "residual"
			c.Normalize = false
		},
		"odd-dims": func(c *Config) { c.DecoderHidden = 37; c.PriorHidden = 19; c.Latent = 3 },
	}
	for name, edit := range variants {
		t.Run(name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.Epochs = 20
			edit(&cfg)
			lib := small(t, 7)
			pl := plugin.Library{Schema: lib.Schema}
			for _, e := range lib.Experts {
				pl.Experts = append(pl.Experts, plugin.Expert{ID: e.ID, Description: e.Description, Embedding: e.Embedding})
			}
			g := fitWith(t, cfg, lib, 3)
			path := filepath.Join(t.TempDir(), "fit.safetensors")
			if err := g.SaveFit(ctx, path); err != nil {
				t.Fatal(err)
			}
			h := New()
			h.SetConfig(cfg)
			if err := h.LoadFit(ctx, path, pl); err != nil {
				t.Fatal(err)
			}
			target := append([]float32(nil), lib.Experts[1].Embedding...)
			target[0] += 0.3
			for _, seed := range []uint64{1, 99} {
				a, err := g.Generate(ctx, target, 4, seed)
				if err != nil {
					t.Fatal(err)
				}
				b, err := h.Generate(ctx, target, 4, seed)
				if err != nil {
					t.Fatal(err)
				}
				for i := range a {
					for j := range a[i].Params {
						if math.Float32bits(a[i].Params[j]) != math.Float32bits(b[i].Params[j]) {
							t.Fatalf("seed %d sample %d parameter %d: %v after load, %v before", seed, i, j, b[i].Params[j], a[i].Params[j])
						}
					}
				}
			}

			// A loaded fit saves again to a file that loads to the same generator.
			path2 := filepath.Join(t.TempDir(), "fit2.safetensors")
			if err := h.SaveFit(ctx, path2); err != nil {
				t.Fatal(err)
			}

			bad := pl
			bad.Experts = append([]plugin.Expert(nil), pl.Experts...)
			bad.Experts[2].ID = "other"
			if err := h.LoadFit(ctx, path, bad); err == nil || !strings.Contains(err.Error(), `"other"`) {
				t.Errorf("another expert: %v", err)
			}
			bad.Experts = append([]plugin.Expert(nil), pl.Experts...)
			emb := append([]float32(nil), pl.Experts[0].Embedding...)
			emb[0] += 1
			bad.Experts[0].Embedding = emb
			if err := h.LoadFit(ctx, path, bad); err == nil || !strings.Contains(err.Error(), "embedding") {
				t.Errorf("another embedding: %v", err)
			}
			other := h.Config()
			other.Tau *= 2
			h.SetConfig(other)
			if err := h.LoadFit(ctx, path, pl); err == nil || !strings.Contains(err.Error(), "configur") {
				t.Errorf("another configuration: %v", err)
			}
		})
	}
	if err := New().SaveFit(ctx, filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Errorf("SaveFit before Fit: %v", err)
	}
}

func TestUnpackIsInverseOfPack(t *testing.T) {
	for _, kn := range [][2]int{{1, 1}, {3, 16}, {5, 17}, {7, 33}, {2, 100}} {
		k, n := kn[0], kn[1]
		b := make([]float32, k*n)
		for i := range b {
			b[i] = float32(i) + 0.5
		}
		u := gemm.Pack(b, k, n, n).Unpack()
		for i := range b {
			if u[i] != b[i] {
				t.Fatalf("%d×%d: element %d is %v, want %v", k, n, i, u[i], b[i])
			}
		}
	}
}
