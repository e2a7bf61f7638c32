package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/internal/pythontest"
)

// TestPythonPluginByPath runs the Python example generator (plugins/example/python)
// in the tiny experiment, named by a path relative to the TOML through a symlink, as a
// user's own plugin folder would hold it: the SDK is found from the file's real place.
func TestPythonPluginByPath(t *testing.T) {
	pythontest.Require(t, "Python plugins", pythontest.SDK)
	dir := t.TempDir()
	src, err := filepath.Abs("../plugins/example/python/mean_generator.py")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src, filepath.Join(dir, "mean.py")); err != nil {
		t.Fatal(err)
	}
	exp := tinyExperiment(t, dir, "[[method]]\nname = \"Python mean\"\ngenerator = \"./mean.py\"\nsamples = 2\n")
	code, stdout, stderr := runCLI(t, "run", "--quiet", "--cache", filepath.Join(dir, "cache"), exp)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "failed to exit gracefully") {
		t.Errorf("a Python plugin had to be killed:\n%s", stderr)
	}
	rows, err := results.Read(filepath.Join(dir, "out", results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rows {
		if r.Method == "Python mean" && r.Kind == results.KindTrial {
			n++
			if r.Error != "" || r.Metrics["i2t_r1"] <= 0 {
				t.Errorf("Python mean trial %+v", r)
			}
		}
	}
	if n != 4 {
		t.Fatalf("%d Python mean trials, want 4 (2 novel tasks x 2 samples)", n)
	}
}
