// Package model is the numerics of miniclip, sglab's default backbone: a small CLIP-like
// dual encoder (a ViT image tower and a GloVe-bag text tower meeting in a joint space),
// trained with a symmetric InfoNCE loss, and LoRA on the q/k/v projections of the image
// tower exactly where the paper adapts CLIP.
//
// Everything is hand-written forward and backward code, generic over the float type:
// the evaluator runs it in float32, the tests run the same code in float64 to check every
// backward pass against central finite differences. All loops run in a fixed order on one
// goroutine, so a seed always gives the same bits.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Float is the element type of the numerics.
type Float interface{ ~float32 | ~float64 }

// Config fixes the architecture. Zero values are invalid; use DefaultConfig.
type Config struct {
	ImageSize  int `json:"image_size"`  // square input side (28)
	Patch      int `json:"patch"`       // patch side; ImageSize must be a multiple
	Width      int `json:"width"`       // token width D of the image tower
	Heads      int `json:"heads"`       // attention heads; must divide Width
	Blocks     int `json:"blocks"`      // transformer blocks
	MLP        int `json:"mlp"`         // hidden width of each block's MLP
	Embed      int `json:"embed"`       // joint embedding size E
	WordDim    int `json:"word_dim"`    // size of the (frozen) word vectors fed to the text tower
	TextHidden int `json:"text_hidden"` // hidden width of the text tower's MLP

	// Pixels enter as (x − PixelMean) / PixelStd.
	PixelMean float64 `json:"pixel_mean"`
	PixelStd  float64 `json:"pixel_std"`
}

// DefaultConfig is the architecture of the shipped checkpoint: small enough that one
// LoRA training run takes a few seconds on one core.
func DefaultConfig() Config {
	return Config{
		ImageSize: 28, Patch: 7, Width: 32, Heads: 4, Blocks: 2, MLP: 64,
		Embed: 32, WordDim: 100, TextHidden: 64,
		PixelMean: 0.25, PixelStd: 0.35,
	}
}

// Validate reports the first inconsistent field.
func (c Config) Validate() error {
	switch {
	case c.ImageSize <= 0 || c.Patch <= 0 || c.ImageSize%c.Patch != 0:
		return fmt.Errorf("model: image size %d is not a positive multiple of patch %d", c.ImageSize, c.Patch)
	case c.Width <= 0 || c.Heads <= 0 || c.Width%c.Heads != 0:
		return fmt.Errorf("model: width %d is not a positive multiple of heads %d", c.Width, c.Heads)
	case c.Blocks <= 0 || c.MLP <= 0 || c.Embed <= 0 || c.WordDim <= 0 || c.TextHidden <= 0:
		return fmt.Errorf("model: blocks %d, mlp %d, embed %d, word_dim %d and text_hidden %d must be positive",
			c.Blocks, c.MLP, c.Embed, c.WordDim, c.TextHidden)
	case !(c.PixelStd > 0) || math.IsInf(c.PixelStd, 0) || math.IsNaN(c.PixelMean) || math.IsInf(c.PixelMean, 0):
		return fmt.Errorf("model: pixel mean %v and std %v must be finite and std positive", c.PixelMean, c.PixelStd)
	}
	return nil
}

// Grid is the number of patches per side.
func (c Config) Grid() int { return c.ImageSize / c.Patch }

// Tokens is the sequence length: one CLS token plus one per patch.
func (c Config) Tokens() int { return 1 + c.Grid()*c.Grid() }

// PatchDim is the number of pixels in one patch.
func (c Config) PatchDim() int { return c.Patch * c.Patch }

// Pixels is the number of pixels in one image.
func (c Config) Pixels() int { return c.ImageSize * c.ImageSize }

// Tensor names one parameter tensor and where it lives in the flat parameter vector.
type Tensor struct {
	Name   string
	Shape  []int
	Offset int
}

// Size is the number of elements.
func (t Tensor) Size() int {
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	return n
}

