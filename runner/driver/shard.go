package driver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
)

// Shard selects part of a run's trials so that several processes, on several machines
// (the array tasks of a Slurm job, runner/slurm), share one experiment and one output
// folder on shared storage. The grain is a Unit: one method on one split for one seed,
// which fits its generator once. Shard Index of Count owns the units whose position in
// the run's order (seeds, then splits, then methods) is Index modulo Count. A shard
// appends to its own journal (ShardJournal) and manifest, holds the output folder's
// lock shared with the other shards and its own lock alone, gets (from the cache, or
// trained) only the experts its units' unfinished trials need, and skips every trial
// some journal of the folder holds finished. results.Merge joins the journals
// afterwards.
type Shard struct{ Index, Count int }

// ShardDir, inside an output folder, holds the shards' journals, manifests and locks.
const ShardDir = results.ShardDir

// ShardJournal is the journal of shard index in the output folder out.
func ShardJournal(out string, index int) string {
	return filepath.Join(out, ShardDir, fmt.Sprintf("trials-%d.jsonl", index))
}

func (s Shard) manifest(out string) string { return results.ShardManifest(out, s.Index) }

func (s Shard) check() error {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d of %d: want 0 ≤ index < count", s.Index, s.Count)
	}
	return nil
}

// Journals are the journals of the output folder out: its own (results.jsonl) and the
// shards', whether or not they exist yet.
func Journals(out string) []string {
	shards, _ := filepath.Glob(filepath.Join(out, ShardDir, "trials-*.jsonl"))
	sort.Strings(shards)
	return append([]string{filepath.Join(out, results.FileName)}, shards...)
}

// Unit is the work of one method on one split for one seed.
type Unit struct {
	Seed   uint64 `json:"seed"`
	Split  string `json:"split"`
	Method string `json:"method"`
}

// Units are the units of exp in the run's order.
func Units(exp *config.Experiment) []Unit {
	var out []Unit
	for _, seed := range exp.Seeds {
		for _, sp := range exp.Splits {
			for _, m := range exp.Methods {
				out = append(out, Unit{Seed: seed, Split: sp.Name, Method: m.Name})
			}
		}
	}
	return out
}

// owns tells whether shard s (nil: a whole run, which owns every unit) holds the unit
// of method on split for seed.
func (s *Shard) owns(exp *config.Experiment, seed uint64, split, method string) bool {
	if s == nil {
		return true
	}
	si := slices.Index(exp.Seeds, seed)
	pi := slices.IndexFunc(exp.Splits, func(sp task.Split) bool { return sp.Name == split })
	mi := slices.IndexFunc(exp.Methods, func(m config.Method) bool { return m.Name == method })
	return ((si*len(exp.Splits)+pi)*len(exp.Methods)+mi)%s.Count == s.Index
}

// done is a journal's done for shard s: the rows of units it does not own count as
// done, so that the experts stage gets only the experts of the shard's own work.
func (s *Shard) done(exp *config.Experiment, done func(results.Row) bool) func(results.Row) bool {
	if s == nil {
		return done
	}
	return func(row results.Row) bool {
		return !s.owns(exp, row.Seed, row.Split, row.Method) || done(row)
	}
}

// journalFiles are where the session's run writes its journal and manifest: a shard's
// under ShardDir, or the folder's own, into which a whole run first merges the shards'
// journals (mergeJournals).
func (s *session) journalFiles() (journal, manifest string, err error) {
	if sh := s.opt.Shard; sh != nil {
		return ShardJournal(s.out, sh.Index), sh.manifest(s.out), nil
	}
	if _, err := mergeJournals(s.out); err != nil {
		return "", "", err
	}
	return filepath.Join(s.out, results.FileName), filepath.Join(s.out, ManifestFile), nil
}

