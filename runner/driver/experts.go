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
	"sync"
	"time"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// expertStore trains each (task, seed, training options) once per run and keeps the
// snapshots file on disk, named by a hash of everything that determines it, so a rerun
// finds it again. A file that does not read back whole is trained again.
type expertStore struct {
	dir  string
	mu   sync.Mutex
	runs map[string]*expertRun
}

type expertRun struct {
	once sync.Once
	path string
	err  error
}

func (s *expertStore) get(ctx context.Context, r *runner, t task.Task, seed uint64, opts plugin.TrainOptions) (string, error) {
	key, err := expertKey(r, t, seed, opts)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	run := s.runs[key]
	if run == nil {
		run = &expertRun{path: filepath.Join(s.dir, t.ID+"-"+key[:16]+".safetensors")}
		s.runs[key] = run
	}
	s.mu.Unlock()
	run.once.Do(func() { run.err = s.train(ctx, r, t, seed, opts, run.path) })
	if run.err != nil && ctx.Err() != nil {
		// Interrupted, not failed: let nobody keep this outcome.
		s.mu.Lock()
		delete(s.runs, key)
		s.mu.Unlock()
	}
	return run.path, run.err
}

func (s *expertStore) train(ctx context.Context, r *runner, t task.Task, seed uint64, opts plugin.TrainOptions, path string) error {
	if sc, snaps, _, err := lora.ReadSnapshots(path); err == nil && sc.Compatible(r.schema) == nil && len(snaps) == opts.Snapshots {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("expert file unreadable; training again", "task", t.ID, "path", path, "error", err)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	start := time.Now()
	var res plugin.TrainResult
	err := r.pool.do(ctx, func(ev plugin.Evaluator) error {
		var err error
		res, err = ev.Train(ctx, t, deriveSeed(seed, "train", t.ID), opts, path)
		return err
	})
	r.man.addPhase("train", time.Since(start))
	if err != nil {
		return err
	}
	sc, snaps, _, err := lora.ReadSnapshots(path)
	if err != nil {
		return fmt.Errorf("the evaluator's snapshots for task %s: %w", t.ID, err)
	}
	if err := sc.Compatible(r.schema); err != nil {
		return fmt.Errorf("the evaluator's snapshots for task %s: %w", t.ID, err)
	}
	if len(snaps) != opts.Snapshots || res.Snapshots != opts.Snapshots {
		return fmt.Errorf("the evaluator wrote %d snapshots for task %s (said %d), %d were asked", len(snaps), t.ID, res.Snapshots, opts.Snapshots)
	}
	for i, v := range snaps {
		a := &lora.Adapter{Schema: sc, Params: v}
		if err := a.CheckFinite(); err != nil {
			return fmt.Errorf("snapshot %d of task %s: %w", i, t.ID, err)
		}
	}
	r.log.Info("trained", "task", t.ID, "seed", seed, "snapshots", len(snaps), "seconds", time.Since(start).Seconds())
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
			Name, Path string
			Params     map[string]any
		}{r.exp.Evaluator.Name, r.exp.Evaluator.Path, r.exp.Evaluator.Params},
		Task: t, Seed: seed, Train: opts,
	})
	if err != nil {
		return "", fmt.Errorf("task %s: %w", t.ID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