// Layout lists the model's tensors in flat order. Names follow CLIP / PEFT habits so a
// reader of a checkpoint recognises them. Within a block the q, k and v projections are
// stored one after the other so they act as one 3D×D matrix.
func (c Config) Layout() []Tensor {
	d, m := c.Width, c.MLP
	var ts []Tensor
	off := 0
	add := func(name string, shape ...int) {
		t := Tensor{Name: name, Shape: shape, Offset: off}
		off += t.Size()
		ts = append(ts, t)
	}
	add("visual.patch_embed.weight", d, c.PatchDim())
	add("visual.patch_embed.bias", d)
	add("visual.class_embedding", d)
	add("visual.positional_embedding", c.Tokens(), d)
	for b := 0; b < c.Blocks; b++ {
		p := fmt.Sprintf("visual.blocks.%d.", b)
		add(p+"ln_1.weight", d)
		add(p+"ln_1.bias", d)
		add(p+"attn.q_proj.weight", d, d)
		add(p+"attn.k_proj.weight", d, d)
		add(p+"attn.v_proj.weight", d, d)
		add(p+"attn.q_proj.bias", d)
		add(p+"attn.k_proj.bias", d)
		add(p+"attn.v_proj.bias", d)
		add(p+"attn.out_proj.weight", d, d)
		add(p+"attn.out_proj.bias", d)
		add(p+"ln_2.weight", d)
		add(p+"ln_2.bias", d)
		add(p+"mlp.fc1.weight", m, d)
		add(p+"mlp.fc1.bias", m)
		add(p+"mlp.fc2.weight", d, m)
		add(p+"mlp.fc2.bias", d)
	}
	add("visual.ln_post.weight", d)
	add("visual.ln_post.bias", d)
	add("visual.proj", c.Embed, d)
	add("text.fc1.weight", c.TextHidden, c.WordDim)
	add("text.fc1.bias", c.TextHidden)
	add("text.fc2.weight", c.Embed, c.TextHidden)
	add("text.fc2.bias", c.Embed)
	add("logit_scale")
	return ts
}

// NumParams is the length of the flat parameter vector.
func (c Config) NumParams() int {
	ts := c.Layout()
	last := ts[len(ts)-1]
	return last.Offset + last.Size()
}

// Block holds views of one transformer block's parameters.
type Block[T Float] struct {
	LN1G, LN1B []T
	QKV        []T // 3D×D: W_q, W_k, W_v stacked
	QKVB       []T // 3D
	Out, OutB  []T // D×D, D
	LN2G, LN2B []T
	FC1, FC1B  []T // M×D, M
	FC2, FC2B  []T // D×M, D
}

// Weights holds views of every parameter tensor inside one flat vector. Gradients use the
// same type over a gradient vector.
type Weights[T Float] struct {
	PatchW, PatchB []T
	CLS, Pos       []T
	Blocks         []Block[T]
	LNPostG        []T
	LNPostB        []T
	Proj           []T // E×D
	TextW1, TextB1 []T // H×WordDim, H
	TextW2, TextB2 []T // E×H, E
	LogitScale     []T // one value: log of the logit scale
}

