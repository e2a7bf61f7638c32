// Package pythontest is what the Go tests of the Python plugins share: the interpreter
// they run (Debian's, whose packages the plugins import), the one rule for a machine
// without those packages, and the Spec that launches a plugin file. On a developer's machine the tests skip and say what to
// install; where SGLAB_REQUIRE_PYTHON=1 is set (.ci/run sets it) they fail instead, so
// CI can never pass by skipping them.
package pythontest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin/rpc"

	"github.com/sglab/sglab/internal/prereq"
)

// Interpreter is Debian's python3: the first python3 on PATH may be another build
// that cannot see Debian's packages.
const Interpreter = "/usr/bin/python3"

// SDK lists the modules the plugin SDK imports; Torch adds what the CLIP plugins need.
var (
	SDK   = []string{"grpc", "google.protobuf", "numpy", "cryptography"}
	Torch = append(append([]string(nil), SDK...), "torch", "PIL")
)

// debian names the package that provides each module.
var debian = map[string]string{
	"grpc": "python3-grpcio", "google.protobuf": "python3-protobuf", "numpy": "python3-numpy",
	"cryptography": "python3-cryptography", "torch": "python3-torch", "PIL": "python3-pil",
}

var (
	mu     sync.Mutex
	checks = map[string]error{} // by module list: importing torch takes a second
)

// Require skips t (or fails it, under SGLAB_REQUIRE_PYTHON=1) unless Interpreter
// imports every module; what names the code under test in the message.
func Require(t testing.TB, what string, modules []string) {
	t.Helper()
	key := strings.Join(modules, ", ")
	mu.Lock()
	err, done := checks[key]
	if !done {
		var out []byte
		out, err = exec.Command(Interpreter, "-c", "import "+key).CombinedOutput()
		if err != nil {
			err = &importError{out: strings.TrimSpace(string(out)), err: err}
		}
		checks[key] = err
	}
	mu.Unlock()
	if err == nil {
		return
	}
	var pkgs []string
	for _, m := range modules {
		pkgs = append(pkgs, debian[m])
	}
	prereq.Missing(t, "SGLAB_REQUIRE_PYTHON", what+" needs "+Interpreter+" with "+key+" (Debian: apt-get install "+strings.Join(pkgs, " ")+"): "+err.Error())
}

type importError struct {
	out string
	err error
}

func (e *importError) Error() string { return e.err.Error() + ": " + e.out }

// Spec is what launches the Python plugin file (a path from the test's folder) as kind,
// once Require(t, what, modules) holds; its start allows for importing torch on a busy
// machine.
func Spec(t testing.TB, what string, modules []string, kind, file string) rpc.Spec {
	t.Helper()
	Require(t, what, modules)
	path, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	label := filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path))
	return rpc.Spec{Kind: kind, Label: label, Path: path, StartTimeout: 30 * time.Second}
}
