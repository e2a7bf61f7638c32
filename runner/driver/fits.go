package driver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// library is what a split's generators fit on for a seed: every seen task's expert for
// these training options, as the experts stage left it (expert), in the split's order.
// The error joins those of the experts that could not be had.
func library(exp *config.Experiment, split task.Split, seed uint64, train plugin.TrainOptions, set *setup,
	expert func(task.Task, uint64, plugin.TrainOptions) (string, error)) (plugin.Library, error) {
	lib := plugin.Library{Schema: set.schema()}
	var errs []error
	for _, id := range split.Seen {
		t, _ := exp.Task(id)
		path, err := expert(t, seed, train)
		if err != nil {
			errs = append(errs, fmt.Errorf("expert %s: %w", id, err))
			continue
		}
		lib.Experts = append(lib.Experts, plugin.Expert{ID: id, Description: t.Description, Embedding: set.embed[id], SnapshotPath: path})
	}
	return lib, errors.Join(errs...)
}

// fitter is the fits stage: it keeps one generator process per method, started when
// first needed and again when it died, and fits it on a library unless it is fitted on
// that one already.
type fitter struct {
	start func(context.Context, config.Method) (process, error)
	gens  map[string]*fittedGenerator // by method
	man   *Manifest                   // phase "fit"; may be nil
	prog  *progress                   // counts "fits"; may be nil
	log   hclog.Logger
}

// fittedGenerator is one generator method's plugin process and what it was fitted on.
type fittedGenerator struct {
	proc   process
	fitted string // key of the library it was last fitted on
}

func newFitter(start startFunc, man *Manifest, prog *progress, log hclog.Logger) *fitter {
	return &fitter{start: func(ctx context.Context, m config.Method) (process, error) {
		return start(ctx, plugin.KindGenerator, *m.Generator)
	}, gens: map[string]*fittedGenerator{}, man: man, prog: prog, log: log}
}

// fitted returns m's generator fitted on lib (named key, libErr the library's error),
// starting or restarting its process when needed.
func (f *fitter) fitted(ctx context.Context, m config.Method, lib plugin.Library, key string, seed uint64, libErr error) (process, error) {
	if libErr != nil {
		return nil, libErr
	}
	g := f.gens[m.Name]
	if g == nil || g.proc.Exited() {
		p, err := f.start(ctx, m)
		if err != nil {
			return nil, err
		}
		g = &fittedGenerator{proc: p}
		f.gens[m.Name] = g
	}
	if g.fitted != key {
		if err := f.fit(ctx, g.proc.Generator(), m, lib, key, seed); err != nil {
			return nil, err
		}
		g.fitted = key
	}
	return g.proc, nil
}

// fit fits gen, m's generator, on lib, named key.
func (f *fitter) fit(ctx context.Context, gen plugin.Generator, m config.Method, lib plugin.Library, key string, seed uint64) error {
	start := time.Now()
	if err := gen.Fit(ctx, lib, seed); err != nil {
		return err
	}
	f.man.addPhase("fit", time.Since(start))
	f.prog.done("fits", m.Name, time.Since(start))
	f.log.Info("fitted", "method", m.Name, "library", key, "experts", len(lib.Experts), "seconds", time.Since(start).Seconds())
	return nil
}
