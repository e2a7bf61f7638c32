package miniclip

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

func mustTask(t testing.TB, id, dataset string, chain ...string) task.Task {
	t.Helper()
	tk := task.Task{ID: id, Description: id, Dataset: dataset}
	for _, s := range chain {
		tr, err := task.ParseTransform(s)
		if err != nil {
			t.Fatal(err)
		}
		tk.Domain = append(tk.Domain, tr)
	}
	return tk
}

// smallEvaluator is the shipped backbone with small data sizes, for fast tests.
func smallEvaluator(t *testing.T) *Evaluator {
	t.Helper()
	e := New()
	if err := e.Configure(context.Background(), plugin.Params{
		"train_per_class": int64(3), "test_per_class": int64(4), "batch_size": int64(10),
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestInfo(t *testing.T) {
	e := New()
	info, err := e.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != plugin.KindEvaluator || info.Name != "miniclip" || info.Version == "" {
		t.Errorf("identity: %+v", info)
	}
	if err := info.Schema.Validate(); err != nil {
		t.Error(err)
	}
	m, _ := Default()
	if len(info.Schema) != 3*m.Config().Blocks || info.Schema[0].Name != "visual.blocks.0.attn.q_proj" || info.Schema[0].Rank != 2 {
		t.Errorf("schema %v", info.Schema)
	}
	if !slices.Equal(info.Datasets, []string{"digits", "fashion"}) || !slices.Contains(info.Transforms, "rotate") {
		t.Errorf("datasets %v, transforms %v", info.Datasets, info.Transforms)
	}
	ms := results.Metrics{All: info.Metrics, Headline: info.Headline}
	if !slices.Equal(ms.Names(), []string{"i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"}) ||
		!slices.Equal(info.Headline, []string{"i2t_r1", "t2i_r1"}) || ms.Check("miniclip") != nil {
		t.Errorf("metrics %v, headline %v: %v", ms.Names(), info.Headline, ms.Check("miniclip"))
	}
	names := map[string]bool{}
	for _, p := range info.Params {
		names[p.Name] = p.Doc != ""
	}
	for _, want := range []string{"train_per_class", "test_per_class", "batch_size", "lr", "rank", "alpha", "data_dir", "checkpoint"} {
		if !names[want] {
			t.Errorf("parameter %q missing or undocumented", want)
		}
	}
	// The schema follows the configured rank.
	if err := e.Configure(context.Background(), plugin.Params{"rank": int64(3)}); err != nil {
		t.Fatal(err)
	}
	info, _ = e.Info(context.Background())
	if info.Schema[0].Rank != 3 {
		t.Errorf("rank 3 configured, schema says %d", info.Schema[0].Rank)
	}
}

func TestConfigureRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    plugin.Params
		want string
	}{
		{"unknown", plugin.Params{"epochs": int64(3)}, `"epochs"`},
		{"type", plugin.Params{"lr": "fast"}, `"lr"`},
		{"range", plugin.Params{"test_per_class": int64(0)}, "test_per_class"},
		{"batch", plugin.Params{"batch_size": int64(1)}, "batch_size"},
		{"rank", plugin.Params{"rank": int64(0)}, "rank"},
		{"alpha", plugin.Params{"alpha": -1.0}, "alpha"},
		{"checkpoint", plugin.Params{"checkpoint": "/nonexistent/x.safetensors"}, "checkpoint"},
		{"data_dir", plugin.Params{"data_dir": "/nonexistent/mnist"}, "data_dir"},
		{"more than shipped", plugin.Params{"train_per_class": int64(201)}, "train_per_class"},
		{"more than shipped test", plugin.Params{"test_per_class": int64(51)}, "test_per_class"},
		{"more than exist", plugin.Params{"train_per_class": int64(1000000000), "data_dir": "/tmp"}, "train_per_class"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().Configure(context.Background(), tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Configure(%v) = %v, want an error naming %s", tc.p, err, tc.want)
			}
		})
	}
}

func TestCheckTask(t *testing.T) {
	e := New()
	ctx := context.Background()
	if err := e.CheckTask(ctx, mustTask(t, "ok", "digits", "rotate(90)", "invert")); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckTask(ctx, mustTask(t, "clean", "fashion")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tk   task.Task
		want []string
	}{
		{mustTask(t, "t1", "letters"), []string{`"t1"`, "letters"}},
		{mustTask(t, "t2", "digits", "rotate(10)", "blurr(2)"), []string{`"t2"`, "blurr(2)"}},
		{mustTask(t, "t3", "digits", "rotate(1, 2, 3)"), []string{`"t3"`, "rotate(1, 2, 3)"}},
		{task.Task{ID: "t4", Dataset: "digits", Params: map[string]any{"k": 1}}, []string{`"t4"`, "k"}},
	} {
		err := e.CheckTask(ctx, tc.tk)
		if err == nil {
			t.Errorf("task %s accepted", tc.tk.ID)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("task %s: error %q does not name %s", tc.tk.ID, err, w)
			}
		}
	}
}

