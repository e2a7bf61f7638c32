// Package cliptext_test runs the cliptext encoder's Python tests under go test. The
// encoder itself is Python (main.py); experiments/tiny-clip.toml runs it through the runner.
package cliptext_test

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

func TestPythonUnitTests(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import torch, numpy, PIL, grpc, google.protobuf, cryptography").CombinedOutput(); err != nil {
		if os.Getenv("SGLAB_SKIP_PYTHON") == "1" {
			t.Skipf("SGLAB_SKIP_PYTHON=1 and %s cannot run the cliptext plugin: %v %s", python, err, out)
		}
		t.Fatalf("the cliptext plugin needs %s with torch, numpy, PIL, grpc, protobuf and cryptography "+
			"(Debian: python3-torch python3-numpy python3-pil python3-grpcio python3-protobuf python3-cryptography; "+
			"set SGLAB_SKIP_PYTHON=1 to skip): %v\n%s", python, err, out)
	}
	cmd := exec.Command(python, "-m", "unittest", "discover", "-s", "tests", "-t", ".")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
