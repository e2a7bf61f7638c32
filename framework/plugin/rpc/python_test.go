package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/task"
	"github.com/sglab/sglab/internal/pythontest"
)

// Python plugins run through the same host path as Go ones: the fakes in
// testdata/python/fake.py use the SDK in framework/plugin/python, with Debian's
// interpreter (python3-grpcio, python3-protobuf, python3-numpy, python3-cryptography).

// needPython skips or fails the test when the interpreter or its packages are missing.
func needPython(t *testing.T) {
	t.Helper()
	pythontest.Require(t, "the Python plugin SDK", pythontest.SDK)
}

// syncBuffer collects a plugin's host-side log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startPython starts the fake named fake from testdata/python/fake.py as kind, with
// the host's log captured.
func startPython(t *testing.T, h *rpc.Host, kind, fake string, mod func(*rpc.Spec)) (*rpc.Client, *syncBuffer) {
	t.Helper()
	needPython(t)
	path, err := filepath.Abs("testdata/python/fake.py")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := rpc.Spec{Kind: kind, Label: "py-" + fake, Path: path, Env: []string{"SGLAB_PY_FAKE=" + fake},
		StartTimeout: 20 * time.Second, Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})}
	if mod != nil {
		mod(&s)
	}
	c, err := h.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

// eventually reports whether cond holds within two seconds: a plugin's stderr reaches
// the host's log on its own schedule, not before the call that wrote it returns.
func eventually(cond func() bool) bool {
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// closeCleanly stops the plugin as the runner does and checks it left on its own.
func closeCleanly(t *testing.T, c *rpc.Client, logs *syncBuffer) {
	t.Helper()
	c.Kill()
	if !c.Exited() {
		t.Errorf("%s still runs after Kill", c.Label())
	}
	for _, bad := range []string{"failed to exit gracefully", "error closing client"} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("%s: host log has %q:\n%s", c.Label(), bad, logs.String())
		}
	}
}

// smallSchema is testdata/python/fake.py's small_schema.
func smallSchema(width int) lora.Schema {
	return lora.Schema{
		{Name: "blocks.0.attn.q_proj", In: 3 * width, Out: 4, Rank: 2, Alpha: 4},
		{Name: "blocks.0.attn.v_proj", In: 5, Out: 2, Rank: 1, Alpha: 0.5},
	}
}

// exactSnapshots is fake.py's exact_snapshots: values exact in float32 on both sides.
func exactSnapshots(s lora.Schema, m int, seed uint64) [][]float32 {
	out := make([][]float32, m)
	for i := range out {
		out[i] = make([]float32, s.NumParams())
		for k := range out[i] {
			out[i][k] = float32((int(uint64(k*7+i*13)+seed)%101)-50) / 8
		}
	}
	return out
}

