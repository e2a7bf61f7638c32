// Package sglora is the SG-LoRA generator (Li et al., "Semantic-guided LoRA
// Parameters Generation", arXiv 2509.10535), the method sglab reproduces. Fit
// normalises every expert snapshot, builds each expert's condition c = {μ*, σ*²} from
// its semantic top-K neighbours (package similarity) and trains a conditional VAE
// with a learned prior on all snapshots; Generate builds the novel task's condition
// from its description embedding the same way, draws z ~ p(z|c*) and decodes one
// LoRA per draw.
//
// What the paper fixes is fixed here: top-K = 4 by cosine similarity, α =
// softmax(sim/τ), the law-of-total-variance condition, a 2-layer ReLU encoder, a
// 2-layer ReLU learned prior, a 3-layer ReLU decoder, loss ‖X − X̂‖² + λ·KL with
// λ = 1, Adam. What it leaves open is a parameter with a documented default (Config);
// what it does not do at all (Config.Decoder = "residual") is an ablation off by default.
package sglora

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/memory"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/mlp"
	"github.com/sglab/sglab/internal/generator/shell"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// Name and Version identify the plugin.
const (
	Name    = "sglora"
	Version = "0.1.0"
)

// Config is the plugin's parameter block.
type Config struct {
	TopK          int     `param:"top_k" min:"1" max:"1048576" doc:"experts whose statistics form the condition; the paper's K = 4"`
	Tau           float64 `param:"tau" above:"0" doc:"softmax temperature of α = softmax(sim/τ) (not given in the paper); with 0.1, two experts whose cosine similarities differ by 0.1 get weights e ≈ 2.7× apart, so the nearest leads without silencing the rest"`
	Latent        int     `param:"latent" min:"1" max:"1048576" doc:"width of z (not given in the paper); 16 is ample for the within-task spread of a small library; use ~64 at paper scale"`
	EncoderHidden int     `param:"encoder_hidden" min:"1" max:"1048576" doc:"hidden width of the 2-layer encoder q(z|X,c) (not given in the paper); 256 at the default world's P ≈ 1–3k, ~512 at paper scale"`
	PriorHidden   int     `param:"prior_hidden" min:"1" max:"1048576" doc:"hidden width of the 2-layer learned prior p(z|c) (not given in the paper)"`
	DecoderHidden int     `param:"decoder_hidden" min:"1" max:"1048576" doc:"width of both hidden layers of the 3-layer decoder p(X|z,c) (not given in the paper); generation cost is P × this per sample"`
	Condition     string  `param:"condition" oneof:"concat|projection" doc:"how c = [μ*; σ*²] (2P numbers) enters the nets (not given in the paper): \"concat\" appends it to every net's input; \"projection\" first maps it linearly to condition_dim numbers shared by the three nets, a low-rank factorisation of concat's condition weights. Projection is the default because it works at every scale: paper scale (P = 110,592) needs it (concat would give each net 2P×hidden condition weights), and on a synthetic library of the default world's size (P = 1,536, 8 experts × 10 snapshots) it trained ~2× faster to a lower loss"`
	ConditionDim  int     `param:"condition_dim" min:"1" max:"1048576" doc:"width of the learned projection of c when condition = \"projection\""`
	Prior         string  `param:"prior" oneof:"learned|standard" doc:"\"learned\" p(z|c), as the paper, or \"standard\" N(0, I), the plain CVAE (ablation)"`
	KLWeight      float64 `param:"kl_weight" min:"0" doc:"λ in ‖X − X̂‖² + λ·KL(q‖p); the paper's λ = 1"`
	Epochs        int     `param:"epochs" min:"1" max:"1048576" doc:"passes over all snapshots (not given in the paper); on a synthetic 8-expert × 10-snapshot library of P = 1,536 the loss was still falling at 100 and near its floor by 300"`
	LR            float64 `param:"lr" above:"0" doc:"Adam learning rate (not given in the paper); the common 1e-3"`
	BatchSize     int     `param:"batch_size" min:"1" max:"1048576" doc:"snapshots per Adam step (not given in the paper)"`
	LeaveOneOut   bool    `param:"leave_one_out" doc:"build a training snapshot's condition from its expert's top-K neighbours without the expert itself (not given in the paper). false, the default, applies the paper's top-K rule unchanged, which ranks the task's own expert first, so the CVAE learns condition → that expert's snapshot distribution; true (ablation) trains on neighbours' statistics only, like test time, but with a small library it learns to map one expert's statistics to another's LoRA"`
	Normalize     bool    `param:"normalize" doc:"z-score each LoRA tensor (every module's A and B) by its mean and std over the library before training, invert after generation (not given in the paper; keeps small tensors from vanishing in the squared error)"`
	Sample        string  `param:"sample" oneof:"sample|mean" doc:"\"sample\" draws z ~ p(z|c*), as the paper, giving diverse LoRAs; \"mean\" decodes the prior mean, one deterministic LoRA repeated"`
	Decoder       string  `param:"decoder" oneof:"direct|residual" doc:"what the decoder's output is: \"direct\", as the paper, X̂ = dec(z, c); \"residual\" (ablation, not in the paper) X̂ = μ* + dec(z, c), the deviation from the condition's mean μ* (the α-weighted mean of the top-K prototypes, in normalised units when normalize is on), in training's reconstruction loss and in every generated sample alike"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		TopK: 4, Tau: 0.1, Latent: 16,
		EncoderHidden: 256, PriorHidden: 256, DecoderHidden: 256,
		Condition: "projection", ConditionDim: 64, Prior: "learned", KLWeight: 1,
		Epochs: 300, LR: 1e-3, BatchSize: 16, LeaveOneOut: false, Normalize: true, Sample: "sample",
		Decoder: "direct",
	}
}

// Widths, counts and epoch numbers are at most 1<<20 (max:"1048576"): far above any
// useful value, and low enough that products of two of them cannot overflow or be
// allocated by mistake.

// Generator is the SG-LoRA plugin: the generator shell around the CVAE, with SaveFit
// and LoadFit (fitfile.go).
type Generator struct {
	*shell.Plugin[Config, *fitted]
}

// fitted is what Generate needs; it is not modified after Fit.
type fitted struct {
	cfg    Config
	lib    *library.Library // embeddings for the top-K; snapshots dropped
	z      *library.ZScore
	means  [][]float32 // normalised prototypes
	vars   [][]float32 // normalised variances
	model  *cvae
	losses []float64 // mean training loss per epoch

	mixtures *mixtures // the projection of every mixture, set by freeze (projection only)
}

// freeze readies a trained or loaded fit for generation.
func (f *fitted) freeze() {
	if f.model.proj != nil {
		f.mixtures = newMixtures(f.model.proj, f.means, f.vars)
	}
	f.model.freeze()
}

// New returns a generator with the default configuration.
func New() *Generator {
	return &Generator{shell.New(shell.Method[Config, *fitted]{
		Name:    Name,
		Version: Version,
		Description: "SG-LoRA, Li et al., \"Semantic-guided LoRA Parameters Generation\" (arXiv 2509.10535): " +
			"the top-K experts nearest the task description give a condition {μ*, σ*²}; a CVAE with a learned prior " +
			"samples diverse LoRAs from it",
		Defaults: DefaultConfig,
		Refit:    true,
		Fit: func(ctx context.Context, cfg Config, lib *library.Library, seed uint64, log hclog.Logger) (*fitted, error) {
			f, err := train(ctx, cfg, lib, seed, log)
			if err != nil {
				return nil, err
			}
			f.freeze()
			return f, nil
		},
		Generate: generate,
	})}
}

// Random streams: the seed picks the sequence, the stream what it is used for.
const (
	streamFit      = 1
	streamGenerate = 2
)

// train fits the CVAE on every snapshot of lib (whose snapshots it then drops); the
// model is left trainable, with its encoder, for tests to inspect.
func train(ctx context.Context, cfg Config, lib *library.Library, seed uint64, log hclog.Logger) (*fitted, error) {
	E, P := len(lib.Experts), lib.Schema.NumParams()
	// Weights, gradients and Adam's two moments, 4 bytes each, and the projection's
	// tables for every mixture of the experts: refuse what would crash.
	need := 16 * modelWeights(cfg, P)
	if cfg.Condition == "projection" {
		need += 4 * mixtureRows(E) * float64(cfg.ConditionDim)
	}
	if have := memory.Physical(); have > 0 && need > float64(have)/2 {
		return nil, fmt.Errorf("the CVAE for %d LoRA parameters and %d experts with these widths (latent %d, hidden %d/%d/%d, condition %s of %d) needs about %s for its weights, their training state and the condition's tables; this machine has %s: lower the widths",
			P, E, cfg.Latent, cfg.EncoderHidden, cfg.PriorHidden, cfg.DecoderHidden, cfg.Condition, cfg.ConditionDim, memory.Format(int64(min(need, 1<<62))), memory.Format(have))
	}
	if cfg.LeaveOneOut && E < 2 {
		return nil, fmt.Errorf("leave_one_out needs at least 2 experts, the library has %d", E)
	}
	z := library.Identity(lib.Schema)
	if cfg.Normalize {
		z = lib.ZScore()
	}
	f := &fitted{cfg: cfg, lib: lib, z: z, means: make([][]float32, E), vars: make([][]float32, E)}
	for e, x := range lib.Experts {
		f.means[e] = make([]float32, P)
		f.vars[e] = make([]float32, P)
		z.Normalize(f.means[e], x.Mean)
		z.NormalizeVar(f.vars[e], x.Var)
	}
	conds, err := f.trainingConditions()
	if err != nil {
		return nil, err
	}

	r := rand.New(rand.NewPCG(seed, streamFit))
	m := newCVAE(cfg, P, r)
	opt := mlp.NewAdam(cfg.LR, m.params())
	type pair struct{ e, s int }
	var pairs []pair
	for e, x := range lib.Experts {
		for s := range x.Snapshots {
			pairs = append(pairs, pair{e, s})
		}
	}
	log.Info("training", "model", m.String(), "experts", E, "snapshots", len(pairs), "epochs", cfg.Epochs, "batch", cfg.BatchSize)
	start := time.Now()
	var b batch
	for epoch := range cfg.Epochs {
		r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		var recon, kl float64
		for lo := 0; lo < len(pairs); lo += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			chunk := pairs[lo:min(lo+cfg.BatchSize, len(pairs))]
			b.resize(m, len(chunk))
			b.experts = b.experts[:0]
			for i, p := range chunk {
				b.experts = append(b.experts, p.e)
				z.Normalize(b.x[i*P:(i+1)*P], lib.Experts[p.e].Snapshots[p.s])
			}
			for i := range b.eps {
				b.eps[i] = float32(r.NormFloat64())
			}
			rc, k := m.forward(&b, conds)
			m.backward(&b)
			opt.Step()
			recon += rc * float64(len(chunk))
			kl += k * float64(len(chunk))
		}
		recon /= float64(len(pairs))
		kl /= float64(len(pairs))
		f.losses = append(f.losses, recon+cfg.KLWeight*kl)
		if epoch == 0 || (epoch+1)%max(1, cfg.Epochs/10) == 0 {
			log.Debug("epoch", "epoch", epoch+1, "recon", recon, "kl", kl, "elapsed", time.Since(start))
		}
	}
	log.Info("trained", "loss", f.losses[len(f.losses)-1], "elapsed", time.Since(start))
	lib.DropSnapshots()
	f.model = m
	return f, nil
}

// trainingConditions returns each expert's condition, built from its own
// description as the target (without the expert itself under leave-one-out).
func (f *fitted) trainingConditions() ([][]float32, error) {
	embs := f.lib.Embeddings()
	conds := make([][]float32, len(embs))
	for e := range embs {
		exclude := -1
		if f.cfg.LeaveOneOut {
			exclude = e
		}
		ns, err := similarity.TopK(embs[e], embs, f.cfg.TopK, f.cfg.Tau, exclude)
		if err != nil {
			return nil, fmt.Errorf("condition of expert %q: %w", f.lib.Experts[e].ID, err)
		}
		conds[e] = f.condition(ns)
	}
	return conds, nil
}

// condition returns c = [μ*; σ*²] of the weighted neighbours, in normalised units.
func (f *fitted) condition(ns []similarity.Neighbour) []float32 {
	P := len(f.means[0])
	c := make([]float32, 2*P)
	similarity.Mixture(c[:P], c[P:], ns, f.means, f.vars)
	return c
}

// features returns the condition features ĉ of the weighted neighbours and, when the
// residual decoder or concatenated conditions need it, the raw condition's mean μ*.
// With a projection, ĉ comes from the tables, which is what keeps batch-1 generation
// near the cost of reading the decoder's last layer.
func (f *fitted) features(ns []similarity.Neighbour) (cf, mu []float32) {
	m := f.model
	if f.mixtures == nil || m.residual {
		c := f.condition(ns)
		cf, mu = c, c[:m.P]
	}
	if f.mixtures != nil {
		cf = make([]float32, m.CDim)
		f.mixtures.project(cf, ns)
	}
	return cf, mu
}

// generate samples n adapters for the target embedding, in the configuration f was
// fitted under.
func generate(_ Config, f *fitted, target []float32, n int, seed uint64, log hclog.Logger) ([][]float32, error) {
	ns, err := f.lib.Neighbours(target, f.cfg.TopK, f.cfg.Tau)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	log.Debug("neighbours", "experts", neighbourIDs(f.lib, ns))
	P, L := f.model.P, f.model.L
	s := f.model.newSampler(f.features(ns))
	var eps []float32
	if f.cfg.Sample == "sample" {
		r := rand.New(rand.NewPCG(seed, streamGenerate))
		eps = make([]float32, n*L)
		for i := range eps {
			eps[i] = float32(r.NormFloat64())
		}
	}
	out := make([]float32, n*P)
	s.decode(out, eps, n)
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = out[i*P : (i+1)*P : (i+1)*P]
		f.z.Denormalize(vs[i], vs[i])
	}
	return vs, nil
}

func neighbourIDs(lib *library.Library, ns []similarity.Neighbour) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf("%s:%.3f", lib.Experts[n.Index].ID, n.Weight)
	}
	return out
}
