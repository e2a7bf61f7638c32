// Package cliptext_test runs the cliptext encoder's Python tests under go test. The
// encoder itself is Python (main.py); experiments/tiny-clip.toml runs it through the runner.
package cliptext_test

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/sglab/sglab/internal/pythontest"
)

func TestPythonUnitTests(t *testing.T) {
	const python = pythontest.Interpreter
	pythontest.Require(t, "the cliptext plugin", pythontest.Torch)
	cmd := exec.Command(python, "-m", "unittest", "discover", "-s", "tests", "-t", ".")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
