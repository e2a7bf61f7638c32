package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/framework/task"
)

// The test binary re-executes itself as each fake plugin (plugintest.Main), and as
// a plugin older than this protocol (envOldGenerator), which rpc.Serve cannot serve.
func TestMain(m *testing.M) {
	if os.Getenv(envOldGenerator) != "" {
		serveOldGenerator()
		os.Exit(0)
	}
	plugintest.Main(m, fakes)
}

var fakes = plugintest.Plugins{
	"encoder":   func() plugin.Base { markLaunch(); return &fakeEncoder{scale: 1} },
	"evaluator": func() plugin.Base { return fakeEvaluator{} },
	"generator": func() plugin.Base { return &fakeGenerator{} },
	"stdout":    func() plugin.Base { return &carelessEncoder{fakeEncoder{scale: 1}} },
	"chatty":    func() plugin.Base { return chattyEncoder{&fakeEncoder{scale: 1}} },
}

// paperSchema is CLIP ViT-B/16 with rank-2 LoRA on q, k, v of its 12 blocks.
func paperSchema() lora.Schema {
	var s lora.Schema
	for b := 0; b < 12; b++ {
		for _, p := range []string{"q_proj", "k_proj", "v_proj"} {
			s = append(s, lora.Module{Name: fmt.Sprintf("visual.blocks.%d.attn.%s", b, p), In: 768, Out: 768, Rank: 2, Alpha: 4})
		}
	}
	return s
}

type fakeEncoder struct {
	scale float32
	log   hclog.Logger
}

func (f *fakeEncoder) SetLogger(l hclog.Logger) { f.log = l }

func (f *fakeEncoder) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{Kind: plugin.KindEncoder, Name: "fake-encoder", Version: "1.0", Params: []plugin.Param{{Name: "scale", Type: "float", Default: "1", Above: "0", Max: "10"}}}, nil
}

func (f *fakeEncoder) Configure(_ context.Context, p plugin.Params) error {
	for k, v := range p {
		if k != "scale" {
			return fmt.Errorf("unknown parameter %q", k)
		}
		f.scale = float32(v.(float64))
	}
	if f.log != nil {
		f.log.Info("configured through the logger Serve handed over", "scale", f.scale)
	}
	return nil
}

func (f *fakeEncoder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if t == "nan" {
			out[i] = []float32{float32(nanValue()), 0}
			continue
		}
		out[i] = []float32{f.scale * float32(len(t)), f.scale}
	}
	return out, nil
}

func nanValue() float64 { z := 0.0; return z / z }

type fakeEvaluator struct{}

func (fakeEvaluator) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{Kind: plugin.KindEvaluator, Name: "fake-evaluator", Version: "1.0", Schema: paperSchema(), Datasets: []string{"digits"},
		Metrics: []plugin.Metric{{Name: "sum", Description: "sum of the parameters", LowerIsBetter: true}, {Name: "count"}}, Headline: []string{"sum"}}, nil
}
func (fakeEvaluator) Configure(context.Context, plugin.Params) error { return nil }
func (fakeEvaluator) CheckTask(_ context.Context, t task.Task) error {
	if t.Dataset != "digits" {
		return fmt.Errorf("task %s: unknown dataset %q", t.ID, t.Dataset)
	}
	return nil
}
func (fakeEvaluator) Train(_ context.Context, t task.Task, seed uint64, opts plugin.TrainOptions, out string) (plugin.TrainResult, error) {
	s := paperSchema()
	snaps := make([][]float32, opts.Snapshots)
	for m := range snaps {
		snaps[m] = make([]float32, s.NumParams())
		snaps[m][0] = float32(m) + float32(seed)
	}
	if err := lora.WriteSnapshots(out, s, snaps, map[string]string{"task": t.ID}); err != nil {
		return plugin.TrainResult{}, err
	}
	return plugin.TrainResult{Snapshots: opts.Snapshots, Metrics: map[string]float64{"loss": 0.5}}, nil
}
func (fakeEvaluator) Evaluate(_ context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	if t.ID == "crash" {
		hclog.Default().Error("fake evaluator: about to crash")
		panic("fake evaluator crashed")
	}
	if t.ID == "hang" {
		time.Sleep(time.Hour)
	}
	if a == nil {
		return map[string]float64{"sum": -1, "seed": float64(seed), "args": t.Domain[0].Args[0]}, nil
	}
	var sum float64
	for _, v := range a.Params {
		sum += float64(v)
	}
	return map[string]float64{"sum": sum, "seed": float64(seed)}, nil
}

