package slurmtest

import (
	"errors"
	"strings"
	"testing"
)

// fakeTB records how unavailable ends a test; Skip and Fatal stop it, as on a real one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = args[0].(string); panic(stopped{}) }
func (f *fakeTB) Fatal(args ...any) { f.failed = args[0].(string); panic(stopped{}) }

func end(f *fakeTB) {
	defer func() {
		if r := recover(); r != nil && r != (stopped{}) {
			panic(r)
		}
	}()
	unavailable(f, errors.New("not on PATH: slurmd"))
}

// TestUnavailable: without a cluster the test skips naming what to install, and fails
// instead under SGLAB_REQUIRE_SLURM=1.
func TestUnavailable(t *testing.T) {
	for _, require := range []string{"", "1"} {
		t.Setenv("SGLAB_REQUIRE_SLURM", require)
		f := &fakeTB{}
		end(f)
		msg := f.skipped
		if require == "1" {
			msg = f.failed
		}
		if (f.skipped == "") == (require == "") || !strings.Contains(msg, "apt-get install slurm-wlm munge") || !strings.Contains(msg, "slurmd") {
			t.Errorf("SGLAB_REQUIRE_SLURM=%q: skipped %q, failed %q", require, f.skipped, f.failed)
		}
	}
}
