package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/atomicfile"
	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// expertStore is the on-disk cache of expert (and oracle) snapshots files. An entry is
// named by a hash of everything that determines it: the evaluator's name, version and
// parameters, the task's definition, the seed and the training options. Entries are
// written atomically with a sha256 sidecar; one whose sidecar is missing or does not
// match (a partial write, a truncated or altered file) is trained again, never used.
// Within a run each entry is trained once however many splits and methods need it.
type expertStore struct {
	dir   string
	fresh bool // ignore entries found on disk
	// What the entries depend on: the evaluator, its adapter schema, and the banks.
	evaluator evaluatorKey
	schema    lora.Schema
	banks     map[string][]BankFile // by task: the files of its bank
	bankDirs  map[string][]string   // by task: its bank's folders (the experiment's Banks)
	// What training needs; a store without a pool (PlanRun) only looks.
	pool *evaluatorPool
	man  *Manifest // phase "train"; may be nil
	prog *progress // counts the "experts" trained now (those cached are counted up front); may be nil
	log  hclog.Logger

	mu   sync.Mutex
	runs map[string]*expertRun // by key: the outcome of this run's get
}

// evaluatorKey is what identifies the evaluator in an entry's key.
type evaluatorKey struct {
	Name, Version, Path string
	Params              map[string]any
}

type expertRun struct {
	once sync.Once
	path string
	err  error
}

// newExpertStore is the store of the cache folder for the experiment as set up; pool
// nil gives a store that only looks.
func newExpertStore(cache string, fresh bool, exp *config.Experiment, evalInfo plugin.Info, banks map[string][]BankFile, pool *evaluatorPool, log hclog.Logger) *expertStore {
	return &expertStore{dir: filepath.Join(cache, "experts"), fresh: fresh,
		evaluator: evaluatorKey{evalInfo.Name, evalInfo.Version, exp.Evaluator.Path, exp.Evaluator.Params},
		schema:    evalInfo.Schema, banks: banks, bankDirs: exp.Banks, pool: pool, log: log, runs: map[string]*expertRun{}}
}

// expertNeed is one use of an expert by an experiment: a seen task's for a generator's
// library, or a novel task's for an oracle.
type expertNeed struct {
	stage   string // StageExperts or StageOracles
	task    task.Task
	seed    uint64
	train   plugin.TrainOptions
	pending bool // work the journal does not hold yet uses it
}

// expertNeeds lists every use of an expert by the experiment's methods, in the order a
// run meets them, and whether unfinished work needs it: a library when a trial of its
// method, split and seed is not done, an oracle's expert when its trial or its
// diversity row is not.
func expertNeeds(exp *config.Experiment, done func(results.Row) bool) []expertNeed {
	var needs []expertNeed
	for _, seed := range exp.Seeds {
		for _, split := range exp.Splits {
			for _, m := range exp.Methods {
				switch {
				case m.Reference == config.Oracle:
					for _, id := range split.Novel {
						row := methodRow(m, split.Name, id, seed, 0)
						div := row
						div.Kind = results.KindDiversity
						t, _ := exp.Task(id)
						needs = append(needs, expertNeed{StageOracles, t, seed, m.Train, !done(row) || !done(div)})
					}
				case m.Generator != nil:
					pending := len(pendingTasks(m, split, seed, done)) > 0
					for _, id := range split.Seen {
						t, _ := exp.Task(id)
						needs = append(needs, expertNeed{StageExperts, t, seed, m.Train, pending})
					}
				}
			}
		}
	}
	return needs
}

// expertsOf are the needs of the experts of tasks ids for seed and train, all pending:
// a library's (Fit) or the transfer diagnostic's.
func expertsOf(exp *config.Experiment, ids []string, seed uint64, train plugin.TrainOptions) []expertNeed {
	needs := make([]expertNeed, len(ids))
	for i, id := range ids {
		t, _ := exp.Task(id)
		needs[i] = expertNeed{stage: StageExperts, task: t, seed: seed, train: train, pending: true}
	}
	return needs
}