// Bind returns views of flat laid out as c.Layout(); flat must have c.NumParams() values.
func Bind[T Float](c Config, flat []T) Weights[T] {
	if len(flat) != c.NumParams() {
		panic(fmt.Sprintf("model: Bind got %d values, layout needs %d", len(flat), c.NumParams()))
	}
	ts := c.Layout()
	i := 0
	next := func() []T {
		t := ts[i]
		i++
		return flat[t.Offset : t.Offset+t.Size() : t.Offset+t.Size()]
	}
	span := func(n int) []T { // n consecutive tensors as one view
		start := ts[i].Offset
		end := ts[i+n-1].Offset + ts[i+n-1].Size()
		i += n
		return flat[start:end:end]
	}
	var w Weights[T]
	w.PatchW, w.PatchB, w.CLS, w.Pos = next(), next(), next(), next()
	w.Blocks = make([]Block[T], c.Blocks)
	for b := range w.Blocks {
		bl := &w.Blocks[b]
		bl.LN1G, bl.LN1B = next(), next()
		bl.QKV = span(3)
		bl.QKVB = span(3)
		bl.Out, bl.OutB = next(), next()
		bl.LN2G, bl.LN2B = next(), next()
		bl.FC1, bl.FC1B = next(), next()
		bl.FC2, bl.FC2B = next(), next()
	}
	w.LNPostG, w.LNPostB, w.Proj = next(), next(), next()
	w.TextW1, w.TextB1, w.TextW2, w.TextB2 = next(), next(), next(), next()
	w.LogitScale = next()
	return w
}

// MaxLogScale clamps the log logit scale as CLIP does (scale ≤ 100).
var MaxLogScale = math.Log(100)

// InitLogScale is CLIP's initial temperature 0.07.
var InitLogScale = math.Log(1 / 0.07)

// Model is the dual encoder's parameters.
type Model[T Float] struct {
	Cfg    Config
	Params []T
	W      Weights[T]
}

// New returns a model initialised from rng: truncated-free Gaussian weights scaled by
// fan-in (std 1/√in), zero biases, unit LayerNorm gains, small CLS and positional
// embeddings, and CLIP's initial temperature.
func New[T Float](c Config, rng *rand.Rand) (*Model[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Model[T]{Cfg: c, Params: make([]T, c.NumParams())}
	m.W = Bind(c, m.Params)
	gauss := func(dst []T, std float64) {
		for i := range dst {
			dst[i] = T(rng.NormFloat64() * std)
		}
	}
	ones := func(dst []T) {
		for i := range dst {
			dst[i] = 1
		}
	}
	d := c.Width
	w := m.W
	gauss(w.PatchW, 1/math.Sqrt(float64(c.PatchDim())))
	gauss(w.CLS, 0.02)
	gauss(w.Pos, 0.02)
	// Residual branches start small so the blocks begin close to the identity.
	resid := 1 / math.Sqrt(float64(2*c.Blocks))
	for _, b := range w.Blocks {
		ones(b.LN1G)
		ones(b.LN2G)
		gauss(b.QKV, 1/math.Sqrt(float64(d)))
		gauss(b.Out, resid/math.Sqrt(float64(d)))
		gauss(b.FC1, 1/math.Sqrt(float64(d)))
		gauss(b.FC2, resid/math.Sqrt(float64(c.MLP)))
	}
	ones(w.LNPostG)
	gauss(w.Proj, 1/math.Sqrt(float64(d)))
	gauss(w.TextW1, 1/math.Sqrt(float64(c.WordDim)))
	gauss(w.TextW2, 1/math.Sqrt(float64(c.TextHidden)))
	w.LogitScale[0] = T(InitLogScale)
	return m, nil
}

// FromParams wraps params (not copied) as a model of config c.
func FromParams[T Float](c Config, params []T) (*Model[T], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(params) != c.NumParams() {
		return nil, fmt.Errorf("model: %d parameters given, config needs %d", len(params), c.NumParams())
	}
	return &Model[T]{Cfg: c, Params: params, W: Bind(c, params)}, nil
}

// Scale is the logit scale exp(logit_scale), clamped to [1, 100].
func (m *Model[T]) Scale() T {
	return T(math.Exp(clampLogScale(float64(m.W.LogitScale[0]))))
}

func clampLogScale(v float64) float64 { return math.Max(0, math.Min(MaxLogScale, v)) }

// ClampLogScale clamps the temperature parameter in place, as CLIP does after every step.
func (m *Model[T]) ClampLogScale() {
	m.W.LogitScale[0] = T(clampLogScale(float64(m.W.LogitScale[0])))
}
