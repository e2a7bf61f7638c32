package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// Pieces of a valid experiment that error cases combine with one mistake. The mistake's
// line is marked with a trailing "#<" comment.
const (
	head = `name = "t"
seeds = [1, 2]
`
	plugins = `
[encoder]
plugin = "glove"

[evaluator]
plugin = "miniclip"
`
	tasks = `
[[task]]
id = "a"
description = "task a"
dataset = "digits"

[[task]]
id = "b"
description = "task b"
dataset = "digits"

[[task]]
id = "c"
description = "task c"
dataset = "fashion"
`
	split = `
[[split]]
name = "main"
seen = ["a", "b"]
novel = ["c"]
`
	method = `
[[method]]
name = "gen"
generator = "sglora"
`
	valid = head + plugins + tasks + split + method
)

// writeFiles writes name -> content into a fresh folder and returns the folder.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// markedLine returns the line holding the "#<" marker, or 0.
func markedLine(text string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.HasSuffix(strings.TrimSpace(l), "#<") {
			return i + 1
		}
	}
	return 0
}

// loadErrors loads dir/exp.toml and returns its errors, failing if it loads.
func loadErrors(t *testing.T, dir string) Errors {
	t.Helper()
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err == nil {
		t.Fatalf("Load succeeded (%d methods), want errors", len(e.Methods))
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	return errs
}

func TestLoadValid(t *testing.T) {
	dir := writeFiles(t, map[string]string{"exp.toml": valid})
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Output != filepath.Join("out", "t") || e.Train != DefaultTrain || len(e.Methods) != 1 {
		t.Errorf("defaults: output %q, train %+v, %d methods", e.Output, e.Train, len(e.Methods))
	}
	if m := e.Methods[0]; m.Samples != 1 || m.Params == nil || m.Generator.Params == nil {
		t.Errorf("method defaults: %+v", m)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string // "exp.toml" is loaded
		file  string            // file holding the error; "exp.toml" if empty
		key   string
		msg   string // part of the message
	}{
		{"syntax", map[string]string{"exp.toml": head + "seeds2 = = 1 #<\n" + plugins}, "", "seeds2", "TOML syntax error"},
		{"unknown top-level key", map[string]string{"exp.toml": "nmae = \"x\" #<\n" + valid}, "", "nmae", `did you mean "name"`},
		{"unknown method key", map[string]string{"exp.toml": valid + "[[method]]\nname = \"g2\"\ngenerator = \"x\"\nsampels = 3 #<\n"}, "", "method[1].sampels", `did you mean "samples"`},
		{"unknown key, nothing close", map[string]string{"exp.toml": valid + "[[method]]\nname = \"g2\"\ngenerator = \"x\"\nwhatever = 3 #<\n"}, "", "method[1].whatever", "allowed here: name, generator"},
		{"unknown key in inline table", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\ncross_dataset = { seen = \"digits\", novel = \"fashion\",\n  tsks = [\"a\"] } #<\n"}, "", "split[1].cross_dataset.tsks", `did you mean "tasks"`},
		{"unknown encoder key", map[string]string{"exp.toml": head + "[encoder]\nplugin = \"glove\"\nparam.dim = 3 #<\n[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder.param", `did you mean "params"`},
		{"unknown train key", map[string]string{"exp.toml": valid + "[train]\nepoch = 3 #<\n"}, "", "train.epoch", `did you mean "epochs"`},
		{"unknown task key", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d\"\ndescription = \"d\"\ndataset = \"digits\"\ntransform = [] #<\n"}, "", "task[3].transform", `did you mean "transforms"`},
		{"seeds not an array", map[string]string{"exp.toml": "name = \"t\"\nseeds = 1 #<\n" + plugins + tasks + split + method}, "", "seeds", "must be an array, not an integer"},
		{"seed not an integer", map[string]string{"exp.toml": "name = \"t\"\nseeds = [\n 1,\n 2.5, #<\n]\n" + plugins + tasks + split + method}, "", "seeds[1]", "must be an integer, not a float"},
		{"seeds empty", map[string]string{"exp.toml": "name = \"t\"\nseeds = [] #<\n" + plugins + tasks + split + method}, "", "seeds", "at least one seed"},
		{"negative seed", map[string]string{"exp.toml": "name = \"t\"\nseeds = [-1] #<\n" + plugins + tasks + split + method}, "", "seeds[0]", "negative"},
		{"duplicate seed", map[string]string{"exp.toml": "name = \"t\"\nseeds = [1, 2,\n  1] #<\n" + plugins + tasks + split + method}, "", "seeds[2]", "duplicate seed 1 (also seeds[0])"},
		{"missing name", map[string]string{"exp.toml": "seeds = [1]\n" + plugins + tasks + split + method}, "", "name", "required key is missing"},
		{"bad name", map[string]string{"exp.toml": "name = \"my exp\" #<\nseeds = [1]\n" + plugins + tasks + split + method}, "", "name", "may hold only"},
		{"name not a string", map[string]string{"exp.toml": "name = 3 #<\nseeds = [1]\n" + plugins + tasks + split + method}, "", "name", "must be a string, not an integer"},
		{"empty output", map[string]string{"exp.toml": "output = \"\" #<\n" + valid}, "", "output", "must not be empty"},
		{"missing encoder", map[string]string{"exp.toml": head + "[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder", "required table [encoder]"},
		{"missing plugin", map[string]string{"exp.toml": head + "[encoder] #<\n[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder.plugin", "required key is missing"},
		{"bad built-in name", map[string]string{"exp.toml": head + "[encoder]\nplugin = \"GloVe\" #<\n[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder.plugin", "neither a built-in plugin name"},
		{"missing plugin file", map[string]string{"exp.toml": head + "[encoder]\nplugin = \"bin/enc\" #<\n[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder.plugin", "no such file"},
		{"sha256 without path", map[string]string{"exp.toml": head + "[encoder]\nplugin = \"glove\"\nsha256 = \"" + strings.Repeat("a", 64) + "\" #<\n[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder.sha256", "only to a plugin given by path"},
		{"sha256 not hex", map[string]string{"exp.toml": head + plugins + tasks + split + method + "[[method]]\nname = \"m\"\ngenerator = \"./gen\"\nsha256 = \"abc\" #<\n", "gen": "x"}, "", "method[1].sha256", "64 hexadecimal digits"},
		{"params with a date-time", map[string]string{"exp.toml": head + "[encoder]\nplugin = \"glove\"\n[encoder.params]\nwhen = 2024-01-01 #<\n[evaluator]\nplugin = \"x\"\n" + tasks + split + method}, "", "encoder.params.when", "date-times are not supported"},
		{"epochs zero", map[string]string{"exp.toml": valid + "[train]\nepochs = 0 #<\nsnapshots = 1\n"}, "", "train.epochs", "must be positive"},
		{"snapshots over epochs", map[string]string{"exp.toml": valid + "[train]\nepochs = 5\nsnapshots = 6 #<\n"}, "", "train.snapshots", "6 snapshots exceed the 5 epochs"},
		{"epochs under default snapshots", map[string]string{"exp.toml": valid + "[train]\nepochs = 5 #<\n"}, "", "train.epochs", "fewer than the default 10 snapshots"},
		{"rank not an integer", map[string]string{"exp.toml": valid + "[train]\nrank = \"2\" #<\n"}, "", "train.rank", "must be an integer, not a string"},
		{"task as a table", map[string]string{"exp.toml": head + plugins + "[task] #<\nid = \"a\"\n"}, "", "task", "must be an array of tables (write [[task]])"},
		{"missing task id", map[string]string{"exp.toml": valid + "[[task]] #<\ndescription = \"d\"\ndataset = \"digits\"\n"}, "", "task[3].id", "required key is missing"},
		{"bad task id", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d/e\" #<\ndescription = \"d\"\ndataset = \"digits\"\n"}, "", "task[3].id", "may hold only"},
		{"empty description", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d\"\ndescription = \" \" #<\ndataset = \"digits\"\n"}, "", "task[3].description", "must not be empty"},
		{"missing dataset", map[string]string{"exp.toml": valid + "[[task]] #<\nid = \"d\"\ndescription = \"d\"\n"}, "", "task[3].dataset", "required key is missing"},
		{"duplicate task id", map[string]string{"exp.toml": valid + "[[task]]\nid = \"b\" #<\ndescription = \"d\"\ndataset = \"digits\"\n"}, "", "task[3].id", `duplicate task id "b" (first defined at`},
		{"bad transform", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d\"\ndescription = \"d\"\ndataset = \"digits\"\ntransforms = [\n  \"rotate(45)\",\n  \"blur(x)\", #<\n]\n"}, "", "task[3].transforms[1]", `task "d": transform "blur(x)": argument "x" is not a number`},
		{"transform not a string", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d\"\ndescription = \"d\"\ndataset = \"digits\"\ntransforms = [\"flip_h\", 45] #<\n"}, "", "task[3].transforms[1]", "must be a string, not an integer"},
		{"split without tasks", map[string]string{"exp.toml": valid + "[[split]] #<\nname = \"x\"\n"}, "", "split[1]", "needs seen and novel, leave_one_out, or cross_dataset"},
		{"split forms combined", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nseen = [\"a\"]\nnovel = [\"c\"]\nleave_one_out = [\"a\", \"b\"] #<\n"}, "", "split[1].leave_one_out", "cannot be combined with seen/novel"},
		{"missing novel", map[string]string{"exp.toml": valid + "[[split]] #<\nname = \"x\"\nseen = [\"a\"]\n"}, "", "split[1].novel", "required key is missing"},
		{"empty seen", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nseen = [] #<\nnovel = [\"c\"]\n"}, "", "split[1].seen", "at least one task"},
		{"empty novel", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nseen = [\"a\"]\nnovel = [] #<\n"}, "", "split[1].novel", "at least one task"},
		{"seen and novel", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nseen = [\"a\", \"b\"]\nnovel = [\"c\",\n  \"a\"] #<\n"}, "", "split[1].novel[1]", `task "a" is both seen and novel`},
		{"unknown task in split", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nseen = [\"a\", \"zz\"] #<\nnovel = [\"c\"]\n"}, "", "split[1].seen[1]", `unknown task "zz"`},
		{"task listed twice", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nseen = [\"a\", \"a\"] #<\nnovel = [\"c\"]\n"}, "", "split[1].seen[1]", `listed twice`},
		{"duplicate split name", map[string]string{"exp.toml": valid + "[[split]]\nname = \"main\" #<\nseen = [\"a\"]\nnovel = [\"c\"]\n"}, "", "split[1].name", `duplicate split name "main"`},
		{"duplicate generated split name", map[string]string{"exp.toml": valid + "[[split]]\nname = \"loo\"\nleave_one_out = [\"a\", \"b\"]\n[[split]]\nname = \"loo\" #<\nleave_one_out = [\"a\", \"c\"]\n"}, "", "split[2].name", `duplicate split name "loo/a"`},
		{"bad split name", map[string]string{"exp.toml": valid + "[[split]]\nname = \"a b\" #<\nseen = [\"a\"]\nnovel = [\"c\"]\n"}, "", "split[1].name", "may hold only"},
		{"leave_one_out of one", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\nleave_one_out = [\"a\"] #<\n"}, "", "split[1].leave_one_out", "at least two tasks"},
		{"cross_dataset same dataset", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\ncross_dataset = { seen = \"digits\", novel = \"digits\" } #<\n"}, "", "split[1].cross_dataset.novel", "same dataset"},
		{"cross_dataset without tasks", map[string]string{"exp.toml": valid + "[[split]]\nname = \"x\"\n[split.cross_dataset]\nseen = \"digits\"\nnovel = \"cifar\" #<\n"}, "", "split[1].cross_dataset.novel", `no task of dataset "cifar" in the experiment`},
		{"cross_dataset foreign task", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d\"\ndescription = \"d\"\ndataset = \"cifar\"\n[[split]]\nname = \"x\"\ncross_dataset = { seen = \"digits\", novel = \"fashion\", tasks = [\"a\", \"c\", \"d\"] } #<\n"}, "", "split[1].cross_dataset.tasks[2]", `task "d" is of dataset "cifar"`},
		{"no method", map[string]string{"exp.toml": head + plugins + tasks + split}, "", "method", "at least one [[method]]"},
		{"empty split list", map[string]string{"exp.toml": "split = [] #<\n" + head + plugins + tasks + method}, "", "split", "at least one [[split]]"},
		{"method name padded", map[string]string{"exp.toml": valid + "[[method]]\nname = \" g\" #<\ngenerator = \"x\"\n"}, "", "method[1].name", "must not start or end with spaces"},
		{"duplicate method name", map[string]string{"exp.toml": valid + "[[method]]\nname = \"gen\" #<\ngenerator = \"x\"\n"}, "", "method[1].name", `duplicate method name "gen" (first at line`},
		{"generator and reference", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\ngenerator = \"x\"\nreference = \"oracle\" #<\n"}, "", "method[1].reference", "not both"},
		{"neither generator nor reference", map[string]string{"exp.toml": valid + "[[method]] #<\nname = \"m\"\n"}, "", "method[1]", "needs generator"},
		{"unknown reference", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\nreference = \"zeroshot\" #<\n"}, "", "method[1].reference", `unknown reference "zeroshot"`},
		{"zero samples", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\ngenerator = \"x\"\nsamples = 0 #<\n"}, "", "method[1].samples", "at least 1"},
		{"samples not an integer", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\ngenerator = \"x\"\nsamples = \"3\" #<\n"}, "", "method[1].samples", "must be an integer, not a string"},
		{"reference samples", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\nreference = \"oracle\"\nsamples = 3 #<\n"}, "", "method[1].samples", "samples must be 1"},
		{"reference params", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\nreference = \"zero-shot\"\n[method.params] #<\nx = 1\n"}, "", "method[1].params", "references take no params"},
		{"reference sha256", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\nreference = \"oracle\"\nsha256 = \"00\" #<\n"}, "", "method[1].sha256", "only to a generator given by path"},
		{"top_k over seen", map[string]string{"exp.toml": valid + "[[method]]\nname = \"m\"\ngenerator = \"x\"\nparams = { top_k = 3 } #<\n"}, "", "method[1].params.top_k", `method "m": top_k = 3 exceeds the 2 seen tasks of split "main"`},
		{"top_k over seen in a sweep", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.params]\ntop_k = [1, 2,\n  4] #<\n"}, "", "sweep[0].params.top_k[2]", `method "gen": top_k = 4 exceeds the 2 seen tasks of split "main"`},
		{"sweep unknown method", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"SG\" #<\nparams.top_k = [1]\n"}, "", "sweep[0].method", `unknown method "SG"`},
		{"sweep reference", map[string]string{"exp.toml": valid + "[[method]]\nname = \"o\"\nreference = \"oracle\"\n[[sweep]]\nmethod = \"o\" #<\nparams.top_k = [1]\n"}, "", "sweep[0].method", "only generator methods can be swept"},
		{"sweep of nothing", map[string]string{"exp.toml": valid + "[[sweep]] #<\nmethod = \"gen\"\n"}, "", "sweep[0]", "nothing to sweep"},
		{"sweep value not a list", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.params]\ntau = 0.5 #<\n"}, "", "sweep[0].params.tau", "must be an array, not a float"},
		{"sweep empty list", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.params]\ntau = [] #<\n"}, "", "sweep[0].params.tau", "at least one value"},
		{"sweep repeated value", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.params]\ntau = [0.5, 1.0, 0.5] #<\n"}, "", "sweep[0].params.tau[2]", "value 0.5 is listed twice (also sweep[0].params.tau[0])"},
		{"sweep bad train key", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.train]\nsnapshot = [1] #<\n"}, "", "sweep[0].train.snapshot", `did you mean "snapshots"`},
		{"sweep bad train value", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.train]\nepochs = [10, 0] #<\n"}, "", "sweep[0].train.epochs[1]", "must be positive"},
		{"sweep snapshots over epochs", map[string]string{"exp.toml": valid + "[[sweep]]\nmethod = \"gen\"\n[sweep.train] #<\nsnapshots = [5, 30]\n"}, "", "sweep[0].train", `"gen train.snapshots=30": 30 snapshots exceed the 20 epochs`},
		{"swept name clash", map[string]string{"exp.toml": valid + "[[method]]\nname = \"gen tau=0.5\"\ngenerator = \"x\"\n[[sweep]] #<\nmethod = \"gen\"\nparams.tau = [0.5]\n"}, "", "sweep[0]", `swept method "gen tau=0.5" clashes`},
		{"include missing", map[string]string{"exp.toml": "include = [\"more.toml\"] #<\n" + valid}, "", "include[0]", "cannot read included file " + "@DIR@/more.toml"},
		{"include syntax error", map[string]string{"exp.toml": "include = [\"more.toml\"]\n" + valid, "more.toml": "[[task]]\nid = \"d\"\ndescription = = \"d\" #<\n"}, "more.toml", "task.description", "TOML syntax error"},
		{"include with other tables", map[string]string{"exp.toml": "include = [\"more.toml\"]\n" + valid, "more.toml": "[[method]] #<\nname = \"x\"\n"}, "more.toml", "method", "only [[task]] tables"},
		{"include bad task", map[string]string{"exp.toml": "include = [\"inc/more.toml\"]\n" + valid, "inc/more.toml": "[[task]]\nid = \"d\"\ndescription = \"d\"\ndataset = \"digits\"\n\n[[task]]\nid = \"e\"\ndescription = \"e\"\ndataset = \"digits\"\ndatset = \"digits\" #<\n"}, "inc/more.toml", "task[1].datset", `did you mean "dataset"`},
		{"include duplicate task", map[string]string{"exp.toml": "include = [\"more.toml\"]\n" + valid, "more.toml": "[[task]]\nid = \"a\"\ndescription = \"d\"\ndataset = \"digits\"\n"}, "", "task[0].id", `duplicate task id "a" (first defined at @DIR@/more.toml:2)`},
		{"include missing, its tasks used", map[string]string{"exp.toml": "include = [\"more.toml\"] #<\n" + valid + "[[split]]\nname = \"x\"\nseen = [\"a\", \"from-more\"]\nnovel = [\"c\"]\n"}, "", "include[0]", "cannot read included file"},
		{"include not an array", map[string]string{"exp.toml": "include = \"more.toml\" #<\n" + valid}, "", "include", "must be an array, not a string"},
		{"bad task in cross_dataset", map[string]string{"exp.toml": valid + "[[task]]\nid = \"d\"\ndescription = \"d\"\ndataset = \"fashion\"\ntransforms = [\"blur(\"] #<\n[[split]]\nname = \"x\"\ncross_dataset = { seen = \"digits\", novel = \"fashion\", tasks = [\"a\", \"d\"] }\n"}, "", "task[3].transforms[0]", "missing closing parenthesis"},
		{"include itself", map[string]string{"exp.toml": "include = [\"exp.toml\"] #<\n" + valid}, "", "include[0]", "cannot include itself"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			errs := loadErrors(t, dir)
			file := c.file
			if file == "" {
				file = "exp.toml"
			}
			line := markedLine(c.files[file])
			path := filepath.Join(dir, file)
			msg := strings.ReplaceAll(c.msg, "@DIR@", dir)
			if c.name == "include duplicate task" {
				// The error is in exp.toml, whose own tasks come after the included ones.
				line = 4 + strings.Count(head+plugins, "\n")
			}
			n := 1
			if c.name == "task as a table" { // no tasks, so no splits or methods either
				n = 3
			}
			if len(errs) != n {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), n, errs)
			}
			var e Error
			for _, e = range errs {
				if e.Key == c.key {
					break
				}
			}
			if e.File != path || e.Line != line || e.Key != c.key || !strings.Contains(e.Msg, msg) {
				t.Errorf("got  %s\nwant %s:%d: %s: ...%s...", e, path, line, c.key, msg)
			}
			prefix := fmt.Sprintf("%s:%d: %s: ", path, line, c.key)
			if line == 0 {
				prefix = fmt.Sprintf("%s: %s: ", path, c.key)
			}
			if !strings.HasPrefix(e.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", e.Error(), prefix)
			}
		})
	}
}