// resumeShared adds to a shard's finished rows (prev, from its own journal) those the
// folder's other journals (other shards', and results.jsonl) keep, read only: each
// shard cleans its own. A whole run has nothing to add.
func (s *session) resumeShared(prev map[string]results.Row, own string, identity rowIdentity) error {
	if s.opt.Shard == nil {
		return nil
	}
	for _, path := range Journals(s.out) {
		if path == own {
			continue
		}
		rows, err := results.Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		keep, _, _ := judge(rows, identity)
		for _, row := range keep {
			if _, ok := prev[row.Key()]; !ok {
				prev[row.Key()] = row
			}
		}
	}
	return nil
}

// lockOut takes the output folder's lock: alone for a whole run (shard nil), shared
// with the other shards (and its own shard's alone) for a shard.
func lockOut(out string, shard *Shard) (func(), error) {
	if shard == nil {
		return lockOutput(out)
	}
	if err := shard.check(); err != nil {
		return nil, err
	}
	return lockShard(out, shard.Index)
}

// TrialKey names one trial row.
type TrialKey struct {
	Split  string `json:"split"`
	Task   string `json:"task"`
	Method string `json:"method"`
	Seed   uint64 `json:"seed"`
	Sample int    `json:"sample"`
}

// Key is the results.Row Key of the trial.
func (k TrialKey) Key() string {
	return results.Row{Kind: results.KindTrial, Split: k.Split, Task: k.Task, Method: k.Method, Seed: k.Seed, Sample: k.Sample}.Key()
}

// ShardPlan is the work of a sharded run as it stands: the experts its pending trials
// need that the cache lacks, and per shard its trials and how many are finished.
type ShardPlan struct {
	Experts []ExpertWork `json:"experts"`
	Shards  []ShardWork  `json:"shards"`
}

// ExpertWork is one expert to train (TrainExpert's arguments) and its cache entry.
type ExpertWork struct {
	Task   string `json:"task"`
	Seed   uint64 `json:"seed"`
	Method string `json:"method"` // whose training options
	Path   string `json:"path"`
}

// ShardWork is one shard's work.
type ShardWork struct {
	Index  int        `json:"index"`
	Units  []Unit     `json:"units"`
	Trials []TrialKey `json:"trials"`
	Done   int        `json:"done"` // trials some journal holds finished
}

