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

	"github.com/sglab/sglab/framework/atomicfile"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
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
	mu    sync.Mutex
	runs  map[string]*expertRun
}

type expertRun struct {
	once sync.Once
	path string
	err  error
}

// entry is the cache key and path of task t's expert for seed and opts (its bank's when
// the task has one), and opts as the expert is trained with.
func (s *expertStore) entry(r *runner, t task.Task, seed uint64, opts plugin.TrainOptions) (key, path string, _ plugin.TrainOptions, err error) {
	// One init per experiment seed, never per task: the library shares a parameter space.
	opts.InitSeed = deriveSeed(seed, "lora-init")
	files, banked := r.banks[t.ID]
	key, err = expertKey(r, t, seed, opts)
	if banked {
		key, err = bankKey(files, r.schema), nil // the same files whatever the seed and training options
	}
	if err != nil {
		return "", "", opts, err
	}
	return key, filepath.Join(s.dir, t.ID+"-"+key[:16]+".safetensors"), opts, nil
}

// cached tells whether a sound entry for task t is at path (never, with fresh).
func (s *expertStore) cached(r *runner, t task.Task, path string, opts plugin.TrainOptions) bool {
	if s.fresh {
		return false
	}
	if _, banked := r.banks[t.ID]; banked {
		return s.checkSized(path, r.schema, len(r.exp.Banks[t.ID])) == nil
	}
	return s.check(path, r.schema, opts) == nil
}

func (s *expertStore) get(ctx context.Context, r *runner, t task.Task, seed uint64, opts plugin.TrainOptions) (string, error) {
	_, banked := r.banks[t.ID]
	key, path, opts, err := s.entry(r, t, seed, opts)
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
			run.err = s.buildBank(ctx, r, t, run.path)
		} else {
			run.err = s.build(ctx, r, t, seed, opts, run.path)
		}
		r.prog.add("experts", 1)
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
func (s *expertStore) check(path string, schema lora.Schema, opts plugin.TrainOptions) error {
	return s.checkSized(path, schema, opts.Snapshots)
}

// checkSized is check for an entry of n snapshots.
func (s *expertStore) checkSized(path string, schema lora.Schema, n int) error {
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
	return validSnapshots(path, schema, n)
}

func (s *expertStore) build(ctx context.Context, r *runner, t task.Task, seed uint64, opts plugin.TrainOptions, path string) error {
	if !s.fresh {
		err := s.check(path, r.schema, opts)
		if err == nil {
			r.log.Debug("expert from cache", "task", t.ID, "seed", seed, "path", path)
			return nil
		}
		// No entry is a cold cache; an entry that fails its check (a missing sidecar
		// included) is damaged, and said so.
		if _, statErr := os.Stat(path); !errors.Is(statErr, fs.ErrNotExist) {
			r.log.Warn("cache entry is damaged; training again", "task", t.ID, "path", path, "error", err)
		}
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	// The plugin writes beside the entry; only a checked file is renamed into place.
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	defer os.Remove(tmp)
	start := time.Now()
	var res plugin.TrainResult
	err := r.pool.do(ctx, func(ev plugin.Evaluator) error {
		t0 := time.Now() // the training itself, not the wait for a free evaluator
		defer func() { r.man.addPhase("train", time.Since(t0)) }()
		var err error
		res, err = ev.Train(ctx, t, deriveSeed(seed, "train", t.ID), opts, tmp)
		return err
	})
	if err != nil {
		return err
	}
	if err := validSnapshots(tmp, r.schema, opts.Snapshots); err != nil {
		return fmt.Errorf("the evaluator's snapshots for task %s: %w", t.ID, err)
	}
	if res.Snapshots != opts.Snapshots {
		return fmt.Errorf("the evaluator says it wrote %d snapshots for task %s, %d were asked", res.Snapshots, t.ID, opts.Snapshots)
	}
	if err := commitEntry(tmp, path); err != nil {
		return err
	}
	r.log.Info("trained", "task", t.ID, "seed", seed, "snapshots", opts.Snapshots, "seconds", time.Since(start).Seconds())
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
func expertKey(r *runner, t task.Task, seed uint64, opts plugin.TrainOptions) (string, error) {
	b, err := json.Marshal(struct {
		Evaluator any
		Task      task.Task
		Seed      uint64
		Train     plugin.TrainOptions
	}{
		Evaluator: struct {
			Name, Version, Path string
			Params              map[string]any
		}{r.evalInfo.Name, r.evalInfo.Version, r.exp.Evaluator.Path, r.exp.Evaluator.Params},
		Task: t, Seed: seed, Train: opts,
	})
	if err != nil {
		return "", fmt.Errorf("task %s: %w", t.ID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
