package sglora

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/gemm"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
	"github.com/sglab/sglab/internal/generator/mlp"
	"github.com/sglab/sglab/internal/membw"
)

// scale is one benchmark setting: a library shape and the nets sized for it.
type scale struct {
	name                    string
	modules, in, out, rank  int
	experts, snapshots, dim int
	hidden, latent, batch   int
	condition               string
	pool                    int // librarytest.Options.Pool
	genSnapshots            int // snapshots per expert when only generating
}

var (
	// The default world: a few q/k/v modules of a small image tower, 8 seen tasks ×
	// 10 snapshots, GloVe-sized embeddings, the plugin's defaults.
	defaultWorld = scale{name: "default", modules: 12, in: 32, out: 32, rank: 2, experts: 8, snapshots: 10, dim: 50,
		hidden: 256, latent: 16, batch: 16, condition: "projection", genSnapshots: 10}
	// The paper: rank-2 LoRA on q, k, v of the 12 blocks of ViT-B/16 (width 768):
	// P = 36 × 2 × 2 × 768 = 110,592; 100 experts × 100 snapshots.
	paper = scale{name: "paper", modules: 36, in: 768, out: 768, rank: 2, experts: 100, snapshots: 100, dim: 512,
		hidden: 512, latent: 64, batch: 64, condition: "projection", pool: 1 << 26, genSnapshots: 2}
)

func (s scale) config() Config {
	c := DefaultConfig()
	c.EncoderHidden, c.PriorHidden, c.DecoderHidden = s.hidden, s.hidden, s.hidden
	c.Latent, c.BatchSize, c.Condition = s.latent, s.batch, s.condition
	return c
}

func (s scale) library(b *testing.B, snapshots int) *library.Library {
	b.Helper()
	lib, err := librarytest.New(librarytest.Options{
		Schema: librarytest.Schema(s.modules, s.in, s.out, s.rank), Experts: s.experts, Snapshots: snapshots, Dim: s.dim, Pool: s.pool,
	}, 1)
	if err != nil {
		b.Fatal(err)
	}
	return lib
}

// BenchmarkGenerate times Generate (top-K, the condition's features from the tables,
// prior, decoder, denormalisation) for batches of 1 and 10, and at paper scale the
// tables' construction. The model is untrained, which does not change the work.
// "cold" evicts the caches before every call, as a generation that follows other work
// sees; the marginal cost of a sample is (batch 10 − batch 1)/9.
func BenchmarkGenerate(b *testing.B) {
	for _, s := range []scale{defaultWorld, paper} {
		lib := s.library(b, s.genSnapshots)
		cfg := s.config()
		g := New()
		g.SetConfig(cfg)
		f := &fitted{cfg: cfg, lib: lib, z: lib.ZScore()}
		for _, x := range lib.Experts {
			m, v := make([]float32, len(x.Mean)), make([]float32, len(x.Mean))
			f.z.Normalize(m, x.Mean)
			f.z.NormalizeVar(v, x.Var)
			f.means, f.vars = append(f.means, m), append(f.vars, v)
		}
		lib.DropSnapshots()
		f.model = newCVAE(cfg, lib.Schema.NumParams(), rand.New(rand.NewPCG(1, 1)))
		f.freeze()
		g.SetFitted(f, lib.Schema, s.dim)
		target := make([]float32, s.dim)
		for i := range target {
			target[i] = float32(i%7) - 3
		}
		if s.name == paper.name {
			// Tabulating the projection for every mixture, once per fit (mixtures.go).
			b.Run(fmt.Sprintf("%s/P=%d/experts=%d/tables", s.name, lib.Schema.NumParams(), s.experts), func(b *testing.B) {
				for b.Loop() {
					newMixtures(f.model.proj, f.means, f.vars)
				}
			})
			// The limit of batch-1 generation: reading the decoder's last layer once
			// from memory, measured as a parallel read of as many bytes.
			buf := make([]float32, s.hidden*lib.Schema.NumParams())
			for i := range buf {
				buf[i] = 1 // touch every page before timing
			}
			for _, cold := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/P=%d/stream-read/cold=%v", s.name, lib.Schema.NumParams(), cold), func(b *testing.B) {
					b.SetBytes(int64(4 * len(buf)))
					membw.Repeat(b, cold, func(int) { streamSink += membw.Read(buf) })
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/read")
				})
			}
		}
		for _, n := range []int{1, 10} {
			for _, cold := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/P=%d/batch=%d/cold=%v", s.name, lib.Schema.NumParams(), n, cold), func(b *testing.B) {
					membw.Repeat(b, cold, func(i int) {
						if _, err := g.Generate(context.Background(), target, n, uint64(i)); err != nil {
							b.Fatal(err)
						}
					})
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n)/1000, "ms/sample")
				})
			}
		}
	}
}

