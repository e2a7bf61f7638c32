package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/runner/driver"
)

// startRunner runs `runner run` on exp as a child process (the test binary standing in
// for the runner) and waits until it has at least two plugin processes at work.
func startRunner(t *testing.T, dir, exp string) (*exec.Cmd, *bytes.Buffer, []int) {
	t.Helper()
	cmd := runnerCommand(t, "run", "--cache", filepath.Join(dir, "cache"), exp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var kids []int
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end) && len(kids) < 2; time.Sleep(20 * time.Millisecond) {
		kids = children(cmd.Process.Pid)
	}
	if len(kids) < 2 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the runner started %d plugins\n%s", len(kids), stderr.String())
	}
	return cmd, &stderr, kids
}

// outlive returns the pids still running after waiting up to d for them to end.
func outlive(pids []int, d time.Duration) []int {
	for end := time.Now().Add(d); time.Now().Before(end) && alive(pids) != nil; time.Sleep(50 * time.Millisecond) {
	}
	return alive(pids)
}

// validateText writes text as bad.toml in a fresh folder, runs `runner validate` on it
// and returns what it printed, failing unless it found problems.
func validateText(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "validate", path)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", code, stderr)
	}
	return stderr
}

// TestSecondRunRefusedAndSIGTERM: while a run works in a folder, a second run into it
// fails at once naming the first's pid; SIGTERM ends the first with 143 and no plugin
// left, and its lock with it.
func TestSecondRunRefusedAndSIGTERM(t *testing.T) {
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, "[[method]]\nname = \"SG-LoRA\"\ngenerator = \"sglora\"\nsamples = 3\n")
	cmd, stderr, kids := startRunner(t, dir, exp)

	start := time.Now()
	code, _, errOut := runCLI(t, "run", "--quiet", "--cache", filepath.Join(dir, "cache"), exp)
	if code != 1 || !strings.Contains(errOut, "in use by pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("second run: exit %d\n%s", code, errOut)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the refusal took %s", took)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Errorf("exit after SIGTERM: %v, want code 143\n%s", err, stderr.String())
	}
	if left := outlive(kids, 10*time.Second); left != nil {
		t.Errorf("plugin processes %v outlived the runner", left)
	}
	f, err := os.OpenFile(filepath.Join(dir, "out", driver.LockFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("the lock outlived the run: %v", err)
	}
}

// TestChangedParameterReruns runs the tiny experiment, changes one method's parameter
// under the same name, and runs again: exactly that method's trials run again, the log
// says why, the journal holds each trial once, and the manifest keeps both runs.
func TestChangedParameterReruns(t *testing.T) {
	dir := t.TempDir()
	methods := "[[method]]\nname = \"Top-K\"\ngenerator = \"topk-weighted\"\n[method.params]\ntop_k = 2\n"
	exp := tinyExperiment(t, dir, methods)
	cache := filepath.Join(dir, "cache")
	if code, _, errOut := runCLI(t, "run", "--quiet", "--cache", cache, exp); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, errOut)
	}
	journal := filepath.Join(dir, "out", results.FileName)
	before, _ := results.Read(journal)
	tinyExperiment(t, dir, strings.Replace(methods, "top_k = 2", "top_k = 3", 1))
	code, _, errOut := runCLI(t, "run", "--cache", cache, exp)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"configuration changed", "method=Top-K", "changed=generator_params", "ran=2", "skipped=2", "superseded=4"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the second run's log lacks %q:\n%s", want, errOut)
		}
	}
	after, _ := results.Read(journal)
	if len(after) != len(before) {
		t.Errorf("%d rows after the rerun, %d before", len(after), len(before))
	}
	old := map[string]results.Row{}
	for _, r := range before {
		old[r.Key()] = r
	}
	for _, r := range after {
		o := old[r.Key()]
		if same := fmt.Sprint(o.Identity) == fmt.Sprint(r.Identity); same != (r.Method == "Zero-shot") {
			t.Errorf("%s %s %s: identity before %v, after %v", r.Kind, r.Method, r.Task, o.Identity, r.Identity)
		}
	}
	if mans, err := driver.ReadManifest(filepath.Join(dir, "out", driver.ManifestFile)); err != nil || len(mans) != 2 {
		t.Errorf("manifest: %d invocations, %v", len(mans), err)
	}
}

