// Package driver runs an experiment (DESIGN.md §2) as stages, each a function or a
// small type with its own inputs, tested on in-process fakes (stages_test.go): set-up
// (setUp: plugins started, tasks checked, descriptions embedded), resume (the journal
// of an earlier run judged), experts (trainExperts: every expert unfinished work needs,
// from the cache or trained, before any trial), and per seed and split the trials
// (trials: generator fits, generated samples scored, references, diversity; up to Jobs
// seed and split blocks at once, each with generator processes of its own), every
// finished row appended to results.jsonl at once (journal). Transfer measures, with the
// same plugins and expert cache, whether a world supports zero-shot adaptation at all.
//
// Both hold the output folder's lock (LockFile) while they work. A shard of a run
// (Shard, shard.go: an array task of a Slurm job) gets only its units' experts and
// trials, into its own journal, and holds the lock shared with the other shards. A
// journal row is reused by a rerun only when its identity (identity.go: everything that
// determined its numbers) is the one the current configuration gives; a row that cannot
// be appended stops the run at once.
package driver

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/internal/buildinfo"
)

// Options control a run.
type Options struct {
	Out   string // results folder; the experiment's Output when empty
	Jobs  int    // evaluator processes, and (seed, split) blocks of trials, working at once
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
	// Shard, when set, limits Run to one shard of the trials (shard.go).
	Shard *Shard
	// Build is the runner's version and commit, for the manifest; zero reads it from the
	// binary.
	Build buildinfo.Info
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
	Rows    []results.Row   // every row of the journal, including earlier runs'
	Ran     int             // trials run now
	Skipped int             // trials found finished in the journal
	Failed  int             // trials that failed now
	Stale   int             // rows of earlier runs whose configuration changed, moved to results.SupersededFile
	Metrics results.Metrics // what the evaluator declared of its metrics
}

// Line is how a run ends, for people: "N trials (M new, K reused, F failed) in DIR".
func (s *Summary) Line() string {
	return fmt.Sprintf("%d trials (%d new, %d reused, %d failed) in %s", s.Ran+s.Skipped, s.Ran-s.Failed, s.Skipped, s.Failed, s.Out)
}

// session is what a command of the driver shares across its stages: the experiment,
// where its output and expert cache are, the manifest, and the plugins it starts.
type session struct {
	exp     *config.Experiment
	opt     Options
	out     string // the output folder
	cache   string // the expert cache folder
	man     *Manifest
	plugins *launcher
	release func() // releases the output folder's lock
}

// Run executes exp. Trials that fail are recorded with their error and the run goes on;
// an error return means the run could not go on (bad plugin set-up, interrupted, I/O,
// a journal that cannot be appended to, an output folder in use by another run).
//
// Its stages, in order: set-up (plugins started, tasks checked, descriptions embedded),
// resume (the journal of an earlier run judged), experts (every expert unfinished work
// needs, from the cache or trained), then per seed and split the trials (generator fits,
// generated trials, references, diversity), each row appended to the journal at once.
func Run(ctx context.Context, exp *config.Experiment, opt Options) (*Summary, error) {
	s, err := newSession(exp, opt)
	if err != nil {
		return nil, err
	}
	defer s.release()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	journalPath, manifestPath, err := s.journalFiles()
	if err != nil {
		return nil, err
	}
	if err := s.man.write(manifestPath); err != nil {
		return nil, err
	}
	log := s.opt.Log
	prog := newProgress(s.opt.Progress, log)
	defer prog.finish()

	t0 := time.Now()
	set, err := setUp(ctx, exp, s.plugins.configured, s.opt.Jobs, false)
	if err != nil {
		return nil, err
	}
	s.man.setBanks(set.banks)
	s.man.setMetrics(set.metrics())
	s.plugins.identifyGenerators(ctx)
	s.man.addPhase("setup", time.Since(t0))
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Earlier rows are judged against the identities of the plugins now configured.
	ids := identifier{exp: exp, banks: set.banks, plugin: s.plugins.identity}
	prev, stale, err := resume(journalPath, s.out, ids.row, log)
	if err != nil {
		return nil, err
	}
	if err := s.resumeShared(prev, journalPath, ids.row); err != nil {
		return nil, err
	}
	w, err := results.Create(journalPath)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	j := &journal{w: w, prev: prev, identity: ids.row, prog: prog, log: log, stop: stop}
	j.summary.Out, j.summary.Stale = s.out, stale

	store := newExpertStore(s.cache, s.opt.Fresh, exp, set.evalInfo, set.banks, set.pool, log)
	store.man, store.prog = s.man, prog
	done := s.opt.Shard.done(exp, j.done)
	if err := showStages(prog, exp, store, done, s.opt.Shard); err != nil {
		return nil, err
	}
	if err := trainExperts(ctx, store, store.jobs(expertNeeds(exp, done))); err != nil {
		return nil, err
	}

	tr := &trials{exp: exp, shard: s.opt.Shard, set: set, expert: store.trained, fits: newFitter(s.plugins.configured, s.man, prog, log),
		jobs: s.opt.Jobs, journal: j, out: s.out, man: s.man, log: log}
	if err := tr.run(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && cause != err {
			return nil, cause // the journal's
		}
		return nil, err
	}
	end := time.Now().UTC()
	s.man.End = &end
	if err := s.man.write(manifestPath); err != nil {
		return nil, err
	}
	rows, err := results.Read(journalPath)
	if err != nil {
		return nil, err
	}
	j.summary.Rows = rows
	j.summary.Metrics = set.metrics()
	return &j.summary, nil
}

// newSession prepares what Run and Transfer share: the output folder (the experiment's
// when opt.Out is empty), locked, the expert cache (<out>/cache when opt.Cache is empty)
// and the manifest. The plugins start in setUp.
func newSession(exp *config.Experiment, opt Options) (*session, error) {
	s, err := newUnlockedSession(exp, opt)
	if err != nil {
		return nil, err
	}
	if s.release, err = lockOut(s.out, s.opt.Shard); err != nil {
		return nil, err
	}
	if s.man.CommitNote != "" {
		s.opt.Log.Warn("commit unknown: " + s.man.CommitNote + "; the manifest says so")
	}
	return s, nil
}

// newUnlockedSession is newSession without the output folder's lock, for work that
// writes nothing there but, at most, cache entries (which are safe to share).
func newUnlockedSession(exp *config.Experiment, opt Options) (*session, error) {
	s := newIdleSession(exp, opt)
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	return s, nil
}

// newIdleSession is newUnlockedSession without creating the output folder, for work
// that only reads (PlanRun).
func newIdleSession(exp *config.Experiment, opt Options) *session {
	opt = opt.withDefaults()
	out := opt.Out
	if out == "" {
		out = exp.Output
	}
	cache := opt.Cache
	if cache == "" {
		cache = filepath.Join(out, "cache")
	}
	man := newManifest(exp, opt.Jobs, opt.Build)
	return &session{exp: exp, opt: opt, out: out, cache: cache, man: man, plugins: newLauncher(exp, opt, man), release: func() {}}
}