var streamSink float32

// BenchmarkTrainEpoch times one epoch of training on the default world's library,
// setup (z-score, conditions, initialisation) included.
func BenchmarkTrainEpoch(b *testing.B) {
	s := defaultWorld
	lib := s.library(b, s.snapshots)
	cfg := s.config()
	cfg.Epochs = 1
	b.Run(fmt.Sprintf("%s/P=%d/experts=%d/snapshots=%d", s.name, lib.Schema.NumParams(), s.experts, s.snapshots), func(b *testing.B) {
		for b.Loop() {
			l := &library.Library{Schema: lib.Schema, Experts: slices.Clone(lib.Experts)}
			if _, err := train(context.Background(), cfg, l, 1, hclog.NewNullLogger()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTrainBatchPaper times one Adam step (forward, backward, update) on a batch
// of 64 paper-scale snapshots from 64 different experts, the worst case for the
// condition projection. An epoch over 100 × 100 snapshots is 157 such steps.
func BenchmarkTrainBatchPaper(b *testing.B) {
	s := paper
	cfg := s.config()
	P := s.modules * 2 * s.rank * s.in
	r := rand.New(rand.NewPCG(1, 2))
	m := newCVAE(cfg, P, r)
	opt := mlp.NewAdam(cfg.LR, m.params())
	conds := make([][]float32, s.experts)
	for e := range conds {
		conds[e] = make([]float32, 2*P)
		for j := range conds[e] {
			conds[e][j] = float32(r.NormFloat64())
		}
	}
	var bt batch
	bt.resize(m, s.batch)
	for i := range s.batch {
		bt.experts = append(bt.experts, i%s.experts)
	}
	for i := range bt.x {
		bt.x[i] = float32(r.NormFloat64())
	}
	for i := range bt.eps {
		bt.eps[i] = float32(r.NormFloat64())
	}
	step := func() {
		m.forward(&bt, conds)
		m.backward(&bt)
		opt.Step()
	}
	// One step before timing: its first touch of Adam's moments (1 GB of fresh pages
	// at paper scale) costs seconds on this machine and belongs to no later step.
	step()
	flops := stepFlops(m, s.batch, s.experts)
	b.Run(fmt.Sprintf("P=%d/batch=%d/hidden=%d/latent=%d/params=%d/kernel=%s", P, s.batch, s.hidden, s.latent, m.numParams(), gemm.Kernel()), func(b *testing.B) {
		for b.Loop() {
			step()
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// stepFlops counts the multiply-adds (2 flops each) of one training step's products on
// a batch of n snapshots from min(n, experts) experts: forward and weight gradient of
// every layer, the input gradient of every layer but the projection (its input is
// data) and the first encoder layer, which passes a gradient to its condition columns
// only. The elementwise work and Adam are not counted: GFLOP/s of a step against the
// kernel's on the same shapes (framework/gemm BenchmarkTraining) is the share of the
// step spent at the kernel's rate.
func stepFlops(m *cvae, n, experts int) float64 {
	var f float64
	for _, l := range m.layers() {
		rows := float64(n)
		if l.d == m.proj {
			rows = float64(min(n, experts))
		}
		in, out := float64(l.d.In), float64(l.d.Out)
		f += 4 * rows * in * out // forward, weight gradient
		switch l.d {
		case m.proj:
		case m.enc1:
			f += 2 * rows * float64(m.CDim) * out
		default:
			f += 2 * rows * in * out
		}
	}
	return f
}

// BenchmarkTrainEpochPaper runs one full epoch at paper scale: 100 experts × 100
// snapshots of 110,592 parameters (the snapshots are windows into one shared random
// pool to keep the benchmark's memory near 2.5 GB instead of 7 GB; the work is the
// same). It takes minutes: run it alone with -benchtime 1x.
func BenchmarkTrainEpochPaper(b *testing.B) {
	s := paper
	lib := s.library(b, s.snapshots)
	cfg := s.config()
	cfg.Epochs = 1
	b.Run(fmt.Sprintf("P=%d/experts=%d/snapshots=%d/batch=%d", lib.Schema.NumParams(), s.experts, s.snapshots, s.batch), func(b *testing.B) {
		for b.Loop() {
			l := &library.Library{Schema: lib.Schema, Experts: slices.Clone(lib.Experts)}
			if _, err := train(context.Background(), cfg, l, 1, hclog.NewNullLogger()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
