package miniclip

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugintest"
)

// The test binary re-executes itself as the plugin (plugintest.Main), so the gRPC
// path is tested in a process of its own with no build step outside go test.
func TestMain(m *testing.M) { plugintest.Main(m, served) }

var served = plugintest.Plugins{"miniclip": func() plugin.Base { return New() }}

// TestGRPCRoundTrip runs the evaluator in its own process through the plugin host and
// checks that what crosses the wire matches the in-process evaluator bit for bit, and
// that errors keep the names of the key and task.
func TestGRPCRoundTrip(t *testing.T) {
	c := served.Start(t, "miniclip")
	remote := c.Evaluator()
	local := smallEvaluator(t)
	ctx := context.Background()
	small := plugin.Params{"train_per_class": int64(3), "test_per_class": int64(4), "batch_size": int64(10)}
	if err := remote.Configure(ctx, small); err != nil {
		t.Fatal(err)
	}
	if err := remote.Configure(ctx, plugin.Params{"lr": "fast"}); err == nil || !strings.Contains(err.Error(), `"lr"`) {
		t.Errorf("bad parameter over gRPC: %v", err)
	}
	if err := remote.Configure(ctx, small); err != nil {
		t.Fatal(err)
	}
	ri, err := remote.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	li, _ := local.Info(ctx)
	if ri.Name != li.Name || ri.Schema.Compatible(li.Schema) != nil || !slices.Equal(ri.Metrics, li.Metrics) {
		t.Errorf("Info over gRPC %+v differs from in-process %+v", ri, li)
	}
	tk := mustTask(t, "fashion-inverted", "fashion", "invert")
	if err := remote.CheckTask(ctx, mustTask(t, "bad", "fashion", "twirl")); err == nil || !strings.Contains(err.Error(), "bad") || !strings.Contains(err.Error(), "twirl") {
		t.Errorf("CheckTask over gRPC: %v", err)
	}
	dir := t.TempDir()
	opts := plugin.TrainOptions{Epochs: 2, Snapshots: 2}
	if _, err := remote.Train(ctx, tk, 4, opts, filepath.Join(dir, "remote.safetensors")); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Train(ctx, tk, 4, opts, filepath.Join(dir, "local.safetensors")); err != nil {
		t.Fatal(err)
	}
	s, rs, _, err := lora.ReadSnapshots(filepath.Join(dir, "remote.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	_, ls, _, err := lora.ReadSnapshots(filepath.Join(dir, "local.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rs[1], ls[1]) {
		t.Error("the plugin process trained a different adapter than the in-process evaluator")
	}
	a, _ := lora.FromFlat(s, rs[1])
	rm, err := remote.Evaluate(ctx, tk, a, 4)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := local.Evaluate(ctx, tk, a, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(rm, lm) {
		t.Errorf("Evaluate over gRPC %v, in process %v", rm, lm)
	}
}
