package miniclip

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
)

// benchTask is a strong-shift catalog-style task.
var benchTask = []string{"rotate(90)", "invert"}

// BenchmarkTrainEpoch is one epoch of Train with the default configuration (data
// preparation and file writing included, amortised over 5 epochs); a Train call with
// the lead's defaults (20 epochs) costs about 20× this.
func BenchmarkTrainEpoch(b *testing.B) {
	e := New()
	tk := mustTask(b, "bench", "digits", benchTask...)
	path := filepath.Join(b.TempDir(), "s.safetensors")
	const epochs = 5
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Train(context.Background(), tk, uint64(i), plugin.TrainOptions{Epochs: epochs, Snapshots: 2}, path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N*epochs), "s/epoch")
}

// BenchmarkEvaluate scores one adapter on a task whose test data is cached, as when
// many generated adapters are scored on one novel task.
func BenchmarkEvaluate(b *testing.B) {
	e := New()
	ctx := context.Background()
	tk := mustTask(b, "bench", "fashion", benchTask...)
	info, err := e.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	a := lora.New(info.Schema)
	for i := range a.Params {
		a.Params[i] = 0.01 * float32(i%7-3)
	}
	if _, err := e.Evaluate(ctx, tk, a, 1); err != nil { // fills the cache
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Evaluate(ctx, tk, a, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateCold includes preparing the task's test data (first call per task
// and seed).
func BenchmarkEvaluateCold(b *testing.B) {
	ctx := context.Background()
	tk := mustTask(b, "bench", "fashion", benchTask...)
	e := New()
	if _, err := e.Evaluate(ctx, tk, nil, 0); err != nil { // loads backbone and dataset
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Evaluate(ctx, tk, nil, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
}