func TestManyMistakes(t *testing.T) {
	name := filepath.Join("testdata", "five-mistakes.toml")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(name)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: %v, want Errors", err)
	}
	want := []struct {
		key, msg string
	}{
		{"encoder.sha256", "built-in name"},
		{"split[0].novel[1]", `unknown task "d"`},
		{"method[0].sampels", `unknown key (did you mean "samples"?)`},
		{"method[1].samples", "at least 1"},
		{"sweep[0].method", "only generator methods"},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	lines := strings.Split(string(data), "\n")
	for i, w := range want {
		line := 0
		for n, l := range lines {
			if strings.Contains(l, fmt.Sprintf("# mistake %d:", i+1)) {
				line = n + 1
			}
		}
		got := errs[i]
		if got.File != name || got.Line != line || got.Key != w.key || !strings.Contains(got.Msg, w.msg) {
			t.Errorf("error %d: got %s, want line %d, key %s, ...%s...", i, got, line, w.key, w.msg)
		}
	}
	if n := strings.Count(errs.Error(), "\n"); n != len(want)-1 {
		t.Errorf("Errors.Error() has %d line breaks, want %d", n, len(want)-1)
	}
}

// TestErrorsAcrossFiles checks that errors of the experiment file come before those of
// included files, each sorted by line.
func TestErrorsAcrossFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"exp.toml": "include = [\"b.toml\", \"a.toml\"]\nbogus = 1\n" + valid,
		"b.toml":   "[[task]]\nid = \"x\"\ndescription = \"x\"\ndataset = \"digits\"\nextra = 1\n",
		"a.toml":   "[[task]]\nid = \"y\"\ndescription = \"\"\ndataset = \"digits\"\n[[task]]\nid = \"z\"\nextra = 2\ndescription = \"z\"\ndataset = \"digits\"\n",
	})
	errs := loadErrors(t, dir)
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%s:%d:%s", filepath.Base(e.File), e.Line, e.Key))
	}
	want := []string{
		"exp.toml:2:bogus",
		"b.toml:5:task[0].extra",
		"a.toml:3:task[0].description",
		"a.toml:7:task[1].extra",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestFull(t *testing.T) {
	e, err := Load(filepath.Join("testdata", "full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", "full.toml")
	abs, err := filepath.Abs(filepath.Join("testdata", "bin", "mygen"))
	if err != nil {
		t.Fatal(err)
	}
	if e.File != file || e.Name != "full" || !reflect.DeepEqual(e.Seeds, []uint64{1, 2, 3}) || e.Output != filepath.Join("out", "full-run") {
		t.Errorf("header: %q %q %v %q", e.File, e.Name, e.Seeds, e.Output)
	}
	wantEnc := PluginRef{Name: "glove", Params: map[string]any{"dim": int64(50)}, File: file, Line: 8, Key: "encoder.plugin",
		ParamAt: map[string]Where{"dim": {File: file, Line: 10, Key: "encoder.params.dim"}}}
	if !reflect.DeepEqual(e.Encoder, wantEnc) {
		t.Errorf("encoder = %+v, want %+v", e.Encoder, wantEnc)
	}
	wantEval := PluginRef{Name: "miniclip", Params: map[string]any{"image_size": int64(28), "datasets": []any{"digits", "fashion"}}, File: file, Line: 13, Key: "evaluator.plugin",
		ParamAt: map[string]Where{"image_size": {File: file, Line: 14, Key: "evaluator.params.image_size"}, "datasets": {File: file, Line: 14, Key: "evaluator.params.datasets"}}}
	if !reflect.DeepEqual(e.Evaluator, wantEval) {
		t.Errorf("evaluator = %+v, want %+v", e.Evaluator, wantEval)
	}
	if want := (plugin.TrainOptions{Epochs: 30, Snapshots: 10, Rank: 0}); e.Train != want {
		t.Errorf("train = %+v, want %+v", e.Train, want)
	}
	wantTasks := []task.Task{
		{ID: "digits-rot45", Description: "handwritten digits rotated by 45 degrees", Dataset: "digits",
			Domain: []task.Transform{{Name: "rotate", Args: []float64{45}}}, Params: map[string]any{}},
		{ID: "digits-blur", Description: "handwritten digits with motion blur", Dataset: "digits",
			Domain: []task.Transform{{Name: "motion_blur", Args: []float64{5, 0}}, {Name: "gaussian_noise", Args: []float64{0.1}}},
			Params: map[string]any{"train_size": int64(500)}},
		{ID: "fashion-plain", Description: "photos of clothing", Dataset: "fashion", Params: map[string]any{}},
		{ID: "digits-flip", Description: "handwritten digits, mirrored", Dataset: "digits",
			Domain: []task.Transform{{Name: "flip_h"}}, Params: map[string]any{}},
		{ID: "fashion-rot90", Description: "photos of clothing\nrotated by 90 degrees", Dataset: "fashion",
			Domain: []task.Transform{{Name: "rotate", Args: []float64{90}}}, Params: map[string]any{"train_size": int64(200)}},
	}
	if !reflect.DeepEqual(e.Tasks, wantTasks) {
		t.Errorf("tasks:\n got  %+v\n want %+v", e.Tasks, wantTasks)
	}
	if tk, ok := e.Task("fashion-rot90"); !ok || tk.Dataset != "fashion" {
		t.Errorf("Task(fashion-rot90) = %+v, %v", tk, ok)
	}
	if _, ok := e.Task("nope"); ok {
		t.Error("Task(nope) found")
	}
	wantSplits := []task.Split{
		{Name: "main", Seen: []string{"digits-rot45", "digits-blur", "fashion-plain"}, Novel: []string{"digits-flip"}},
		{Name: "loo/digits-rot45", Seen: []string{"digits-blur", "digits-flip"}, Novel: []string{"digits-rot45"}},
		{Name: "loo/digits-blur", Seen: []string{"digits-rot45", "digits-flip"}, Novel: []string{"digits-blur"}},
		{Name: "loo/digits-flip", Seen: []string{"digits-rot45", "digits-blur"}, Novel: []string{"digits-flip"}},
		{Name: "cross", Seen: []string{"digits-rot45", "digits-blur", "digits-flip"}, Novel: []string{"fashion-plain", "fashion-rot90"}},
	}
	if !reflect.DeepEqual(e.Splits, wantSplits) {
		t.Errorf("splits:\n got  %+v\n want %+v", e.Splits, wantSplits)
	}

	var names []string
	for _, m := range e.Methods {
		names = append(names, m.Name)
	}
	wantNames := []string{"SG-LoRA"}
	for _, tau := range []string{"0.1", "1.0"} {
		for _, k := range []string{"1", "2"} {
			for _, s := range []string{"5", "10"} {
				wantNames = append(wantNames, "SG-LoRA tau="+tau+" top_k="+k+" train.snapshots="+s)
			}
		}
	}
	wantNames = append(wantNames, "mine", "Zero-shot", "Oracle")
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("methods:\n got  %q\n want %q", names, wantNames)
	}
	sg := e.Methods[0]
	if sg.Samples != 5 || sg.Generator.Name != "sglora" || sg.Generator.Line != 50 || sg.Line != 48 ||
		!reflect.DeepEqual(sg.Params, map[string]any{"top_k": int64(2), "tau": 0.5}) || sg.Base != "" || sg.Sweep != nil {
		t.Errorf("SG-LoRA = %+v", sg)
	}
	mine := e.Methods[9]
	if mine.Generator.Path != abs || mine.Generator.Name != "" || mine.Generator.SHA256 != strings.ToLower("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789") || mine.Generator.String() != abs {
		t.Errorf("mine = %+v", mine.Generator)
	}
	for _, m := range e.Methods[10:] {
		if m.Generator != nil || m.Samples != 1 || m.Train != e.Train {
			t.Errorf("reference %+v", m)
		}
	}
	if e.Methods[10].Reference != ZeroShot || e.Methods[11].Reference != Oracle {
		t.Errorf("references %q %q", e.Methods[10].Reference, e.Methods[11].Reference)
	}
}

func TestSweepExpansion(t *testing.T) {
	text := valid + `
[method.params]
tau = 0.5
layers = [1, 2]

[train]
epochs = 8
snapshots = 4

[[method]]
name = "after"
generator = "other"

[[sweep]]
method = "gen"
[sweep.params]
tau = [0.25, 2.0]
mode = ["a b", "c"]
[sweep.train]
epochs = [6, 10]
`
	dir := writeFiles(t, map[string]string{"exp.toml": text})
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Methods) != 1+8+1 {
		t.Fatalf("%d methods, want 10", len(e.Methods))
	}
	sweepLine := markedLine(strings.Replace(text, "[[sweep]]", "[[sweep]] #<", 1))
	i := 1
	for _, mode := range []string{"a b", "c"} {
		for _, tau := range []float64{0.25, 2.0} {
			for _, epochs := range []int64{6, 10} {
				m := e.Methods[i]
				i++
				name := fmt.Sprintf("gen mode=%s tau=%s train.epochs=%d", formatValue(mode), formatFloat(tau), epochs)
				params := map[string]any{"tau": tau, "layers": []any{int64(1), int64(2)}, "mode": mode}
				sweep := map[string]any{"tau": tau, "mode": mode, "train.epochs": epochs}
				train := plugin.TrainOptions{Epochs: int(epochs), Snapshots: 4}
				if m.Name != name || !reflect.DeepEqual(m.Params, params) || !reflect.DeepEqual(m.Generator.Params, params) ||
					!reflect.DeepEqual(m.Sweep, sweep) || m.Train != train || m.Base != "gen" || m.Line != sweepLine || m.Samples != 1 {
					t.Errorf("method %d = %+v\nwant name %q params %v sweep %v train %+v line %d", i-1, m, name, params, sweep, train, sweepLine)
				}
			}
		}
	}
	if e.Methods[0].Name != "gen" || e.Methods[0].Sweep != nil || e.Methods[9].Name != "after" {
		t.Errorf("order: %q ... %q", e.Methods[0].Name, e.Methods[9].Name)
	}
	if got := e.Methods[1].Name; got != `gen mode="a b" tau=0.25 train.epochs=6` {
		t.Errorf("first swept name %q", got)
	}
	// Swept methods share nothing with their base or each other.
	e.Methods[1].Params["layers"].([]any)[0] = int64(99)
	e.Methods[1].Params["tau"] = 7.0
	if e.Methods[0].Params["layers"].([]any)[0] != int64(1) || e.Methods[2].Params["layers"].([]any)[0] != int64(1) || e.Methods[0].Params["tau"] != 0.5 {
		t.Error("swept methods share params with their base")
	}
}

