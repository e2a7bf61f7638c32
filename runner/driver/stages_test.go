package driver

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/metrics"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// The stages' tests run the fake plugins of driver_test.go in-process: no process, no
// gRPC; fakeProcess stands for a started plugin.

// stagesExperiment is the toy experiment for one seed, two samples, and no task whose
// description makes the fake generator exit (which in-process would end the test).
var stagesExperiment = strings.NewReplacer(`seeds = [1, 2]`, `seeds = [1]`, `"crash the generator"`, `"task dddd"`,
	`samples = 3`, `samples = 2`).Replace(experiment)

// fakeProcess is a started plugin served in-process.
type fakeProcess struct {
	enc plugin.Encoder
	ev  plugin.Evaluator
	gen plugin.Generator

	mu   sync.Mutex
	dead bool
}

func (p *fakeProcess) Label() string               { return "fake" }
func (p *fakeProcess) Encoder() plugin.Encoder     { return p.enc }
func (p *fakeProcess) Evaluator() plugin.Evaluator { return p.ev }
func (p *fakeProcess) Generator() plugin.Generator { return p.gen }
func (p *fakeProcess) Kill()                       { p.mu.Lock(); p.dead = true; p.mu.Unlock() }
func (p *fakeProcess) Exited() bool                { p.mu.Lock(); defer p.mu.Unlock(); return p.dead }

// countingEvaluator is the fake evaluator, counting its calls by task, whose training
// fails for failTrain and whose Evaluate leaves out the metric drop.
type countingEvaluator struct {
	evaluator
	failTrain string
	drop      string

	mu            sync.Mutex
	trains, evals map[string]int
}

func newCountingEvaluator(failTrain string) *countingEvaluator {
	return &countingEvaluator{failTrain: failTrain, trains: map[string]int{}, evals: map[string]int{}}
}

func (e *countingEvaluator) Train(ctx context.Context, t task.Task, seed uint64, o plugin.TrainOptions, out string) (plugin.TrainResult, error) {
	e.mu.Lock()
	e.trains[t.ID]++
	e.mu.Unlock()
	if t.ID == e.failTrain {
		return plugin.TrainResult{}, errors.New("out of memory")
	}
	return e.evaluator.Train(ctx, t, seed, o, out)
}

func (e *countingEvaluator) Evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	e.mu.Lock()
	e.evals[t.ID]++
	e.mu.Unlock()
	mt, err := e.evaluator.Evaluate(ctx, t, a, seed)
	delete(mt, e.drop)
	return mt, err
}

func (e *countingEvaluator) count(m map[string]int) map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// countingGenerator is the fake generator, counting its fits in its plugins; Generate
// for the description of task dieOn kills its process.
type countingGenerator struct {
	generator2
	proc    *fakeProcess
	dieOn   string
	plugins *fakePlugins
}

func (g *countingGenerator) Fit(ctx context.Context, lib plugin.Library, seed uint64) error {
	if err := g.plugins.fitting(); err != nil {
		return err
	}
	return g.generator2.Fit(ctx, lib, seed)
}

func (g *countingGenerator) Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	if g.dieOn != "" && target[1] == float32(len("task "+g.dieOn)) {
		g.proc.Kill()
		return nil, errors.New("plugin gen: Generate: the plugin exited")
	}
	return g.generator2.Generate(ctx, target, n, seed)
}

// fakePlugins starts fake processes: the evaluator ev, and generators that die on the
// task dieOn; it counts the generators started and fitted. With overlap set, a fit
// waits (at most overlapWait) until two fits have been in flight at once, and fails if
// they never were.
type fakePlugins struct {
	ev       *countingEvaluator
	dieOn    string
	overlap  bool
	fitErr   error // every fit's, when set
	encoders []*fakeProcess

	mu       sync.Mutex
	gens     []*fakeProcess // generator processes started
	fit      int            // fits begun
	inFlight int            // fits in progress
	peak     int            // most fits in progress at once
	twoFits  chan struct{}  // closed when two fits were in progress at once
}

// overlapWait bounds how long a fit of fakePlugins with overlap waits for another.
const overlapWait = 20 * time.Second

