package driver

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin/rpc"
)

func planToy(t *testing.T, text, out string) *Plan {
	t.Helper()
	host := &rpc.Host{}
	defer host.KillAll()
	p, err := PlanRun(context.Background(), load(t, text), Options{Out: out, Host: host, Spec: testSpec, StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanCountsBeforeAndAfterARun checks the plan's counts against what a run then
// does, and that planning writes nothing.
func TestPlanCountsBeforeAndAfterARun(t *testing.T) {
	text := strings.Replace(experiment, `"crash the generator"`, `"task dddd"`, 1) // no failing trial
	out := filepath.Join(t.TempDir(), "out")
	before := planToy(t, text, out)
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("plan created the output folder: %v", err)
	}
	// 2 seeds; seen a, bb; novel ccc, dddd; Zero-shot, Oracle, Gen (3 samples).
	want := map[string]int{StageExperts: 4, StageOracles: 4, StageFits: 2, StageTrials: 12, StageRefs: 8, StageDiversity: 8}
	for _, s := range before.Stages {
		if s.Total != want[s.Name] || s.Done != 0 || s.Remaining != s.Total {
			t.Errorf("before the run, %s: total %d done %d remaining %d, want %d, 0, %d", s.Name, s.Total, s.Done, s.Remaining, want[s.Name], want[s.Name])
		}
		if s.Each != nil || s.Name != StageDiversity && !strings.HasPrefix(s.Source, "unknown") {
			t.Errorf("before the run, %s: estimate %v from %q, want unknown", s.Name, s.Each, s.Source)
		}
	}
	if len(before.Unknown) != len(want) {
		t.Errorf("unknown stages %v, want all", before.Unknown)
	}

	exp := load(t, text)
	sum := runToy(t, exp, out, 2)
	if sum.Ran != want[StageTrials]+want[StageRefs] || sum.Failed != 0 {
		t.Fatalf("ran %d (failed %d), want %d", sum.Ran, sum.Failed, want[StageTrials]+want[StageRefs])
	}
	after := planToy(t, text, out)
	for _, s := range after.Stages {
		if s.Total != want[s.Name] || s.Done != s.Total || s.Remaining != 0 {
			t.Errorf("after the run, %s: total %d done %d remaining %d, want %d, %d, 0", s.Name, s.Total, s.Done, s.Remaining, want[s.Name], want[s.Name])
		}
		if s.Seconds == nil || *s.Seconds != 0 {
			t.Errorf("after the run, %s: estimate %v, want 0 (nothing left)", s.Name, s.Seconds)
		}
		if s.Name != StageDiversity && (s.Each == nil || *s.Each < 0 || strings.HasPrefix(s.Source, "unknown")) {
			t.Errorf("after the run, %s: estimate %v from %q, want a measurement", s.Name, s.Each, s.Source)
		}
	}
	if after.Stale != 0 || len(after.Unknown) != 0 {
		t.Errorf("after the run: %d stale rows, unknown %v", after.Stale, after.Unknown)
	}

	// Another seed: its work remains, the rest is done.
	more := planToy(t, strings.Replace(text, "seeds = [1, 2]", "seeds = [1, 2, 3]", 1), out)
	for _, s := range more.Stages {
		if s.Total != want[s.Name]*3/2 || s.Done != want[s.Name] || s.Remaining != want[s.Name]/2 {
			t.Errorf("with a third seed, %s: total %d done %d remaining %d", s.Name, s.Total, s.Done, s.Remaining)
		}
		if s.Name != StageDiversity && s.Seconds == nil {
			t.Errorf("with a third seed, %s: no estimate", s.Name)
		}
	}
}
