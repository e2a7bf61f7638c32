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

// fitter is the fits stage: it starts a generator process for one (seed, split) block's
// method and fits it on the block's library. The block owns the process until it kills
// it, so blocks that run at once never share a generator, and a fit depends only on its
// library and seed.
type fitter struct {
	start func(context.Context, config.Method) (process, error)
	man   *Manifest // phase "fit"; may be nil
	prog  *progress // counts "fits"; may be nil
	log   hclog.Logger
}

func newFitter(start startFunc, man *Manifest, prog *progress, log hclog.Logger) *fitter {
	return &fitter{start: func(ctx context.Context, m config.Method) (process, error) {
		return start(ctx, plugin.KindGenerator, *m.Generator)
	}, man: man, prog: prog, log: log}
}

// fitted starts a process of m's generator and fits it on lib (named key, libErr the
// library's error); the caller kills it. A process whose fit failed is killed here.
func (f *fitter) fitted(ctx context.Context, m config.Method, lib plugin.Library, key string, seed uint64, libErr error) (process, error) {
	if libErr != nil {
		return nil, libErr
	}
	p, err := f.start(ctx, m)
	if err != nil {
		return nil, err
	}
	if err := f.fit(ctx, p.Generator(), m, lib, key, seed); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
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
