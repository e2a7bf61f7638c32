package driver

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// progress counts finished work per step (experts trained, generators fitted, trials
// scored) against the totals known up front. On a terminal it redraws one status line
// with an ETA; otherwise it logs a line every tenth of the way.
type progress struct {
	mu     sync.Mutex
	w      io.Writer // a terminal, or nil for log lines
	log    hclog.Logger
	start  time.Time
	steps  []string
	done   map[string]int
	total  map[string]int
	logged map[string]int // last tenth logged, per step
}

func newProgress(w io.Writer, log hclog.Logger, totals map[string]int, order ...string) *progress {
	return &progress{w: w, log: log, start: time.Now(), steps: order, done: map[string]int{}, total: totals, logged: map[string]int{}}
}

// add counts n more finished units of step.
func (p *progress) add(step string, n int) {
	if p == nil || n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[step] += n
	if p.w != nil {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line())
		return
	}
	if t := p.total[step]; t > 0 {
		if tenth := 10 * p.done[step] / t; tenth > p.logged[step] {
			p.logged[step] = tenth
			p.log.Info("progress", "step", step, "done", p.done[step], "of", t, "eta", p.eta().String())
		}
	}
}

// finish ends the status line.
func (p *progress) finish() {
	if p != nil && p.w != nil {
		p.mu.Lock()
		fmt.Fprintf(p.w, "\r\033[K%s\n", p.line())
		p.mu.Unlock()
	}
}

func (p *progress) line() string {
	s := ""
	for _, step := range p.steps {
		if p.total[step] == 0 {
			continue
		}
		s += fmt.Sprintf("%s %s %d/%d  ", step, bar(p.done[step], p.total[step], 20), p.done[step], p.total[step])
	}
	return s + "ETA " + p.eta().String()
}

// eta extrapolates from the share of all units done so far.
func (p *progress) eta() time.Duration {
	var done, total int
	for _, step := range p.steps {
		done += p.done[step]
		total += p.total[step]
	}
	if done == 0 || total == 0 {
		return 0
	}
	el := time.Since(p.start)
	return (time.Duration(float64(el) * float64(total-done) / float64(done))).Round(time.Second)
}

func bar(done, total, width int) string {
	n := 0
	if total > 0 {
		n = width * done / total
	}
	if n > width {
		n = width
	}
	b := make([]rune, width)
	for i := range b {
		b[i] = '░'
		if i < n {
			b[i] = '█'
		}
	}
	return "[" + string(b) + "]"
}