func (f *fakePlugins) start(_ context.Context, kind string, _ config.PluginRef, _ ...string) (process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &fakeProcess{}
	switch kind {
	case plugin.KindEncoder:
		p.enc = encoder{}
		f.encoders = append(f.encoders, p)
	case plugin.KindEvaluator:
		p.ev = f.ev
	case plugin.KindGenerator:
		f.gens = append(f.gens, p)
		p.gen = &countingGenerator{proc: p, dieOn: f.dieOn, plugins: f}
	}
	return p, nil
}

// fitting counts a fit and, with overlap, waits for two fits to be in progress at once.
func (f *fakePlugins) fitting() error {
	f.mu.Lock()
	f.fit++
	f.inFlight++
	if f.twoFits == nil {
		f.twoFits = make(chan struct{})
	}
	if f.peak < 2 && f.inFlight >= 2 {
		close(f.twoFits) // once: peak only grows
	}
	f.peak = max(f.peak, f.inFlight)
	two := f.twoFits
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if f.fitErr != nil || !f.overlap {
		return f.fitErr
	}
	select {
	case <-two:
		return nil
	case <-time.After(overlapWait):
		return errors.New("no other fit was in progress at the same time")
	}
}

// counts are the generator processes started, those still alive, and the fits begun.
func (f *fakePlugins) counts() (started, alive, fits int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.gens {
		if !p.Exited() {
			alive++
		}
	}
	return len(f.gens), alive, f.fit
}

func quiet() hclog.Logger { return hclog.NewNullLogger() }

// setUpFakes runs the set-up stage on fakes.
func setUpFakes(t *testing.T, exp *config.Experiment, f *fakePlugins) *setup {
	t.Helper()
	set, err := setUp(context.Background(), exp, f.start, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestSetUpEmbedsAndStopsTheEncoder(t *testing.T) {
	exp := load(t, stagesExperiment)
	f := &fakePlugins{ev: newCountingEvaluator("")}
	set := setUpFakes(t, exp, f)
	if !slices.Equal(set.schema(), testSchema) {
		t.Errorf("schema %v, want the evaluator's %v", set.schema(), testSchema)
	}
	want, _ := encoder{}.Embed(context.Background(), []string{"task dddd"})
	if len(set.embed) != 4 || !slices.Equal(set.embed["dddd"], want[0]) {
		t.Errorf("embeddings %v, want the 4 used tasks', dddd's %v", set.embed, want[0])
	}
	if len(f.encoders) != 1 || !f.encoders[0].Exited() || set.encoder != nil {
		t.Errorf("the encoder is still running after set-up")
	}

	// A task the evaluator refuses stops the set-up, at the task's line.
	bad := load(t, strings.Replace(stagesExperiment, `description = "task dddd"
dataset = "toy"`, `description = "task dddd"
dataset = "imagenet"`, 1))
	_, err := setUp(context.Background(), bad, f.start, 1, false)
	if err == nil || !strings.Contains(err.Error(), "task[3]") || !strings.Contains(err.Error(), "imagenet") {
		t.Fatalf("a refused task: %v", err)
	}
}

// newStore is the experts stage's store on fakes, with the cache in dir.
func newStore(exp *config.Experiment, set *setup, dir string, fresh bool) *expertStore {
	return newExpertStore(dir, fresh, exp, set.evalInfo, set.banks, set.pool, quiet())
}

func TestExpertsStage(t *testing.T) {
	exp := load(t, stagesExperiment)
	cache := t.TempDir()
	none := func(results.Row) bool { return false }
	needs := expertNeeds(exp, none)
	ctx := context.Background()

	// Cold: every distinct expert is trained once (the Gen library's a and bb, the
	// oracles' ccc and dddd); the one that fails keeps its error, the others go on.
	ev := newCountingEvaluator("bb")
	set := setUpFakes(t, exp, &fakePlugins{ev: ev})
	store := newStore(exp, set, cache, false)
	jobs := store.jobs(append(needs, needs...)) // asked twice, got once
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.task.ID)
	}
	if want := []string{"ccc", "dddd", "a", "bb"}; !slices.Equal(ids, want) {
		t.Fatalf("jobs %v, want %v (the order a run meets them)", ids, want)
	}
	if err := trainExperts(ctx, store, jobs); err != nil {
		t.Fatal(err)
	}
	if got := ev.count(ev.trains); len(got) != 4 || got["a"] != 1 || got["bb"] != 1 || got["ccc"] != 1 {
		t.Fatalf("trainings %v, want each of the 4 experts once", got)
	}
	train := exp.Train
	for _, id := range []string{"a", "ccc", "dddd"} {
		tk, _ := exp.Task(id)
		path, err := store.trained(tk, 1, train)
		if err != nil {
			t.Fatalf("expert %s: %v", id, err)
		}
		if err := store.check(path, train); err != nil {
			t.Fatalf("expert %s in the cache: %v", id, err)
		}
	}
	bb, _ := exp.Task("bb")
	if _, err := store.trained(bb, 1, train); err == nil || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("the failed expert: %v, want the evaluator's error", err)
	}
	// The library of the split names the failed expert; the oracles are unaffected.
	if _, err := library(exp, exp.Splits[0], 1, train, set, store.trained); err == nil || !strings.Contains(err.Error(), "expert bb: out of memory") {
		t.Fatalf("library: %v", err)
	}
	// An expert the stage was not asked for is an error, not a training.
	if _, err := store.trained(bb, 2, train); err == nil || !strings.Contains(err.Error(), "not among") {
		t.Fatalf("an expert outside the stage: %v", err)
	}

	// Warm: a new run trains only the one that failed.
	ev = newCountingEvaluator("")
	set = setUpFakes(t, exp, &fakePlugins{ev: ev})
	store = newStore(exp, set, cache, false)
	if err := trainExperts(ctx, store, store.jobs(needs)); err != nil {
		t.Fatal(err)
	}
	if got := ev.count(ev.trains); len(got) != 1 || got["bb"] != 1 {
		t.Fatalf("warm cache: trainings %v, want only bb's", got)
	}
	if _, err := library(exp, exp.Splits[0], 1, train, set, store.trained); err != nil {
		t.Fatal(err)
	}

	// Fresh ignores the cache.
	store = newStore(exp, set, cache, true)
	if err := trainExperts(ctx, store, store.jobs(needs)); err != nil {
		t.Fatal(err)
	}
	if got := ev.count(ev.trains); got["a"] != 1 || got["bb"] != 2 || got["ccc"] != 1 {
		t.Fatalf("fresh: trainings %v, want every expert again", got)
	}

	// Interrupted: an error, and no outcome is kept.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	store = newStore(exp, set, t.TempDir(), false)
	if err := trainExperts(cancelled, store, store.jobs(needs)); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted: %v", err)
	}
	if len(store.runs) != 0 {
		t.Fatalf("interrupted: %d outcomes kept", len(store.runs))
	}
}

