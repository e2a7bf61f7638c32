package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/plugins/builtin"
)

// The test binary stands in for the runner binary: when the runner starts a built-in
// plugin it re-executes itself with `plugin serve KIND/NAME`, which lands here.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "plugin" && os.Args[2] == "serve" || os.Getenv("SGLAB_TEST_AS_RUNNER") != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runnerCommand is `runner ARGS...` as a child process: the test binary re-executed
// as the runner (see TestMain).
func runnerCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "SGLAB_TEST_AS_RUNNER=1")
	return cmd
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateReportsEveryMistake(t *testing.T) {
	text := `name = "bad"
seeds = [1, -2]
[encoder]
plugin = "glove"
[evaluator]
plugin = "miniclip"
colour = "red"
[[task]]
id = "a"
description = "task a"
dataset = "digits"
[[task]]
id = "b"
description = "task b"
dataset = "digits"
transforms = ["rotate(x)"]
[[split]]
name = "main"
seen = ["a"]
novel = ["a", "zz"]
[[method]]
name = "m"
generator = "sglora"
samples = -1
`
	stderr := validateText(t, text)
	want := []string{
		"bad.toml:2: seeds[1]",               // negative seed
		"bad.toml:7: evaluator.colour",       // unknown key
		"bad.toml:16: task[1].transforms[0]", // bad transform
		"bad.toml:20: split[0].novel",        // a task both seen and novel, and an unknown one
		"bad.toml:24: method[0].samples",     // negative samples
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("validate output lacks %q:\n%s", w, stderr)
		}
	}
	if !strings.Contains(stderr, "problems") {
		t.Errorf("validate must count the problems:\n%s", stderr)
	}
}

func TestPluginsListsEveryBuiltin(t *testing.T) {
	code, stdout, stderr := runCLI(t, "plugins")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, e := range builtin.All() {
		if !strings.Contains(stdout, e.Kind+"/"+e.Name+" ") {
			t.Errorf("plugins does not list %s/%s:\n%s", e.Kind, e.Name, stdout)
		}
	}
	// The parameters' constraints and the evaluator's metrics are shown.
	for _, want := range []string{"[(0, 1]] fraction of each task vector", "[one of factor, delta]",
		"metrics (headline i2t_r1, t2i_r1):", "i2t_r5         image→text Recall@5"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plugins does not show %q:\n%s", want, stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"run"}, {"transfer"}, {"transfer", "a.toml", "b.toml"}, {"plugin", "serve", "encoder/nope"}} {
		if code, _, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestTransferBadFile checks that `runner transfer` on a file it cannot use fails before
// starting anything, naming the file.
func TestTransferBadFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"bad\"\nseeds = [1]\ncolour = \"red\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{missing, bad} {
		code, stdout, stderr := runCLI(t, "transfer", path, "--out", filepath.Join(dir, "out"))
		if code != 1 || !strings.Contains(stderr, path) || stdout != "" {
			t.Errorf("transfer %s: exit %d, stdout %q, stderr:\n%s", path, code, stdout, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("a failed transfer created its output folder")
	}
}

// Every experiment the repo ships loads cleanly and names only built-in plugins.
func TestShippedExperimentsLoad(t *testing.T) {
	files, _ := filepath.Glob("../experiments/*.toml")
	more, _ := filepath.Glob("../experiments/ablations/*.toml")
	files = append(files, more...)
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		exp, err := config.Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		refs := []struct {
			kind string
			ref  config.PluginRef
		}{{plugin.KindEncoder, exp.Encoder}, {plugin.KindEvaluator, exp.Evaluator}}
		for _, m := range exp.Methods {
			if m.Generator != nil {
				refs = append(refs, struct {
					kind string
					ref  config.PluginRef
				}{plugin.KindGenerator, *m.Generator})
			}
		}
		for _, r := range refs {
			if _, err := specFor(r.kind, r.ref); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// TestValidateConstraints: values out of the bounds a plugin's parameter tags declare
// are reported together, each at its key's line, and a built-in's old name gets its
// new one.
func TestValidateConstraints(t *testing.T) {
	text := `name = "bad"
seeds = [1]
[encoder]
plugin = "minicliptext"
[evaluator]
plugin = "miniclip"
[evaluator.params]
batch_size = 1
rank = 0
[[task]]
id = "a"
description = "task a"
dataset = "digits"
[[task]]
id = "b"
description = "task b"
dataset = "digits"
[[split]]
name = "main"
seen = ["a"]
novel = ["b"]
[[method]]
name = "m"
generator = "topk-weighted"
[method.params]
top_k = 0
tau = -1.0
`
	stderr := validateText(t, text)
	for _, w := range []string{
		`bad.toml:4: `, `built-in encoder "minicliptext" is now called "miniclip-text"`,
		`bad.toml:8: evaluator.params.batch_size: `, `parameter "batch_size": must be at least 2, got 1`,
		`bad.toml:9: evaluator.params.rank: `, `parameter "rank": must be at least 1, got 0`,
		`bad.toml:26: method[0].params.top_k: `, `parameter "top_k": must be at least 1, got 0`,
		`bad.toml:27: method[0].params.tau: `, `parameter "tau": must be greater than 0, got -1`,
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("validate output lacks %q:\n%s", w, stderr)
		}
	}
}
