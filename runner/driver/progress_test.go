package driver

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/plugin/rpc"
)

// fakeClock is a progress's clock, moved by the test.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// testProgress is a progress on a fake clock, logging into log (nil: nowhere).
func testProgress(log *bytes.Buffer) (*progress, *fakeClock) {
	l := hclog.NewNullLogger()
	if log != nil {
		l = hclog.New(&hclog.LoggerOptions{Output: log, DisableTime: true})
	}
	p := newProgress(nil, l)
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.now, p.start = c.now, c.t
	return p, c
}

// TestETAFromMeasuredDurations follows one run step by step: the estimate weighs each
// stage's units left by the mean duration of its units done, divides by the measured
// concurrency, counts down between finished units, and is a lower bound while a stage
// with work left is unmeasured.
func TestETAFromMeasuredDurations(t *testing.T) {
	p, clock := testProgress(nil)
	p.stage("experts", "", 4, 0)
	p.stage("trials", "", 10, 2)
	type step struct {
		advance time.Duration
		stage   string        // "" only lets time pass
		took    time.Duration // the unit's measured duration
		want    string
	}
	for i, s := range []step{
		{0, "", 0, "unknown"},
		// 1 s in: a trial of 1 s; 7 trials left, experts unmeasured.
		{time.Second, "trials", time.Second, "≥7s"},
		// 3 s in: an expert of 2 s (1 s to 3 s); work 3 s over 3 s of wall time, one at
		// a time: 7 × 1 s + 3 × 2 s.
		{2 * time.Second, "experts", 2 * time.Second, "13s"},
		// Two seconds without a finished unit: counted down.
		{2 * time.Second, "", 0, "11s"},
		// 5.5 s in: two trials of 1 s each; work 5 s over 5.5 s: 5 × 1 s + 3 × 2 s = 11 s
		// of work at 5/5.5 per second is 12.1 s.
		{500 * time.Millisecond, "trials", time.Second, ""},
		{0, "trials", time.Second, "12s"},
		// Far past the estimate with nothing finished: not below zero.
		{time.Minute, "", 0, "0s"},
	} {
		clock.advance(s.advance)
		if s.stage != "" {
			p.done(s.stage, "", s.took)
		}
		if s.want == "" {
			continue
		}
		if got := p.eta(clock.now()); got != s.want {
			t.Errorf("step %d: ETA %s, want %s", i, got, s.want)
		}
	}
}

// TestLowerBoundRunsOut checks that a lower bound counts down to unknown, not to "≥0s".
func TestLowerBoundRunsOut(t *testing.T) {
	p, clock := testProgress(nil)
	p.stage("experts", "", 4, 0)
	p.stage("trials", "", 10, 0)
	clock.advance(time.Second)
	p.done("trials", "", time.Second)
	for _, want := range []string{"≥9s", "≥5s", "≥1s", "unknown", "unknown"} {
		if got := p.eta(clock.now()); got != want {
			t.Errorf("%s in: ETA %s, want %s", clock.now().Sub(p.start), got, want)
		}
		clock.advance(4 * time.Second)
	}
}

// TestETAWeighsStages checks the swing the issue saw: slow experts and fast trials, one
// at a time. An estimate from counts alone would say 10 of 20 units done, so as long
// again as so far (68 s); by measured durations the 10 trials left take 10 s.
func TestETAWeighsStages(t *testing.T) {
	p, clock := testProgress(nil)
	p.stage("experts", "", 2, 0)
	p.stage("trials", "", 18, 0)
	for range 2 {
		clock.advance(30 * time.Second)
		p.done("experts", "", 30*time.Second)
	}
	for range 8 {
		clock.advance(time.Second)
		p.done("trials", "", time.Second)
	}
	if got := p.eta(clock.now()); got != "10s" {
		t.Errorf("ETA %s, want 10s", got)
	}
}

// TestETAPerClass checks that units of unlike cost are estimated apart: the quickstart's
// merging methods fit in milliseconds and SG-LoRA in seconds. Cheap fits measured do not
// make SG-LoRA's cheap: unmeasured, they make the estimate a lower bound; once one is
// measured, its own mean counts.
func TestETAPerClass(t *testing.T) {
	p, clock := testProgress(nil)
	p.stage("fits", "Model Soup", 3, 0)
	p.stage("fits", "SG-LoRA", 3, 0)
	for range 3 {
		clock.advance(10 * time.Millisecond)
		p.done("fits", "Model Soup", 10*time.Millisecond)
	}
	if got := p.eta(clock.now()); got != "unknown" {
		t.Errorf("with SG-LoRA unmeasured: ETA %s, want a lower bound", got)
	}
	clock.advance(20 * time.Second)
	p.done("fits", "SG-LoRA", 20*time.Second)
	// Work 20.03 s over 20.03 s of wall time; two SG-LoRA fits left at 20 s each.
	if got := p.eta(clock.now()); got != "40s" {
		t.Errorf("ETA %s, want 40s", got)
	}
	if line := p.line(clock.now()); !strings.Contains(line, "fits [████████░░░░] 4/6") {
		t.Errorf("classes not summed per stage: %q", line)
	}
}

