package main

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/internal/slurmtest"
	"github.com/sglab/sglab/runner/driver"
	"github.com/sglab/sglab/runner/slurm"
)

// TestSlurm submits the tiny experiment to a real one-node Slurm cluster through
// `runner run --slurm` and checks the merged results.jsonl against a local run's, trial
// for trial. On the way one array task fails (its shard's lock file is a folder) and
// one is cancelled before it starts; `runner status` names both, resubmitting the
// failed shard alone and then the rest completes the run, with no duplicate row.
func TestSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Slurm cluster")
	}
	slurmtest.Start(t)
	// The array tasks run a copy of this test binary, which acts as the runner.
	t.Setenv("SGLAB_TEST_AS_RUNNER", "1")
	dir := t.TempDir()
	exp := tinyExperiment(t, dir, `[[method]]
name = "Oracle"
reference = "oracle"
[[method]]
name = "Nearest"
generator = "nearest"
[[method]]
name = "SG-LoRA"
generator = "sglora"
samples = 2
[slurm]
shards = 3
`)
	local := filepath.Join(dir, "local")
	if code, out, errs := runCLI(t, "run", exp, "--quiet", "--out", local, "--cache", filepath.Join(dir, "cache-local")); code != 0 {
		t.Fatalf("local run: exit %d\n%s\n%s", code, out, errs)
	}

	out, cache := filepath.Join(dir, "slurm-out"), filepath.Join(dir, "cache-slurm")
	submit := func(extra ...string) (int, string, string) {
		return runCLI(t, append([]string{"run", exp, "--slurm", "--out", out, "--cache", cache}, extra...)...)
	}
	// Shard 1 cannot take its lock: its array task fails.
	if err := os.MkdirAll(filepath.Join(out, driver.ShardDir, "trials-1.lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := submit()
	if code != 0 || !strings.Contains(stdout, "expert trainings") || !strings.Contains(stdout, "3 of 3 trial shards") {
		t.Fatalf("submission: exit %d\n%s\n%s", code, stdout, stderr)
	}
	sub, err := slurm.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	// Shard 2 waits for the experts (afterok): cancel it before it starts.
	trials := sub.Jobs[len(sub.Jobs)-1]
	if o, err := exec.Command("scancel", trials.ID+"_2").CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v: %s", err, o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := slurm.Wait(ctx, sub.Jobs, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "status", out)
	for _, want := range []string{
		"trials: 3 shards: 1 done, 1 failed, 1 not run",
		"trials array task 1", "exit 1", "trials-1.lock: is a directory", "trials-1.err",
		"trials array task 2", "--only-shard 1",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}

	// The failed task alone, then whatever is left.
	if err := os.Remove(filepath.Join(out, driver.ShardDir, "trials-1.lock")); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = submit("--only-shard", "1", "--wait")
	if code != 1 || !strings.Contains(stdout, "1 of 3 trial shards (array 1)") || !strings.Contains(stderr, "did not run") {
		t.Fatalf("resubmitting shard 1: exit %d, want 1 (shard 2 is left)\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = submit("--wait")
	if code != 0 || !strings.Contains(stdout, "1 of 3 trial shards (array 2)") || strings.Contains(stdout, "expert trainings") {
		t.Fatalf("resubmitting the rest: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ = submit(); code != 0 || !strings.Contains(stdout, "nothing to submit") {
		t.Fatalf("a finished run submitted again: exit %d\n%s", code, stdout)
	}

	got := journal(t, filepath.Join(out, results.FileName))
	want := journal(t, filepath.Join(local, results.FileName))
	if len(got) != len(want) {
		t.Errorf("%d rows from Slurm, %d from the local run", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("no Slurm row for %q", k)
		case w.Error != "" || g.Error != "":
			t.Errorf("%q failed: local %q, Slurm %q", k, w.Error, g.Error)
		case !maps.Equal(g.Identity, w.Identity):
			t.Errorf("%q: identity %v from Slurm, %v locally", k, g.Identity, w.Identity)
		case !maps.Equal(g.Metrics, w.Metrics) || len(g.Metrics) == 0:
			t.Errorf("%q: metrics %v from Slurm, %v locally", k, g.Metrics, w.Metrics)
		}
	}
}

// journal reads a journal by row key, failing on a duplicate key.
func journal(t *testing.T, path string) map[string]results.Row {
	t.Helper()
	rows, err := results.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]results.Row{}
	for _, r := range rows {
		if _, dup := out[r.Key()]; dup {
			t.Errorf("%s: row %q twice", path, r.Key())
		}
		out[r.Key()] = r
	}
	return out
}