// TestPythonSnapshotsInterchange: a snapshots file written by the Python SDK reads in
// Go with identical values (and is byte-identical to Go's own file of the same data),
// and a Go file with arbitrary float32 values reads in Python bit for bit.
func TestPythonSnapshotsInterchange(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ctx := context.Background()
	dir := t.TempDir()

	ev, evLogs := startPython(t, h, plugin.KindEvaluator, "evaluator", nil)
	pyPath := filepath.Join(dir, "py.safetensors")
	tk := task.Task{ID: "t1", Dataset: "digits"}
	res, err := ev.Evaluator().Train(ctx, tk, 9, plugin.TrainOptions{Epochs: 4, Snapshots: 3}, pyPath)
	if err != nil || res.Snapshots != 3 || res.Metrics["loss"] != 0.5 {
		t.Fatalf("Train = %+v, %v", res, err)
	}
	info, err := ev.Evaluator().Info(ctx)
	wantMetrics := []plugin.Metric{{Name: "sum", Description: "sum of the adapter's entries"}, {Name: "loss", Description: "a loss", LowerIsBetter: true}}
	if err != nil || !slices.Equal(info.Metrics, wantMetrics) || !slices.Equal(info.Headline, []string{"sum"}) {
		t.Errorf("Python evaluator's metrics %+v, headline %v, %v", info.Metrics, info.Headline, err)
	}
	s, snaps, meta, err := lora.ReadSnapshots(pyPath)
	if err != nil {
		t.Fatal(err)
	}
	if s.Compatible(smallSchema(1)) != nil || !reflect.DeepEqual(snaps, exactSnapshots(s, 3, 9)) || meta["task"] != "t1" {
		t.Fatalf("Python snapshots read in Go: schema %v, meta %v, equal values %v", s, meta, reflect.DeepEqual(snaps, exactSnapshots(s, 3, 9)))
	}
	goPath := filepath.Join(dir, "go.safetensors")
	if err := lora.WriteSnapshots(goPath, smallSchema(1), exactSnapshots(smallSchema(1), 3, 9), map[string]string{"task": "t1"}); err != nil {
		t.Fatal(err)
	}
	pyBytes, _ := os.ReadFile(pyPath)
	goBytes, _ := os.ReadFile(goPath)
	if !bytes.Equal(pyBytes, goBytes) {
		t.Errorf("Python's snapshots file differs from Go's for the same data:\n%q\n%q", pyBytes[:200], goBytes[:200])
	}

	// Go -> Python: random values, subnormals and signed zeros included.
	r := rand.New(rand.NewPCG(1, 2))
	goSnaps := make([][]float32, 4)
	for m := range goSnaps {
		goSnaps[m] = make([]float32, smallSchema(1).NumParams())
		for k := range goSnaps[m] {
			goSnaps[m][k] = float32(r.NormFloat64())
		}
	}
	goSnaps[1][0], goSnaps[1][1], goSnaps[2][3] = math.Float32frombits(1), float32(math.Copysign(0, -1)), math.MaxFloat32
	if err := lora.WriteSnapshots(goPath, smallSchema(1), goSnaps, nil); err != nil {
		t.Fatal(err)
	}
	gen, genLogs := startPython(t, h, plugin.KindGenerator, "generator", nil)
	if err := gen.Generator().Configure(ctx, plugin.Params{"mode": "snapshots"}); err != nil {
		t.Fatal(err)
	}
	lib := plugin.Library{Schema: smallSchema(1), Experts: []plugin.Expert{{ID: "e0", Description: "go expert", Embedding: []float32{1, 0}, SnapshotPath: goPath}}}
	if err := gen.Generator().Fit(ctx, lib, 1); err != nil {
		t.Fatal(err)
	}
	as, err := gen.Generator().Generate(ctx, []float32{1, 0}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	for m, a := range as {
		for k, v := range a.Params {
			if math.Float32bits(v) != math.Float32bits(goSnaps[m][k]) {
				t.Fatalf("snapshot %d value %d: Python read %v, Go wrote %v", m, k, v, goSnaps[m][k])
			}
		}
	}

	// The flat order: Python's A(i)/B(i) views are Go's.
	a := lora.New(smallSchema(1))
	for k := range a.Params {
		a.Params[k] = float32(k)
	}
	m, err := ev.Evaluator().Evaluate(ctx, tk, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"b0": float64(a.B(0)[len(a.B(0))-1]), "a0": float64(a.A(0)[len(a.A(0))-1]),
		"b1": float64(a.B(1)[0]), "a1": float64(a.A(1)[4]), "sum": float64(len(a.Params) * (len(a.Params) - 1) / 2)}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Python's A/B views disagree with Go's: %v, want %v", m, want)
	}
	closeCleanly(t, ev, evLogs)
	closeCleanly(t, gen, genLogs)
}

