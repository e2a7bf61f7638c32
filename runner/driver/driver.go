// Package driver runs an experiment (DESIGN.md §2): per seed and split it trains the
// seen tasks' experts, embeds every description, fits each method's generator on the
// library, generates and scores samples on each novel task, runs the references, and
// appends every finished trial to results.jsonl at once. Transfer measures, with the
// same plugins and expert cache, whether a world supports zero-shot adaptation at all.
//
// Both hold the output folder's lock (LockFile) while they work. A journal row is reused
// by a rerun only when its identity (identity.go: everything that determined its
// numbers) is the one the current configuration gives; a row that cannot be appended
// stops the run at once.
package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sglab/sglab/framework/memory"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/metrics"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// Options control a run.
type Options struct {
	Out   string // results folder; the experiment's Output when empty
	Jobs  int    // evaluator processes working at once
	Cache string // expert cache folder; <Out>/cache when empty
	Fresh bool   // ignore cached experts (and overwrite them)
	// Progress, when set (a terminal), shows a redrawn status line; otherwise progress
	// goes to the log.
	Progress io.Writer
	Host     *rpc.Host
	Log      hclog.Logger
	// StartTimeout and CallTimeout, when positive, override the experiment's [timeouts]
	// (CallTimeout for every call).
	StartTimeout time.Duration
	CallTimeout  time.Duration
	// Spec turns a plugin reference of the experiment into what to execute.
	Spec func(kind string, ref config.PluginRef) (rpc.Spec, error)
}