// TestValidateOneRound: a file with mistakes of every kind (the file's own, every
// plugin's parameters, a task the evaluator refuses, a swept value, training options
// the evaluator's adapters cannot hold) is reported in one round, each at its line.
func TestValidateOneRound(t *testing.T) {
	catalog, _ := filepath.Abs("../experiments/tasks/catalog.toml")
	text := fmt.Sprintf(`name = "bad"
seeds = [1]
include = [%q]
[encoder]
plugin = "glove"
[encoder.params]
lexical = 2.0
[evaluator]
plugin = "miniclip"
[evaluator.params]
train_per_class = 0
lr = -1.0
[train]
epochs = 2
snapshots = 2
rank = 1000
[[task]]
id = "odd"
description = "odd"
dataset = "nosuch"
transforms = ["frobnicate(3)"]
[[task]]
id = "lonely"
description = "written here, used by no split"
dataset = "digits"
transforms = ["rotate(1, 2, 3)"]
[[split]]
name = "main"
seen = ["digits-clean", "digits-blur"]
novel = ["odd"]
[[method]]
name = "SG"
generator = "sglora"
samples = 100000000000
[method.params]
top_k = 0
tau = -1.0
[[sweep]]
method = "SG"
[sweep.params]
epochs = [0, 10]
`, catalog)
	stderr := validateText(t, text)
	want := []string{
		"bad.toml:7: encoder.params.lexical: ",
		"bad.toml:11: evaluator.params.train_per_class: ",
		"bad.toml:12: evaluator.params.lr: ",
		"bad.toml:16: train.rank: ",
		`bad.toml:17: task[0]: plugin miniclip (evaluator) CheckTask(odd): miniclip: task "odd": unknown dataset`,
		`bad.toml:17: task[0]: plugin miniclip (evaluator) CheckTask(odd): transform "frobnicate(3)"`,
		`bad.toml:22: task[1]: plugin miniclip (evaluator) CheckTask(lonely): miniclip: task "lonely": transform "rotate(1, 2, 3)"`,
		"bad.toml:34: method[0].samples: ",
		"bad.toml:36: method[0].params.top_k: ",
		"bad.toml:37: method[0].params.tau: ",
		"bad.toml:41: sweep[0].params.epochs[0]: ",
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("validate lacks %q", w)
		}
	}
	if !strings.Contains(stderr, fmt.Sprintf("%d problems", len(want))) {
		t.Errorf("want %d problems:\n%s", len(want), stderr)
	}
}

// TestRebuiltPluginReruns: a third-party plugin rebuilt under the same path (another
// sha256) runs its method's trials again, and only those.
func TestRebuiltPluginReruns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	dir := t.TempDir()
	exe, sum := buildExample(t, dir)
	exp := tinyExperiment(t, dir, fmt.Sprintf("[[method]]\nname = \"Example\"\ngenerator = %q\n", exe))
	cache := filepath.Join(dir, "cache")
	if code, _, errOut := runCLI(t, "run", "--quiet", "--cache", cache, exp); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, errOut)
	}
	// The same source linked without symbols: another executable.
	if out, err := exec.Command("go", "build", "-ldflags=-s -w", "-o", exe, "../plugins/example").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(exe); fmt.Sprintf("%x", sha256.Sum256(again)) == sum {
		t.Fatal("the rebuild gave the same executable")
	}
	code, _, errOut := runCLI(t, "run", "--cache", cache, exp)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"method=Example", "changed=generator", "ran=2", "skipped=2"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the second run's log lacks %q:\n%s", want, errOut)
		}
	}
}
