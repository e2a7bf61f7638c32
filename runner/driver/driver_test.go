package driver

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/framework/task"
	"github.com/sglab/sglab/reports"
)

// The test binary re-executes itself as each fake plugin (plugintest.Main), so the
// driver is tested through the real go-plugin/gRPC path; some tests run it as a
// child process of their own (lock holder, journal limit), whose plugins must not
// inherit the variable that made it one.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SGLAB_TEST_LOCK_HOLDER"); dir != "" {
		os.Unsetenv("SGLAB_TEST_LOCK_HOLDER")
		holdLock(dir)
	}
	if dir := os.Getenv("SGLAB_TEST_JOURNAL_LIMIT"); dir != "" {
		os.Unsetenv("SGLAB_TEST_JOURNAL_LIMIT")
		runWithJournalLimit(dir)
	}
	plugintest.Main(m, fakes)
}

var fakes = plugintest.Plugins{
	"encoder":   func() plugin.Base { return &encoder{} },
	"evaluator": func() plugin.Base { return &evaluator{} },
	"generator": func() plugin.Base { return &generator2{} },

	"evaluator-without-headline": func() plugin.Base { return &evaluatorWithoutHeadline{} },
}

var testSchema = lora.Schema{{Name: "m.q_proj", In: 3, Out: 2, Rank: 1, Alpha: 1}}

type encoder struct{}

func (encoder) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{Kind: plugin.KindEncoder, Name: "encoder", Version: "1"}, nil
}
func (encoder) Configure(_ context.Context, p plugin.Params) error {
	return params.Decode(p, &struct{}{})
}
func (encoder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		h := fnv.New32a()
		h.Write([]byte(t))
		out[i] = []float32{float32(h.Sum32()%97) + 1, float32(len(t))}
	}
	return out, nil
}

type evaluator struct{}

func (evaluator) Info(context.Context) (plugin.Info, error) {
	// Metrics other than the CLIP evaluators' recalls, so that nothing in the driver may
	// assume those.
	return plugin.Info{Kind: plugin.KindEvaluator, Name: "evaluator", Version: "1", Schema: testSchema,
		Metrics: []plugin.Metric{
			{Name: "score", Description: "sum of the adapter's parameters (10 for the bare backbone)"},
			{Name: "seed", Description: "the evaluation seed mod 1000"},
			{Name: "xfer", Description: "a score that depends on the target too"},
		},
		Headline: []string{"score"}}, nil
}
func (evaluator) Configure(_ context.Context, p plugin.Params) error {
	return params.Decode(p, &struct{}{})
}
func (evaluator) CheckTask(_ context.Context, t task.Task) error {
	if t.Dataset != "toy" {
		return fmt.Errorf("unknown dataset %q", t.Dataset)
	}
	return nil
}
func (evaluator) Train(_ context.Context, t task.Task, seed uint64, o plugin.TrainOptions, out string) (plugin.TrainResult, error) {
	snaps := make([][]float32, o.Snapshots)
	for m := range snaps {
		snaps[m] = make([]float32, testSchema.NumParams())
		for i := range snaps[m] {
			snaps[m][i] = float32(len(t.ID)+i) + float32(m)/10
		}
	}
	return plugin.TrainResult{Snapshots: o.Snapshots}, lora.WriteSnapshots(out, testSchema, snaps, nil)
}
func (evaluator) Evaluate(_ context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	if t.ID == "kill-evaluator" && a != nil {
		os.Exit(7)
	}
	if t.ID == "report-env" { // what the runner told this process (see TestPluginEnvironment)
		worker, _ := strconv.Atoi(os.Getenv(plugin.EnvWorkerIndex))
		_, err := os.Stat(filepath.Join(os.Getenv(plugin.EnvExperimentDir), "exp.toml"))
		return map[string]float64{"worker": float64(worker), "found_experiment": map[bool]float64{true: 1}[err == nil], "score": 0, "seed": 0, "xfer": 0}, nil
	}
	s := 10.0
	// xfer depends on the target too, so that the transfer diagnostic sees gains of both
	// signs: an expert gains 5·(len(expert id) − len(target id)) + 0.25 (see TestTransfer).
	xfer := 10 + float64(len(t.ID))
	if a != nil {
		s = 0
		for _, v := range a.Params {
			s += float64(v)
		}
		xfer = s - 4*float64(len(t.ID))
	}
	return map[string]float64{"score": s, "seed": float64(seed % 1000), "xfer": xfer}, nil
}

