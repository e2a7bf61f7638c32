// Package glove is the default world's encoder plugin: it embeds a task description
// as the mean GloVe vector of its words (datasets/glove), standing in for the frozen
// CLIP text tower of the paper. Generators compare these vectors by cosine to find
// the experts nearest a novel task.
package glove

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"

	glovedata "github.com/sglab/sglab/datasets/glove"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
)

// Name is the encoder's name, in experiment files and in its Info.
const Name = "glove"

// Version is reported by Info; bump it when the embedding of a text changes.
const Version = "1.1.0"

// Config is the plugin's parameter block.
type Config struct {
	Normalize     bool    `param:"normalize" doc:"L2-normalise each embedding, so dot products are cosines and long and short descriptions weigh the same"`
	DropStopwords bool    `param:"drop_stopwords" doc:"drop function words (a, the, of, by, with, ...) before averaging; on by default because their shared vectors pull every description toward one direction and compress the cosine gaps between tasks"`
	Lexical       float64 `param:"lexical" min:"0" max:"1" doc:"weight β of a lexical channel: the description's words (numbers aside) hashed into 256 buckets, a bag of words. GloVe alone puts words that share contexts together (\"left\" and \"right\": cosine 0.98 between otherwise equal descriptions); the lexical channel tells them apart. See numeric for the default"`
	Numeric       float64 `param:"numeric" min:"0" max:"1" doc:"weight γ of a numeric channel: every number in the description (\"45\", \"1.5\") as a Gaussian bump on a log scale (σ 0.35 in ln units), so that quantities compare by ratio: 45 is near 60 (cosine 0.84) and far from 90 (0.24) or 0.3 (0). GloVe knows no numbers. The embedding is [√(1−β−γ)·g; √β·h; √γ·q] with g, h, q unit vectors (q = 0 when the text has no number), so cosine = (1−β−γ)·cos_g + β·cos_h + γ·cos_q. Defaults β = 0.4, γ = 0.3, chosen on the 18 seen targets of quickstart's transfer matrix (seeds 1–3; experiments/tasks/catalog.toml gives the description convention): the Spearman correlation between description similarity and an expert's R@1 gain was 0.35 for GloVe alone, 0.35 with β = 0.4 only, 0.39 with γ = 0.3 only and 0.38 with both, and the most similar other expert helped 14, 14, 15 and 17 of the 18 targets; with severity words instead of numbers (\"slightly rotated\") GloVe alone gave 0.28"`
	VectorsPath   string  `param:"vectors_path" doc:"a GloVe text file (e.g. glove.6B.100d.txt) to use instead of the shipped 50k-word subset"`
}

func defaults() Config {
	return Config{Normalize: true, DropStopwords: true, Lexical: 0.4, Numeric: 0.3}
}

// stopwords are pure function words. Negations ("no", "not", "without") and spatial
// words ("upside", "down") are kept: they change what a domain description means.
var stopwords = map[string]bool{
	"a": true, "an": true, "the": true,
	"of": true, "by": true, "with": true, "in": true, "on": true, "at": true, "to": true,
	"for": true, "from": true, "into": true, "onto": true, "as": true,
	"and": true, "or": true,
	"is": true, "are": true, "was": true, "were": true, "be": true, "been": true, "being": true,
	"it": true, "its": true, "this": true, "that": true, "these": true, "those": true,
	"which": true, "who": true, "whose": true,
}

// Encoder implements plugin.Encoder.
type Encoder struct {
	log hclog.Logger

	mu   sync.Mutex
	cfg  Config
	vecs *glovedata.Vectors // loaded on Configure or first Embed
}

var _ plugin.Encoder = (*Encoder)(nil)

// New returns an encoder with the default configuration.
func New() *Encoder { return &Encoder{cfg: defaults(), log: hclog.NewNullLogger()} }

// SetLogger receives the plugin process's logger (rpc.Serve).
func (e *Encoder) SetLogger(l hclog.Logger) { e.log = l }

// Info describes the plugin and its parameters with their defaults.
func (e *Encoder) Info(ctx context.Context) (plugin.Info, error) {
	d := defaults()
	ps, err := params.Describe(&d)
	if err != nil {
		return plugin.Info{}, fmt.Errorf("encoder glove: %w", err)
	}
	return plugin.Info{
		Kind:        plugin.KindEncoder,
		Name:        Name,
		Version:     Version,
		Description: "mean of GloVe 6B 100-d word vectors of a description's words (shipped 50k-word subset, or a GloVe text file)",
		Params:      ps,
	}, nil
}

// Configure replaces the configuration: keys absent from p take their defaults, not
// the values of an earlier Configure.
func (e *Encoder) Configure(ctx context.Context, p plugin.Params) error {
	cfg := defaults()
	var ps params.Problems
	decoded := params.Decode(p, &cfg)
	if !errors.As(decoded, &ps) && decoded != nil {
		return fmt.Errorf("encoder glove: %w", decoded)
	}
	switch { // out-of-range weights were refused by Decode and kept their defaults
	case cfg.Lexical+cfg.Numeric > 1:
		ps.Add("lexical", "%q + %q = %v must not exceed 1", "lexical", "numeric", cfg.Lexical+cfg.Numeric)
	case cfg.Lexical+cfg.Numeric > 0 && !cfg.Normalize:
		ps.Add("normalize", "%q and %q mix unit vectors and need normalize = true", "lexical", "numeric")
	}
	v, err := load(cfg)
	if err != nil {
		ps.Add("vectors_path", "%v", err)
	}
	if err := ps.Err(); err != nil {
		return fmt.Errorf("encoder glove: %w", err)
	}
	e.mu.Lock()
	e.cfg, e.vecs = cfg, v
	e.mu.Unlock()
	return nil
}