// pendingTasks are the novel tasks of split on which some trial of m for seed is not done.
func pendingTasks(m config.Method, split task.Split, seed uint64, done func(results.Row) bool) []string {
	var pending []string
	for _, id := range split.Novel {
		for s := 0; s < m.Samples; s++ {
			if !done(methodRow(m, split.Name, id, seed, s)) {
				pending = append(pending, id)
				break
			}
		}
	}
	return pending
}

// expertJob is one expert to get: task's for seed and training options.
type expertJob struct {
	task  task.Task
	seed  uint64
	train plugin.TrainOptions
}

// jobs are the distinct experts the pending needs ask for (by cache entry), in order.
// A need whose entry cannot be named is kept: getting it fails with the reason.
func (s *expertStore) jobs(needs []expertNeed) []expertJob {
	var out []expertJob
	seen := map[string]bool{}
	for _, n := range needs {
		if !n.pending {
			continue
		}
		key, _, _, err := s.entry(n.task, n.seed, n.train)
		if err == nil && seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, expertJob{n.task, n.seed, n.train})
	}
	return out
}

// trainExperts is the experts stage: it gets every job's expert, from the cache or
// trained on the evaluator pool (its workers at once). An expert that cannot be had is
// kept with its error for the work that uses it (trained answers it), and the others go
// on; only an interruption is an error.
func trainExperts(ctx context.Context, store *expertStore, jobs []expertJob) error {
	parallel(jobs, func(j expertJob) {
		if _, err := store.get(ctx, j.task, j.seed, j.train); err != nil && ctx.Err() == nil {
			store.log.Error("expert failed; the work that uses it fails with the reason", "task", j.task.ID, "seed", j.seed, "error", err)
		}
	})
	return ctx.Err()
}

// trained is the outcome of the experts stage for task t's expert for seed and opts: its
// snapshots file, or why there is none.
func (s *expertStore) trained(t task.Task, seed uint64, opts plugin.TrainOptions) (string, error) {
	key, _, _, err := s.entry(t, seed, opts)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	run := s.runs[key]
	s.mu.Unlock()
	if run == nil {
		return "", fmt.Errorf("expert %s (seed %d) was not among the experts stage's work", t.ID, seed)
	}
	return run.path, run.err
}

// entry is the cache key and path of task t's expert for seed and opts (its bank's when
// the task has one), and opts as the expert is trained with.
func (s *expertStore) entry(t task.Task, seed uint64, opts plugin.TrainOptions) (key, path string, _ plugin.TrainOptions, err error) {
	// One init per experiment seed, never per task: the library shares a parameter space.
	opts.InitSeed = deriveSeed(seed, "lora-init")
	files, banked := s.banks[t.ID]
	key, err = s.expertKey(t, seed, opts)
	if banked {
		key, err = bankKey(files, s.schema), nil // the same files whatever the seed and training options
	}
	if err != nil {
		return "", "", opts, err
	}
	return key, filepath.Join(s.dir, t.ID+"-"+key[:16]+".safetensors"), opts, nil
}

// cached tells whether a sound entry for task t is at path (never, with fresh).
func (s *expertStore) cached(t task.Task, path string, opts plugin.TrainOptions) bool {
	if s.fresh {
		return false
	}
	if _, banked := s.banks[t.ID]; banked {
		return s.checkSized(path, len(s.bankDirs[t.ID])) == nil
	}
	return s.check(path, opts) == nil
}

// get is task t's expert for seed and opts: from the cache, or built (trained, or read
// from its bank) once however often it is asked for.
func (s *expertStore) get(ctx context.Context, t task.Task, seed uint64, opts plugin.TrainOptions) (string, error) {
	_, banked := s.banks[t.ID]
	key, path, opts, err := s.entry(t, seed, opts)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	run := s.runs[key]
	if run == nil {
		run = &expertRun{path: path}
		s.runs[key] = run
	}
	s.mu.Unlock()
	run.once.Do(func() {
		if banked {
			run.err = s.buildBank(t, run.path)
		} else {
			run.err = s.build(ctx, t, seed, opts, run.path)
		}
	})
	if run.err != nil && ctx.Err() != nil {
		// Interrupted, not failed: let nobody keep this outcome.
		s.mu.Lock()
		delete(s.runs, key)
		s.mu.Unlock()
	}
	return run.path, run.err
}

