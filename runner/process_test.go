package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
)

// tinyExperiment is the default world at its smallest: a few images per class, two
// epochs, so that a whole run takes seconds.
func tinyExperiment(t *testing.T, dir, methods string) string {
	t.Helper()
	catalog, err := filepath.Abs("../experiments/tasks/catalog.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`name = "tiny"
seeds = [1]
output = %q
include = [%q]
[encoder]
plugin = "glove"
[evaluator]
plugin = "miniclip"
[evaluator.params]
train_per_class = 3
test_per_class = 3
[train]
epochs = 2
snapshots = 2
# A task written only here, with a chain of transforms no catalog task has.
[[task]]
id = "digits-custom"
description = "handwritten digits slightly rotated, pixelated and faded"
dataset = "digits"
transforms = ["rotate(20)", "pixelate(2)", "contrast(0.5)"]
[[split]]
name = "main"
seen = ["digits-clean", "digits-blur", "digits-rotate-left"]
novel = ["digits-inverted", "digits-custom"]
[[method]]
name = "Zero-shot"
reference = "zero-shot"
%s`, filepath.Join(dir, "out"), catalog, methods)
	path := filepath.Join(dir, "tiny.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildExample builds the third-party plugin in plugins/example, a separate main package.
func buildExample(t *testing.T, dir string) (string, string) {
	t.Helper()
	exe := filepath.Join(dir, "example-mean")
	cmd := exec.Command("go", "build", "-o", exe, "../plugins/example")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return exe, hex.EncodeToString(sum[:])
}

func TestThirdPartyPluginByPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	dir := t.TempDir()
	exe, sum := buildExample(t, dir)
	ok := tinyExperiment(t, dir, fmt.Sprintf("[[method]]\nname = \"Example\"\ngenerator = %q\nsha256 = %q\n", exe, sum))
	code, stdout, stderr := runCLI(t, "run", "--quiet", "--cache", filepath.Join(dir, "cache"), ok)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	rows, err := results.Read(filepath.Join(dir, "out", results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r.Method == "Example" && r.Kind == results.KindTrial {
			n++
			if r.Error != "" || r.Metrics["i2t_r1"] <= 0 {
				t.Errorf("Example trial %+v", r)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d Example trials, want 2", n)
	}
	if !strings.Contains(stdout, "Example") {
		t.Errorf("the results table lacks the third-party method:\n%s", stdout)
	}

	// The same binary with a wrong checksum is refused before launch.
	bad := strings.Repeat("ab", 32)
	dir2 := t.TempDir()
	refused := tinyExperiment(t, dir2, fmt.Sprintf("[[method]]\nname = \"Example\"\ngenerator = %q\nsha256 = %q\n", exe, bad))
	code, _, stderr = runCLI(t, "run", "--quiet", "--cache", filepath.Join(dir2, "cache"), refused)
	if code == 0 || !strings.Contains(stderr, "sha256 mismatch, not launched") || !strings.Contains(stderr, sum) {
		t.Fatalf("exit %d; want a refusal naming both digests:\n%s", code, stderr)
	}
	rows, _ = results.Read(filepath.Join(dir2, "out", results.FileName))
	for _, r := range rows {
		if r.Method == "Example" && r.Error == "" {
			t.Fatalf("a refused plugin produced a result: %+v", r)
		}
	}
}

// TestInterruptLeavesNoPlugin runs the runner as a child process, interrupts it with
// SIGINT while its plugins work, and checks every plugin process is gone.
func TestInterruptLeavesNoPlugin(t *testing.T) {
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, "[[method]]\nname = \"SG-LoRA\"\ngenerator = \"sglora\"\nsamples = 3\n")
	cmd, stderr, kids := startRunner(t, dir, exp)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("exit after SIGINT: %v, want code 130\n%s", err, stderr.String())
	}
	if left := outlive(kids, 10*time.Second); left != nil {
		t.Fatalf("plugin processes %v outlived the interrupted runner", left)
	}
}

// children lists the pids whose parent is pid (Linux /proc).
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// alive returns the pids that still run (zombies count as gone).
func alive(pids []int) []int {
	var out []int
	for _, p := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 0 && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return out
}