type fakeGenerator struct{ lib plugin.Library }

func (g *fakeGenerator) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{Kind: plugin.KindGenerator, Name: "fake-generator", Version: "1.0"}, nil
}
func (g *fakeGenerator) Configure(context.Context, plugin.Params) error { return nil }
func (g *fakeGenerator) Fit(_ context.Context, lib plugin.Library, _ uint64) error {
	for _, e := range lib.Experts {
		if _, err := os.Stat(e.SnapshotPath); err != nil {
			return fmt.Errorf("expert %s: %w", e.ID, err)
		}
	}
	g.lib = lib
	return nil
}
func (g *fakeGenerator) Generate(_ context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	switch target[0] {
	case -3:
		panic("fake generator panicked")
	case -2:
		time.Sleep(time.Hour)
	case -1:
		return []*lora.Adapter{lora.New(g.lib.Schema)}, nil // wrong count on purpose
	}
	out := make([]*lora.Adapter, n)
	for i := range out {
		out[i] = lora.New(g.lib.Schema) // of no parameters before Fit
		if i < len(out[i].Params) {
			out[i].Params[i] = float32(seed) + float32(len(g.lib.Experts))
		}
		if target[0] == 99 {
			out[i].Params[1] = float32(nanValue())
		}
	}
	return out, nil
}

// envOldGenerator makes the re-executed test binary an oldGenerator.
const envOldGenerator = "SGLAB_TEST_OLD_GENERATOR"

// serveOldGenerator serves oldGenerator with go-plugin directly.
func serveOldGenerator() {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  rpc.Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{rpc.ProtocolVersion: {plugin.KindGenerator: oldGlue{}}},
		GRPCServer:       goplugin.DefaultGRPCServer,
	})
}

// oldGlue is go-plugin's view of oldGenerator: its server only.
type oldGlue struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (oldGlue) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterGeneratorServer(s, oldGenerator{})
	return nil
}

func (oldGlue) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server only")
}

// carelessEncoder prints on stdout before the handshake (Serve hands it its logger
// first), which breaks the protocol.
type carelessEncoder struct{ fakeEncoder }

func (c *carelessEncoder) SetLogger(l hclog.Logger) {
	fmt.Println("hello from a careless plugin")
	c.fakeEncoder.SetLogger(l)
}

// oldGenerator is a generator built against an older protocol 1 than the runner's: it
// serves Info and no other call.
type oldGenerator struct {
	pb.UnimplementedGeneratorServer
}

func (oldGenerator) Info(context.Context, *pb.Empty) (*pb.Info, error) {
	return &pb.Info{Kind: plugin.KindGenerator, Name: "old-generator", Version: "0.1"}, nil
}

