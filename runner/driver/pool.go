package driver

import (
	"context"
	"fmt"
	"time"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// starter starts and configures the plugin process of worker index.
type starter func(ctx context.Context, index int) (process, error)

// evaluatorPool holds one evaluator process per job, so plugins need not be
// goroutine-safe and N trainings or evaluations run at once. A worker whose process
// died (crashed, or killed after a timeout) is restarted before its next use, so one
// crash fails only the trials in flight on it.
type evaluatorPool struct {
	start   starter
	workers chan *worker
}

type worker struct {
	index    int // 0 … n−1, told to its process (plugin.EnvWorkerIndex), kept across restarts
	client   process
	restarts int
}

// maxRestarts bounds how often in a row one worker's plugin is restarted, so a plugin
// that dies at every call cannot loop forever.
const maxRestarts = 3

func newEvaluatorPool(ctx context.Context, n int, start starter) (*evaluatorPool, error) {
	p := &evaluatorPool{start: start, workers: make(chan *worker, n)}
	for i := 0; i < n; i++ {
		c, err := start(ctx, i)
		if err != nil {
			return nil, err
		}
		p.workers <- &worker{index: i, client: c}
	}
	return p, nil
}

// do runs f on a free evaluator, restarting its process first when it has died, unless
// ctx is done.
func (p *evaluatorPool) do(ctx context.Context, f func(plugin.Evaluator) error) error {
	var w *worker
	select {
	case w = <-p.workers:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { p.workers <- w }()
	if err := ctx.Err(); err != nil {
		return err // cancelled while it waited: start no work, and no process
	}
	if w.client.Exited() {
		if w.restarts >= maxRestarts {
			return fmt.Errorf("evaluator %s died %d times; not restarted again", w.client.Label(), w.restarts+1)
		}
		c, err := p.start(ctx, w.index)
		if err != nil {
			return fmt.Errorf("restarting the evaluator after it died: %w", err)
		}
		w.client = c
		w.restarts++
	}
	err := f(w.client.Evaluator())
	if err == nil {
		w.restarts = 0 // only consecutive deaths count
	}
	return err
}

// evaluate scores a (nil: the bare backbone) on t, timing the evaluation itself (not the
// wait for a free evaluator) in the manifest's evaluate phase.
func (p *evaluatorPool) evaluate(ctx context.Context, man *Manifest, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	var mt map[string]float64
	err := p.do(ctx, func(ev plugin.Evaluator) error {
		start := time.Now()
		defer func() { man.addPhase("evaluate", time.Since(start)) }()
		var err error
		mt, err = ev.Evaluate(ctx, t, a, seed)
		return err
	})
	return mt, err
}

// close kills every evaluator process of the pool; it is not used afterwards.
func (p *evaluatorPool) close() {
	for {
		select {
		case w := <-p.workers:
			w.client.Kill()
		default:
			return
		}
	}
}