// TestTrainWritesSnapshots trains a tiny run and reads the file back.
func TestTrainWritesSnapshots(t *testing.T) {
	e := smallEvaluator(t)
	ctx := context.Background()
	tk := mustTask(t, "digits-sideways", "digits", "rotate(90)")
	path := filepath.Join(t.TempDir(), "expert.safetensors")
	res, err := e.Train(ctx, tk, 7, plugin.TrainOptions{Epochs: 3, Snapshots: 2}, path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshots != 2 || !(res.Metrics["final_loss"] > 0) {
		t.Errorf("result %+v", res)
	}
	s, snaps, meta, err := lora.ReadSnapshots(path)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := e.Info(ctx)
	if err := s.Compatible(info.Schema); err != nil {
		t.Error(err)
	}
	if len(snaps) != 2 || slices.Equal(snaps[0], snaps[1]) {
		t.Errorf("%d snapshots; consecutive epochs must differ", len(snaps))
	}
	if meta["task"] != tk.ID || meta["seed"] != "7" || len(meta["checkpoint_sha256"]) != 64 {
		t.Errorf("metadata %v", meta)
	}
	// Same seed, same bits; TrainOptions.Rank overrides the configured rank.
	path2 := filepath.Join(t.TempDir(), "again.safetensors")
	if _, err := e.Train(ctx, tk, 7, plugin.TrainOptions{Epochs: 3, Snapshots: 2}, path2); err != nil {
		t.Fatal(err)
	}
	_, again, _, err := lora.ReadSnapshots(path2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range snaps {
		if !slices.Equal(snaps[i], again[i]) {
			t.Fatal("the same seed gave different adapters")
		}
	}
	if _, err := e.Train(ctx, tk, 7, plugin.TrainOptions{Epochs: 1, Snapshots: 1, Rank: 4}, path2); err != nil {
		t.Fatal(err)
	}
	s4, _, _, err := lora.ReadSnapshots(path2)
	if err != nil || s4[0].Rank != 4 {
		t.Errorf("rank override: schema %v, err %v", s4, err)
	}
}

func TestTrainRejects(t *testing.T) {
	e := smallEvaluator(t)
	tk := mustTask(t, "x", "digits")
	dir := t.TempDir()
	for _, opts := range []plugin.TrainOptions{{Epochs: 0, Snapshots: 0}, {Epochs: 2, Snapshots: 3}, {Epochs: 2, Snapshots: 1, Rank: -1}} {
		if _, err := e.Train(context.Background(), tk, 1, opts, filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("Train(%+v) = %v, want an error naming the task", opts, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Train(ctx, tk, 1, plugin.TrainOptions{Epochs: 2, Snapshots: 1}, filepath.Join(dir, "y")); !errors.Is(err, context.Canceled) {
		t.Errorf("Train with a cancelled context = %v", err)
	}
}

// TestEvaluate checks the metric keys and ranges, that a fresh (B = 0) adapter scores
// exactly like the bare backbone, that the same (task, seed) gives the same numbers and
// the same test images whatever the task's id, and that bad adapters are refused.
func TestEvaluate(t *testing.T) {
	e := smallEvaluator(t)
	ctx := context.Background()
	tk := mustTask(t, "a", "fashion", "gaussian_noise(0.2)")
	base, err := e.Evaluate(ctx, tk, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := e.Info(ctx)
	promised := results.Metrics{All: info.Metrics}.Names()
	if !slices.Equal(slices.Sorted(maps.Keys(base)), slices.Sorted(slices.Values(promised))) {
		t.Fatalf("metrics %v, Info promises %v", base, info.Metrics)
	}
	for k, v := range base {
		if v < 0 || v > 100 || math.IsNaN(v) {
			t.Errorf("%s = %v", k, v)
		}
	}
	if !(base["i2t_r1"] <= base["i2t_r5"] && base["i2t_r5"] <= base["i2t_r10"]) {
		t.Errorf("recall not monotone in K: %v", base)
	}
	fresh := lora.New(info.Schema)
	for i := range fresh.Params {
		fresh.Params[i] = 0
	}
	// A = anything, B = 0: ΔW = 0.
	for i := range info.Schema {
		for k := range fresh.A(i) {
			fresh.A(i)[k] = 0.3
		}
	}
	got, err := e.Evaluate(ctx, tk, fresh, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, base) {
		t.Errorf("zero-B adapter scored %v, bare backbone %v", got, base)
	}
	renamed := tk
	renamed.ID, renamed.Description = "b", "another description"
	e2 := smallEvaluator(t) // a fresh cache: the numbers must be recomputed, not looked up
	if again, err := e2.Evaluate(ctx, renamed, nil, 3); err != nil || !maps.Equal(again, base) {
		t.Errorf("same dataset, domain and seed under another id: %v (err %v), want %v", again, err, base)
	}

	bad := lora.New(model.Schema(smallConfig(), 2, 4))
	if _, err := e.Evaluate(ctx, tk, bad, 3); err == nil {
		t.Error("an adapter of another backbone's schema was accepted")
	}
	nan := fresh.Clone()
	nan.Params[0] = float32(math.NaN())
	if _, err := e.Evaluate(ctx, tk, nan, 3); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN adapter: %v", err)
	}
	if _, err := e.Evaluate(ctx, mustTask(t, "c", "digits", "nope"), nil, 3); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad domain: %v", err)
	}
}

// TestTestDataDependsOnTaskAndSeed: the same (task, seed) selects the same images and
// transforms them identically; another seed selects others.
func TestTestDataDependsOnTaskAndSeed(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	set, err := loadSet("digits", "")
	if err != nil {
		t.Fatal(err)
	}
	tk := mustTask(t, "n", "digits", "gaussian_noise(0.3)")
	pipe, err := (&Evaluator{}).check(tk)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.taskPairs(set, tk, pipe, 5, splitTest, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.taskPairs(set, tk, pipe, 5, splitTest, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.pixels, b.pixels) || !slices.Equal(a.captions, b.captions) {
		t.Fatal("the same task and seed gave different test images")
	}
	c, err := m.taskPairs(set, tk, pipe, 6, splitTest, 3)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.captions, c.captions) {
		t.Error("another seed chose the same test images")
	}
	train, err := m.taskPairs(set, tk, pipe, 5, splitTrain, 3)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.pixels, train.pixels) {
		t.Error("train and test pairs coincide")
	}
	if a.n != 30 || len(a.groups) != 30 {
		t.Errorf("%d test pairs, want 3 per class", a.n)
	}
}

// TestConcurrentCalls runs training and evaluations at once, as a runner training two
// experts in parallel does; run with -race.
func TestConcurrentCalls(t *testing.T) {
	e := smallEvaluator(t)
	ctx := context.Background()
	tk := mustTask(t, "c", "digits", "rotate(45)")
	want, err := e.Evaluate(ctx, tk, nil, 9)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	errs := make(chan error, 6)
	for i := range 3 {
		go func() {
			_, err := e.Train(ctx, tk, uint64(i), plugin.TrainOptions{Epochs: 1, Snapshots: 1}, filepath.Join(dir, fmt.Sprint(i)))
			errs <- err
		}()
		go func() {
			got, err := e.Evaluate(ctx, tk, nil, 9)
			if err == nil && !maps.Equal(got, want) {
				err = fmt.Errorf("concurrent Evaluate gave %v, alone %v", got, want)
			}
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestSharedInit checks the aligned expert space: adapters trained on different tasks
// with one InitSeed start from the same A (and B = 0), a different InitSeed gives a
// different A, and with train_a = false A stays exactly at that init while B moves.
func TestSharedInit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	train := func(e *Evaluator, tk task.Task, seed, initSeed uint64) *lora.Adapter {
		t.Helper()
		path := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.safetensors", tk.ID, seed, initSeed))
		if _, err := e.Train(ctx, tk, seed, plugin.TrainOptions{Epochs: 2, Snapshots: 1, InitSeed: initSeed}, path); err != nil {
			t.Fatal(err)
		}
		s, snaps, meta, err := lora.ReadSnapshots(path)
		if err != nil {
			t.Fatal(err)
		}
		if meta["init_seed"] != strconv.FormatUint(initSeed, 10) {
			t.Errorf("metadata init_seed = %q, want %d", meta["init_seed"], initSeed)
		}
		a, err := lora.FromFlat(s, snaps[0])
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	frozen := New()
	if err := frozen.Configure(ctx, plugin.Params{
		"train_per_class": int64(3), "test_per_class": int64(4), "batch_size": int64(10), "train_a": false,
	}); err != nil {
		t.Fatal(err)
	}
	rot := mustTask(t, "rot", "digits", "rotate(60)")
	blur := mustTask(t, "blur", "fashion", "gaussian_blur(2)")
	a1, a2, a3 := train(frozen, rot, 1, 5), train(frozen, blur, 2, 5), train(frozen, rot, 1, 6)
	// The init itself, for comparison: what trainLoRA starts from.
	_, m, err := frozen.state()
	if err != nil {
		t.Fatal(err)
	}
	init, err := model.BindLoRA(m.Config(), a1.Schema, make([]float32, a1.Schema.NumParams()))
	if err != nil {
		t.Fatal(err)
	}
	model.InitLoRA(init, rand.New(rand.NewPCG(initSeed(m, 5), 0x696e6974)))
	for i := range a1.Schema {
		if !slices.Equal(a1.A(i), init.Mods[i].A) || !slices.Equal(a2.A(i), init.Mods[i].A) {
			t.Fatalf("module %d: with A frozen, experts of two tasks must keep the shared init's A", i)
		}
		if slices.Equal(a1.A(i), a3.A(i)) {
			t.Fatalf("module %d: init seeds 5 and 6 gave the same A", i)
		}
	}
	if slices.Equal(a1.B(0), a2.B(0)) || !slices.ContainsFunc(a1.B(0), func(x float32) bool { return x != 0 }) {
		t.Error("B must move from 0, differently for different tasks")
	}
	// Trained A moves away from the same start.
	a4 := train(smallEvaluator(t), rot, 1, 5)
	if slices.Equal(a4.A(0), init.Mods[0].A) {
		t.Error("with train_a = true A did not move")
	}
}
