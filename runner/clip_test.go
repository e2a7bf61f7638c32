package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/internal/pythontest"
)

// needTorch skips or fails the test when Debian's Python lacks what the CLIP plugins import.
func needTorch(t *testing.T) {
	t.Helper()
	pythontest.Require(t, "the CLIP plugins", pythontest.Torch)
}

// TestTinyClip runs experiments/tiny-clip.toml as CI does: the Python cliptext encoder and
// CLIP evaluator (tiny preset, random weights) on the fixture COCO of shapes, every
// method of the paper with the Go generators, and the reports.
func TestTinyClip(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole experiment")
	}
	needTorch(t)
	dir := t.TempDir()
	t.Setenv("SGLAB_CACHE", dir) // where the evaluator keeps its COCO index
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, "run", "--quiet", "--out", out, "--cache", filepath.Join(dir, "cache"), "../experiments/tiny-clip.toml")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "failed to exit gracefully") {
		t.Errorf("a plugin had to be killed:\n%s", stderr)
	}
	rows, err := results.Read(filepath.Join(out, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	trials := map[string]int{}
	for _, r := range rows {
		if r.Error != "" {
			t.Errorf("failed: %s %s: %s", r.Method, r.Task, r.Error)
		}
		if r.Kind == results.KindTrial {
			trials[r.Method]++
			if _, ok := r.Metrics["t2i_r10"]; !ok {
				t.Errorf("%s %s: metrics %v", r.Method, r.Task, r.Metrics)
			}
		}
	}
	want := map[string]int{"Zero-shot": 2, "Model Soup": 2, "AdapterSoup": 2, "Nearest": 2, "Top-K Weighted": 2, "SG-LoRA": 6, "Oracle": 2}
	for m, n := range want {
		if trials[m] != n {
			t.Errorf("%s: %d trials, want %d (all: %v)", m, trials[m], n, trials)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "summary.md")); err != nil {
		t.Errorf("no report: %v", err)
	}
}

// TestValidatePaperClip checks that, without the weights and data, validation names every
// missing file at its line with where to get it, and nothing crashes.
func TestValidatePaperClip(t *testing.T) {
	needTorch(t)
	t.Setenv("HOME", t.TempDir()) // the experiment looks under ~/sglab-data
	code, _, stderr := runCLI(t, "validate", "../experiments/paper-clip.toml")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{
		`encoder.params.weights: plugin`, `evaluator.params.weights: plugin`,
		`parameter "weights": ` + os.Getenv("HOME") + `/sglab-data/ViT-B-16.pt does not exist; OpenAI's ViT-B/16 weights: https://openaipublic.azureedge.net/clip/models/`,
		`evaluator.params.vocab: plugin`, `bpe_simple_vocab_16e6.txt.gz does not exist; get bpe_simple_vocab_16e6.txt.gz from https://`,
		`evaluator.params.coco_dir: plugin`, `sglab-data/coco/annotations/captions_train2017.json is missing; download`,
		`evaluator.params.pets_dir: plugin`, `https://www.robots.ox.ac.uk/~vgg/data/pets/`,
		`evaluator.params.flowers_dir: plugin`, `sglab-data/flowers102/imagelabels.mat is missing`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate output lacks %q", want)
		}
	}
	for _, bad := range []string{"Traceback", "panic", "exited"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("validate output has %q", bad)
		}
	}
	if t.Failed() {
		t.Logf("validate output:\n%s", stderr)
	}
}

// TestPluginsListsPythonPlugins checks `runner plugins` describes the bundled CLIP
// evaluator with its default model's adapter size: ViT-B/16 at rank 2, as the paper.
func TestPluginsListsPythonPlugins(t *testing.T) {
	needTorch(t)
	code, stdout, stderr := runCLI(t, "plugins")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"evaluator plugins/evaluator/clip/main.py 0.1.0", "adapters: 36 modules, 110592 parameters",
		"encoder plugins/encoder/cliptext/main.py",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("runner plugins lacks %q:\n%s", want, stdout)
		}
	}
}