// TestReusedWorkShowsDone checks that work found in the cache or journal counts as done:
// a fully cached rerun shows full bars and no ETA, a partial one its share.
func TestReusedWorkShowsDone(t *testing.T) {
	for _, tc := range []struct {
		name            string
		experts, trials [2]int // total, reused
		want, notWant   []string
	}{
		{"fully cached", [2]int{33, 33}, [2]int{150, 150},
			[]string{"experts [████████████] 33/33 (33 reused)", "trials [████████████] 150/150 (150 reused)"}, []string{"ETA", "0/33"}},
		{"half", [2]int{10, 5}, [2]int{20, 0},
			[]string{"experts [██████░░░░░░] 5/10 (5 reused)", "trials [░░░░░░░░░░░░] 0/20", "ETA unknown"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clock := testProgress(nil)
			p.stage("experts", "", tc.experts[0], tc.experts[1])
			p.stage("trials", "", tc.trials[0], tc.trials[1])
			clock.advance(1500 * time.Millisecond)
			line := p.line(clock.now())
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(line, w) {
					t.Errorf("%q has %q", line, w)
				}
			}
		})
	}
}

// TestProgressLinesWithoutTerminal checks the plain log: what was reused, then a line per
// tenth of a stage.
func TestProgressLinesWithoutTerminal(t *testing.T) {
	var log bytes.Buffer
	p, clock := testProgress(&log)
	p.stage("trials", "", 10, 5)
	for range 5 {
		clock.advance(time.Second)
		p.done("trials", "", time.Second)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], "reused: stage=trials units=5 of=10") ||
		!strings.Contains(lines[1], "progress: stage=trials done=6 of=10 eta=4s") ||
		!strings.Contains(lines[5], "done=10 of=10 eta=0s") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestSummaryLine(t *testing.T) {
	for _, tc := range []struct {
		s    Summary
		want string
	}{
		{Summary{Out: "out/quickstart", Ran: 150}, "150 trials (150 new, 0 reused, 0 failed) in out/quickstart"},
		{Summary{Out: "o", Skipped: 150}, "150 trials (0 new, 150 reused, 0 failed) in o"},
		{Summary{Out: "o", Ran: 10, Failed: 3, Skipped: 5, Stale: 2}, "15 trials (7 new, 5 reused, 3 failed) in o"},
	} {
		if got := tc.s.Line(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestRerunShowsReusedWork runs the toy experiment twice with a status line: the rerun's
// last line shows the cached experts and the journal's trials as done, reused.
func TestRerunShowsReusedWork(t *testing.T) {
	exp := load(t, experiment)
	out := t.TempDir()
	runToy(t, exp, out, 2)
	var status bytes.Buffer
	host := &rpc.Host{}
	defer host.KillAll()
	sum, err := Run(context.Background(), exp, Options{Out: out, Jobs: 2, Host: host, Spec: testSpec, StartTimeout: 20 * time.Second, Progress: &status})
	if err != nil {
		t.Fatal(err)
	}
	redraws := strings.Split(strings.TrimSpace(status.String()), "\r\033[K")
	last := redraws[len(redraws)-1]
	if e, f, tr := strings.Index(last, "experts "), strings.Index(last, "fits "), strings.Index(last, "trials "); e < 0 || f < e || tr < f {
		t.Errorf("stages not in the order experts, fits, trials: %q", last)
	}
	m := regexp.MustCompile(`experts \[█+\] (\d+)/(\d+) \((\d+) reused\)`).FindStringSubmatch(last)
	if m == nil || m[1] != m[2] || m[2] != m[3] {
		t.Errorf("the cached experts are not all shown done and reused: %q", last)
	}
	// The generator's 6 failed trials run again; the 14 others are reused.
	if want := fmt.Sprintf("trials [████████████] 20/20 (%d reused)", sum.Skipped); sum.Skipped != 14 || !strings.Contains(last, want) {
		t.Errorf("skipped %d; last status line %q lacks %q", sum.Skipped, last, want)
	}
}