// check verifies a cache entry: its sidecar digest, then its content.
func (s *expertStore) check(path string, opts plugin.TrainOptions) error {
	return s.checkSized(path, opts.Snapshots)
}

// checkSized is check for an entry of n snapshots.
func (s *expertStore) checkSized(path string, n int) error {
	want, err := os.ReadFile(path + ".sha256")
	if err != nil {
		return fmt.Errorf("its checksum sidecar: %w", err)
	}
	got, err := plugin.FileSHA256(path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(want)) != got {
		return fmt.Errorf("checksum mismatch: the file has sha256 %s, its sidecar says %s", got, strings.TrimSpace(string(want)))
	}
	return validSnapshots(path, s.schema, n)
}

func (s *expertStore) build(ctx context.Context, t task.Task, seed uint64, opts plugin.TrainOptions, path string) error {
	if !s.fresh {
		err := s.check(path, opts)
		if err == nil {
			s.log.Debug("expert from cache", "task", t.ID, "seed", seed, "path", path)
			return nil
		}
		// No entry is a cold cache; an entry that fails its check (a missing sidecar
		// included) is damaged, and said so.
		if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
			s.log.Warn("cache entry is damaged; training again", "task", t.ID, "path", path, "error", err)
		}
	}
	if s.pool == nil {
		return fmt.Errorf("expert %s (seed %d) is not in the cache, and this command trains none", t.ID, seed)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	// The plugin writes beside the entry; only a checked file is renamed into place.
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	defer os.Remove(tmp)
	start := time.Now()
	var res plugin.TrainResult
	err := s.pool.do(ctx, func(ev plugin.Evaluator) error {
		t0 := time.Now() // the training itself, not the wait for a free evaluator
		defer func() { s.man.addPhase("train", time.Since(t0)) }()
		var err error
		res, err = ev.Train(ctx, t, deriveSeed(seed, "train", t.ID), opts, tmp)
		return err
	})
	if err != nil {
		return err
	}
	if err := validSnapshots(tmp, s.schema, opts.Snapshots); err != nil {
		return fmt.Errorf("the evaluator's snapshots for task %s: %w", t.ID, err)
	}
	if res.Snapshots != opts.Snapshots {
		return fmt.Errorf("the evaluator says it wrote %d snapshots for task %s, %d were asked", res.Snapshots, t.ID, opts.Snapshots)
	}
	if err := commitEntry(tmp, path); err != nil {
		return err
	}
	s.prog.done("experts", "", time.Since(start))
	s.log.Info("trained", "task", t.ID, "seed", seed, "snapshots", opts.Snapshots, "seconds", time.Since(start).Seconds())
	return nil
}

// commitEntry moves a checked snapshots file tmp into the cache at path, with its sha256
// sidecar.
func commitEntry(tmp, path string) error {
	sum, err := plugin.FileSHA256(tmp)
	if err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	os.Remove(path + ".sha256") // an entry without its sidecar is never trusted
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	if err := atomicfile.WriteBytes(path+".sha256", []byte(sum+"\n")); err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	return nil
}

// validSnapshots checks a snapshots file against the evaluator's schema: n snapshots,
// every value finite.
func validSnapshots(path string, schema lora.Schema, n int) error {
	sc, snaps, _, err := lora.ReadSnapshots(path)
	if err != nil {
		return err
	}
	if err := sc.Compatible(schema); err != nil {
		return err
	}
	if len(snaps) != n {
		return fmt.Errorf("%d snapshots, %d were asked", len(snaps), n)
	}
	for i, v := range snaps {
		if err := (&lora.Adapter{Schema: sc, Params: v}).CheckFinite(); err != nil {
			return fmt.Errorf("snapshot %d: %w", i, err)
		}
	}
	return nil
}

// expertKey hashes everything that determines an expert.
func (s *expertStore) expertKey(t task.Task, seed uint64, opts plugin.TrainOptions) (string, error) {
	b, err := json.Marshal(struct {
		Evaluator any
		Task      task.Task
		Seed      uint64
		Train     plugin.TrainOptions
	}{Evaluator: s.evaluator, Task: t, Seed: seed, Train: opts})
	if err != nil {
		return "", fmt.Errorf("task %s: %w", t.ID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