// startFake starts the fake plugin named (see TestMain) on h; mod changes its Spec.
func startFake(t *testing.T, h *rpc.Host, fake string, mod func(*rpc.Spec)) *rpc.Client {
	t.Helper()
	s, err := fakes.Spec(fake)
	if err != nil {
		t.Fatal(err)
	}
	s.Label, s.StartTimeout = "fake-"+fake, 20*time.Second
	if mod != nil {
		mod(&s)
	}
	c, err := h.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncoderRoundTrip(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	enc := startFake(t, h, "encoder", nil).Encoder()
	ctx := context.Background()
	info, err := enc.Info(ctx)
	if err != nil || info.Name != "fake-encoder" || info.Kind != plugin.KindEncoder || len(info.Params) != 1 || info.Params[0].Name != "scale" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if c := info.Params[0].Constraint(); c != "(0, 10]" {
		t.Errorf("the constraint crossed as %q, want (0, 10]", c)
	}
	if err := enc.Configure(ctx, plugin.Params{"scale": 2.0}); err != nil {
		t.Fatal(err)
	}
	err = enc.Configure(ctx, plugin.Params{"sacle": 2.0})
	var ce *rpc.CallError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"sacle"`) || !strings.Contains(err.Error(), "fake-encoder") || !strings.Contains(err.Error(), "Configure") {
		t.Fatalf("bad key must be named with plugin and call: %v", err)
	}
	vs, err := enc.Embed(ctx, []string{"abc", "hello"})
	if err != nil || len(vs) != 2 || vs[0][0] != 6 || vs[1][0] != 10 {
		t.Fatalf("Embed = %v, %v", vs, err)
	}
	if _, err := enc.Embed(ctx, []string{"ok", "nan"}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN must be refused: %v", err)
	}
}

func TestEvaluatorRoundTripPaperScale(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ev := startFake(t, h, "evaluator", nil).Evaluator()
	ctx := context.Background()
	info, err := ev.Info(ctx)
	if err != nil || info.Schema.NumParams() != 110592 || info.Schema.Compatible(paperSchema()) != nil {
		t.Fatalf("Info schema: %v params, %v", info.Schema.NumParams(), err)
	}
	wantMetrics := []plugin.Metric{{Name: "sum", Description: "sum of the parameters", LowerIsBetter: true}, {Name: "count"}}
	if !slices.Equal(info.Metrics, wantMetrics) || !slices.Equal(info.Headline, []string{"sum"}) {
		t.Errorf("metrics crossed as %+v, headline %v", info.Metrics, info.Headline)
	}
	tk := task.Task{ID: "t1", Description: "rotated digits", Dataset: "digits", Domain: []task.Transform{{Name: "rotate", Args: []float64{45}}}, Params: map[string]any{"k": "v"}}
	if err := ev.CheckTask(ctx, tk); err != nil {
		t.Fatal(err)
	}
	bad := tk
	bad.ID, bad.Dataset = "t2", "cifar"
	if err := ev.CheckTask(ctx, bad); err == nil || !strings.Contains(err.Error(), "t2") || !strings.Contains(err.Error(), "cifar") {
		t.Fatalf("CheckTask error must name the task and dataset: %v", err)
	}
	out := filepath.Join(t.TempDir(), "t1.safetensors")
	res, err := ev.Train(ctx, tk, 7, plugin.TrainOptions{Epochs: 3, Snapshots: 3}, out)
	if err != nil || res.Snapshots != 3 || res.Metrics["loss"] != 0.5 {
		t.Fatalf("Train = %+v, %v", res, err)
	}
	s, snaps, _, err := lora.ReadSnapshots(out)
	if err != nil || len(snaps) != 3 || snaps[2][0] != 9 || s.Compatible(paperSchema()) != nil {
		t.Fatalf("snapshots file: %d snaps, %v", len(snaps), err)
	}
	m, err := ev.Evaluate(ctx, tk, nil, 5)
	if err != nil || m["sum"] != -1 || m["seed"] != 5 || m["args"] != 45 {
		t.Fatalf("Evaluate(none) = %v, %v", m, err)
	}
	a := lora.New(paperSchema())
	for i := range a.Params {
		a.Params[i] = 1
	}
	m, err = ev.Evaluate(ctx, tk, a, 5)
	if err != nil || m["sum"] != 110592 {
		t.Fatalf("Evaluate(paper-scale adapter) = %v, %v", m, err)
	}
}

func TestGeneratorRoundTripPaperScaleLibrary(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	gen := startFake(t, h, "generator", nil).Generator()
	ctx := context.Background()
	// 100 experts × 100 snapshots of a 110,592-parameter LoRA: the library goes by
	// reference, so every expert may point at one real 44 MB snapshots file.
	dir := t.TempDir()
	path := filepath.Join(dir, "expert.safetensors")
	snaps := make([][]float32, 100)
	for i := range snaps {
		snaps[i] = make([]float32, paperSchema().NumParams())
	}
	if err := lora.WriteSnapshots(path, paperSchema(), snaps, nil); err != nil {
		t.Fatal(err)
	}
	lib := plugin.Library{Schema: paperSchema()}
	for i := 0; i < 100; i++ {
		emb := make([]float32, 512)
		emb[i%512] = 1
		lib.Experts = append(lib.Experts, plugin.Expert{ID: fmt.Sprint("e", i), Description: "an expert", Embedding: emb, SnapshotPath: path})
	}
	if err := gen.Fit(ctx, lib, 1); err != nil {
		t.Fatal(err)
	}
	// Ten paper-scale adapters are 4.4 MB, over gRPC's default 4 MB message limit.
	as, err := gen.Generate(ctx, []float32{1}, 10, 3)
	if err != nil || len(as) != 10 {
		t.Fatalf("Generate: %d adapters, %v", len(as), err)
	}
	for i, a := range as {
		if a.Params[i] != 103 || a.Schema.NumParams() != 110592 {
			t.Fatalf("adapter %d: wrong content", i)
		}
	}
	if _, err := gen.Generate(ctx, []float32{-1}, 3, 3); err == nil || !strings.Contains(err.Error(), "asked for 3 adapters, got 1") {
		t.Fatalf("a wrong count must be bad data: %v", err)
	}
	if _, err := gen.Generate(ctx, []float32{99}, 2, 3); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN adapters must be refused: %v", err)
	}
	lib.Experts[5].SnapshotPath = filepath.Join(dir, "missing")
	if err := gen.Fit(ctx, lib, 1); err == nil || !strings.Contains(err.Error(), "e5") {
		t.Fatalf("Fit error must name the expert: %v", err)
	}
}

func TestCrashMidCall(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c := startFake(t, h, "evaluator", nil)
	_, err := c.Evaluator().Evaluate(context.Background(), task.Task{ID: "crash"}, nil, 1)
	var ce *rpc.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("want a CallError, got %v", err)
	}
	for _, want := range []string{"fake-evaluator", "Evaluate(crash)", "about to crash", "panic: fake evaluator crashed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("crash error lacks %q:\n%v", want, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !c.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !c.Exited() {
		t.Fatal("crashed plugin not seen as exited")
	}
}

func TestHangPastTimeoutKillsPlugin(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c := startFake(t, h, "evaluator", func(s *rpc.Spec) { s.CallTimeout = 300 * time.Millisecond })
	_, err := c.Evaluator().Evaluate(context.Background(), task.Task{ID: "hang"}, nil, 1)
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") || !strings.Contains(err.Error(), "Evaluate(hang)") {
		t.Fatalf("hang: %v", err)
	}
	if !c.Exited() {
		t.Fatal("a plugin past its timeout must be killed")
	}
}

func TestStdoutBeforeHandshake(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	_, err := h.Start(context.Background(), selfSpec(t, "stdout", "careless"))
	if err == nil || !strings.Contains(err.Error(), "stdout must carry only the go-plugin handshake") || !strings.Contains(err.Error(), "careless") {
		t.Fatalf("want a clear stdout error, got %v", err)
	}
}

// selfSpec is the Spec of the fake plugin named, labelled label.
func selfSpec(t testing.TB, fake, label string) rpc.Spec {
	t.Helper()
	s, err := fakes.Spec(fake)
	if err != nil {
		t.Fatal(err)
	}
	s.Label, s.StartTimeout = label, 20*time.Second
	return s
}

// envMarker names a file the fake encoder creates when its process starts.
const envMarker = "SGLAB_TEST_MARKER"

func markLaunch() {
	if path := os.Getenv(envMarker); path != "" {
		os.WriteFile(path, nil, 0o644)
	}
}

func TestChecksum(t *testing.T) {
	exe, _ := os.Executable()
	sum, err := plugin.FileSHA256(exe)
	if err != nil {
		t.Fatal(err)
	}
	h := &rpc.Host{}
	defer h.KillAll()
	dir := t.TempDir()
	launched := map[string]bool{}
	for _, tc := range []struct {
		label, sha256, err string
	}{
		{"verified", strings.ToUpper(sum), ""},
		{"tampered", strings.Repeat("0", 64), "sha256 mismatch, not launched"},
	} {
		s := selfSpec(t, "encoder", tc.label)
		s.SHA256 = tc.sha256
		s.Env = append(s.Env, envMarker+"="+filepath.Join(dir, tc.label))
		c, err := h.Start(context.Background(), s)
		if tc.err == "" {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Encoder().Info(context.Background()); err != nil {
				t.Fatal(err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), sum) {
			t.Fatalf("%s: %v", tc.label, err)
		}
		_, err = os.Stat(filepath.Join(dir, tc.label))
		launched[tc.label] = err == nil
	}
	if !launched["verified"] || launched["tampered"] {
		t.Fatalf("launched %v: the verified plugin must run, the tampered one must not", launched)
	}
}

func TestKillAll(t *testing.T) {
	h := &rpc.Host{}
	a := startFake(t, h, "encoder", nil)
	b := startFake(t, h, "generator", nil)
	h.KillAll()
	if !a.Exited() || !b.Exited() {
		t.Fatal("KillAll left a plugin running")
	}
	if _, err := h.Start(context.Background(), rpc.Spec{Kind: plugin.KindEncoder, Path: os.Args[0]}); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("Start after KillAll: %v", err)
	}
}

func TestNotExecutable(t *testing.T) {
	h := &rpc.Host{}
	_, err := h.Start(context.Background(), rpc.Spec{Kind: plugin.KindEncoder, Label: "ghost", Path: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("missing executable: %v", err)
	}
}

// BenchmarkEvaluatePaperScaleAdapter moves one 110,592-parameter adapter through a
// plugin call (encode, gRPC over the local socket, decode) and back with metrics.
func BenchmarkEvaluatePaperScaleAdapter(b *testing.B) {
	ev := fakes.Start(b, "evaluator").Evaluator()
	a := lora.New(paperSchema())
	tk := task.Task{ID: "t", Dataset: "digits", Domain: []task.Transform{{Name: "rotate", Args: []float64{1}}}}
	b.SetBytes(int64(4 * len(a.Params)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ev.Evaluate(context.Background(), tk, a, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOlderPlugin: an RPC the plugin does not serve is a clear error, not a transport
// failure; an absent optional RPC is what its absence means; the plugin keeps running.
func TestOlderPlugin(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c := startFake(t, h, "generator", func(s *rpc.Spec) { s.Label, s.Env = "fake-old-generator", append(s.Env, envOldGenerator+"=1") })
	if info, err := c.Generator().Info(context.Background()); err != nil || info.Name != "old-generator" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	err := c.Generator().Fit(context.Background(), plugin.Library{Schema: paperSchema()}, 1)
	want := "plugin fake-old-generator (generator) Fit: plugin fake-old-generator is older than this runner: it does not implement RPC sglab.plugin.v1.Generator/Fit"
	if err == nil || err.Error() != want {
		t.Errorf("Fit on an older plugin:\n got %v\nwant %s", err, want)
	}
	if err := c.FitSaver().SaveFit(context.Background(), t.TempDir()+"/fit"); !errors.Is(err, plugin.ErrCannotSaveFit) {
		t.Errorf("SaveFit on an older plugin = %v, want ErrCannotSaveFit", err)
	}
	if c.Exited() {
		t.Error("an unimplemented call killed the plugin")
	}
}

// TestGenerateHangPastTimeoutKillsPlugin: the timeout bounds a streaming call to its
// end, as it bounds a unary one.
func TestGenerateHangPastTimeoutKillsPlugin(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c := startFake(t, h, "generator", func(s *rpc.Spec) {
		s.Timeouts = map[string]time.Duration{plugin.CallGenerate: 300 * time.Millisecond}
	})
	s := lora.Schema{{Name: "m", In: 2, Out: 2, Rank: 1, Alpha: 1}}
	if err := c.Generator().Fit(context.Background(), plugin.Library{Schema: s}, 1); err != nil {
		t.Fatal(err)
	}
	_, err := c.Generator().Generate(context.Background(), []float32{-2}, 2, 1)
	if err == nil || !strings.Contains(err.Error(), "Generate: no answer within 300ms (the generate timeout); plugin killed") {
		t.Fatalf("hung Generate: %v", err)
	}
	if !c.Exited() {
		t.Fatal("a plugin past its timeout must be killed")
	}
}

// TestServeHandsLogger: rpc.Serve gives the plugin its logger, whose lines reach the host's.
func TestServeHandsLogger(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	logs := &syncBuffer{}
	c := startFake(t, h, "encoder", func(s *rpc.Spec) {
		s.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	})
	if err := c.Encoder().Configure(context.Background(), plugin.Params{"scale": 2.0}); err != nil {
		t.Fatal(err)
	}
	c.Kill()
	if !strings.Contains(logs.String(), "configured through the logger Serve handed over") || !strings.Contains(logs.String(), "scale=2") {
		t.Fatalf("the plugin's log line did not reach the host:\n%s", logs)
	}
}

// TestServeRefuses: rpc.Serve returns its errors instead of exiting the process.
func TestServeRefuses(t *testing.T) {
	t.Setenv(rpc.Handshake.MagicCookieKey, "")
	for _, tc := range []struct {
		name string
		impl plugin.Base
		want string
	}{
		{"not started by the runner", &fakeEncoder{}, rpc.ErrNotStartedByRunner.Error()},
		{"no kind", notAPlugin{}, "implements none of the kinds (encoder, evaluator, generator)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rpc.Serve(tc.impl); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Serve = %v, want %q", err, tc.want)
			}
		})
	}
}

// notAPlugin has plugin.Base's methods and no kind's.
type notAPlugin struct{}

func (notAPlugin) Info(context.Context) (plugin.Info, error)      { return plugin.Info{}, nil }
func (notAPlugin) Configure(context.Context, plugin.Params) error { return nil }

// TestConnect: a plugin served in process takes the protocol's path (conversion,
// checks, timeouts, error mapping); a call past its timeout stops the server as it
// would kill a process, and KillAll stops the rest.
func TestConnect(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	ctx := context.Background()
	if _, err := h.Connect(notAPlugin{}, rpc.Spec{}); err == nil || !strings.Contains(err.Error(), "implements none of the kinds") {
		t.Fatalf("Connect(not a plugin) = %v", err)
	}
	enc, err := h.Connect(&fakeEncoder{scale: 1}, rpc.Spec{Label: "in-process"})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Encoder().Configure(ctx, plugin.Params{"sacle": 2.0}); err == nil || !strings.Contains(err.Error(), `plugin in-process (encoder) Configure: unknown parameter "sacle"`) {
		t.Errorf("a refusal in process: %v", err)
	}
	if _, err := enc.Encoder().Embed(ctx, []string{"nan"}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN must be refused in process as over a process: %v", err)
	}
	c, err := h.Connect(&fakeGenerator{}, rpc.Spec{Label: "gen", Timeouts: map[string]time.Duration{plugin.CallGenerate: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	gen := c.Generator()
	// The fake answers Generate before Fit; the plugin is asked, and its answer refused.
	if _, err := gen.Generate(ctx, []float32{1}, 1, 1); err == nil || !strings.Contains(err.Error(), "bad data: adapters before Fit") {
		t.Errorf("adapters before Fit: %v", err)
	}
	s := lora.Schema{{Name: "m", In: 2, Out: 2, Rank: 1, Alpha: 1}}
	if err := gen.Fit(ctx, plugin.Library{Schema: s}, 1); err != nil {
		t.Fatal(err)
	}
	as, err := gen.Generate(ctx, []float32{1}, 3, 4)
	if err != nil || len(as) != 3 || as[2].Params[2] != 4 {
		t.Fatalf("Generate in process: %v, %v", as, err)
	}
	if _, err := gen.Generate(ctx, []float32{-2}, 1, 1); err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("hung Generate in process: %v", err)
	}
	if !c.Exited() {
		t.Error("a plugin past its timeout must be stopped")
	}
	// A panic ends the plugin as it ends a plugin process, not the test binary.
	c, err = h.Connect(&fakeGenerator{}, rpc.Spec{Label: "gen"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Generator().Fit(ctx, plugin.Library{Schema: s}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generator().Generate(ctx, []float32{-3}, 1, 1); err == nil || !strings.Contains(err.Error(), "panic: fake generator panicked") || !c.Exited() {
		t.Errorf("a panic in process: exited %v, %v", c.Exited(), err)
	}
	h.KillAll()
	if !enc.Exited() {
		t.Error("KillAll left an in-process plugin serving")
	}
}
