// Package shell is the plugin shell every built-in generator shares, merging
// (mean-lora, ties, ...) and trained (sglora, hypernet) alike: Info from the method's
// parameter struct, strict Configure, Fit on the library loaded from its snapshot
// files, Generate's checks and the adapters it returns. A method supplies its
// parameters, what fitting makes (F) and how it generates from that, nothing else.
package shell

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library"
)

// Method describes one generator. C is its parameter struct (params tags); F is what
// Fit makes and Generate reads, never modified after Fit.
type Method[C, F any] struct {
	Name        string
	Version     string
	Description string // says which paper defines the method
	Defaults    func() C
	// Check validates what the parameters' tags cannot (several parameters together, a
	// forbidden value); its errors name the parameter.
	Check func(C) error
	// Refit says the fit depends on the configuration (a trained network does), so
	// Configure discards it; a merging method's fit is the library, whatever its
	// parameters.
	Refit bool
	// Fit makes the method's fitted state from the library (snapshots, prototypes and
	// variances loaded) under configuration c.
	Fit func(ctx context.Context, c C, lib *library.Library, seed uint64, log hclog.Logger) (F, error)
	// Generate returns the flat adapters for target, whose width the shell has checked
	// against the library's: one vector for a deterministic method (the shell repeats
	// it n times) or n vectors for a seeded random one.
	Generate func(c C, f F, target []float32, n int, seed uint64, log hclog.Logger) ([][]float32, error)
}

// Plugin implements plugin.Generator around a Method.
type Plugin[C, F any] struct {
	m   Method[C, F]
	log hclog.Logger

	mu  sync.Mutex
	cfg C
	fit *fit[F] // nil before Fit
}

// fit is a fitted state with what the shell checks Generate against.
type fit[F any] struct {
	state  F
	schema lora.Schema
	dim    int // the experts' embedding width
}

// New returns the plugin with the method's defaults.
func New[C, F any](m Method[C, F]) *Plugin[C, F] {
	return &Plugin[C, F]{m: m, cfg: m.Defaults(), log: hclog.NewNullLogger()}
}

// SetLogger receives the plugin process's logger (rpc.Serve).
func (p *Plugin[C, F]) SetLogger(l hclog.Logger) { p.log = l }

// Logger is the plugin's logger, for a method's own calls (SaveFit).
func (p *Plugin[C, F]) Logger() hclog.Logger { return p.log }

// Info describes the method and its parameters with their defaults.
func (p *Plugin[C, F]) Info(context.Context) (plugin.Info, error) {
	d := p.m.Defaults()
	ps, err := params.Describe(&d)
	if err != nil {
		return plugin.Info{}, fmt.Errorf("%s: %w", p.m.Name, err)
	}
	return plugin.Info{Kind: plugin.KindGenerator, Name: p.m.Name, Version: p.m.Version, Description: p.m.Description, Params: ps}, nil
}

// Configure replaces the configuration; absent keys take their defaults.
func (p *Plugin[C, F]) Configure(_ context.Context, ps plugin.Params) error {
	cfg := p.m.Defaults()
	err := params.Decode(ps, &cfg)
	if p.m.Check != nil {
		err = errors.Join(err, p.m.Check(cfg))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p.m.Name, err)
	}
	p.SetConfig(cfg)
	return nil
}

// SetConfig replaces the configuration as Configure does, without decoding or
// checking it (tests and benchmarks that build one in Go).
func (p *Plugin[C, F]) SetConfig(c C) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg = c
	if p.m.Refit {
		p.fit = nil
	}
}

// Config is the current configuration.
func (p *Plugin[C, F]) Config() C {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// Fit loads the library's snapshot files and fits the method on them.
func (p *Plugin[C, F]) Fit(ctx context.Context, lib plugin.Library, seed uint64) error {
	l, err := library.Load(ctx, lib)
	if err != nil {
		return fmt.Errorf("%s: %w", p.m.Name, err)
	}
	return p.FitLibrary(ctx, l, seed)
}

// FitLibrary fits on a library already in memory (tests, benchmarks).
func (p *Plugin[C, F]) FitLibrary(ctx context.Context, l *library.Library, seed uint64) error {
	cfg := p.Config()
	state, err := p.m.Fit(ctx, cfg, l, seed, p.log)
	if err != nil {
		return fmt.Errorf("%s: %w", p.m.Name, err)
	}
	p.SetFitted(state, l.Schema, len(l.Experts[0].Embedding))
	return nil
}

// SetFitted installs a fitted state made outside Fit (a method's LoadFit, tests):
// for adapters of schema, from embeddings dim wide.
func (p *Plugin[C, F]) SetFitted(state F, schema lora.Schema, dim int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fit = &fit[F]{state: state, schema: schema, dim: dim}
}

// Fitted returns the fitted state; ok is false before Fit.
func (p *Plugin[C, F]) Fitted() (state F, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fit == nil {
		return state, false
	}
	return p.fit.state, true
}

// Generate returns n adapters for target.
func (p *Plugin[C, F]) Generate(_ context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	name := p.m.Name
	p.mu.Lock()
	cfg, f := p.cfg, p.fit // with Refit, cfg is the one f was fitted under
	p.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("%s: Generate called before Fit", name)
	}
	if n < 1 {
		return nil, fmt.Errorf("%s: asked for %d samples", name, n)
	}
	if len(target) != f.dim {
		return nil, fmt.Errorf("%s: target embedding has %d dimensions, the library's have %d", name, len(target), f.dim)
	}
	vs, err := p.m.Generate(cfg, f.state, target, n, seed, p.log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(vs) != 1 && len(vs) != n {
		return nil, fmt.Errorf("%s: the method returned %d adapters for %d samples", name, len(vs), n)
	}
	out := make([]*lora.Adapter, n)
	for i := range out {
		v := vs[min(i, len(vs)-1)]
		if len(vs) == 1 { // n independent copies; the method may have returned its own storage
			v = append([]float32(nil), v...)
		}
		out[i] = &lora.Adapter{Schema: f.schema, Params: v}
		if err := out[i].CheckFinite(); err != nil {
			return nil, fmt.Errorf("%s: sample %d: %w", name, i, err)
		}
	}
	return out, nil
}
