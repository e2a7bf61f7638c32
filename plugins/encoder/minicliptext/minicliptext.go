// Package minicliptext is the encoder that embeds task descriptions with the text tower
// of the miniclip backbone, as the paper embeds them with CLIP's own text tower: the
// description's mean GloVe vector goes through the pretrained text MLP into the joint
// image–text space, unit-normalised.
package minicliptext

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/plugins/evaluator/miniclip"
)

// Name is the encoder's name, in experiment files and in its Info.
const Name = "miniclip-text"

// Version is reported by Info; it changes whenever an embedding could.
const Version = "0.1.0"

// Config is the plugin's parameter block.
type Config struct {
	Checkpoint string `param:"checkpoint" doc:"miniclip backbone checkpoint whose text tower embeds descriptions; empty uses the shipped one (use the evaluator's checkpoint)"`
}

// Encoder implements plugin.Encoder. It is safe for concurrent use.
type Encoder struct {
	log hclog.Logger

	mu    sync.Mutex
	cfg   Config
	model *miniclip.Model
}

var _ plugin.Encoder = (*Encoder)(nil)

// New returns an encoder using the shipped checkpoint.
func New() *Encoder { return &Encoder{log: hclog.NewNullLogger()} }

// SetLogger receives the plugin process's logger (rpc.Serve).
func (e *Encoder) SetLogger(l hclog.Logger) { e.log = l }

// Info describes the plugin.
func (e *Encoder) Info(ctx context.Context) (plugin.Info, error) {
	e.mu.Lock()
	cfg := e.cfg
	e.mu.Unlock()
	ps, err := params.Describe(&cfg)
	if err != nil {
		return plugin.Info{}, fmt.Errorf("encoder %s: %w", Name, err)
	}
	return plugin.Info{
		Kind:    plugin.KindEncoder,
		Name:    Name,
		Version: Version,
		Description: "the miniclip backbone's text tower (mean GloVe vector → pretrained MLP → unit vector " +
			"in the joint image-text space), as the paper embeds descriptions with CLIP's text tower",
		Params: ps,
	}, nil
}

// Configure replaces the configuration; a checkpoint is loaded and validated here.
func (e *Encoder) Configure(ctx context.Context, p plugin.Params) error {
	var cfg Config
	if err := params.Decode(p, &cfg); err != nil {
		return fmt.Errorf("encoder %s: %w", Name, err)
	}
	m, err := load(cfg)
	if err != nil {
		return fmt.Errorf("encoder %s: parameter %q: %w", Name, "checkpoint", err)
	}
	e.mu.Lock()
	e.cfg, e.model = cfg, m
	e.mu.Unlock()
	return nil
}

func load(cfg Config) (*miniclip.Model, error) {
	if cfg.Checkpoint == "" {
		return miniclip.Default()
	}
	return miniclip.Load(cfg.Checkpoint)
}

// Embed returns one unit vector per text. A text with no word the word vectors know is
// an error naming it; unknown words in other texts are skipped.
func (e *Encoder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	if e.model == nil {
		m, err := load(e.cfg)
		if err != nil {
			e.mu.Unlock()
			return nil, fmt.Errorf("encoder %s: %w", Name, err)
		}
		e.model = m
	}
	m := e.model
	e.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := m.EmbedTexts(texts)
	if err != nil {
		return nil, fmt.Errorf("encoder %s: %w", Name, err)
	}
	e.log.Debug("embedded", "texts", len(texts))
	return out, nil
}
