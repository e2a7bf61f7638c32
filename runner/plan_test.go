package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/runner/driver"
)

// TestPlanQuickstart plans the shipped quickstart on an empty output folder and cache:
// counts in JSON and text, every stage still to do and unmeasured, and nothing written.
func TestPlanQuickstart(t *testing.T) {
	dir := t.TempDir()
	out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	code, stdout, stderr := runCLI(t, "plan", "../experiments/quickstart.toml", "--json", "--out", out, "--cache", cache)
	if code != 0 {
		t.Fatalf("plan --json: exit %d, stderr:\n%s", code, stderr)
	}
	var p driver.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("plan --json is not JSON: %v\n%s", err, stdout)
	}
	// 3 seeds, one split of 18 seen and 5 novel tasks; 5 generated methods, SG-LoRA with
	// 10 samples, the others 1; Zero-shot and Oracle.
	want := map[string]int{driver.StageExperts: 54, driver.StageOracles: 15, driver.StageFits: 15,
		driver.StageTrials: 210, driver.StageRefs: 30, driver.StageDiversity: 90}
	if len(p.Stages) != len(want) {
		t.Fatalf("stages %+v", p.Stages)
	}
	for _, s := range p.Stages {
		if s.Total != want[s.Name] || s.Done != 0 || s.Remaining != s.Total || s.Seconds != nil {
			t.Errorf("%s: %+v, want %d to do and no estimate", s.Name, s, want[s.Name])
		}
	}
	for _, d := range []string{out, cache} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("plan created %s", d)
		}
	}
	code, stdout, stderr = runCLI(t, "plan", "../experiments/quickstart.toml", "--out", out, "--cache", cache)
	if code != 0 {
		t.Fatalf("plan: exit %d, stderr:\n%s", code, stderr)
	}
	for _, line := range []string{"expert trainings        54       0        54    unknown    unknown", "trials                 210       0       210", "unknown: nothing measured yet"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("plan output lacks %q:\n%s", line, stdout)
		}
	}
	if code, _, _ := runCLI(t, "plan"); code != 2 {
		t.Errorf("plan without a file: exit %d, want 2", code)
	}
}
