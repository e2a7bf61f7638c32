package driver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/task"
)

// TestPluginEnvironment checks what every evaluator process is told: its worker index
// (kept when a dead worker is restarted), and the experiment file's folder.
func TestPluginEnvironment(t *testing.T) {
	exp := load(t, experiment)
	host := &rpc.Host{}
	defer host.KillAll()
	ctx := context.Background()
	l := newLauncher(exp, Options{Host: host, Spec: testSpec, StartTimeout: 20 * time.Second}, nil)
	pool, err := newEvaluatorPool(ctx, 2, func(ctx context.Context, index int) (process, error) {
		return l.configured(ctx, plugin.KindEvaluator, exp.Evaluator, fmt.Sprintf("%s=%d", plugin.EnvWorkerIndex, index))
	})
	if err != nil {
		t.Fatal(err)
	}
	report := func() map[string]float64 {
		t.Helper()
		var m map[string]float64
		err := pool.do(ctx, func(ev plugin.Evaluator) error {
			var err error
			m, err = ev.Evaluate(ctx, task.Task{ID: "report-env", Dataset: "toy"}, nil, 1)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Free workers are handed out in turn: 0, 1, then 0 again.
	for i, want := range []float64{0, 1, 0} {
		m := report()
		if m["worker"] != want || m["found_experiment"] != 1 {
			t.Fatalf("call %d: the evaluator reports %v, want worker %v and the experiment's folder", i, m, want)
		}
	}
	// Worker 1 dies; its restarted process is worker 1 again.
	w1 := <-pool.workers // the queue is now worker 1, then worker 0
	w0 := <-pool.workers
	dead := w1.client
	dead.Kill()
	pool.workers <- w1
	if m := report(); m["worker"] != 1 || w1.client == dead {
		t.Fatalf("worker 1 after its process died reports %v (restarted: %v), want worker 1", m, w1.client != dead)
	}
	pool.workers <- w0
}
