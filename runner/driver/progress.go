package driver

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/results"
)

// progress shows how far a run is, per stage (experts trained, generators fitted, trials
// scored): units done now or reused (found in the expert cache or the journal, counted
// done from the start) of the stage's total, and an estimate of the time left. On a
// terminal it redraws one status line every second; otherwise it logs a line each time
// a stage passes a tenth of its total.
//
// A stage's units come in classes of like cost (a method's fits or trials: a merging
// method fits in milliseconds, SG-LoRA in seconds). The estimate sums, over the classes,
// the units left times the mean measured duration of the class's units done so far, and
// divides by the concurrency measured so far (work finished per wall second since the
// first measured unit started); between two finished units it counts down. A class with
// units left and none measured yet makes it a lower bound, shown as "≥", and unknown
// once counted down to nothing.
type progress struct {
	mu     sync.Mutex
	w      io.Writer // a terminal, or nil for log lines
	log    hclog.Logger
	now    func() time.Time
	start  time.Time
	first  time.Time // when the first measured unit started
	stages []*stage
	est    forecast // as of the last finished unit
	stop   chan struct{}
	ticker sync.WaitGroup
}

// stage is what the line shows of a stage: its classes' units summed.
type stage struct {
	name                string
	total, done, reused int
	classes             []*class
	logged              int // last tenth logged
}

// class is the units of a stage of like cost.
type class struct {
	name                string
	total, done, reused int
	work                time.Duration // summed over the units done now
}

// forecast is the time left as estimated when a unit finished, at.
type forecast struct {
	left  time.Duration
	lower bool // some stage is not measured yet: at least left
	at    time.Time
	known bool
}

// redraw is how often the status line is redrawn on a terminal.
const redraw = time.Second