func (o Options) withDefaults() Options {
	if o.Jobs < 1 {
		o.Jobs = 1
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	return o
}

// Summary counts what a run did.
type Summary struct {
	Out     string
	Rows    []results.Row // every row of the journal, including earlier runs'
	Ran     int           // trials run now
	Skipped int           // trials found finished in the journal
	Failed  int           // trials that failed now
	Stale   int           // rows of earlier runs whose configuration changed, moved to results.SupersededFile
}

type runner struct {
	exp      *config.Experiment
	opt      Options
	log      hclog.Logger
	out      string // the output folder
	journal  *results.Writer
	prev     map[string]results.Row // finished rows of earlier runs, by key
	pool     *evaluatorPool
	schema   lora.Schema
	evalInfo plugin.Info
	embed    map[string][]float32 // task id -> description embedding
	// keepEncoder keeps the encoder running after setUp, as encoder, for descriptions
	// that are not the experiment's (Fit).
	keepEncoder bool
	encoder     *rpc.Client
	banks       map[string][]BankFile // seen tasks whose experts are PEFT folders
	gens        map[string]*generator
	experts     *expertStore
	man         *Manifest
	prog        *progress
	release     func() // releases the output folder's lock

	idMu sync.Mutex
	ids  map[string]*pluginIdentity // by identityKey

	// stop ends the run at once with a cause (a journal that cannot be appended to).
	stop context.CancelCauseFunc

	mu        sync.Mutex
	summary   Summary
	recordErr error // the first failed append; nothing is recorded after it
}

// Run executes exp. Trials that fail are recorded with their error and the run goes on;
// an error return means the run could not go on (bad plugin set-up, interrupted, I/O,
// a journal that cannot be appended to, an output folder in use by another run).
func Run(ctx context.Context, exp *config.Experiment, opt Options) (*Summary, error) {
	r, err := newRunner(exp, opt)
	if err != nil {
		return nil, err
	}
	defer r.release()
	ctx, r.stop = context.WithCancelCause(ctx)
	defer r.stop(nil)
	out := r.out
	r.summary.Out = out
	journalPath := filepath.Join(out, results.FileName)
	manifestPath := filepath.Join(out, ManifestFile)
	if err := r.man.write(manifestPath); err != nil {
		return nil, err
	}

	r.prog = newProgress(opt.Progress, r.log, r.totals(), "experts", "fits", "trials")
	defer r.prog.finish()
	t0 := time.Now()
	if err := r.setUp(ctx); err != nil {
		return nil, err
	}
	r.identifyPlugins(ctx)
	r.man.addPhase("setup", time.Since(t0))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Earlier rows are judged against the identities of the plugins now configured.
	if err := r.resume(journalPath); err != nil {
		return nil, err
	}
	w, err := results.Create(journalPath)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	r.journal = w
	for _, seed := range exp.Seeds {
		for _, split := range exp.Splits {
			if err := r.runSplit(ctx, split, seed); err != nil {
				if cause := context.Cause(ctx); cause != nil && cause != err {
					return nil, cause
				}
				return nil, err
			}
		}
	}
	end := time.Now().UTC()
	r.man.End = &end
	if err := r.man.write(manifestPath); err != nil {
		return nil, err
	}
	rows, err := results.Read(journalPath)
	if err != nil {
		return nil, err
	}
	r.summary.Rows = rows
	return &r.summary, nil
}

// newRunner prepares what Run and Transfer share: the output folder (the experiment's
// when opt.Out is empty), the expert cache (<out>/cache when opt.Cache is empty) and the
// manifest. The plugins start in setUp.
func newRunner(exp *config.Experiment, opt Options) (*runner, error) {
	r, err := newUnlockedRunner(exp, opt)
	if err != nil {
		return nil, err
	}
	if r.release, err = lockOutput(r.out); err != nil {
		return nil, err
	}
	return r, nil
}

// newUnlockedRunner is newRunner without the output folder's lock, for work that writes
// nothing there but, at most, cache entries (which are safe to share).
func newUnlockedRunner(exp *config.Experiment, opt Options) (*runner, error) {
	r := newIdleRunner(exp, opt)
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	return r, nil
}

// newIdleRunner is newUnlockedRunner without creating the output folder, for work that
// only reads (PlanRun).
func newIdleRunner(exp *config.Experiment, opt Options) *runner {
	opt = opt.withDefaults()
	out := opt.Out
	if out == "" {
		out = exp.Output
	}
	cache := opt.Cache
	if cache == "" {
		cache = filepath.Join(out, "cache")
	}
	return &runner{exp: exp, opt: opt, log: opt.Log, out: out, gens: map[string]*generator{}, prev: map[string]results.Row{},
		experts: &expertStore{dir: filepath.Join(cache, "experts"), fresh: opt.Fresh, runs: map[string]*expertRun{}},
		man:     newManifest(exp, opt.Jobs), release: func() {}, ids: map[string]*pluginIdentity{}}
}

// totals counts the work of the run: distinct experts (seen tasks for each training
// set-up, and oracles), generator fits, and trials.
func (r *runner) totals() map[string]int {
	experts := map[string]bool{}
	fits, trials := 0, 0
	for _, m := range r.exp.Methods {
		for _, sp := range r.exp.Splits {
			for _, seed := range r.exp.Seeds {
				var tasks []string
				switch {
				case m.Reference == config.Oracle:
					tasks = sp.Novel
				case m.Generator != nil:
					tasks = sp.Seen
					fits++
				}
				for _, id := range tasks {
					experts[fmt.Sprint(id, seed, m.Train)] = true
				}
				trials += len(sp.Novel) * m.Samples
			}
		}
	}
	return map[string]int{"experts": len(experts), "fits": fits, "trials": trials}
}

// resume reads the journal of an earlier run of the experiment: its finished trials are
// skipped. Failed trials, and a line torn by a crash, are dropped from the journal (by an
// atomic rewrite) so that they run again without leaving duplicate rows. So are stale
// rows, whose identity differs from the one the current configuration gives the same
// trial: they move to results.SupersededFile, and the log says which and why.
func (r *runner) resume(path string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	prev, err := results.Decode(bytes.NewReader(raw), path)
	if err != nil {
		return err
	}
	keep, stale, groups := r.judge(prev)
	if len(keep) == len(prev) && (len(raw) == 0 || raw[len(raw)-1] == '\n') {
		return nil
	}
	if len(stale) > 0 {
		r.logStale(groups)
		r.summary.Stale = len(stale)
		// Kept before they leave the journal: a crash in between duplicates, never loses.
		w, err := results.Create(filepath.Join(r.out, results.SupersededFile))
		if err != nil {
			return err
		}
		for _, row := range stale {
			if err := w.Append(row); err != nil {
				w.Close()
				return err
			}
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("results: %w", err)
		}
	}
	r.log.Info("journal: dropping failed, torn and stale rows before resuming", "kept", len(keep), "dropped", len(prev)-len(keep))
	return results.Rewrite(path, keep)
}

// judge sorts the rows of an earlier journal into those a rerun keeps (its finished
// trials, now in r.prev) and the stale ones, grouped by method, split and reason; failed
// and duplicate rows are in neither.
func (r *runner) judge(prev []results.Row) (keep, stale []results.Row, groups map[string]*staleGroup) {
	groups = map[string]*staleGroup{}
	for _, row := range prev {
		if _, dup := r.prev[row.Key()]; row.Error != "" || dup {
			continue
		}
		if id, judged := r.rowIdentity(row); judged {
			if why := changed(row.Identity, id); len(why) > 0 {
				stale = append(stale, row)
				g := groups[row.Method+"\x00"+row.Split+"\x00"+strings.Join(why, ", ")]
				if g == nil {
					g = &staleGroup{method: row.Method, split: row.Split, why: strings.Join(why, ", ")}
					groups[row.Method+"\x00"+row.Split+"\x00"+g.why] = g
				}
				g.n++
				if !slices.Contains(g.tasks, row.Task) {
					g.tasks = append(g.tasks, row.Task)
				}
				if !slices.Contains(g.seeds, row.Seed) {
					g.seeds = append(g.seeds, row.Seed)
				}
				continue
			}
		}
		r.prev[row.Key()] = row
		keep = append(keep, row)
	}
	return keep, stale, groups
}

// setUp starts the encoder and the evaluators, checks every task with the evaluator and
// embeds every description.
func (r *runner) setUp(ctx context.Context) error {
	encClient, err := r.startConfigured(ctx, plugin.KindEncoder, r.exp.Encoder)
	if err != nil {
		return err
	}
	r.pool, err = newEvaluatorPool(ctx, r.opt.Jobs, func(ctx context.Context, index int) (*rpc.Client, error) {
		return r.startConfigured(ctx, plugin.KindEvaluator, r.exp.Evaluator, fmt.Sprintf("%s=%d", plugin.EnvWorkerIndex, index))
	})
	if err != nil {
		return err
	}
	err = r.pool.do(ctx, func(ev plugin.Evaluator) error {
		info, err := ev.Info(ctx)
		if err != nil {
			return err
		}
		if err := info.Schema.Validate(); err != nil {
			return fmt.Errorf("evaluator %s: its adapter schema: %w", r.exp.Evaluator, err)
		}
		r.schema, r.evalInfo = info.Schema, info
		errs := capacity(r.exp, info.Schema, memory.Physical())
		if err := r.digestBanks(); err != nil {
			errs = append(errs, err)
		}
		for _, t := range r.usedTasks() {
			errs = append(errs, taskProblems(r.exp, t.ID, ev.CheckTask(ctx, t))...)
		}
		return errors.Join(sortProblems(r.exp, errs)...)
	})
	if err != nil {
		return err
	}
	tasks := r.usedTasks()
	texts := make([]string, len(tasks))
	for i, t := range tasks {
		texts[i] = t.Description
	}
	vecs, err := encClient.Encoder().Embed(ctx, texts)
	if err != nil {
		encClient.Kill()
		return fmt.Errorf("embedding the task descriptions: %w", err)
	}
	r.embed = map[string][]float32{}
	for i, t := range tasks {
		r.embed[t.ID] = vecs[i]
	}
	if r.keepEncoder {
		r.encoder = encClient
	} else {
		encClient.Kill() // not needed any more; frees its memory
	}
	return nil
}

// usedTasks are the tasks some split names, in the experiment's order.
func (r *runner) usedTasks() []task.Task {
	used := map[string]bool{}
	for _, s := range r.exp.Splits {
		for _, id := range append(append([]string(nil), s.Seen...), s.Novel...) {
			used[id] = true
		}
	}
	var out []task.Task
	for _, t := range r.exp.Tasks {
		if used[t.ID] {
			out = append(out, t)
		}
	}
	return out
}

// configureSpec applies the experiment's timeouts (or the options' overrides) and the
// run's logger to a plugin's spec.
func (r *runner) configureSpec(spec *rpc.Spec) {
	spec.Timeouts = r.exp.Timeouts
	if spec.Timeouts == nil {
		spec.Timeouts = plugin.DefaultTimeouts
	}
	spec.StartTimeout = spec.Timeouts[plugin.CallStart]
	if r.opt.StartTimeout > 0 {
		spec.StartTimeout = r.opt.StartTimeout
	}
	if r.opt.CallTimeout > 0 {
		spec.Timeouts, spec.CallTimeout = nil, r.opt.CallTimeout
	}
	spec.Logger = r.log.Named(spec.Label)
}

// startConfigured starts a plugin of kind from ref, with env (KEY=VALUE) added to its
// environment, and hands it its parameters.
func (r *runner) startConfigured(ctx context.Context, kind string, ref config.PluginRef, env ...string) (*rpc.Client, error) {
	c, b, err := r.start(ctx, kind, ref, env...)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", ref.File, ref.Line, err)
	}
	if err := b.Configure(ctx, ref.Params); err != nil {
		c.Kill()
		return nil, configureError(ref, err)
	}
	return c, nil
}