func TestExpertNeedsFollowUnfinishedWork(t *testing.T) {
	exp := load(t, stagesExperiment)
	m := func(name string) config.Method {
		i := slices.IndexFunc(exp.Methods, func(m config.Method) bool { return m.Name == name })
		return exp.Methods[i]
	}
	finished := map[string]bool{}
	finish := func(rows ...results.Row) {
		for _, r := range rows {
			finished[r.Key()] = true
		}
	}
	done := func(r results.Row) bool { return finished[r.Key()] }
	pending := func() []string {
		var out []string
		for _, n := range expertNeeds(exp, done) {
			if n.pending {
				out = append(out, n.stage+" "+n.task.ID)
			}
		}
		return out
	}
	// Gen's trials on ccc done, not on dddd: its library is still needed.
	finish(methodRow(m("Gen"), "main", "ccc", 1, 0), methodRow(m("Gen"), "main", "ccc", 1, 1))
	// The oracle on ccc: its trial done, its diversity row not: still needed.
	finish(methodRow(m("Oracle"), "main", "ccc", 1, 0))
	want := []string{StageOracles + " ccc", StageOracles + " dddd", StageExperts + " a", StageExperts + " bb"}
	if got := pending(); !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
	div := methodRow(m("Oracle"), "main", "ccc", 1, 0)
	div.Kind = results.KindDiversity
	finish(div, methodRow(m("Gen"), "main", "dddd", 1, 0), methodRow(m("Gen"), "main", "dddd", 1, 1))
	if got, want := pending(), []string{StageOracles + " dddd"}; !slices.Equal(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}
}