func TestCrossDatasetSubset(t *testing.T) {
	text := valid + `
[[task]]
id = "d"
description = "task d"
dataset = "fashion"

[[split]]
name = "x"
cross_dataset = { seen = "fashion", novel = "digits", tasks = ["b", "d", "c"] }
`
	dir := writeFiles(t, map[string]string{"exp.toml": text})
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := task.Split{Name: "x", Seen: []string{"d", "c"}, Novel: []string{"b"}}
	if got := e.Splits[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("split = %+v, want %+v", got, want)
	}
}

func TestHash(t *testing.T) {
	load := func(text string) *Experiment {
		t.Helper()
		dir := writeFiles(t, map[string]string{"exp.toml": text})
		e, err := Load(filepath.Join(dir, "exp.toml"))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	base := load(valid + "[method.params]\ntau = 2.0\n")
	h := base.Hash()
	if len(h) != 64 || h != load(valid+"[method.params]\ntau = 2.0\n").Hash() {
		t.Fatalf("hash %q is not stable", h)
	}
	same := map[string]string{
		"comments and layout": "# a comment\n" + strings.ReplaceAll(valid, "\n\n", "\n") + "params = { tau = 2.0 } # inline\n",
		"output folder":       "output = \"elsewhere\"\n" + valid + "[method.params]\ntau = 2.0\n",
		"defaults written":    valid + "samples = 1\n[method.params]\ntau = 2.0\n[train]\nepochs = 20\nsnapshots = 10\nrank = 0\n",
	}
	for name, text := range same {
		if got := load(text).Hash(); got != h {
			t.Errorf("%s changed the hash", name)
		}
	}
	differ := map[string]string{
		"float vs int":   valid + "[method.params]\ntau = 2\n",
		"param value":    valid + "[method.params]\ntau = 2.5\n",
		"seed":           strings.Replace(valid, "seeds = [1, 2]", "seeds = [1, 3]", 1) + "[method.params]\ntau = 2.0\n",
		"seed order":     strings.Replace(valid, "seeds = [1, 2]", "seeds = [2, 1]", 1) + "[method.params]\ntau = 2.0\n",
		"train":          valid + "[method.params]\ntau = 2.0\n[train]\nrank = 4\n",
		"task text":      strings.Replace(valid, "task a", "task A", 1) + "[method.params]\ntau = 2.0\n",
		"samples":        valid + "samples = 2\n[method.params]\ntau = 2.0\n",
		"nan parameter":  valid + "[method.params]\ntau = nan\n",
		"extra sweep":    valid + "[method.params]\ntau = 2.0\n[[sweep]]\nmethod = \"gen\"\nparams.tau = [1.0]\n",
		"encoder params": strings.Replace(valid, "plugin = \"glove\"", "plugin = \"glove\"\nparams.dim = 3", 1) + "[method.params]\ntau = 2.0\n",
	}
	seen := map[string]string{}
	for name, text := range differ {
		got := load(text).Hash()
		if got == h {
			t.Errorf("%s did not change the hash", name)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s hash alike", name, other)
		}
		seen[got] = name
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.toml", Line: 3, Key: "seeds[1]", Msg: "bad"}, "a.toml:3: seeds[1]: bad"},
		{Error{File: "a.toml", Key: "name", Msg: "required key is missing"}, "a.toml: name: required key is missing"},
		{Error{File: "a.toml", Line: 7, Msg: "TOML syntax error: x"}, "a.toml:7: TOML syntax error: x"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	es := Errors{cases[0].e, cases[1].e}
	if got := es.Error(); got != cases[0].want+"\n"+cases[1].want {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.toml")
	_, err := Load(p)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != p || !strings.Contains(errs[0].Msg, "no such file") {
		t.Errorf("got %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"samples", "sampels", 1}, {"seeds", "seed", 1},
		{"kitten", "sitting", 3}, {"train", "tarin", 1}, {"abc", "abc", 0},
	}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := editDistance(c.b, c.a); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

// FuzzLoad checks that no file makes Load panic, and that errors always come as sorted
// Errors with a file and a message.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"testdata/full.toml", "testdata/five-mistakes.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(valid + "[[sweep]]\nmethod = \"gen\"\nparams.top_k = [1, 2]\ntrain.epochs = [10, 20]\n")
	f.Fuzz(func(t *testing.T, src string) {
		dir := writeFiles(t, map[string]string{"exp.toml": src})
		_, err := Load(filepath.Join(dir, "exp.toml"))
		if err == nil {
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T %v, want non-empty Errors", err, err)
		}
		for i, e := range errs {
			if e.File == "" || e.Msg == "" {
				t.Errorf("incomplete error %#v", e)
			}
			if i > 0 && e.File == errs[i-1].File && e.Line < errs[i-1].Line {
				t.Errorf("errors not sorted by line: %v", errs)
			}
		}
	})
}

// TestKeepAdapters: the experiment's keep_adapters is every method's default, a method's
// own overrides it, sweeps inherit their base's, an unknown value is an error at its
// line, and the hash does not change.
func TestKeepAdapters(t *testing.T) {
	text := `keep_adapters = "all"
` + valid + `keep_adapters = "best"

[[method]]
name = "plain"
generator = "other"

[[method]]
name = "Zero-shot"
reference = "zero-shot"

[[sweep]]
method = "gen"
[sweep.params]
tau = [0.5, 1.0]
`
	dir := writeFiles(t, map[string]string{"exp.toml": text})
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range e.Methods {
		got[m.Name] = m.KeepAdapters
	}
	want := map[string]string{"gen": KeepBest, "gen tau=0.5": KeepBest, "gen tau=1.0": KeepBest, "plain": KeepAll, "Zero-shot": KeepAll}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keep_adapters = %v, want %v", got, want)
	}
	plain, err := Load(filepath.Join(writeFiles(t, map[string]string{"exp.toml": valid}), "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Methods[0].KeepAdapters != KeepNone {
		t.Errorf("default keep_adapters = %q, want %q", plain.Methods[0].KeepAdapters, KeepNone)
	}
	kept, err := Load(filepath.Join(writeFiles(t, map[string]string{"exp.toml": `keep_adapters = "all"` + "\n" + valid}), "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if kept.Hash() != plain.Hash() {
		t.Error("keep_adapters changed the experiment's hash")
	}
	errs := loadErrors(t, writeFiles(t, map[string]string{"exp.toml": valid + `keep_adapters = "some"` + "\n"}))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `exp.toml:33: method[0].keep_adapters: unknown value "some"; want "none", "best" or "all"`) {
		t.Errorf("errors = %v", errs)
	}
}

// TestTaskAdapters: a [[task]]'s adapters are PEFT folders relative to its file; a
// folder that is not one is an error at its entry.
func TestTaskAdapters(t *testing.T) {
	bank := `
[[task]]
id = "d"
description = "task d"
dataset = "digits"
adapters = ["bank/one"]
`
	dir := writeFiles(t, map[string]string{"exp.toml": valid + bank, "bank/one/adapter_config.json": "{}", "bank/one/adapter_model.safetensors": ""})
	e, err := Load(filepath.Join(dir, "exp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Banks["d"]; len(got) != 1 || got[0] != filepath.Join(dir, "bank", "one") {
		t.Errorf("banks = %v", e.Banks)
	}
	errs := loadErrors(t, writeFiles(t, map[string]string{"exp.toml": valid + bank}))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "task[3].adapters[0]: not a PEFT adapter folder") {
		t.Errorf("errors = %v", errs)
	}
}
