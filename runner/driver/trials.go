package driver

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/metrics"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// trials is the trials stage: every method's trials on the novel tasks of a split for a
// seed, the references' included, and their diversity rows, each recorded in the
// journal as it finishes; trials the journal holds are skipped. A trial that fails is
// recorded with its error and the others go on.
type trials struct {
	exp   *config.Experiment
	shard *Shard // whose units run; nil: all
	set   *setup // the evaluators, the schema and the descriptions' embeddings
	// expert is the experts stage's outcome for a task's expert.
	expert  func(task.Task, uint64, plugin.TrainOptions) (string, error)
	fits    *fitter
	jobs    int // (seed, split) blocks run at once
	journal *journal
	out     string    // the output folder, where kept adapters go
	man     *Manifest // phases "evaluate" and "generate"; may be nil
	log     hclog.Logger
}

// run runs the trials of every seed and split: up to jobs (seed, split) blocks at once,
// started in the experiment's order, so that one block's generator fit overlaps
// another's fit and evaluations (the evaluator pool still bounds the evaluations). Each
// block fits its own generator processes with its own seeds, so the numbers do not
// depend on jobs; only the order of the journal's rows does. The error is the first
// block's, in the experiment's order.
func (tr *trials) run(ctx context.Context) error {
	type block struct {
		seed  uint64
		split task.Split
	}
	var blocks []block
	for _, seed := range tr.exp.Seeds {
		for _, split := range tr.exp.Splits {
			blocks = append(blocks, block{seed, split})
		}
	}
	errs := make([]error, len(blocks))
	slots := make(chan struct{}, max(1, tr.jobs))
	var wg sync.WaitGroup
	for i, b := range blocks {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
		if errs[i] != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			errs[i] = tr.split(ctx, b.split, b.seed)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// split runs every method (of the shard's units) on every novel task of split for one seed.
func (tr *trials) split(ctx context.Context, split task.Split, seed uint64) error {
	tr.log.Info("split", "split", split.Name, "seed", seed, "seen", len(split.Seen), "novel", len(split.Novel))
	for _, m := range tr.exp.Methods {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !tr.shard.owns(tr.exp, seed, split.Name, m.Name) {
			continue
		}
		var err error
		switch m.Reference {
		case config.ZeroShot:
			err = tr.zeroShot(ctx, m, split, seed)
		case config.Oracle:
			err = tr.oracle(ctx, m, split, seed)
		default:
			err = tr.generated(ctx, m, split, seed)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func methodRow(m config.Method, split, taskID string, seed uint64, sample int) results.Row {
	return results.Row{Kind: results.KindTrial, Split: split, Task: taskID, Method: m.Name, Seed: seed,
		Sample: sample, Base: m.Base, Sweep: m.Sweep, Reference: m.Reference, Metrics: map[string]float64{}}
}

// parallel runs f for each item at once (the evaluator pool bounds the work) and waits
// for all.
func parallel[T any](items []T, f func(T)) {
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(it)
		}()
	}
	wg.Wait()
}

// evaluate scores a (nil: the bare backbone) on t (see setup.evaluate).
func (tr *trials) evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	return tr.set.evaluate(ctx, tr.man, t, a, seed)
}

func (tr *trials) zeroShot(ctx context.Context, m config.Method, split task.Split, seed uint64) error {
	parallel(split.Novel, func(id string) {
		row := methodRow(m, split.Name, id, seed, 0)
		if _, done := tr.journal.finished(row); done {
			return
		}
		t, _ := tr.exp.Task(id)
		start := time.Now()
		var err error
		row.Metrics, err = tr.evaluate(ctx, t, nil, seed)
		tr.journal.finish(ctx, &row, start, err)
	})
	return ctx.Err()
}

func (tr *trials) oracle(ctx context.Context, m config.Method, split task.Split, seed uint64) error {
	parallel(split.Novel, func(id string) {
		row := methodRow(m, split.Name, id, seed, 0)
		div := row
		div.Kind = results.KindDiversity
		if tr.journal.done(row) && tr.journal.done(div) {
			tr.journal.finished(row) // counts it as skipped
			return
		}
		t, _ := tr.exp.Task(id)
		start := time.Now()
		var adapter *lora.Adapter
		path, err := tr.expert(t, seed, m.Train)
		if err == nil {
			adapter, err = finalSnapshot(path, tr.set.schema())
		}
		if prev, done := tr.journal.finished(row); done {
			row = prev
		} else {
			if err == nil {
				row.Metrics, err = tr.evaluate(ctx, t, adapter, seed)
			}
			tr.journal.finish(ctx, &row, start, err)
		}
		if err == nil && row.Error == "" {
			tr.diversity(m, split.Name, id, seed, []*lora.Adapter{adapter}, []map[string]float64{row.Metrics})
			tr.keep(m, split.Name, id, seed, []*lora.Adapter{adapter}, []map[string]float64{row.Metrics})
		}
	})
	return ctx.Err()
}

// generated runs a generator method's trials: per novel task with unfinished samples it
// generates the samples with the generator fitted on the split's library and scores
// them. A generator that died is started and fitted again for the next task; the
// process is killed when the method's trials of the block are done.
func (tr *trials) generated(ctx context.Context, m config.Method, split task.Split, seed uint64) error {
	pending := tr.pending(m, split, seed)
	if len(pending) == 0 {
		return nil
	}
	lib, libErr := library(tr.exp, split, seed, m.Train, tr.set, tr.expert)
	libKey := fmt.Sprintf("%s/%d", split.Name, seed)
	fitSeed := deriveSeed(seed, "fit", split.Name, m.Name)
	gen, err := tr.fits.fitted(ctx, m, lib, libKey, fitSeed, libErr)
	defer func() {
		if gen != nil {
			gen.Kill() // the block's own process: no other block uses it
		}
	}()
	for _, id := range pending {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		var adapters []*lora.Adapter
		genErr := err
		if genErr == nil {
			adapters, genErr = tr.generate(ctx, gen, m, split.Name, id, seed)
		}
		// Each sample's trial takes its share of the generation.
		share := time.Since(start) / time.Duration(m.Samples)
		ms := tr.samples(ctx, m, split.Name, id, seed, adapters, genErr, share)
		if genErr == nil && ctx.Err() == nil {
			tr.diversity(m, split.Name, id, seed, adapters, ms)
			tr.keep(m, split.Name, id, seed, adapters, ms)
		}
		if genErr != nil && gen != nil && gen.Exited() {
			// The process died: the next task gets a fresh one, fitted again.
			gen.Kill()
			gen, err = tr.fits.fitted(ctx, m, lib, libKey, fitSeed, libErr)
		}
	}
	return ctx.Err()
}

// pending are the novel tasks of split with a trial of m for seed the journal does not
// hold; the trials of the other tasks count as skipped.
func (tr *trials) pending(m config.Method, split task.Split, seed uint64) []string {
	pending := pendingTasks(m, split, seed, tr.journal.done)
	for _, id := range split.Novel {
		if !slices.Contains(pending, id) {
			for s := 0; s < m.Samples; s++ {
				tr.journal.finished(methodRow(m, split.Name, id, seed, s))
			}
		}
	}
	return pending
}

// generate asks gen, m's fitted generator, for the samples of a novel task and checks
// them against the evaluator's schema.
func (tr *trials) generate(ctx context.Context, gen process, m config.Method, split, taskID string, seed uint64) ([]*lora.Adapter, error) {
	start := time.Now()
	adapters, err := gen.Generator().Generate(ctx, tr.set.embed[taskID], m.Samples, deriveSeed(seed, "generate", split, taskID, m.Name))
	tr.man.addPhase("generate", time.Since(start))
	if err != nil {
		return nil, err
	}
	for i, a := range adapters {
		if err := a.Schema.Compatible(tr.set.schema()); err != nil {
			return nil, fmt.Errorf("plugin %s Generate: adapter %d: %w", gen.Label(), i, err)
		}
	}
	return adapters, nil
}

// samples scores the generated adapters of a task (genErr: why there are none), one
// trial per sample the journal does not hold, at once, and returns every sample's
// metrics (an earlier run's for a finished one; nil where the trial failed). share is
// each trial's part of the generation's time.
func (tr *trials) samples(ctx context.Context, m config.Method, split, taskID string, seed uint64, adapters []*lora.Adapter, genErr error, share time.Duration) []map[string]float64 {
	t, _ := tr.exp.Task(taskID)
	ms := make([]map[string]float64, m.Samples)
	var wg sync.WaitGroup
	for s := 0; s < m.Samples; s++ {
		row := methodRow(m, split, taskID, seed, s)
		if prev, done := tr.journal.finished(row); done {
			ms[s] = prev.Metrics // from the earlier run, for the diversity row
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := genErr
			if err == nil {
				row.Metrics, err = tr.evaluate(ctx, t, adapters[s], seed)
			}
			if err == nil {
				ms[s] = row.Metrics
			}
			tr.journal.finish(ctx, &row, start.Add(-share), err)
		}()
	}
	wg.Wait()
	return ms
}

// diversity records the parameter diversity of one method's samples for a task and
// seed, unless the journal holds it.
func (tr *trials) diversity(m config.Method, split, taskID string, seed uint64, adapters []*lora.Adapter, ms []map[string]float64) {
	row := methodRow(m, split, taskID, seed, 0)
	row.Kind = results.KindDiversity
	if _, done := tr.journal.finished(row); done {
		return
	}
	if row, ok := diversityRow(row, adapters, ms, tr.set.metrics().Primary().Name); ok {
		tr.journal.record(row)
	}
}

// diversityRow fills the diversity row row over the samples whose trial succeeded (ms[i]
// nil marks a failed one), with the spread of their metric primary (the evaluator's
// primary headline metric, whatever its name) as r1_std; false when none succeeded.
func diversityRow(row results.Row, adapters []*lora.Adapter, ms []map[string]float64, primary string) (results.Row, bool) {
	var ok []*lora.Adapter
	var r1 []float64
	for i, mt := range ms {
		if mt != nil {
			ok = append(ok, adapters[i])
			r1 = append(r1, mt[primary])
		}
	}
	if len(ok) == 0 {
		return row, false
	}
	d, err := metrics.Diversity(ok, r1)
	if err != nil {
		row.Error = err.Error()
	} else {
		row.Metrics = d
	}
	return row, true
}

// keep writes the scored adapters of one method, task and seed that the method's
// keep_adapters asks for as PEFT folders: all of them, or the best by the evaluator's
// primary headline metric, in its direction (ms[i] nil marks a sample whose trial
// failed). A write that fails is logged, not a failed trial.
func (tr *trials) keep(m config.Method, split, taskID string, seed uint64, adapters []*lora.Adapter, ms []map[string]float64) {
	dir := filepath.Join(tr.out, AdaptersDir, pathSafe(split), pathSafe(m.Name), pathSafe(taskID), fmt.Sprintf("seed-%d", seed))
	for _, i := range kept(m.KeepAdapters, ms, tr.set.metrics().Primary()) {
		d := filepath.Join(dir, lora.PEFTSampleDir(i))
		if err := lora.SavePEFT(d, adapters[i], tr.set.evalInfo.Backbone); err != nil {
			tr.log.Error("cannot keep an adapter", "method", m.Name, "task", taskID, "seed", seed, "sample", i, "error", err)
		}
	}
}

// kept are the samples keep_adapters = how asks for, of those whose trial succeeded;
// the best is by the metric primary, in its direction.
func kept(how string, ms []map[string]float64, primary results.Metric) []int {
	var pick []int
	switch how {
	case config.KeepAll:
		for i, mt := range ms {
			if mt != nil {
				pick = append(pick, i)
			}
		}
	case config.KeepBest:
		best := -1
		better := func(a, b float64) bool { return a > b }
		if primary.LowerIsBetter {
			better = func(a, b float64) bool { return a < b }
		}
		for i, mt := range ms {
			if mt != nil && (best < 0 || better(mt[primary.Name], ms[best][primary.Name])) {
				best = i
			}
		}
		if best >= 0 {
			pick = []int{best}
		}
	}
	return pick
}

// pathSafe turns a name (a method's may hold spaces and '=') into one path component.
func pathSafe(name string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == '=':
			return c
		}
		return '_'
	}, name)
}

// finalSnapshot is the adapter of an expert's (or oracle's) last training epoch.
func finalSnapshot(path string, schema lora.Schema) (*lora.Adapter, error) {
	s, snaps, err := readSnapshots(path, schema)
	if err != nil {
		return nil, err
	}
	return lora.FromFlat(s, snaps[len(snaps)-1])
}

// readSnapshots reads an expert's snapshots file: at least one snapshot, in the
// evaluator's schema.
func readSnapshots(path string, schema lora.Schema) (lora.Schema, [][]float32, error) {
	s, snaps, _, err := lora.ReadSnapshots(path)
	if err != nil {
		return nil, nil, err
	}
	if err := s.Compatible(schema); err != nil {
		return nil, nil, fmt.Errorf("snapshots in %s: %w", path, err)
	}
	if len(snaps) == 0 {
		return nil, nil, fmt.Errorf("snapshots file %s holds no snapshot", path)
	}
	return s, snaps, nil
}