// newJournal is the journal stage writing to dir/results.jsonl, with the rows of
// earlier runs prev; rows get no identity.
func newJournal(t *testing.T, dir string, prev ...results.Row) *journal {
	t.Helper()
	w, err := results.Create(filepath.Join(dir, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	j := &journal{w: w, prev: map[string]results.Row{}, log: quiet(), stop: func(error) {},
		identity: func(results.Row) (map[string]string, bool) { return nil, false }}
	for _, r := range prev {
		j.prev[r.Key()] = r
	}
	return j
}

// trialsOnFakes is the trials stage of exp on fakes, after the experts stage, writing
// its journal into out.
func trialsOnFakes(t *testing.T, exp *config.Experiment, f *fakePlugins, out string, prev ...results.Row) *trials {
	t.Helper()
	return shardOnFakes(t, exp, nil, f, out, prev...)
}

// shardOnFakes is trialsOnFakes for the units of shard (nil: all), as Run sets it up.
func shardOnFakes(t *testing.T, exp *config.Experiment, shard *Shard, f *fakePlugins, out string, prev ...results.Row) *trials {
	t.Helper()
	set := setUpFakes(t, exp, f)
	store := newStore(exp, set, t.TempDir(), false)
	j := newJournal(t, out, prev...)
	if err := trainExperts(context.Background(), store, store.jobs(expertNeeds(exp, shard.done(exp, j.done)))); err != nil {
		t.Fatal(err)
	}
	return &trials{exp: exp, shard: shard, set: set, expert: store.trained, fits: newFitter(f.start, nil, nil, quiet()),
		journal: j, out: out, log: quiet()}
}

// TestTrialsOfShards: each shard trains only the experts of its own units and runs only
// their trials, and the shards' rows together are a whole run's, number for number.
func TestTrialsOfShards(t *testing.T) {
	exp := load(t, stagesExperiment)
	ctx := context.Background()
	wholeOut := t.TempDir()
	if err := trialsOnFakes(t, exp, &fakePlugins{ev: newCountingEvaluator("")}, wholeOut).run(ctx); err != nil {
		t.Fatal(err)
	}
	whole := readJournal(t, wholeOut)

	// One seed and split: units Zero-shot (0), Oracle (1) and Gen (2); shard 0 of 2 owns
	// the zero-shot and Gen units, shard 1 the oracle's.
	tests := []struct {
		shard   Shard
		methods []string
		trained []string // tasks whose experts the shard trains
	}{
		{Shard{0, 2}, []string{"Gen", "Zero-shot"}, []string{"a", "bb"}},
		{Shard{1, 2}, []string{"Oracle"}, []string{"ccc", "dddd"}},
	}
	merged := map[string]results.Row{}
	for _, tc := range tests {
		out := t.TempDir()
		f := &fakePlugins{ev: newCountingEvaluator("")}
		if err := shardOnFakes(t, exp, &tc.shard, f, out).run(ctx); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(f.ev.count(f.ev.trains))); !slices.Equal(got, tc.trained) {
			t.Errorf("shard %d trained the experts of %v, want %v", tc.shard.Index, got, tc.trained)
		}
		var methods []string
		for k, r := range readJournal(t, out) {
			if !slices.Contains(methods, r.Method) {
				methods = append(methods, r.Method)
			}
			if _, dup := merged[k]; dup {
				t.Errorf("row %q in two shards", k)
			}
			merged[k] = r
		}
		if slices.Sort(methods); !slices.Equal(methods, tc.methods) {
			t.Errorf("shard %d recorded rows of %v, want %v", tc.shard.Index, methods, tc.methods)
		}
	}
	if len(merged) != len(whole) {
		t.Fatalf("the shards recorded %d rows, a whole run %d", len(merged), len(whole))
	}
	for k, w := range whole {
		if r := merged[k]; !maps.Equal(r.Metrics, w.Metrics) || r.Error != w.Error {
			t.Errorf("%q: shards %v %q, whole run %v %q", k, r.Metrics, r.Error, w.Metrics, w.Error)
		}
	}
}

func readJournal(t *testing.T, dir string) map[string]results.Row {
	t.Helper()
	rows, err := results.Read(filepath.Join(dir, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]results.Row{}
	for _, r := range rows {
		if _, dup := out[r.Key()]; dup {
			t.Fatalf("row %q recorded twice", r.Key())
		}
		out[r.Key()] = r
	}
	return out
}

func TestTrialsSkipFinished(t *testing.T) {
	exp := load(t, stagesExperiment)
	gen, zs := exp.Methods[2], exp.Methods[0]
	// An earlier run finished Gen on ccc and the zero-shot trial on dddd.
	prev := []results.Row{methodRow(gen, "main", "ccc", 1, 0), methodRow(gen, "main", "ccc", 1, 1), methodRow(zs, "main", "dddd", 1, 0)}
	for i := range prev {
		prev[i].Metrics = map[string]float64{"score": 1}
	}
	out := t.TempDir()
	f := &fakePlugins{ev: newCountingEvaluator("")}
	tr := trialsOnFakes(t, exp, f, out, prev...)
	if err := tr.split(context.Background(), exp.Splits[0], 1); err != nil {
		t.Fatal(err)
	}
	rows := readJournal(t, out)
	for _, p := range prev {
		if _, again := rows[p.Key()]; again {
			t.Errorf("finished trial %q ran again", p.Key())
		}
	}
	// Zero-shot ccc, Oracle ccc and dddd, Gen dddd's 2 samples; diversity of the
	// oracles and of Gen on dddd.
	trialsRan, diversity := 0, 0
	for _, r := range rows {
		if r.Error != "" {
			t.Errorf("row %q failed: %s", r.Key(), r.Error)
		}
		switch r.Kind {
		case results.KindTrial:
			trialsRan++
		case results.KindDiversity:
			diversity++
		}
	}
	if trialsRan != 5 || diversity != 3 {
		t.Fatalf("%d trials and %d diversity rows recorded, want 5 and 3", trialsRan, diversity)
	}
	if s := tr.journal.summary; s.Ran != 5 || s.Skipped != 3 || s.Failed != 0 {
		t.Fatalf("summary %+v, want 5 ran, 3 skipped", s)
	}
	// ccc: zero-shot and oracle; dddd: oracle and Gen's 2 samples.
	if got := f.ev.count(f.ev.evals); got["ccc"] != 2 || got["dddd"] != 3 {
		t.Fatalf("evaluations %v, want ccc 2 and dddd 3", got)
	}
	if started, alive, fits := f.counts(); started != 1 || fits != 1 || alive != 0 {
		t.Fatalf("%d generators started (%d alive) and %d fits, want 1 (none alive) and 1", started, alive, fits)
	}
	// Nothing left: a second pass over the same journal records nothing.
	all := slices.Collect(maps.Values(rows))
	out2 := t.TempDir()
	f2 := &fakePlugins{ev: newCountingEvaluator("")}
	tr2 := trialsOnFakes(t, exp, f2, out2, append(all, prev...)...)
	if err := tr2.split(context.Background(), exp.Splits[0], 1); err != nil {
		t.Fatal(err)
	}
	if n, gens := len(readJournal(t, out2)), len(f2.gens); n != 0 || gens != 0 || len(f2.ev.count(f2.ev.trains)) != 0 {
		t.Fatalf("finished experiment: %d rows, %d generators, trainings %v", n, gens, f2.ev.count(f2.ev.trains))
	}
}

func TestReferences(t *testing.T) {
	exp := load(t, stagesExperiment)
	out := t.TempDir()
	// The oracle's expert of dddd cannot be trained.
	f := &fakePlugins{ev: newCountingEvaluator("dddd")}
	tr := trialsOnFakes(t, exp, f, out)
	ctx := context.Background()
	for _, m := range exp.Methods[:2] {
		var err error
		if m.Reference == config.ZeroShot {
			err = tr.zeroShot(ctx, m, exp.Splits[0], 1)
		} else {
			err = tr.oracle(ctx, m, exp.Splits[0], 1)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	rows := readJournal(t, out)
	row := func(m config.Method, taskID string, kind string) results.Row {
		r := methodRow(m, "main", taskID, 1, 0)
		r.Kind = kind
		got, ok := rows[r.Key()]
		if !ok {
			t.Fatalf("no row %q", r.Key())
		}
		return got
	}
	zs, oracle := exp.Methods[0], exp.Methods[1]
	if r := row(zs, "ccc", results.KindTrial); r.Metrics["score"] != 10 || r.Reference != config.ZeroShot {
		t.Errorf("zero-shot ccc: %+v, want the bare backbone's 10", r)
	}
	// The oracle of ccc scores its expert's last snapshot (the fake sums its values).
	want := 0.0
	for i := 0; i < testSchema.NumParams(); i++ {
		want += float64(len("ccc")+i) + 0.1
	}
	if r := row(oracle, "ccc", results.KindTrial); abs(r.Metrics["score"]-want) > 1e-4 {
		t.Errorf("oracle ccc: %v, want %v", r.Metrics["score"], want)
	}
	if r := row(oracle, "ccc", results.KindDiversity); r.Error != "" || len(r.Metrics) == 0 {
		t.Errorf("oracle ccc diversity: %+v", r)
	}
	// The failed expert fails its trial, with the reason, and gives no diversity row.
	if r := row(oracle, "dddd", results.KindTrial); !strings.Contains(r.Error, "task dddd") || !strings.Contains(r.Error, "out of memory") {
		t.Errorf("oracle dddd: error %q, want the expert's", r.Error)
	}
	div := methodRow(oracle, "main", "dddd", 1, 0)
	div.Kind = results.KindDiversity
	if _, ok := rows[div.Key()]; ok {
		t.Errorf("a diversity row for a failed oracle")
	}
	if s := tr.journal.summary; s.Ran != 4 || s.Failed != 1 {
		t.Errorf("summary %+v, want 4 ran, 1 failed", s)
	}
}

// TestTrialLacksADeclaredMetric: a trial whose Evaluate returns fewer metrics than the
// evaluator's Info declares fails, naming the metric.
func TestTrialLacksADeclaredMetric(t *testing.T) {
	exp := load(t, stagesExperiment)
	out := t.TempDir()
	ev := newCountingEvaluator("")
	ev.drop = "xfer"
	tr := trialsOnFakes(t, exp, &fakePlugins{ev: ev}, out)
	if err := tr.zeroShot(context.Background(), exp.Methods[0], exp.Splits[0], 1); err != nil {
		t.Fatal(err)
	}
	rows := readJournal(t, out)
	for _, id := range exp.Splits[0].Novel {
		r := rows[methodRow(exp.Methods[0], "main", id, 1, 0).Key()]
		if !strings.Contains(r.Error, "returned no xfer, a metric its Info declares") || len(r.Metrics) != 0 {
			t.Errorf("zero-shot %s: %+v, want failed for the missing xfer", id, r)
		}
	}
}

func TestGeneratedRestartsADeadGenerator(t *testing.T) {
	exp := load(t, stagesExperiment)
	out := t.TempDir()
	f := &fakePlugins{ev: newCountingEvaluator(""), dieOn: "ccc"}
	tr := trialsOnFakes(t, exp, f, out)
	if err := tr.generated(context.Background(), exp.Methods[2], exp.Splits[0], 1); err != nil {
		t.Fatal(err)
	}
	rows := readJournal(t, out)
	for s := 0; s < 2; s++ {
		failed := rows[methodRow(exp.Methods[2], "main", "ccc", 1, s).Key()]
		if !strings.Contains(failed.Error, "task ccc") || !strings.Contains(failed.Error, "exited") {
			t.Errorf("ccc sample %d: error %q, want the generator's", s, failed.Error)
		}
		if ok := rows[methodRow(exp.Methods[2], "main", "dddd", 1, s).Key()]; ok.Error != "" || len(ok.Metrics) == 0 {
			t.Errorf("dddd sample %d: %+v, want scored by a restarted generator", s, ok)
		}
	}
	// The dead process was replaced and the new one fitted on the same library; neither
	// outlives the method's trials.
	if started, alive, fits := f.counts(); started != 2 || fits != 2 || alive != 0 {
		t.Fatalf("%d generators started (%d alive) and %d fits, want 2 (none alive) and 2", started, alive, fits)
	}
}

// blocksExperiment is the toy experiment with two seeds and two splits: four (seed,
// split) blocks, each fitting the generator of method Gen once.
var blocksExperiment = strings.NewReplacer(`"crash the generator"`, `"task dddd"`, `samples = 3`, `samples = 2`).Replace(experiment) + `
[[split]]
name = "flipped"
seen = ["ccc", "dddd"]
novel = ["a", "bb"]
`

// TestBlocksRunAtOnce: with jobs 2 two blocks' generator fits are in progress at once
// (each fit waits for another and fails if none comes), with jobs 1 never; both give the
// same rows, and no generator process outlives its block.
func TestBlocksRunAtOnce(t *testing.T) {
	exp := load(t, blocksExperiment)
	if len(exp.Seeds)*len(exp.Splits) != 4 {
		t.Fatalf("%d seeds and %d splits, want 4 blocks", len(exp.Seeds), len(exp.Splits))
	}
	runs := map[int]map[string]results.Row{}
	for _, tc := range []struct {
		jobs, peak int
	}{{1, 1}, {2, 2}} {
		f := &fakePlugins{ev: newCountingEvaluator(""), overlap: tc.jobs > 1}
		out := t.TempDir()
		tr := trialsOnFakes(t, exp, f, out)
		tr.jobs = tc.jobs
		if err := tr.run(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows := readJournal(t, out)
		for k, r := range rows {
			if r.Error != "" {
				t.Errorf("jobs %d: %q failed: %s", tc.jobs, k, r.Error)
			}
		}
		started, alive, fits := f.counts()
		if started != 4 || fits != 4 || alive != 0 || f.peak != tc.peak {
			t.Errorf("jobs %d: %d generators started (%d alive), %d fits, at most %d at once; want 4 (none alive), 4, %d",
				tc.jobs, started, alive, fits, f.peak, tc.peak)
		}
		runs[tc.jobs] = rows
	}
	if len(runs[1]) != len(runs[2]) {
		t.Fatalf("jobs 1 recorded %d rows, jobs 2 %d", len(runs[1]), len(runs[2]))
	}
	for k, a := range runs[1] {
		if b, ok := runs[2][k]; !ok || !maps.Equal(a.Metrics, b.Metrics) || a.Error != b.Error {
			t.Errorf("%q: jobs 1 %v %q, jobs 2 %v %q", k, a.Metrics, a.Error, b.Metrics, b.Error)
		}
	}
}

// TestFitterStartsAProcessPerFit: every fit gets a process of its own, which the caller
// kills; a process whose fit failed is killed at once; a library that could not be had
// starts nothing.
func TestFitterStartsAProcessPerFit(t *testing.T) {
	exp := load(t, stagesExperiment)
	f := &fakePlugins{ev: newCountingEvaluator("")}
	set := setUpFakes(t, exp, f)
	store := newStore(exp, set, t.TempDir(), false)
	ctx := context.Background()
	if err := trainExperts(ctx, store, store.jobs(expertNeeds(exp, func(results.Row) bool { return false }))); err != nil {
		t.Fatal(err)
	}
	lib, err := library(exp, exp.Splits[0], 1, exp.Train, set, store.trained)
	if err != nil {
		t.Fatal(err)
	}
	fits := newFitter(f.start, nil, nil, quiet())
	m := exp.Methods[2]
	var procs []process
	for i, key := range []string{"main/1", "main/1"} {
		p, err := fits.fitted(ctx, m, lib, key, 7, nil)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		procs = append(procs, p)
	}
	if started, alive, n := f.counts(); started != 2 || alive != 2 || n != 2 || procs[0] == procs[1] {
		t.Fatalf("%d generators started (%d alive) and %d fits, want 2 processes of their own, alive, and 2 fits", started, alive, n)
	}
	for _, p := range procs {
		p.Kill()
	}
	f.fitErr = errors.New("out of memory")
	if p, err := fits.fitted(ctx, m, lib, "main/1", 7, nil); !errors.Is(err, f.fitErr) || p != nil {
		t.Fatalf("failed fit: %v, %v", p, err)
	}
	if started, alive, _ := f.counts(); started != 3 || alive != 0 {
		t.Fatalf("after a failed fit %d generators started, %d alive; want 3 and none", started, alive)
	}
	libErr := errors.New("expert bb: out of memory")
	if _, err := fits.fitted(ctx, m, lib, "third/1", 7, libErr); !errors.Is(err, libErr) {
		t.Fatalf("library error: %v", err)
	}
	if started, _, _ := f.counts(); started != 3 {
		t.Fatalf("a library error started a generator (%d started, want 3)", started)
	}
}

func TestDiversityRow(t *testing.T) {
	adapters := make([]*lora.Adapter, 3)
	for i := range adapters {
		adapters[i] = lora.New(testSchema)
		for j := range adapters[i].Params {
			adapters[i].Params[j] = float32(i*j) + float32(i+1)/3
		}
	}
	base := methodRow(config.Method{Name: "Gen"}, "main", "ccc", 1, 0)
	base.Kind = results.KindDiversity
	for _, tc := range []struct {
		name string
		ms   []map[string]float64
		use  []int // the samples the row is over; nil: no row
	}{
		// r1_std is the spread of the primary metric given (score), not of another.
		{"all succeeded", []map[string]float64{{"score": 1, "seed": 5}, {"score": 3, "seed": 5}, {"score": 2, "seed": 5}}, []int{0, 1, 2}},
		{"a failed sample is left out", []map[string]float64{{"score": 1, "seed": 5}, nil, {"score": 2, "seed": 9}}, []int{0, 2}},
		{"none succeeded", []map[string]float64{nil, nil, nil}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row, ok := diversityRow(base, adapters, tc.ms, "score")
			if ok != (tc.use != nil) {
				t.Fatalf("row given: %v, want %v", ok, tc.use != nil)
			}
			if !ok {
				return
			}
			var as []*lora.Adapter
			var r1 []float64
			for _, i := range tc.use {
				as = append(as, adapters[i])
				r1 = append(r1, tc.ms[i]["score"])
			}
			want, err := metrics.Diversity(as, r1)
			if err != nil {
				t.Fatal(err)
			}
			if row.Error != "" || len(row.Metrics) != len(want) {
				t.Fatalf("row %+v, want metrics %v", row, want)
			}
			for k, v := range want {
				if row.Metrics[k] != v {
					t.Errorf("%s = %v, want %v", k, row.Metrics[k], v)
				}
			}
		})
	}
}

func TestKept(t *testing.T) {
	ms := []map[string]float64{{"loss": 0.5, "acc": 70}, nil, {"loss": 0.2, "acc": 60}, {"loss": 0.9, "acc": 80}}
	higher := results.Metric{Name: "acc"}
	lower := results.Metric{Name: "loss", LowerIsBetter: true}
	for _, tc := range []struct {
		name    string
		how     string
		ms      []map[string]float64
		primary results.Metric
		want    []int
	}{
		{"all scored samples", config.KeepAll, ms, higher, []int{0, 2, 3}},
		{"best, higher is better", config.KeepBest, ms, higher, []int{3}},
		{"best, lower is better", config.KeepBest, ms, lower, []int{2}},
		{"best of none scored", config.KeepBest, []map[string]float64{nil, nil}, higher, nil},
		{"none asked for", config.KeepNone, ms, higher, nil},
	} {
		if got := kept(tc.how, tc.ms, tc.primary); !slices.Equal(got, tc.want) {
			t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestResume(t *testing.T) {
	exp := load(t, stagesExperiment)
	zs, oracle := exp.Methods[0], exp.Methods[1]
	ok := methodRow(zs, "main", "ccc", 1, 0)
	ok.Identity = map[string]string{"task": "1"}
	failed := methodRow(zs, "main", "dddd", 1, 0)
	failed.Error = "task dddd: boom"
	stale := methodRow(oracle, "main", "ccc", 1, 0)
	stale.Identity = map[string]string{"task": "1", "train": "old"}
	identity := func(r results.Row) (map[string]string, bool) {
		if r.Reference == config.Oracle {
			return map[string]string{"task": "1", "train": "new"}, true
		}
		return map[string]string{"task": "1"}, true
	}
	out := t.TempDir()
	path := filepath.Join(out, results.FileName)

	// No journal: nothing finished.
	prev, n, err := resume(path, out, identity, quiet())
	if err != nil || len(prev) != 0 || n != 0 {
		t.Fatalf("no journal: %v, %d stale, %v", prev, n, err)
	}

	if err := appendRows(path, []results.Row{ok, failed, stale, ok}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"trial","split":"ma`) // torn by a crash
	f.Close()
	prev, n, err = resume(path, out, identity, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if _, kept := prev[ok.Key()]; len(prev) != 1 || !kept || n != 1 {
		t.Fatalf("finished %v with %d stale, want only the zero-shot ccc row and 1 stale", prev, n)
	}
	rows, err := results.Read(path)
	if err != nil || len(rows) != 1 || rows[0].Key() != ok.Key() {
		t.Fatalf("journal after resuming: %v (%v), want the one finished row", rows, err)
	}
	superseded, err := results.Read(filepath.Join(out, results.SupersededFile))
	if err != nil || len(superseded) != 1 || superseded[0].Key() != stale.Key() {
		t.Fatalf("superseded rows: %v (%v), want the stale oracle row", superseded, err)
	}
	// A clean journal is left as it is.
	before, _ := os.ReadFile(path)
	if _, _, err := resume(path, out, identity, quiet()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a clean journal was rewritten")
	}
}
