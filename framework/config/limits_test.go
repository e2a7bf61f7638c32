package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin"
)

// TestLimits: numbers, names and files beyond what can run are errors at their key.
func TestLimits(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen+1)
	manySeeds := make([]string, 60)
	for i := range manySeeds {
		manySeeds[i] = fmt.Sprint(i)
	}
	cases := []struct {
		name, text, key, msg string
	}{
		{"include /dev/zero", "include = [\"/dev/zero\"] #<\n" + valid, "include[0]", "not a regular file"},
		{"include a folder", "include = [\"/\"] #<\n" + valid, "include[0]", "not a regular file"},
		{"rank", valid + "[train]\nrank = 1000000000 #<\n", "train.rank", "more than can run"},
		{"epochs", valid + "[train]\nepochs = 9223372036854775807 #<\n", "train.epochs", "more than can run"},
		{"snapshots", valid + "[train]\nepochs = 100000\nsnapshots = 100000 #<\n", "train.snapshots", "more than can run"},
		{"samples", valid + "samples = 1000000000000 #<\n", "method[0].samples", "more than can run"},
		{"method name", head + plugins + tasks + split + "[[method]]\nname = \"" + long + "\" #<\ngenerator = \"sglora\"\n", "method[0].name", "at most 200"},
		{"task id", head + plugins + tasks + split + method + "[[task]]\nid = \"" + long + "\" #<\ndescription = \"d\"\ndataset = \"digits\"\n", "task[3].id", "at most 200"},
		{"description", head + plugins + tasks + split + method + "[[task]]\nid = \"d\"\ndescription = \"" + strings.Repeat("word ", 500) + "\" #<\ndataset = \"digits\"\n", "task[3].description", "at most 2000"},
		{"swept epochs", valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.train]\nepochs = [10, 100000000] #<\n", "sweep[0].train.epochs[1]", "more than can run"},
		{"swept name", valid + "[[sweep]] #<\nmethod = \"gen\"\n[sweep.params]\nmode = [\"a\", \"" + long + "\"]\n", "sweep[0]", "swept method name"},
		{"trials", "name = \"t\"\nseeds = [" + strings.Join(manySeeds, ", ") + "]\n" + plugins + tasks + split + strings.Replace(method, "[[method]]", "[[method]] #<", 1) + "samples = 10000\n[[method]]\nname = \"gen2\"\ngenerator = \"sglora\"\nsamples = 10000\n", "method", "more than 1000000 trials"},
		{"timeout value", valid + "[timeouts]\nfit = \"1h\"\ngenerate = \"soon\" #<\n", "timeouts.generate", "not a duration"},
		{"timeout key", valid + "[timeouts]\nfitt = \"1h\" #<\n", "timeouts.fitt", `did you mean "fit"`},
		{"timeout bound", valid + "[timeouts]\ntrain = \"1000h\" #<\n", "timeouts.train", "more than"},
		{"slurm key", valid + "[slurm]\npartion = \"gpu\" #<\n", "slurm.partion", `did you mean "partition"`},
		{"slurm time", valid + "[slurm]\ntime = \"2 hours\" #<\n", "slurm.time", "not a Slurm time limit"},
		{"slurm gres", valid + "[slurm]\ngres = \"gpu:1; rm -rf\" #<\n", "slurm.gres", "not a Slurm gres"},
		{"slurm cpus", valid + "[slurm]\ncpus_per_evaluator = 0 #<\n", "slurm.cpus_per_evaluator", "must be positive"},
		{"slurm shards", valid + "[slurm]\nshards = -1 #<\n", "slurm.shards", "must not be negative"},
		{"slurm type", valid + "[slurm]\nevaluators = \"2\" #<\n", "slurm.evaluators", "must be an integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"exp.toml": c.text})
			errs := loadErrors(t, dir)
			line := markedLine(c.text)
			for _, e := range errs {
				if e.Key == c.key && e.Line == line && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Errorf("want line %d, key %s, ...%s...; got\n%v", line, c.key, c.msg, errs)
		})
	}
}

// TestBigInclude: a file over MaxFileBytes is refused without reading it all.
func TestBigInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{"exp.toml": "include = [\"big.toml\"] #<\n" + valid})
	if err := os.WriteFile(filepath.Join(dir, "big.toml"), make([]byte, MaxFileBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	errs := loadErrors(t, dir)
	if len(errs) != 1 || errs[0].Key != "include[0]" || errs[0].Line != 1 || !strings.Contains(errs[0].Msg, "at most") {
		t.Fatalf("got %v", errs)
	}
}

// TestWhere: timeouts resolve over the defaults; parameters, swept values and tasks
// are located, so plugins' complaints about them can name their lines.
func TestWhere(t *testing.T) {
	text := valid + `[method.params]
top_k = 2
tau = 0.5
[[sweep]]
method = "gen"
[sweep.params]
top_k = [1,
  2]
[timeouts]
fit = "3h"
`
	dir := writeFiles(t, map[string]string{"exp.toml": text})
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Timeouts[plugin.CallFit] != 3*time.Hour || e.Timeouts[plugin.CallTrain] != plugin.DefaultTimeouts[plugin.CallTrain] {
		t.Errorf("timeouts %v", e.Timeouts)
	}
	line := func(s string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, s) {
				return i + 1
			}
		}
		return -1
	}
	file := filepath.Join(dir, "exp.toml")
	gen := e.Methods[0].Generator
	if w := gen.ParamAt["top_k"]; w != (Where{file, line("top_k = 2"), "method[0].params.top_k"}) {
		t.Errorf("top_k of the base method at %+v", w)
	}
	swept := e.Methods[2].Generator // top_k = 2
	if w := swept.ParamAt["top_k"]; w != (Where{file, line("  2]"), "sweep[0].params.top_k[1]"}) {
		t.Errorf("swept top_k at %+v", w)
	}
	if w := swept.ParamAt["tau"]; w.Line != line("tau = 0.5") {
		t.Errorf("unswept tau of a swept method at %+v", w)
	}
	if w := swept.Where(); w.Line != line("[[sweep]]") || w.Key != "sweep[0]" {
		t.Errorf("swept method's generator at %+v", w)
	}
	if w := e.TaskAt["b"]; w.Key != "task[1]" || w.Line != strings.Count(head+plugins+tasks[:strings.Index(tasks, `id = "b"`)], "\n") {
		t.Errorf("task b at %+v", w)
	}
}

// TestSlurmTable: [slurm] resolves over its defaults and leaves Hash alone.
func TestSlurmTable(t *testing.T) {
	dir := writeFiles(t, map[string]string{"exp.toml": valid, "slurm.toml": valid + "[slurm]\npartition = \"gpu\"\ntime = \"1-12:00:00\"\ngres = \"gpu:a100:1\"\nshards = 7\n"})
	plain, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Load(filepath.Join(dir, "slurm.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Slurm{Partition: "gpu", Time: "1-12:00:00", Gres: "gpu:a100:1", CPUsPerEvaluator: 1, Evaluators: 1, Shards: 7, File: e.Slurm.File, Line: e.Slurm.Line}
	if plain.Slurm != nil || e.Slurm == nil || *e.Slurm != want {
		t.Fatalf("slurm %+v (without the table: %+v), want %+v", e.Slurm, plain.Slurm, want)
	}
	if e.Hash() != plain.Hash() {
		t.Error("[slurm] changed the experiment's hash")
	}
}