// record appends a row to the journal, stamped with its identity. A failed append stops
// the run at once: a trial that cannot be recorded is lost work, and so is every one
// after it.
func (r *runner) record(row results.Row) {
	if row.Identity == nil {
		row.Identity, _ = r.rowIdentity(row)
	}
	r.mu.Lock()
	failed := r.recordErr != nil
	r.mu.Unlock()
	if failed {
		return
	}
	if err := r.journal.Append(row); err != nil {
		r.mu.Lock()
		if r.recordErr == nil {
			r.recordErr = err
		}
		r.mu.Unlock()
		r.log.Error("cannot append to the journal; stopping the run", "error", err)
		r.stop(fmt.Errorf("stopped: a finished trial cannot be recorded: %w", err))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if row.Kind == results.KindTrial {
		r.summary.Ran++
		if row.Error != "" {
			r.summary.Failed++
		}
		r.prog.add("trials", 1)
	}
}

func (r *runner) finished(row results.Row) (results.Row, bool) {
	if row.Kind == "" {
		row.Kind = results.KindTrial
	}
	prev, ok := r.prev[row.Key()]
	if ok && row.Kind == results.KindTrial {
		r.mu.Lock()
		r.summary.Skipped++
		r.mu.Unlock()
		r.prog.add("trials", 1)
	}
	return prev, ok
}

func methodRow(m config.Method, split, taskID string, seed uint64, sample int) results.Row {
	return results.Row{Kind: results.KindTrial, Split: split, Task: taskID, Method: m.Name, Seed: seed,
		Sample: sample, Base: m.Base, Sweep: m.Sweep, Reference: m.Reference, Metrics: map[string]float64{}}
}

// runSplit runs every method on every novel task of split for one seed.
func (r *runner) runSplit(ctx context.Context, split task.Split, seed uint64) error {
	r.log.Info("split", "split", split.Name, "seed", seed, "seen", len(split.Seen), "novel", len(split.Novel))
	for _, m := range r.exp.Methods {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch m.Reference {
		case config.ZeroShot:
			err = r.zeroShot(ctx, m, split, seed)
		case config.Oracle:
			err = r.oracle(ctx, m, split, seed)
		default:
			err = r.generated(ctx, m, split, seed)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f for each novel task at once (bounded by the evaluator pool) and
// waits for all.
func parallel(items []string, f func(string)) {
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

func (r *runner) zeroShot(ctx context.Context, m config.Method, split task.Split, seed uint64) error {
	parallel(split.Novel, func(id string) {
		row := methodRow(m, split.Name, id, seed, 0)
		if _, done := r.finished(row); done {
			return
		}
		t, _ := r.exp.Task(id)
		start := time.Now()
		var err error
		row.Metrics, err = r.evaluate(ctx, t, nil, seed)
		r.finish(ctx, &row, start, err)
	})
	return ctx.Err()
}

func (r *runner) oracle(ctx context.Context, m config.Method, split task.Split, seed uint64) error {
	parallel(split.Novel, func(id string) {
		row := methodRow(m, split.Name, id, seed, 0)
		div := row
		div.Kind = results.KindDiversity
		_, trialDone := r.prev[row.Key()]
		if _, divDone := r.prev[div.Key()]; trialDone && divDone {
			r.finished(row) // counts it as skipped
			return
		}
		t, _ := r.exp.Task(id)
		start := time.Now()
		var adapter *lora.Adapter
		path, err := r.experts.get(ctx, r, t, seed, m.Train)
		if err == nil {
			adapter, err = finalSnapshot(path, r.schema)
		}
		if prev, done := r.finished(row); done {
			row = prev
		} else {
			if err == nil {
				row.Metrics, err = r.evaluate(ctx, t, adapter, seed)
			}
			r.finish(ctx, &row, start, err)
		}
		if err == nil && row.Error == "" {
			r.diversity(m, split.Name, id, seed, []*lora.Adapter{adapter}, []map[string]float64{row.Metrics})
			r.keep(m, split.Name, id, seed, []*lora.Adapter{adapter}, []map[string]float64{row.Metrics})
		}
	})
	return ctx.Err()
}

// evaluate scores a (nil: the bare backbone) on t.
func (r *runner) evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	var mt map[string]float64
	err := r.pool.do(ctx, func(ev plugin.Evaluator) error {
		start := time.Now() // the evaluation itself, not the wait for a free evaluator
		defer func() { r.man.addPhase("evaluate", time.Since(start)) }()
		var err error
		mt, err = ev.Evaluate(ctx, t, a, seed)
		return err
	})
	return mt, err
}

// finish stamps a trial row and records it, unless the run was interrupted, in which
// case the trial is not finished and a rerun does it again.
func (r *runner) finish(ctx context.Context, row *results.Row, start time.Time, err error) {
	if ctx.Err() != nil {
		return
	}
	row.Seconds = time.Since(start).Seconds()
	if err != nil {
		row.Error = fmt.Sprintf("task %s: %v", row.Task, err)
		row.Metrics = map[string]float64{}
		r.log.Error("trial failed", "split", row.Split, "task", row.Task, "method", row.Method, "seed", row.Seed, "sample", row.Sample, "error", err)
	}
	r.record(*row)
}

// diversity records the parameter diversity of one method's samples for a task and
// seed, over the samples whose trial succeeded (ms[i] nil marks a failed one).
func (r *runner) diversity(m config.Method, split, taskID string, seed uint64, adapters []*lora.Adapter, ms []map[string]float64) {
	row := methodRow(m, split, taskID, seed, 0)
	row.Kind = results.KindDiversity
	if _, done := r.finished(row); done {
		return
	}
	var ok []*lora.Adapter
	var r1 []float64
	for i, mt := range ms {
		if mt != nil {
			ok = append(ok, adapters[i])
			r1 = append(r1, mt["i2t_r1"])
		}
	}
	if len(ok) == 0 {
		return
	}
	d, err := metrics.Diversity(ok, r1)
	if err != nil {
		row.Error = err.Error()
	} else {
		row.Metrics = d
	}
	r.record(row)
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

// generator is one generator method's plugin process, fitted lazily per library.
type generator struct {
	client *rpc.Client
	fitted string // key of the library it was last fitted on
}

func (r *runner) generated(ctx context.Context, m config.Method, split task.Split, seed uint64) error {
	var pending []string
	for _, id := range split.Novel {
		all := true
		for s := 0; s < m.Samples; s++ {
			if _, done := r.prev[methodRow(m, split.Name, id, seed, s).Key()]; !done {
				all = false
			}
		}
		if !all {
			pending = append(pending, id)
			continue
		}
		for s := 0; s < m.Samples; s++ {
			r.finished(methodRow(m, split.Name, id, seed, s)) // counts them as skipped
		}
	}
	if len(pending) == 0 {
		return nil
	}
	lib, libErr := r.library(ctx, split, seed, m.Train)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	libKey := fmt.Sprintf("%s/%d", split.Name, seed)
	gen, err := r.fitted(ctx, m, lib, libKey, deriveSeed(seed, "fit", split.Name, m.Name), libErr)
	for _, id := range pending {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t, _ := r.exp.Task(id)
		start := time.Now()
		var adapters []*lora.Adapter
		genErr := err
		if genErr == nil {
			adapters, genErr = gen.Generator().Generate(ctx, r.embed[id], m.Samples, deriveSeed(seed, "generate", split.Name, id, m.Name))
			r.man.addPhase("generate", time.Since(start))
			if genErr == nil {
				for i, a := range adapters {
					if e := a.Schema.Compatible(r.schema); e != nil {
						genErr = fmt.Errorf("plugin %s Generate: adapter %d: %w", gen.Label(), i, e)
						break
					}
				}
			}
		}
		genSeconds := time.Since(start).Seconds() / float64(m.Samples)
		ms := make([]map[string]float64, m.Samples) // nil where the trial failed
		var wg sync.WaitGroup
		for s := 0; s < m.Samples; s++ {
			row := methodRow(m, split.Name, id, seed, s)
			if prev, done := r.finished(row); done {
				ms[s] = prev.Metrics // from the earlier run, for the diversity row
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				err := genErr
				if err == nil {
					row.Metrics, err = r.evaluate(ctx, t, adapters[s], seed)
				}
				if err == nil {
					ms[s] = row.Metrics
				}
				r.finish(ctx, &row, t0.Add(-time.Duration(genSeconds*float64(time.Second))), err)
			}()
		}
		wg.Wait()
		if genErr == nil && ctx.Err() == nil {
			r.diversity(m, split.Name, id, seed, adapters, ms)
			r.keep(m, split.Name, id, seed, adapters, ms)
		}
		if genErr != nil && gen != nil && gen.Exited() {
			// The process died: the next task gets a fresh one, fitted again.
			gen, err = r.fitted(ctx, m, lib, libKey, deriveSeed(seed, "fit", split.Name, m.Name), libErr)
		}
	}
	return ctx.Err()
}

// library is what a split's generators fit on for a seed: every seen task's expert for
// these training options (trained when not cached), in the split's order. The error
// joins those of the experts that could not be had.
func (r *runner) library(ctx context.Context, split task.Split, seed uint64, train plugin.TrainOptions) (plugin.Library, error) {
	lib := plugin.Library{Schema: r.schema}
	var libErr error
	var mu sync.Mutex
	parallel(split.Seen, func(id string) {
		t, _ := r.exp.Task(id)
		path, err := r.experts.get(ctx, r, t, seed, train)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			libErr = errors.Join(libErr, fmt.Errorf("expert %s: %w", id, err))
			return
		}
		lib.Experts = append(lib.Experts, plugin.Expert{ID: id, Description: t.Description, Embedding: r.embed[id], SnapshotPath: path})
	})
	sort.Slice(lib.Experts, func(i, j int) bool {
		return indexOf(split.Seen, lib.Experts[i].ID) < indexOf(split.Seen, lib.Experts[j].ID)
	})
	return lib, libErr
}

// fitted returns m's generator fitted on lib, starting or restarting its process when
// needed.
func (r *runner) fitted(ctx context.Context, m config.Method, lib plugin.Library, key string, seed uint64, libErr error) (*rpc.Client, error) {
	if libErr != nil {
		return nil, libErr
	}
	g := r.gens[m.Name]
	if g == nil || g.client.Exited() {
		c, err := r.startConfigured(ctx, plugin.KindGenerator, *m.Generator)
		if err != nil {
			return nil, err
		}
		g = &generator{client: c}
		r.gens[m.Name] = g
	}
	if g.fitted != key {
		start := time.Now()
		if err := g.client.Generator().Fit(ctx, lib, seed); err != nil {
			return nil, err
		}
		g.fitted = key
		r.man.addPhase("fit", time.Since(start))
		r.prog.add("fits", 1)
		r.log.Info("fitted", "method", m.Name, "library", key, "experts", len(lib.Experts), "seconds", time.Since(start).Seconds())
	}
	return g.client, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