// TestPythonGeneratorAndEncoder runs every call of both kinds over AutoMTLS, a stray
// print included, and checks both processes leave cleanly on Close.
func TestPythonGeneratorAndEncoder(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ctx := context.Background()
	gen, genLogs := startPython(t, h, plugin.KindGenerator, "generator", nil)
	enc, encLogs := startPython(t, h, plugin.KindEncoder, "encoder", nil)

	info, err := gen.Generator().Info(ctx)
	if err != nil || info.Kind != plugin.KindGenerator || info.Name != "py-generator" || info.Version != "1.0" || len(info.Params) != 2 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if p := info.Params[0]; p.Name != "mode" || p.Type != "string" || p.Default != `"mean"` || p.Constraint() != "one of mean, snapshots" {
		t.Errorf("param %+v", p)
	}
	if p := info.Params[1]; p.Name != "shift" || p.Type != "float" || p.Default != "0" || p.Constraint() != "(-10, 10]" {
		t.Errorf("param %+v", p)
	}
	err = gen.Generator().Configure(ctx, plugin.Params{"mode": "median", "shift": int64(-10)})
	for _, want := range []string{`parameter "mode": must be one of "mean", "snapshots", got "median"`,
		`parameter "shift": must be in (-10, 10], got -10`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Configure: %v, want %q", err, want)
		}
	}
	if err := gen.Generator().Configure(ctx, plugin.Params{"shift": int64(2)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := smallSchema(1)
	lib := plugin.Library{Schema: s}
	for i, seed := range []uint64{3, 5} {
		path := filepath.Join(dir, "e"+string(rune('0'+i))+".safetensors")
		if err := lora.WriteSnapshots(path, s, exactSnapshots(s, 2, seed), nil); err != nil {
			t.Fatal(err)
		}
		lib.Experts = append(lib.Experts, plugin.Expert{ID: "e" + string(rune('0'+i)), Description: "an expert", Embedding: []float32{1, float32(i)}, SnapshotPath: path})
	}
	if err := gen.Generator().Fit(ctx, lib, 1); err != nil {
		t.Fatal(err)
	}
	as, err := gen.Generator().Generate(ctx, []float32{1, 1}, 3, 7)
	if err != nil || len(as) != 3 {
		t.Fatalf("Generate: %d adapters, %v", len(as), err)
	}
	for i, a := range as {
		for k, v := range a.Params {
			var mean float64
			for _, seed := range []uint64{3, 5} {
				for _, sn := range exactSnapshots(s, 2, seed) {
					mean += float64(sn[k]) / 4
				}
			}
			if want := mean + 2 + float64(i); math.Abs(float64(v)-want) > 1e-5 {
				t.Fatalf("adapter %d value %d = %v, want %v", i, k, v, want)
			}
		}
	}
	lib.Experts[1].SnapshotPath = filepath.Join(dir, "missing")
	if err := gen.Generator().Fit(ctx, lib, 1); err == nil || !strings.Contains(err.Error(), "expert e1") || !strings.Contains(err.Error(), "py-generator") {
		t.Fatalf("Fit error must name the expert and the plugin: %v", err)
	}

	if err := enc.Encoder().Configure(ctx, plugin.Params{"scale": 0.5, "width": 3}); err != nil {
		t.Fatal(err)
	}
	vs, err := enc.Encoder().Embed(ctx, []string{"abcd", "hello world"})
	if err != nil || len(vs) != 2 || !reflect.DeepEqual(vs[1], []float32{5.5, 5.5, 5.5}) {
		t.Fatalf("Embed = %v, %v", vs, err)
	}
	// The print in generate went to the log as an info line, not into the protocol.
	printed := func() bool {
		for _, line := range strings.Split(genLogs.String(), "\n") {
			if strings.Contains(line, "[INFO]") && strings.Contains(line, "stdout: hello from a careless print") {
				return true
			}
		}
		return false
	}
	if !eventually(printed) {
		t.Errorf("the plugin's print is not an info line of the host log:\n%s", genLogs.String())
	}
	closeCleanly(t, gen, genLogs)
	closeCleanly(t, enc, encLogs)
}

// TestPythonBadParameters: unknown keys and wrong types are refused by the SDK, bad
// ranges by the plugin, each naming the key.
func TestPythonBadParameters(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ctx := context.Background()
	enc, logs := startPython(t, h, plugin.KindEncoder, "encoder", nil)
	for _, tc := range []struct {
		p    plugin.Params
		want []string
	}{
		{plugin.Params{"sacle": 2.0}, []string{`parameter "sacle": unknown (known: scale, tags, width)`}},
		{plugin.Params{"scale": "big", "width": 2.5}, []string{"parameter \"scale\": want a number, got the string \"big\"\nparameter \"width\": want an integer, got 2.5"}},
		{plugin.Params{"scale": true}, []string{`parameter "scale": want a number, got true (bool)`}},
		{plugin.Params{"tags": []any{"x", int64(3)}}, []string{`parameter "tags": element 1: want a string`}},
		{plugin.Params{"scale": -1.0}, []string{`parameter "scale": must be positive, got -1`}},
	} {
		err := enc.Encoder().Configure(ctx, tc.p)
		var ce *rpc.CallError
		if !errors.As(err, &ce) || ce.Call != "Configure" || !strings.Contains(err.Error(), "py-encoder") {
			t.Errorf("Configure(%v) = %v; want a CallError naming plugin and call", tc.p, err)
			continue
		}
		var re *rpc.RemoteError
		if !errors.As(err, &re) {
			t.Errorf("Configure(%v): a refusal must be the plugin's own error, got %T", tc.p, ce.Err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Configure(%v) = %v; want %q", tc.p, err, w)
			}
		}
	}
	// A plugin bug (here 1/0) fails the call with its type and place; the plugin lives on.
	ev, evLogs := startPython(t, h, plugin.KindEvaluator, "evaluator", nil)
	_, err := ev.Evaluator().Evaluate(ctx, task.Task{ID: "bug"}, nil, 1)
	if err == nil || !strings.Contains(err.Error(), "ZeroDivisionError: division by zero (at fake.py:") {
		t.Errorf("a Python exception must reach the host with its type and place: %v", err)
	}
	if !eventually(func() bool { return strings.Contains(evLogs.String(), "Traceback (most recent call last)") }) {
		t.Errorf("the traceback is not in the log:\n%s", evLogs.String())
	}
	if err := ev.Evaluator().CheckTask(ctx, task.Task{ID: "t9", Dataset: "cifar"}); err == nil || !strings.Contains(err.Error(), `task t9: unknown dataset 'cifar'`) {
		t.Errorf("CheckTask: %v", err)
	}
	// The wrong kind is refused by name rather than with gRPC's "unimplemented".
	wrong, wrongLogs := startPython(t, h, plugin.KindGenerator, "encoder", nil)
	if _, err := wrong.Generator().Info(ctx); err == nil || !strings.Contains(err.Error(), "py-encoder is an encoder plugin, not a generator") {
		t.Errorf("wrong kind: %v", err)
	}
	closeCleanly(t, enc, logs)
	closeCleanly(t, ev, evLogs)
	closeCleanly(t, wrong, wrongLogs)
}

// TestPythonLargeMessages sends and receives single messages far over gRPC's default
// 4 MB on the Python side.
func TestPythonLargeMessages(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ctx := context.Background()
	const width = 1 << 19 // the first module's A is 2 x 1.5M: a 12 MB adapter
	ev, logs := startPython(t, h, plugin.KindEvaluator, "evaluator", nil)
	if err := ev.Evaluator().Configure(ctx, plugin.Params{"width": int64(width)}); err != nil {
		t.Fatal(err)
	}
	info, err := ev.Evaluator().Info(ctx)
	if err != nil || info.Schema.Compatible(smallSchema(width)) != nil {
		t.Fatalf("Info schema %v, %v", info.Schema, err)
	}
	a := lora.New(info.Schema)
	a.A(0)[len(a.A(0))-1] = 3
	m, err := ev.Evaluator().Evaluate(ctx, task.Task{ID: "t", Dataset: "digits"}, a, 1)
	if err != nil || m["a0"] != 3 || m["sum"] != 3 {
		t.Fatalf("Evaluate(12 MB adapter) = %v, %v", m, err)
	}
	enc, encLogs := startPython(t, h, plugin.KindEncoder, "encoder", nil)
	if err := enc.Encoder().Configure(ctx, plugin.Params{"width": int64(2 << 20)}); err != nil {
		t.Fatal(err)
	}
	vs, err := enc.Encoder().Embed(ctx, []string{"ab"})
	if err != nil || len(vs[0]) != 2<<20 || vs[0][0] != 2 {
		t.Fatalf("Embed(8 MB answer): %v", err)
	}
	closeCleanly(t, ev, logs)
	closeCleanly(t, enc, encLogs)
}

// TestPythonCrashMidCall: a segfault in a call fails it with the plugin's name and
// the end of its stderr, where Python's fault handler left the traceback.
func TestPythonCrashMidCall(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c, _ := startPython(t, h, plugin.KindEvaluator, "evaluator", nil)
	_, err := c.Evaluator().Evaluate(context.Background(), task.Task{ID: "crash"}, nil, 1)
	var ce *rpc.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("want a CallError, got %v", err)
	}
	for _, want := range []string{"py-evaluator", "Evaluate(crash)", "plugin process exited", "about to crash", "Segmentation fault", "fake.py"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("crash error lacks %q:\n%v", want, err)
		}
	}
	if !c.Exited() {
		t.Fatal("crashed plugin not seen as exited")
	}
}