// newProgress starts a run's progress: on a terminal w, a status line redrawn every
// second until finish; with w nil, log lines.
func newProgress(w io.Writer, log hclog.Logger) *progress {
	p := &progress{w: w, log: log, now: time.Now, stop: make(chan struct{})}
	p.start = p.now()
	if w != nil {
		p.ticker.Add(1)
		go func() {
			defer p.ticker.Done()
			t := time.NewTicker(redraw)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.mu.Lock()
					fmt.Fprintf(p.w, "\r\033[K%s", p.line(p.now()))
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// stage adds total units of class cls of the named stage, of which reused are done
// already (in the cache or the journal). A stage is shown after those added before it.
func (p *progress) stage(name, cls string, total, reused int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, c := p.find(name, cls)
	s.total += total
	s.reused += reused
	c.total += total
	c.reused += reused
	if reused > 0 && p.w == nil {
		args := []any{"stage", name, "units", reused, "of", total}
		if cls != "" {
			args = append(args, "class", cls)
		}
		p.log.Info("reused", args...)
	}
}

// done counts one unit of class cls of the named stage finished now, after d of work.
func (p *progress) done(name, cls string, d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, c := p.find(name, cls)
	now := p.now()
	if began := now.Add(-d); p.first.IsZero() || began.Before(p.first) {
		p.first = began
	}
	s.done++
	c.done++
	c.work += d
	p.est = p.estimate(now)
	if p.w != nil {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line(now))
		return
	}
	if s.total > 0 {
		if tenth := 10 * (s.done + s.reused) / s.total; tenth > s.logged {
			s.logged = tenth
			p.log.Info("progress", "stage", s.name, "done", s.done+s.reused, "of", s.total, "eta", p.eta(now))
		}
	}
}

// find returns the named stage and its class, adding either when new.
func (p *progress) find(name, cls string) (*stage, *class) {
	i := slices.IndexFunc(p.stages, func(s *stage) bool { return s.name == name })
	if i < 0 {
		i = len(p.stages)
		p.stages = append(p.stages, &stage{name: name})
	}
	s := p.stages[i]
	for _, c := range s.classes {
		if c.name == cls {
			return s, c
		}
	}
	c := &class{name: cls}
	s.classes = append(s.classes, c)
	return s, c
}

// finish stops the redraws and ends the status line.
func (p *progress) finish() {
	if p == nil || p.w == nil {
		return
	}
	close(p.stop)
	p.ticker.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K%s\n", p.line(p.now()))
}

// estimate computes the time left as of now, when a unit has just finished.
func (p *progress) estimate(now time.Time) forecast {
	var work, left time.Duration
	lower, measured := false, false
	for _, s := range p.stages {
		for _, c := range s.classes {
			remaining := c.total - c.done - c.reused
			if c.done == 0 {
				lower = lower || remaining > 0
				continue
			}
			measured = true
			work += c.work
			if remaining > 0 {
				left += time.Duration(float64(c.work) / float64(c.done) * float64(remaining))
			}
		}
	}
	if !measured {
		return forecast{}
	}
	// Work finished per wall second since the first measured unit started: above 1 when
	// units run in parallel, below when time goes to what no unit measures.
	concurrency := 1.0
	if wall := now.Sub(p.first); wall > 0 && work > 0 {
		concurrency = float64(work) / float64(wall)
	}
	return forecast{left: time.Duration(float64(left) / concurrency), lower: lower, at: now, known: true}
}

// eta is the estimate as of now, counted down since it was made, rounded for people. A
// lower bound counted down to nothing says nothing any more: unknown.
func (p *progress) eta(now time.Time) string {
	left := p.est.left - now.Sub(p.est.at)
	switch {
	case !p.est.known, p.est.lower && round(left) <= 0:
		return "unknown"
	case p.est.lower:
		return "≥" + round(left).String()
	}
	return round(max(left, 0)).String()
}

// line is the status line as of now: the time so far and the ETA first (a narrow
// terminal cuts the end), then each stage.
func (p *progress) line(now time.Time) string {
	if len(p.stages) == 0 {
		return "setting up  " + round(now.Sub(p.start)).String()
	}
	var b strings.Builder
	left := 0
	for _, s := range p.stages {
		if s.total == 0 {
			continue
		}
		n := min(s.done+s.reused, s.total)
		left += s.total - n
		fmt.Fprintf(&b, "  %s %s %d/%d", s.name, bar(n, s.total, 12), n, s.total)
		if s.reused > 0 {
			fmt.Fprintf(&b, " (%d reused)", s.reused)
		}
	}
	head := round(now.Sub(p.start)).String()
	if left > 0 {
		head += "  ETA " + p.eta(now)
	}
	return head + b.String()
}

// round rounds d to what a person reads: seconds, or minutes past an hour.
func round(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

func bar(done, total, width int) string {
	n := 0
	if total > 0 {
		n = width * done / total
	}
	n = min(n, width)
	return "[" + strings.Repeat("█", n) + strings.Repeat("░", width-n) + "]"
}

// showStages gives a run's progress its stages: experts (and oracles) to train, generator
// fits and trials (references included), a class per method, with what the expert cache
// and the journal (done) hold, and what no unfinished trial needs, counted done from the
// start. A shard's fits and trials are its own units'; its experts are counted as
// trainExperts sees them, with other shards' units done.
func showStages(p *progress, exp *config.Experiment, store *expertStore, done func(results.Row) bool, shard *Shard) error {
	st, err := planStages(exp, store, done)
	if err != nil {
		return err
	}
	total := st[StageExperts].Total + st[StageOracles].Total
	p.stage("experts", "", total, total-st[StageExperts].Remaining-st[StageOracles].Remaining)
	type count struct {
		class       string
		total, done int
	}
	var fitCounts, trialCounts []count
	for _, m := range exp.Methods {
		samples := m.Samples
		if m.Reference != "" {
			samples = 1
		}
		fits, fitsDone, trials, trialsDone := 0, 0, 0, 0
		for _, seed := range exp.Seeds {
			for _, split := range exp.Splits {
				if !shard.owns(exp, seed, split.Name, m.Name) {
					continue
				}
				if m.Generator != nil {
					fits++
					if len(pendingTasks(m, split, seed, done)) == 0 {
						fitsDone++
					}
				}
				for _, id := range split.Novel {
					for s := range samples {
						trials++
						if done(methodRow(m, split.Name, id, seed, s)) {
							trialsDone++
						}
					}
				}
			}
		}
		if fits > 0 {
			fitCounts = append(fitCounts, count{m.Name, fits, fitsDone})
		}
		if trials > 0 {
			trialCounts = append(trialCounts, count{m.Name, trials, trialsDone})
		}
	}
	for _, c := range fitCounts {
		p.stage("fits", c.class, c.total, c.done)
	}
	for _, c := range trialCounts {
		p.stage("trials", c.class, c.total, c.done)
	}
	return nil
}

// countExperts counts the distinct experts (cache entries) of needs and those of them
// the expert cache holds.
func countExperts(store *expertStore, needs []expertNeed) (total, cached int, _ error) {
	seen := map[string]bool{}
	for _, n := range needs {
		key, path, opts, err := store.entry(n.task, n.seed, n.train)
		if err != nil {
			return 0, 0, err
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		total++
		if store.cached(n.task, path, opts) {
			cached++
		}
	}
	return total, cached, nil
}
