package driver

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/task"
)

// FitOptions choose what Fit fits.
type FitOptions struct {
	Options
	Method string // a generator method of the experiment (sweep variants included)
	Split  string // the split whose library is fitted on; the first when empty
	// Load is a fit file (`runner fit`) to load instead of fitting; it must have been
	// fitted on the library this experiment gives, or Fit refuses it naming what differs.
	Load string
}

// Fitted is one generator method fitted on an experiment's library, with the
// experiment's encoder kept running for new descriptions: what `runner generate` and
// `runner serve` use. Its methods are safe for concurrent use. Close kills its plugins.
type Fitted struct {
	Method   string
	Split    string
	Seed     uint64      // the experiment seed whose experts form the library
	Schema   lora.Schema // the evaluator's adapter schema
	Backbone string      // the evaluator's backbone, for base_model_name_or_path
	Experts  int
	Library  string // digest of the library and the generator, as a fit file records it
	Loaded   bool   // loaded from a fit file, not fitted

	enc    process
	gen    *rpc.Client
	header *FitHeader
}

// Fit fits opt.Method on the library of a split for the experiment's first seed: the
// experts come from the same cache as Run's (trained when missing), and the fit's seed is
// the one Run derives, so the fitted generator is the one Run scores. The evaluators stop
// once the library is there; the encoder and the generator keep running until Close.
func Fit(ctx context.Context, exp *config.Experiment, opt FitOptions) (*Fitted, error) {
	m, err := generatorMethod(exp, opt.Method)
	if err != nil {
		return nil, err
	}
	split, err := pickSplit(exp, opt.Split)
	if err != nil {
		return nil, err
	}
	s, err := newUnlockedSession(exp, opt.Options)
	if err != nil {
		return nil, err
	}
	log := s.opt.Log
	f := &Fitted{Method: m.Name, Split: split.Name, Seed: exp.Seeds[0]}
	var set *setup
	ok := false
	defer func() {
		if set != nil {
			set.pool.close()
		}
		if !ok {
			f.Close()
		}
	}()
	if set, err = setUp(ctx, exp, s.plugins.configured, s.opt.Jobs, true); err != nil {
		return nil, err
	}
	f.enc, f.Schema, f.Backbone = set.encoder, set.schema(), set.evalInfo.Backbone
	store := newExpertStore(s.cache, s.opt.Fresh, exp, set.evalInfo, set.banks, set.pool, log)
	if err := trainExperts(ctx, store, store.jobs(expertsOf(exp, split.Seen, f.Seed, m.Train))); err != nil {
		return nil, err
	}
	lib, err := library(exp, split, f.Seed, m.Train, set, store.trained)
	if err != nil {
		return nil, err
	}
	f.Experts = len(lib.Experts)
	set.pool.close() // the experts are on disk; free the evaluators' memory before fitting
	fitSeed := deriveSeed(f.Seed, "fit", split.Name, m.Name)
	gen, err := s.plugins.startConfigured(ctx, plugin.KindGenerator, *m.Generator) // which notes its identity
	if err != nil {
		return nil, err
	}
	f.gen = gen
	genID := s.plugins.identify(ctx, plugin.KindGenerator, *m.Generator)
	if f.header, err = fitHeader(exp.File, genID, m, split.Name, f.Seed, fitSeed, lib); err != nil {
		return nil, err
	}
	f.Library = f.header.Library
	if opt.Load != "" {
		start := time.Now()
		if err := loadFit(ctx, gen, opt.Load, f.header, lib); err != nil {
			return nil, err
		}
		f.Loaded = true
		log.Info("loaded fit", "method", m.Name, "file", opt.Load, "library", f.Library, "experts", len(lib.Experts), "seconds", time.Since(start).Seconds())
	} else if err := (&fitter{man: s.man, log: log}).fit(ctx, gen.Generator(), m, lib, split.Name, fitSeed); err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

// generatorMethod is the experiment's method named name, which must have a generator.
func generatorMethod(exp *config.Experiment, name string) (config.Method, error) {
	var names []string
	for _, m := range exp.Methods {
		if m.Generator == nil {
			continue
		}
		if m.Name == name {
			return m, nil
		}
		names = append(names, fmt.Sprintf("%q", m.Name))
	}
	if len(names) == 0 {
		return config.Method{}, fmt.Errorf("%s: no method has a generator", exp.File)
	}
	return config.Method{}, fmt.Errorf("%s: no generator method %q (methods with a generator: %s)", exp.File, name, strings.Join(names, ", "))
}

// pickSplit is the split named name, or the experiment's first.
func pickSplit(exp *config.Experiment, name string) (task.Split, error) {
	if len(exp.Splits) == 0 {
		return task.Split{}, fmt.Errorf("%s: no split", exp.File)
	}
	if name == "" {
		return exp.Splits[0], nil
	}
	var names []string
	for _, s := range exp.Splits {
		if s.Name == name {
			return s, nil
		}
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	return task.Split{}, fmt.Errorf("%s: no split %q (splits: %s)", exp.File, name, strings.Join(names, ", "))
}

// DescriptionError is a description the encoder refused (say, no word it knows): the
// caller's input is at fault, not the service.
type DescriptionError struct{ Err error }

func (e *DescriptionError) Error() string { return "description: " + e.Err.Error() }
func (e *DescriptionError) Unwrap() error { return e.Err }

// Embed embeds a description with the experiment's encoder. A refusal by a running
// encoder is a *DescriptionError.
func (f *Fitted) Embed(ctx context.Context, description string) ([]float32, error) {
	vs, err := f.enc.Encoder().Embed(ctx, []string{description})
	if err != nil {
		if f.enc.Exited() || ctx.Err() != nil {
			return nil, err
		}
		return nil, &DescriptionError{Err: err}
	}
	if len(vs) != 1 {
		return nil, fmt.Errorf("encoder %s returned %d vectors for one description", f.enc.Label(), len(vs))
	}
	return vs[0], nil
}

// Generate returns n adapters for a description embedding; the same seed gives the same
// adapters. Each is checked against the evaluator's schema.
func (f *Fitted) Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	as, err := f.gen.Generator().Generate(ctx, target, n, seed)
	if err != nil {
		return nil, err
	}
	if len(as) != n {
		return nil, fmt.Errorf("plugin %s Generate: %d adapters, asked for %d", f.gen.Label(), len(as), n)
	}
	for i, a := range as {
		if err := a.Schema.Compatible(f.Schema); err != nil {
			return nil, fmt.Errorf("plugin %s Generate: adapter %d: %w", f.gen.Label(), i, err)
		}
	}
	return as, nil
}

// Alive says whether the encoder and generator processes are still running.
func (f *Fitted) Alive() bool {
	return f.enc != nil && f.gen != nil && !f.enc.Exited() && !f.gen.Exited()
}

// Close kills the encoder and generator processes.
func (f *Fitted) Close() {
	if f.enc != nil {
		f.enc.Kill()
	}
	if f.gen != nil {
		f.gen.Kill()
	}
}

// WritePEFT writes adapters as PEFT folders dir/sample-<i>/ whose config names
// backbone as base_model_name_or_path, and returns the folders.
func WritePEFT(dir string, adapters []*lora.Adapter, backbone string) ([]string, error) {
	out := make([]string, 0, len(adapters))
	for i, a := range adapters {
		d := filepath.Join(dir, lora.PEFTSampleDir(i))
		if err := lora.SavePEFT(d, a, backbone); err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

// AdaptersDir is the folder under the output folder where kept adapters go:
// adapters/<split>/<method>/<task>/seed-<s>/sample-<i>/.
const AdaptersDir = "adapters"
