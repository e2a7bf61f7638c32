// Package hypernet is the "hypernet" baseline in the style of Text-to-LoRA
// (Charakorn et al. 2025, "Text-to-LoRA: Instant Transformer Adaption"): an MLP maps
// the task description's embedding straight to a LoRA, trained by reconstruction of
// the library's snapshots. T2L's hypernetwork also takes learned embeddings of the
// layer and module it emits and shares one output head across them; with sglab's
// adapters (tens of modules) the MLP here emits the whole flattened [B; A] vector at
// once. It is deterministic: one adapter per description, repeated n times.
package hypernet

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/memory"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/mlp"
	"github.com/sglab/sglab/internal/generator/shell"
)

// Name and Version identify the plugin.
const (
	Name    = "hypernet"
	Version = "0.1.0"
)

// Config is the plugin's parameter block.
type Config struct {
	Hidden    int     `param:"hidden" min:"1" max:"1048576" doc:"width of the MLP's two hidden ReLU layers; 256 as SG-LoRA's nets, so the comparison is of methods, not capacity"`
	Epochs    int     `param:"epochs" min:"1" max:"1048576" doc:"passes over all snapshots; 300 as SG-LoRA"`
	LR        float64 `param:"lr" above:"0" doc:"Adam learning rate; the common 1e-3"`
	BatchSize int     `param:"batch_size" min:"1" max:"1048576" doc:"snapshots per Adam step"`
	Normalize bool    `param:"normalize" doc:"z-score each LoRA tensor over the library before training and invert on output, as SG-LoRA does"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Hidden: 256, Epochs: 300, LR: 1e-3, BatchSize: 16, Normalize: true}
}

// The sizes' upper bound (max:"1048576") is far above any useful value and keeps
// hidden × P allocatable.

// Generator is the hypernet plugin: the generator shell around the MLP.
type Generator struct {
	*shell.Plugin[Config, *fitted]
}

type fitted struct {
	schema lora.Schema
	dim    int
	z      *library.ZScore
	layers [3]*mlp.Dense
	losses []float64
}

// New returns a generator with the default configuration.
func New() *Generator {
	return &Generator{shell.New(shell.Method[Config, *fitted]{
		Name:    Name,
		Version: Version,
		Description: "Text-to-LoRA-style hypernetwork (Charakorn et al. 2025): an MLP from the description embedding " +
			"to the flattened adapter, trained by reconstructing the experts' snapshots; deterministic",
		Defaults: DefaultConfig,
		Refit:    true,
		Fit:      train,
		Generate: generate,
	})}
}

// unit writes e/‖e‖ into dst: the library ranks descriptions by cosine similarity, so
// the network sees embeddings on the unit sphere too.
func unit(dst, e []float32) {
	s := 0.0
	for _, v := range e {
		s += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(s))
	for i, v := range e {
		dst[i] = v * inv
	}
}

func train(ctx context.Context, cfg Config, lib *library.Library, seed uint64, log hclog.Logger) (*fitted, error) {
	P, D := lib.Schema.NumParams(), len(lib.Experts[0].Embedding)
	// Weights, gradients and Adam's two moments, 4 bytes each: refuse what would crash.
	h := float64(cfg.Hidden)
	if need, have := 16*(float64(D)*h+h*h+h*float64(P)), memory.Physical(); have > 0 && need > float64(have)/2 {
		return nil, fmt.Errorf("a hypernetwork of hidden width %d for %d LoRA parameters needs about %s for its weights and their training state; this machine has %s: lower hidden",
			cfg.Hidden, P, memory.Format(int64(min(need, 1<<62))), memory.Format(have))
	}
	z := library.Identity(lib.Schema)
	if cfg.Normalize {
		z = lib.ZScore()
	}
	r := rand.New(rand.NewPCG(seed, 1))
	f := &fitted{schema: lib.Schema, dim: D, z: z}
	f.layers = [3]*mlp.Dense{
		mlp.NewDense(D, cfg.Hidden, 2, r),
		mlp.NewDense(cfg.Hidden, cfg.Hidden, 2, r),
		mlp.NewDense(cfg.Hidden, P, 1, r),
	}
	var ps []mlp.Param
	for _, l := range f.layers {
		ps = append(ps, l.Params()...)
	}
	opt := mlp.NewAdam(cfg.LR, ps)
	embs := make([][]float32, len(lib.Experts))
	type pair struct{ e, s int }
	var pairs []pair
	for e, x := range lib.Experts {
		embs[e] = make([]float32, D)
		unit(embs[e], x.Embedding)
		for s := range x.Snapshots {
			pairs = append(pairs, pair{e, s})
		}
	}
	log.Info("training", "params", P, "snapshots", len(pairs), "epochs", cfg.Epochs)
	start := time.Now()
	B := cfg.BatchSize
	in, h1, h2 := make([]float32, B*D), make([]float32, B*cfg.Hidden), make([]float32, B*cfg.Hidden)
	x, xhat, dx := make([]float32, B*P), make([]float32, B*P), make([]float32, B*P)
	dh1, dh2 := make([]float32, B*cfg.Hidden), make([]float32, B*cfg.Hidden)
	var scratch mlp.Scratch
	for epoch := range cfg.Epochs {
		r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		loss := 0.0
		for lo := 0; lo < len(pairs); lo += B {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			chunk := pairs[lo:min(lo+B, len(pairs))]
			n := len(chunk)
			for i, p := range chunk {
				copy(in[i*D:(i+1)*D], embs[p.e])
				z.Normalize(x[i*P:(i+1)*P], lib.Experts[p.e].Snapshots[p.s])
			}
			f.forward(h1, h2, xhat, in, n)
			inv := float32(1 / float64(n))
			for i := range xhat[:n*P] {
				d := xhat[i] - x[i]
				loss += float64(d * d)
				dx[i] = 2 * d * inv
			}
			f.layers[2].Backward(dh2, h2, dx, n, 0, &scratch)
			mlp.ReLUBackward(dh2[:n*cfg.Hidden], h2)
			f.layers[1].Backward(dh1, h1, dh2, n, 0, &scratch)
			mlp.ReLUBackward(dh1[:n*cfg.Hidden], h1)
			f.layers[0].Backward(nil, in, dh1, n, 0, &scratch)
			opt.Step()
		}
		f.losses = append(f.losses, loss/float64(len(pairs)))
		if epoch == 0 || (epoch+1)%max(1, cfg.Epochs/10) == 0 {
			log.Debug("epoch", "epoch", epoch+1, "loss", f.losses[epoch], "elapsed", time.Since(start))
		}
	}
	log.Info("trained", "loss", f.losses[len(f.losses)-1], "elapsed", time.Since(start))
	lib.DropSnapshots()
	for _, l := range f.layers {
		l.Freeze()
	}
	return f, nil
}

// forward runs the MLP on n unit embeddings.
func (f *fitted) forward(h1, h2, out, in []float32, n int) {
	H := f.layers[0].Out
	f.layers[0].Forward(h1, in, n)
	mlp.ReLU(h1[:n*H], h1[:n*H])
	f.layers[1].Forward(h2, h1, n)
	mlp.ReLU(h2[:n*H], h2[:n*H])
	f.layers[2].Forward(out, h2, n)
}

// generate returns the adapter the MLP emits for target, which the shell repeats.
func generate(_ Config, f *fitted, target []float32, _ int, _ uint64, _ hclog.Logger) ([][]float32, error) {
	in := make([]float32, f.dim)
	unit(in, target)
	for _, v := range in {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("target embedding is zero or not finite")
		}
	}
	H := f.layers[0].Out
	out := make([]float32, f.schema.NumParams())
	f.forward(make([]float32, H), make([]float32, H), out, in, 1)
	f.z.Denormalize(out, out)
	return [][]float32{out}, nil
}
