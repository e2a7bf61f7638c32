package pythontest

import (
	"strings"
	"testing"
)

// fakeTB records how Require ends a test; Skip and Fatal stop it, as on a real one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = args[0].(string); panic(stopped{}) }
func (f *fakeTB) Fatal(args ...any) { f.failed = args[0].(string); panic(stopped{}) }

func run(f *fakeTB, modules []string) {
	defer func() {
		if r := recover(); r != nil && r != (stopped{}) {
			panic(r)
		}
	}()
	Require(f, "the thing", modules)
}

func TestRequire(t *testing.T) {
	missing := []string{"sglab_no_such_module"}
	t.Setenv("SGLAB_REQUIRE_PYTHON", "")
	f := &fakeTB{}
	run(f, missing)
	if f.failed != "" || !strings.Contains(f.skipped, "the thing needs "+Interpreter) || !strings.Contains(f.skipped, "sglab_no_such_module") {
		t.Errorf("without SGLAB_REQUIRE_PYTHON: skipped %q, failed %q; want a skip naming the module", f.skipped, f.failed)
	}
	t.Setenv("SGLAB_REQUIRE_PYTHON", "1")
	f = &fakeTB{}
	run(f, missing)
	if f.skipped != "" || !strings.Contains(f.failed, "sglab_no_such_module") {
		t.Errorf("with SGLAB_REQUIRE_PYTHON=1: skipped %q, failed %q; want a failure", f.skipped, f.failed)
	}
	// A module every Python has passes (when there is a Python at all).
	f = &fakeTB{}
	t.Setenv("SGLAB_REQUIRE_PYTHON", "")
	run(f, []string{"json"})
	if f.failed != "" {
		t.Errorf("import json: failed %q", f.failed)
	}
}