// TestPythonHangPastTimeoutKillsPlugin: a Python call that never returns is cut off at
// the call timeout and its process is gone soon after.
func TestPythonHangPastTimeoutKillsPlugin(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c, _ := startPython(t, h, plugin.KindEvaluator, "evaluator", func(s *rpc.Spec) { s.CallTimeout = 500 * time.Millisecond })
	start := time.Now()
	_, err := c.Evaluator().Evaluate(context.Background(), task.Task{ID: "hang"}, nil, 1)
	if err == nil || !strings.Contains(err.Error(), "no answer within") || !strings.Contains(err.Error(), "500ms") || !strings.Contains(err.Error(), "Evaluate(hang)") {
		t.Fatalf("hang: %v", err)
	}
	if !c.Exited() {
		t.Fatal("a plugin past its timeout must be killed")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the hung plugin took %v to be gone", d)
	}
}

// TestPythonRunByHand: started without the host, a plugin says what it is and exits 1.
func TestPythonRunByHand(t *testing.T) {
	needPython(t)
	cmd := exec.Command("testdata/python/fake.py")
	cmd.Env = append(os.Environ(), "SGLAB_PLUGIN=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "not meant to be executed directly") {
		t.Fatalf("run by hand: %v\n%s", err, out)
	}
}

// TestPythonSaveFit: a Python generator without save_fit and load_fit answers SaveFit
// and LoadFit with plugin.ErrCannotSaveFit; one with them saves a fit that another process
// loads instead of fitting, generating the same adapters.
func TestPythonSaveFit(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ctx := context.Background()
	dir := t.TempDir()
	s := smallSchema(1)
	lib := plugin.Library{Schema: s}
	for i, seed := range []uint64{3, 5} {
		path := filepath.Join(dir, "e"+string(rune('0'+i))+".safetensors")
		if err := lora.WriteSnapshots(path, s, exactSnapshots(s, 2, seed), nil); err != nil {
			t.Fatal(err)
		}
		lib.Experts = append(lib.Experts, plugin.Expert{ID: "e" + string(rune('0'+i)), Embedding: []float32{1, float32(i)}, SnapshotPath: path})
	}
	plain, plainLogs := startPython(t, h, plugin.KindGenerator, "generator", nil)
	if err := plain.Generator().Fit(ctx, lib, 1); err != nil {
		t.Fatal(err)
	}
	fit := filepath.Join(dir, "fit")
	if err := plain.FitSaver().SaveFit(ctx, fit); !errors.Is(err, plugin.ErrCannotSaveFit) || !strings.Contains(err.Error(), "py-generator") {
		t.Errorf("SaveFit of a plugin without save_fit: %v", err)
	}
	if err := plain.FitSaver().LoadFit(ctx, fit, lib); !errors.Is(err, plugin.ErrCannotSaveFit) {
		t.Errorf("LoadFit of a plugin without load_fit: %v", err)
	}
	closeCleanly(t, plain, plainLogs)

	a, aLogs := startPython(t, h, plugin.KindGenerator, "saving-generator", nil)
	if err := a.FitSaver().SaveFit(ctx, fit); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Errorf("SaveFit before Fit: %v", err)
	}
	if err := a.Generator().Fit(ctx, lib, 1); err != nil {
		t.Fatal(err)
	}
	if err := a.FitSaver().SaveFit(ctx, fit); err != nil {
		t.Fatal(err)
	}
	want, err := a.Generator().Generate(ctx, []float32{1, 1}, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	closeCleanly(t, a, aLogs)
	b, bLogs := startPython(t, h, plugin.KindGenerator, "saving-generator", nil)
	if err := b.FitSaver().LoadFit(ctx, fit, lib); err != nil {
		t.Fatal(err)
	}
	got, err := b.Generator().Generate(ctx, []float32{1, 1}, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].Params, want[i].Params) {
			t.Errorf("adapter %d after LoadFit differs", i)
		}
	}
	if err := b.FitSaver().LoadFit(ctx, fit, plugin.Library{Schema: s, Experts: lib.Experts[:1]}); err == nil || !strings.Contains(err.Error(), "fitted on 2 experts") {
		t.Errorf("LoadFit on another library: %v", err)
	}
	closeCleanly(t, b, bLogs)
}