// PrepareShards makes the output folder ready for count shards (count 0: one per unit;
// never more than the units) and says what they have to do. Like a run's start, it
// cleans every journal of the folder of failed, torn and stale rows (moving stale ones
// to results.SupersededFile), so that no shard keeps rows of another configuration;
// it holds the folder's lock alone meanwhile, so it fails while a run or a shard works
// there. It starts the evaluator and asks the other plugins their Info, since the
// expert cache's keys and the rows' identities depend on them; nothing is trained.
func PrepareShards(ctx context.Context, exp *config.Experiment, opt Options, count int) (*ShardPlan, error) {
	opt.Shard = nil
	s, err := newSession(exp, opt)
	if err != nil {
		return nil, err
	}
	defer s.release()
	store, ids, err := s.lookingStore(ctx)
	if err != nil {
		return nil, err
	}
	finished := map[string]results.Row{} // duplicates across journals are for Merge to judge
	for _, path := range Journals(s.out) {
		prev, _, err := resume(path, s.out, ids.row, s.opt.Log)
		if err != nil {
			return nil, err
		}
		for k, row := range prev {
			if _, ok := finished[k]; !ok {
				finished[k] = row
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := func(row results.Row) bool {
		_, ok := finished[row.Key()]
		return ok
	}

	p := &ShardPlan{}
	for _, j := range store.jobs(expertNeeds(exp, done)) {
		_, path, opts, err := store.entry(j.task, j.seed, j.train)
		if err != nil {
			return nil, err
		}
		if store.cached(j.task, path, opts) {
			continue
		}
		// TrainExpert names the training options by a method that has them.
		m := exp.Methods[slices.IndexFunc(exp.Methods, func(m config.Method) bool { return m.Train == j.train })]
		p.Experts = append(p.Experts, ExpertWork{Task: j.task.ID, Seed: j.seed, Method: m.Name, Path: path})
	}

	units := Units(exp)
	if count <= 0 || count > len(units) {
		count = len(units)
	}
	p.Shards = make([]ShardWork, count)
	for i := range p.Shards {
		p.Shards[i].Index = i
	}
	for i, u := range units {
		sw := &p.Shards[i%count]
		sw.Units = append(sw.Units, u)
		m := exp.Methods[slices.IndexFunc(exp.Methods, func(m config.Method) bool { return m.Name == u.Method })]
		sp := exp.Splits[slices.IndexFunc(exp.Splits, func(s task.Split) bool { return s.Name == u.Split })]
		for _, id := range sp.Novel {
			for s := 0; s < m.Samples; s++ {
				k := TrialKey{Split: sp.Name, Task: id, Method: m.Name, Seed: u.Seed, Sample: s}
				sw.Trials = append(sw.Trials, k)
				if done(methodRow(m, sp.Name, id, u.Seed, s)) {
					sw.Done++
				}
			}
		}
	}
	return p, ctx.Err()
}

// TrainExpert puts into the expert cache the expert of task taskID for seed, trained
// with the training options of method (the experiment's [train] when method is ""),
// unless a sound entry is there already, and returns the entry's path: the work of one
// expert array task of a Slurm run. It is the experts stage, after the set-up, with this
// one expert as its work. It takes no lock on the output folder: cache entries are
// written atomically, so a crashed or concurrent training leaves no entry anyone uses.
func TrainExpert(ctx context.Context, exp *config.Experiment, opt Options, taskID string, seed uint64, method string) (string, error) {
	t, ok := exp.Task(taskID)
	if !ok {
		return "", fmt.Errorf("no task %q in %s", taskID, exp.File)
	}
	if !slices.Contains(exp.Seeds, seed) {
		return "", fmt.Errorf("seed %d is not one of %s's seeds %v", seed, exp.File, exp.Seeds)
	}
	train := exp.Train
	if method != "" {
		i := slices.IndexFunc(exp.Methods, func(m config.Method) bool { return m.Name == method })
		if i < 0 {
			return "", fmt.Errorf("no method %q in %s", method, exp.File)
		}
		train = exp.Methods[i].Train
	}
	s, err := newUnlockedSession(exp, opt)
	if err != nil {
		return "", err
	}
	set, err := setUp(ctx, exp, s.plugins.configured, 1, false)
	if err != nil {
		return "", err
	}
	defer set.pool.close()
	store := newExpertStore(s.cache, s.opt.Fresh, exp, set.evalInfo, set.banks, set.pool, s.opt.Log)
	if err := trainExperts(ctx, store, []expertJob{{task: t, seed: seed, train: train}}); err != nil {
		return "", err
	}
	return store.trained(t, seed, train)
}

// MergeShards joins the journals of the output folder out (results.Merge) into its
// results.jsonl, when it has shard journals, and says how many rows it wrote (0 when
// there is nothing to merge). It holds the folder's lock shared, as a shard does: a
// whole run writing results.jsonl makes it fail, shards still working do not (their
// finished rows are merged, the rest at the next merge).
func MergeShards(out string) (int, error) {
	if len(Journals(out)) == 1 {
		return 0, nil
	}
	release, err := lockFile(out, filepath.Join(out, LockFile), false)
	if err != nil {
		return 0, err
	}
	defer release()
	return mergeJournals(out)
}

// mergeJournals is MergeShards for a caller holding the folder's lock: a whole run
// starts with it, so that it skips the trials the shards finished and its journal holds
// them all.
func mergeJournals(out string) (int, error) {
	journals := Journals(out)
	if len(journals) == 1 {
		return 0, nil
	}
	rows, err := results.Merge(journals)
	if err != nil {
		return 0, err
	}
	return len(rows), results.Rewrite(journals[0], rows)
}