// evaluatorWithoutHeadline declares metrics but no headline among them, which the
// runner refuses.
type evaluatorWithoutHeadline struct{ evaluator }

func (evaluatorWithoutHeadline) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{Kind: plugin.KindEvaluator, Name: "evaluator-without-headline", Version: "1", Schema: testSchema,
		Metrics: []plugin.Metric{{Name: "acc"}}}, nil
}

type generator2 struct{ mean []float32 }

type generatorConfig struct {
	Noise float64 `param:"noise"`
}

func (g *generator2) Info(context.Context) (plugin.Info, error) {
	ps, err := params.Describe(&generatorConfig{})
	return plugin.Info{Kind: plugin.KindGenerator, Name: "generator", Version: "1", Params: ps}, err
}
func (g *generator2) Configure(_ context.Context, p plugin.Params) error {
	return params.Decode(p, &generatorConfig{})
}
func (g *generator2) Fit(_ context.Context, lib plugin.Library, _ uint64) error {
	g.mean = make([]float32, lib.Schema.NumParams())
	for _, e := range lib.Experts {
		_, snaps, _, err := lora.ReadSnapshots(e.SnapshotPath)
		if err != nil {
			return err
		}
		for i, v := range snaps[len(snaps)-1] {
			g.mean[i] += v / float32(len(lib.Experts))
		}
	}
	return nil
}
func (g *generator2) Generate(_ context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	if target[1] == float32(len("crash the generator")) {
		os.Exit(3)
	}
	if target[1] == float32(len("stop the generator")) {
		// Hung, and deaf to a graceful shutdown. The stop may land a moment after the
		// call; the sleep keeps the answer from going out before it.
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		time.Sleep(time.Hour)
	}
	out := make([]*lora.Adapter, n)
	for i := range out {
		out[i] = lora.New(testSchema)
		copy(out[i].Params, g.mean)
		out[i].Params[0] += float32(i)
	}
	return out, nil
}

func testSpec(_ string, ref config.PluginRef) (rpc.Spec, error) {
	return fakes.Spec(ref.Name)
}

const experiment = `
name = "toy"
seeds = [1, 2]
[encoder]
plugin = "encoder"
[evaluator]
plugin = "evaluator"
[train]
epochs = 3
snapshots = 2
[[task]]
id = "a"
description = "task a"
dataset = "toy"
[[task]]
id = "bb"
description = "task bb"
dataset = "toy"
[[task]]
id = "ccc"
description = "task ccc"
dataset = "toy"
[[task]]
id = "dddd"
description = "crash the generator"
dataset = "toy"
[[split]]
name = "main"
seen = ["a", "bb"]
novel = ["ccc", "dddd"]
[[method]]
name = "Zero-shot"
reference = "zero-shot"
[[method]]
name = "Oracle"
reference = "oracle"
[[method]]
name = "Gen"
generator = "generator"
samples = 3
`

