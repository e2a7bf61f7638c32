package service

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
	"github.com/sglab/sglab/plugins/encoder/glove"
	"github.com/sglab/sglab/plugins/evaluator/miniclip"
	"github.com/sglab/sglab/plugins/generator/sglora"
)

// local is a fitted SG-LoRA with the GloVe encoder in this process: the service's work
// without the plugins' gRPC hops (a few hundred µs, see the runner's TestServe).
type local struct {
	enc *glove.Encoder
	gen *sglora.Generator
}

func (l local) Embed(ctx context.Context, d string) ([]float32, error) {
	vs, err := l.enc.Embed(ctx, []string{d})
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

func (l local) Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	return l.gen.Generate(ctx, target, n, seed)
}

// benchScale is a library shape and the SG-LoRA widths for it.
type benchScale struct {
	name                string
	schema              lora.Schema
	experts, snapshots  int
	hidden, latent, dim int
}

// fitLocal fits SG-LoRA (few epochs: training does not change generation's cost) on a
// synthetic library of random snapshots whose descriptions are real phrases, embedded
// by GloVe.
func fitLocal(b *testing.B, s benchScale) local {
	b.Helper()
	ctx := context.Background()
	enc := glove.New()
	if err := enc.Configure(ctx, plugin.Params{}); err != nil {
		b.Fatal(err)
	}
	words := []string{"rotated", "blurred", "noisy", "faded", "inverted", "pixelated", "left", "right", "digits", "clothing", "dark", "bright"}
	r := rand.New(rand.NewPCG(1, 2))
	dir := b.TempDir()
	lib := plugin.Library{Schema: s.schema}
	for e := range s.experts {
		d := fmt.Sprintf("%s %s %s %d degrees", words[e%12], words[(e/12+3)%12], words[(e+7)%12], 15*e)
		vs, err := enc.Embed(ctx, []string{d})
		if err != nil {
			b.Fatal(err)
		}
		snaps := make([][]float32, s.snapshots)
		for i := range snaps {
			snaps[i] = make([]float32, s.schema.NumParams())
			for j := range snaps[i] {
				snaps[i][j] = float32(r.NormFloat64()) * 0.05
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("e%d.safetensors", e))
		if err := lora.WriteSnapshots(path, s.schema, snaps, nil); err != nil {
			b.Fatal(err)
		}
		lib.Experts = append(lib.Experts, plugin.Expert{ID: fmt.Sprint("e", e), Description: d, Embedding: vs[0], SnapshotPath: path})
	}
	gen := sglora.New()
	if err := gen.Configure(ctx, plugin.Params{"epochs": int64(2), "latent": int64(s.latent),
		"encoder_hidden": int64(s.hidden), "prior_hidden": int64(s.hidden), "decoder_hidden": int64(s.hidden)}); err != nil {
		b.Fatal(err)
	}
	if err := gen.Fit(ctx, lib, 1); err != nil {
		b.Fatal(err)
	}
	return local{enc: enc, gen: gen}
}

// BenchmarkAdapters times POST /v1/adapters end to end over loopback HTTP (parse, embed,
// generate, PEFT-encode, zip, transfer), one request at a time, for 1 and 10 samples at
// the default world's scale (miniclip's schema, quickstart's 18 experts × 10 snapshots,
// SG-LoRA's default widths) and at the paper's (rank 2 on q, k, v of 12 blocks of width
// 768: 110,592 parameters; widths as its parameter docs advise there). It reports the
// median and 99th percentile latency.
func BenchmarkAdapters(b *testing.B) {
	info, err := miniclip.New().Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []benchScale{
		{name: "default", schema: info.Schema, experts: 18, snapshots: 10, hidden: 256, latent: 16},
		{name: "paper", schema: librarytest.Schema(36, 768, 768, 2), experts: 16, snapshots: 2, hidden: 512, latent: 64},
	} {
		var srv *httptest.Server
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/P=%d/samples=%d", s.name, s.schema.NumParams(), n), func(b *testing.B) {
				if srv == nil {
					srv = httptest.NewServer(New(Config{Gen: fitLocal(b, s), Backbone: "bench", MaxSamples: 10, Parallel: 1}))
				}
				body := fmt.Sprintf(`{"description": "handwritten digits rotated and blurred", "samples": %d, "seed": 3}`, n)
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for range b.N {
					t0 := time.Now()
					resp, err := http.Post(srv.URL+"/v1/adapters", "application/json", strings.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
						b.Fatalf("status %d, %v", resp.StatusCode, err)
					}
					resp.Body.Close()
					lat = append(lat, time.Since(t0))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
		if srv != nil {
			srv.Close()
		}
	}
}
