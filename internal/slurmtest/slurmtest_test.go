package slurmtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/sglab/sglab/internal/prereq"
)

// TestUnavailable: without a cluster the test skips naming what to install, and fails
// instead under SGLAB_REQUIRE_SLURM=1.
func TestUnavailable(t *testing.T) {
	for _, require := range []string{"", "1"} {
		t.Setenv("SGLAB_REQUIRE_SLURM", require)
		var f prereq.Recorder
		f.Run(func(tb testing.TB) { unavailable(tb, errors.New("not on PATH: slurmd")) })
		msg := f.SkipMsg
		if require == "1" {
			msg = f.FatalMsg
		}
		if (f.SkipMsg == "") == (require == "") || !strings.Contains(msg, "apt-get install slurm-wlm munge") || !strings.Contains(msg, "slurmd") {
			t.Errorf("SGLAB_REQUIRE_SLURM=%q: skipped %q, failed %q", require, f.SkipMsg, f.FatalMsg)
		}
	}
}
