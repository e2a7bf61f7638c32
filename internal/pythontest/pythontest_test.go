package pythontest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/internal/prereq"
)

func run(f *prereq.Recorder, modules []string) {
	f.Run(func(tb testing.TB) { Require(tb, "the thing", modules) })
}

func TestRequire(t *testing.T) {
	missing := []string{"sglab_no_such_module"}
	t.Setenv("SGLAB_REQUIRE_PYTHON", "")
	f := &prereq.Recorder{}
	run(f, missing)
	if f.FatalMsg != "" || !strings.Contains(f.SkipMsg, "the thing needs "+Interpreter) || !strings.Contains(f.SkipMsg, "sglab_no_such_module") {
		t.Errorf("without SGLAB_REQUIRE_PYTHON: skipped %q, failed %q; want a skip naming the module", f.SkipMsg, f.FatalMsg)
	}
	t.Setenv("SGLAB_REQUIRE_PYTHON", "1")
	f = &prereq.Recorder{}
	run(f, missing)
	if f.SkipMsg != "" || !strings.Contains(f.FatalMsg, "sglab_no_such_module") {
		t.Errorf("with SGLAB_REQUIRE_PYTHON=1: skipped %q, failed %q; want a failure", f.SkipMsg, f.FatalMsg)
	}
	// A module every Python has passes (when there is a Python at all).
	f = &prereq.Recorder{}
	t.Setenv("SGLAB_REQUIRE_PYTHON", "")
	run(f, []string{"json"})
	if f.FatalMsg != "" {
		t.Errorf("import json: failed %q", f.FatalMsg)
	}
}

func TestSpec(t *testing.T) {
	s := Spec(t, "the thing", []string{"json"}, "encoder", "plugin/main.py")
	want, err := filepath.Abs("plugin/main.py")
	if err != nil {
		t.Fatal(err)
	}
	if s.Path != want || s.Label != "plugin/main.py" || s.Kind != "encoder" || s.StartTimeout <= 0 {
		t.Errorf("Spec = %+v; want path %s, label plugin/main.py, kind encoder and a start timeout", s, want)
	}
}