func load(cfg Config) (*glovedata.Vectors, error) {
	if cfg.VectorsPath != "" {
		return glovedata.LoadText(cfg.VectorsPath)
	}
	return glovedata.Load()
}

// Embed returns one vector per text. Unknown words are logged (stderr) and skipped; a
// text with no known word is an error naming it.
func (e *Encoder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	if e.vecs == nil {
		v, err := load(e.cfg)
		if err != nil {
			e.mu.Unlock()
			return nil, fmt.Errorf("encoder glove: %w", err)
		}
		e.vecs = v
	}
	cfg, vecs := e.cfg, e.vecs
	e.mu.Unlock()

	out := make([][]float32, len(texts))
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := embed(vecs, cfg, text, e.log)
		if err != nil {
			return nil, fmt.Errorf("encoder glove: text %d %q: %w", i, text, err)
		}
		out[i] = v
	}
	return out, nil
}

func embed(vecs *glovedata.Vectors, cfg Config, text string, log hclog.Logger) ([]float32, error) {
	tokens := glovedata.Tokenize(text)
	if cfg.DropStopwords {
		kept := tokens[:0:0]
		for _, t := range tokens {
			if !stopwords[t] {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 && len(tokens) > 0 {
			return nil, fmt.Errorf("only stopwords (set drop_stopwords = false to keep them)")
		}
		tokens = kept
	}
	words := tokens
	if cfg.Numeric > 0 {
		// Numbers belong to the numeric channel; the shipped vectors do not know them.
		words = slices.DeleteFunc(slices.Clone(tokens), isNumber)
	}
	v, unknown, err := vecs.EmbedTokens(words)
	if len(unknown) > 0 {
		log.Warn("unknown words skipped", "text", text, "words", unknown)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Normalize {
		if err := scaleToNorm(v, 1); err != nil {
			return nil, err
		}
	}
	if cfg.Lexical == 0 && cfg.Numeric == 0 {
		return v, nil
	}
	out := v
	if err := scaleToNorm(out, math.Sqrt(1-cfg.Lexical-cfg.Numeric)); err != nil {
		return nil, err
	}
	for _, part := range []struct {
		vec    []float32
		weight float64
	}{{lexical(tokens), cfg.Lexical}, {numeric(text), cfg.Numeric}} {
		// A channel with nothing in it (no number in the text) stays zero.
		if part.weight > 0 && !allZero(part.vec) {
			if err := scaleToNorm(part.vec, math.Sqrt(part.weight)); err != nil {
				return nil, err
			}
		} else {
			clear(part.vec)
		}
		out = append(out, part.vec...)
	}
	// Renormalise: when a channel is empty the others make up the unit norm.
	if err := scaleToNorm(out, 1); err != nil {
		return nil, err
	}
	return out, nil
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// The numeric channel: Gaussian bumps on ln|x| at centres from ln(1e-3) to ln(1e4).
const (
	numericLo    = -6.9 // ln(1e-3)
	numericStep  = 0.125
	numericSigma = 0.35
	numericBins  = 129 // up to ln(1e4) ≈ 9.2
)

var numberPattern = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?`)

// numeric encodes every nonzero number of text as a bump on a log scale. Two numbers'
// bumps have cosine ≈ exp(−(ln a − ln b)²/(4σ²)); the sum over a text's numbers is its
// channel.
func numeric(text string) []float32 {
	q := make([]float32, numericBins)
	for _, m := range numberPattern.FindAllString(text, -1) {
		x, err := strconv.ParseFloat(m, 64)
		if err != nil || x == 0 {
			continue
		}
		l := math.Log(x)
		for k := range q {
			d := (l - (numericLo + float64(k)*numericStep)) / numericSigma
			q[k] += float32(math.Exp(-d * d / 2))
		}
	}
	return q
}

// lexicalBuckets is the width of the lexical channel: with a few dozen distinct words in
// a catalog of descriptions, two words share a bucket rarely (and then only add to a
// similarity, never reorder a description against itself).
const lexicalBuckets = 256

// lexical counts tokens into hashed buckets: a bag of words in a fixed space, the same
// for every text and every vocabulary. Numbers are left to the numeric channel.
func lexical(tokens []string) []float32 {
	h := make([]float32, lexicalBuckets)
	for _, t := range tokens {
		if isNumber(t) {
			continue
		}
		f := fnv.New32a()
		f.Write([]byte(t))
		h[f.Sum32()%lexicalBuckets]++
	}
	return h
}

func isNumber(t string) bool {
	for _, r := range t {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// scaleToNorm rescales v in place to Euclidean norm n.
func scaleToNorm(v []float32, n float64) error {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return fmt.Errorf("mean vector is zero; cannot normalise")
	}
	inv := n / math.Sqrt(ss)
	for j, x := range v {
		v[j] = float32(float64(x) * inv)
	}
	return nil
}
