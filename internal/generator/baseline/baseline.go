// Package baseline is the plugin shell shared by the merging baselines (mean-lora,
// adaptersoup, topk-weighted, nearest, task-arithmetic, ties, dare): Fit loads the
// library and keeps only the experts' embeddings and prototypes; Generate checks the
// target and hands it to the method's merge rule, which ranks the experts as it
// needs. A method package supplies its parameter struct and that rule and nothing
// else.
package baseline

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
	"github.com/sglab/sglab/internal/generator/similarity"
)

// Version of every baseline plugin.
const Version = "0.1.0"

// Method describes one baseline. C is its parameter struct (params tags).
type Method[C any] struct {
	Name        string
	Description string // says which paper defines the method
	Defaults    func() C
	// Check validates a decoded configuration; its errors name the parameter.
	Check func(C) error
	// Merge returns the flat adapters for target: one vector for a deterministic
	// merge (the shell repeats it n times) or n vectors for a seeded random one.
	Merge func(c C, lib *library.Library, target []float32, n int, seed uint64) ([][]float32, error)
}

// Plugin implements plugin.Generator around a Method.
type Plugin[C any] struct {
	m   Method[C]
	mu  sync.Mutex
	cfg C
	lib *library.Library
	log hclog.Logger
}

// New returns the plugin with the method's defaults.
func New[C any](m Method[C]) *Plugin[C] {
	return &Plugin[C]{m: m, cfg: m.Defaults(), log: hclog.NewNullLogger()}
}

// SetLogger receives the plugin process's logger (rpc.Serve).
func (p *Plugin[C]) SetLogger(l hclog.Logger) { p.log = l }

// Info describes the method and its parameters with their defaults.
func (p *Plugin[C]) Info(context.Context) (plugin.Info, error) {
	d := p.m.Defaults()
	return plugin.Info{Kind: plugin.KindGenerator, Name: p.m.Name, Version: Version, Description: p.m.Description, Params: params.Describe(&d)}, nil
}

// Configure replaces the configuration; absent keys take their defaults.
func (p *Plugin[C]) Configure(_ context.Context, ps plugin.Params) error {
	cfg := p.m.Defaults()
	err := params.Decode(ps, &cfg)
	if p.m.Check != nil {
		err = errors.Join(err, p.m.Check(cfg))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p.m.Name, err)
	}
	p.mu.Lock()
	p.cfg = cfg
	p.mu.Unlock()
	return nil
}

// Fit loads the library's prototypes; merging needs no training, so the seed is
// unused.
func (p *Plugin[C]) Fit(ctx context.Context, lib plugin.Library, _ uint64) error {
	l, err := library.Load(ctx, lib)
	if err != nil {
		return fmt.Errorf("%s: %w", p.m.Name, err)
	}
	p.FitLibrary(l)
	return nil
}

// FitLibrary fits on a library already in memory (tests, benchmarks). The library's
// snapshots are released: only prototypes are merged.
func (p *Plugin[C]) FitLibrary(l *library.Library) {
	l.DropSnapshots()
	p.mu.Lock()
	p.lib = l
	p.mu.Unlock()
	p.log.Info("fitted", "experts", len(l.Experts), "params", l.Schema.NumParams())
}

// Generate merges for target and returns n adapters.
func (p *Plugin[C]) Generate(_ context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	p.mu.Lock()
	cfg, lib := p.cfg, p.lib
	p.mu.Unlock()
	if lib == nil {
		return nil, fmt.Errorf("%s: Generate called before Fit", p.m.Name)
	}
	if n < 1 {
		return nil, fmt.Errorf("%s: asked for %d samples", p.m.Name, n)
	}
	if len(target) != len(lib.Experts[0].Embedding) {
		return nil, fmt.Errorf("%s: target embedding has %d dimensions, the library's have %d", p.m.Name, len(target), len(lib.Experts[0].Embedding))
	}
	vs, err := p.m.Merge(cfg, lib, target, n, seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.m.Name, err)
	}
	var out []*lora.Adapter
	switch len(vs) {
	case 1:
		out = lib.Adapters(vs[0], n)
	case n:
		out = make([]*lora.Adapter, n)
		for i, v := range vs {
			out[i] = &lora.Adapter{Schema: lib.Schema, Params: v}
		}
	default:
		return nil, fmt.Errorf("%s: merge returned %d adapters for %d samples", p.m.Name, len(vs), n)
	}
	for i, a := range out {
		if err := a.CheckFinite(); err != nil {
			return nil, fmt.Errorf("%s: sample %d: %w", p.m.Name, i, err)
		}
	}
	return out, nil
}

// Prototypes returns the prototypes μ of the neighbours, in neighbour order.
func Prototypes(lib *library.Library, ns []similarity.Neighbour) [][]float32 {
	out := make([][]float32, len(ns))
	for i, n := range ns {
		out[i] = lib.Experts[n.Index].Mean
	}
	return out
}

// Weights returns the neighbours' weights, in neighbour order.
func Weights(ns []similarity.Neighbour) []float64 {
	out := make([]float64, len(ns))
	for i, n := range ns {
		out[i] = n.Weight
	}
	return out
}

// CheckTopK rejects a negative top_k; 0 means every expert.
func CheckTopK(k int) error {
	if k < 0 {
		return fmt.Errorf("parameter %q: must be 0 (all experts) or positive, got %d", "top_k", k)
	}
	return nil
}

// CheckSpace accepts "factor" and "delta".
func CheckSpace(s string) error {
	if s != "factor" && s != "delta" {
		return fmt.Errorf("parameter %q: %q is not \"factor\" or \"delta\"", "space", s)
	}
	return nil
}