func load(t *testing.T, text string) *config.Experiment {
	t.Helper()
	path := filepath.Join(t.TempDir(), "exp.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	exp, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

func runToy(t *testing.T, exp *config.Experiment, out string, jobs int) *Summary {
	t.Helper()
	host := &rpc.Host{}
	defer host.KillAll()
	sum, err := Run(context.Background(), exp, Options{Out: out, Jobs: jobs, Host: host, Spec: testSpec, StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestRunJournalAndResume(t *testing.T) {
	exp := load(t, experiment)
	out := t.TempDir()
	sum := runToy(t, exp, out, 2)
	// Per seed: zero-shot 2 + oracle 2 + Gen 3 samples × 2 tasks = 10 trials; 20 in all.
	if sum.Ran != 20 || sum.Skipped != 0 {
		t.Fatalf("ran %d skipped %d, want 20 and 0", sum.Ran, sum.Skipped)
	}
	// The generator crashes on dddd: exactly its 3 samples per seed fail, naming the
	// plugin, the call and the task; everything else succeeds.
	failed := map[string]int{}
	byKey := map[string]results.Row{}
	for _, r := range sum.Rows {
		byKey[r.Key()] = r
		if r.Error != "" {
			failed[r.Method+"/"+r.Task]++
			for _, want := range []string{"task dddd", "generator", "Generate", "exited"} {
				if !strings.Contains(r.Error, want) {
					t.Errorf("error lacks %q: %s", want, r.Error)
				}
			}
		}
	}
	if len(failed) != 1 || failed["Gen/dddd"] != 6 || sum.Failed != 6 {
		t.Fatalf("failed trials: %v (summary %d)", failed, sum.Failed)
	}
	// Numbers: zero-shot 10; oracle on ccc = the last snapshot's sum; Gen sample s =
	// mean of the experts' last snapshots + s.
	zs := byKey[results.Row{Kind: "trial", Split: "main", Task: "ccc", Method: "Zero-shot", Seed: 1}.Key()]
	if zs.Metrics["score"] != 10 || zs.Reference != "zero-shot" {
		t.Fatalf("zero-shot row %+v", zs)
	}
	or := byKey[results.Row{Kind: "trial", Split: "main", Task: "ccc", Method: "Oracle", Seed: 2}.Key()]
	want := 0.0
	for i := 0; i < testSchema.NumParams(); i++ {
		want += float64(3+i) + 0.1
	}
	if abs(or.Metrics["score"]-want) > 1e-4 {
		t.Fatalf("oracle = %v, want %v", or.Metrics["score"], want)
	}
	g2 := byKey[results.Row{Kind: "trial", Split: "main", Task: "ccc", Method: "Gen", Seed: 1, Sample: 2}.Key()]
	mean := 0.0
	for i := 0; i < testSchema.NumParams(); i++ {
		mean += (float64(1+i)+float64(2+i))/2 + 0.1
	}
	if abs(g2.Metrics["score"]-(mean+2)) > 1e-4 {
		t.Fatalf("Gen sample 2 = %v, want %v", g2.Metrics["score"], mean+2)
	}
	div := byKey[results.Row{Kind: "diversity", Split: "main", Task: "ccc", Method: "Gen", Seed: 1}.Key()]
	if div.Metrics["div_cos"] <= 0 || div.Metrics["r1_std"] <= 0 {
		t.Fatalf("Gen diversity %+v", div.Metrics)
	}
	odiv := byKey[results.Row{Kind: "diversity", Split: "main", Task: "ccc", Method: "Oracle", Seed: 1}.Key()]
	if odiv.Metrics["div_cos"] != 0 || odiv.Metrics["div_frob"] != 0 || odiv.Metrics["r1_std"] != 0 {
		t.Fatalf("a single adapter has zero diversity: %+v", odiv)
	}
	mans, err := ReadManifest(filepath.Join(out, ManifestFile))
	if err != nil || len(mans) != 1 {
		t.Fatalf("manifest: %d invocations, %v", len(mans), err)
	}
	man := mans[0]
	if man.ConfigHash != exp.Hash() || len(man.Plugins) != 3 || man.End == nil || man.Phases["train"] <= 0 || man.Phases["evaluate"] <= 0 || man.GoVersion == "" {
		t.Fatalf("manifest incomplete: %+v", man)
	}
	for _, p := range man.Plugins {
		if len(p.SHA256) != 64 || p.Version != "1" {
			t.Fatalf("manifest plugin record %+v", p)
		}
	}
	// A crash mid-write leaves a torn last line; a rerun drops it and the failed rows,
	// skips what finished and retries only what failed, leaving no duplicate rows.
	f, err := os.OpenFile(filepath.Join(out, results.FileName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"trial","split":"main","ta`)
	f.Close()
	again := runToy(t, exp, out, 1)
	if again.Skipped != 14 || again.Ran != 6 || again.Failed != 6 {
		t.Fatalf("rerun: ran %d skipped %d failed %d, want 6, 14, 6", again.Ran, again.Skipped, again.Failed)
	}
	seen := map[string]bool{}
	for _, r := range again.Rows {
		if seen[r.Key()] {
			t.Fatalf("duplicate row after resume: %+v", r)
		}
		seen[r.Key()] = true
	}
	if len(again.Rows) != len(sum.Rows) {
		t.Fatalf("%d rows after resume, %d before", len(again.Rows), len(sum.Rows))
	}
}

func TestCacheDetectsDamage(t *testing.T) {
	exp := load(t, experiment)
	cache := t.TempDir()
	run := func() (*Summary, []byte) {
		host := &rpc.Host{}
		defer host.KillAll()
		var logs bytes.Buffer
		log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
		sum, err := Run(context.Background(), exp, Options{Out: t.TempDir(), Cache: cache, Host: host, Spec: testSpec, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		return sum, logs.Bytes()
	}
	_, logs := run()
	if n := bytes.Count(logs, []byte("trained:")); n != 8 {
		t.Fatalf("cold cache: %d trainings, want 8 (2 seeds × 2 experts and 2 oracles)\n%s", n, logs)
	}
	_, logs = run()
	if n := bytes.Count(logs, []byte("trained:")); n != 0 {
		t.Fatalf("warm cache: %d trainings, want 0", n)
	}
	// Truncate one entry and alter another: both are detected and trained again.
	entries, _ := filepath.Glob(filepath.Join(cache, "experts", "*.safetensors"))
	if len(entries) != 8 {
		t.Fatalf("%d cache entries, want 8", len(entries))
	}
	info, _ := os.Stat(entries[0])
	os.Truncate(entries[0], info.Size()/2)
	data, _ := os.ReadFile(entries[1])
	data[len(data)-1] ^= 0x40
	os.WriteFile(entries[1], data, 0o644)
	_, logs = run()
	if n := bytes.Count(logs, []byte("trained:")); n != 2 || bytes.Count(logs, []byte("damaged")) != 2 {
		t.Fatalf("damaged cache: %d trainings, want 2\n%s", n, logs)
	}
	for _, e := range entries[:2] {
		if err := (&expertStore{schema: testSchema}).check(e, plugin.TrainOptions{Snapshots: 2}); err != nil {
			t.Fatalf("rebuilt entry %s: %v", e, err)
		}
	}
	// An entry whose sidecar is gone is not trusted either, and the log says so.
	os.Remove(entries[2] + ".sha256")
	_, logs = run()
	if n := bytes.Count(logs, []byte("trained:")); n != 1 || !bytes.Contains(logs, []byte("damaged")) || !bytes.Contains(logs, []byte("sidecar")) {
		t.Fatalf("entry without its sidecar: %d trainings, want 1 with a warning\n%s", n, logs)
	}
}

func TestJobsDoNotChangeNumbers(t *testing.T) {
	exp := load(t, experiment)
	metrics := func(jobs int) map[string]map[string]float64 {
		out := map[string]map[string]float64{}
		for _, r := range runToy(t, exp, t.TempDir(), jobs).Rows {
			out[r.Key()] = r.Metrics
		}
		return out
	}
	a, b := metrics(1), metrics(3)
	if len(a) != len(b) {
		t.Fatalf("%d rows vs %d", len(a), len(b))
	}
	for k, m := range a {
		for name, v := range m {
			if b[k][name] != v {
				t.Fatalf("%q %s: %v with 1 job, %v with 3", k, name, v, b[k][name])
			}
		}
	}
}

func TestEvaluatorCrashRestarts(t *testing.T) {
	text := strings.Replace(experiment, `description = "crash the generator"`, `description = "fine"`, 1)
	text = strings.Replace(text, `id = "dddd"`, `id = "kill-evaluator"`, 1)
	text = strings.Replace(text, `"dddd"]`, `"kill-evaluator"]`, 1)
	exp := load(t, text)
	sum := runToy(t, exp, t.TempDir(), 1)
	// Every adapter evaluated on kill-evaluator kills the evaluator: those trials fail,
	// the pool restarts it (at most maxRestarts times), and the rest of the run goes on.
	var okCCC, failedKill int
	for _, r := range sum.Rows {
		if r.Kind != results.KindTrial {
			continue
		}
		switch {
		case r.Task == "ccc" && r.Error == "":
			okCCC++
		case r.Task == "kill-evaluator" && r.Error != "":
			failedKill++
			if !strings.Contains(r.Error, "evaluator") {
				t.Errorf("error does not name the evaluator: %s", r.Error)
			}
		}
	}
	if okCCC != 10 {
		t.Fatalf("ccc trials that succeeded: %d, want 10 (%d failed on kill-evaluator)", okCCC, failedKill)
	}
	if failedKill == 0 {
		t.Fatal("no trial failed on kill-evaluator")
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	text := strings.Replace(experiment, "[evaluator]\nplugin = \"evaluator\"", "[evaluator]\nplugin = \"evaluator\"\n[evaluator.params]\nbogus = 1", 1)
	text = strings.Replace(text, `id = "bb"
description = "task bb"
dataset = "toy"`, `id = "bb"
description = "task bb"
dataset = "cifar"`, 1)
	text = strings.Replace(text, "samples = 3", "samples = 3\n[method.params]\nnoize = 2", 1)
	exp := load(t, text)
	host := &rpc.Host{}
	defer host.KillAll()
	probs := Check(context.Background(), exp, Options{Host: host, Spec: testSpec})
	var all []string
	for _, p := range probs {
		all = append(all, p.Error())
	}
	joined := strings.Join(all, "\n")
	// The evaluator refuses its parameters, so it cannot judge tasks; the generator's
	// bad key is reported too.
	for _, want := range []string{`"bogus"`, `"noize"`, "exp.toml:"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Check lacks %q:\n%s", want, joined)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestReportOfOtherMetrics runs the toy experiment, whose evaluator declares metrics
// other than the CLIP recalls (score, seed, xfer; headline score), and renders its
// report: the manifest records the declaration, and the tables, statistics and figures
// use it, with no trace of the recalls.
func TestReportOfOtherMetrics(t *testing.T) {
	out := t.TempDir()
	sum := runToy(t, load(t, experiment), out, 1)
	ms, found, err := results.ReadMetrics(out)
	if err != nil || !found {
		t.Fatalf("manifest metrics: found %v, %v", found, err)
	}
	if !slices.Equal(ms.Names(), []string{"score", "seed", "xfer"}) || !slices.Equal(ms.Headline, []string{"score"}) ||
		!slices.Equal(sum.Metrics.Names(), ms.Names()) {
		t.Fatalf("manifest metrics %v headline %v; summary %v", ms.Names(), ms.Headline, sum.Metrics.Names())
	}
	// r1_std is the spread of the primary headline metric over a generator's samples:
	// Gen's three samples score differently.
	spreads := 0
	for _, r := range sum.Rows {
		if r.Kind == results.KindDiversity && r.Method == "Gen" && r.Error == "" {
			spreads++
			if !(r.Metrics["r1_std"] > 0) {
				t.Errorf("%s/%s seed %d: r1_std %v, want the spread of score", r.Method, r.Task, r.Seed, r.Metrics["r1_std"])
			}
		}
	}
	if spreads == 0 {
		t.Error("no diversity row of Gen")
	}
	if err := reports.Render(out, reports.Options{Reference: "Zero-shot", Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"| Method | score | seed | xfer |",
		"- `score`: sum of the adapter's parameters",
		"| Method | Units | Seeds | Failed | score | Std | 95% CI |",
		"| Method | Units | Δ score | 95% CI | Win rate |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"i2t", "t2i", "Recall", "Note: the manifest"} {
		if strings.Contains(md, absent) {
			t.Errorf("summary.md mentions %q:\n%s", absent, md)
		}
	}
	csv, err := os.ReadFile(filepath.Join(out, "results.csv"))
	if err != nil || !strings.HasPrefix(string(csv), "split,task,method,seed,sample,score,seed,xfer,") {
		t.Errorf("results.csv header: %.80q, %v", csv, err)
	}
	for _, fig := range []string{"metrics.svg", "diversity.svg", "heatmap.svg"} {
		if _, err := os.Stat(filepath.Join(out, fig)); err != nil {
			t.Error(err)
		}
	}
}

// TestEvaluatorMetricsOfOlderEvaluators: an evaluator older than Info.Headline is read
// as the runner read every evaluator before, and says so; a newer one as it declares.
func TestEvaluatorMetricsOfOlderEvaluators(t *testing.T) {
	recalls := results.LegacyMetrics.All
	names := func(ms []plugin.Metric) []plugin.Metric { // as an old plugin sends them: names only
		out := make([]plugin.Metric, len(ms))
		for i, m := range ms {
			out[i] = plugin.Metric{Name: m.Name}
		}
		return out
	}
	cases := []struct {
		info         plugin.Info
		wantHeadline []string
		wantNote     bool
		wantValid    bool
	}{
		{plugin.Info{Metrics: []plugin.Metric{{Name: "acc"}}, Headline: []string{"acc"}}, []string{"acc"}, false, true},
		{plugin.Info{}, results.LegacyMetrics.Headline, true, true},
		{plugin.Info{Metrics: names(recalls)}, results.LegacyMetrics.Headline, true, true},
		{plugin.Info{Metrics: []plugin.Metric{{Name: "acc"}}}, nil, false, false},
	}
	for i, tc := range cases {
		ms, note := evaluatorMetrics(tc.info)
		if !slices.Equal(ms.Headline, tc.wantHeadline) || (note != "") != tc.wantNote || (ms.Check("e") == nil) != tc.wantValid {
			t.Errorf("case %d: headline %v, note %q, check %v", i, ms.Headline, note, ms.Check("e"))
		}
	}
}

// TestLauncherRefuses: the launcher refuses a built-in whose Info names another plugin
// than the registry does, and an evaluator whose metric declaration is unusable.
func TestLauncherRefuses(t *testing.T) {
	host := &rpc.Host{}
	defer host.KillAll()
	// "renamed" runs the fake evaluator, whose Info says "evaluator".
	spec := func(kind string, ref config.PluginRef) (rpc.Spec, error) {
		if ref.Name == "renamed" {
			ref.Name = "evaluator"
		}
		return testSpec(kind, ref)
	}
	l := newLauncher(load(t, experiment), Options{Host: host, Spec: spec, StartTimeout: 20 * time.Second}, nil)
	for _, tc := range []struct {
		name, want string // want: "" for no error
	}{
		{"evaluator", ""},
		{"renamed", `built-in evaluator "renamed" says its name is "evaluator"`},
		{"evaluator-without-headline", "declares no headline metric (one of acc)"},
	} {
		c, _, err := l.start(context.Background(), plugin.KindEvaluator, config.PluginRef{Name: tc.name})
		if c != nil {
			c.Kill()
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
