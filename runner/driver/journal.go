package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/results"
)

// rowIdentity is the identity the current configuration gives a row, and false when
// the row is not a trial of it (identifier.row).
type rowIdentity func(results.Row) (map[string]string, bool)

// resume reads the journal of an earlier run at path: it returns its finished rows, by
// key, which a rerun skips, and the number of stale ones. Failed trials, and a line torn
// by a crash, are dropped from the journal (by an atomic rewrite) so that they run again
// without leaving duplicate rows. So are stale rows, whose identity differs from the
// one the current configuration gives the same trial: they move to
// results.SupersededFile in out, and the log says which and why.
func resume(path, out string, identity rowIdentity, log hclog.Logger) (map[string]results.Row, int, error) {
	finished := map[string]results.Row{}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return finished, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %w", err)
	}
	prev, err := results.Decode(bytes.NewReader(raw), path)
	if err != nil {
		return nil, 0, err
	}
	keep, stale, groups := judge(prev, identity)
	for _, row := range keep {
		finished[row.Key()] = row
	}
	if len(keep) == len(prev) && (len(raw) == 0 || raw[len(raw)-1] == '\n') {
		return finished, 0, nil
	}
	if len(stale) > 0 {
		logStale(log, groups)
		// Kept before they leave the journal: a crash in between duplicates, never loses.
		if err := appendRows(filepath.Join(out, results.SupersededFile), stale); err != nil {
			return nil, 0, err
		}
	}
	log.Info("journal: dropping failed, torn and stale rows before resuming", "kept", len(keep), "dropped", len(prev)-len(keep))
	return finished, len(stale), results.Rewrite(path, keep)
}

// appendRows appends rows to the journal file at path.
func appendRows(path string, rows []results.Row) error {
	w, err := results.Create(path)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := w.Append(row); err != nil {
			w.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// judge sorts the rows of an earlier journal into those a rerun keeps (its finished
// trials, the first row of each key) and the stale ones, grouped by method, split and
// reason; failed and duplicate rows are in neither.
func judge(prev []results.Row, identity rowIdentity) (keep, stale []results.Row, groups map[string]*staleGroup) {
	groups = map[string]*staleGroup{}
	kept := map[string]bool{}
	for _, row := range prev {
		if row.Error != "" || kept[row.Key()] {
			continue
		}
		if id, judged := identity(row); judged {
			if why := changed(row.Identity, id); len(why) > 0 {
				stale = append(stale, row)
				g := groups[row.Method+"\x00"+row.Split+"\x00"+strings.Join(why, ", ")]
				if g == nil {
					g = &staleGroup{method: row.Method, split: row.Split, why: strings.Join(why, ", ")}
					groups[row.Method+"\x00"+row.Split+"\x00"+g.why] = g
				}
				g.n++
				if !slices.Contains(g.tasks, row.Task) {
					g.tasks = append(g.tasks, row.Task)
				}
				if !slices.Contains(g.seeds, row.Seed) {
					g.seeds = append(g.seeds, row.Seed)
				}
				continue
			}
		}
		kept[row.Key()] = true
		keep = append(keep, row)
	}
	return keep, stale, groups
}

// journal records the rows of a run: it knows the rows of earlier runs a rerun keeps
// (whose trials are skipped) and appends each new row at once, stamped with its
// identity, counting both in the summary. Its methods are safe for concurrent use.
type journal struct {
	w        *results.Writer
	prev     map[string]results.Row // finished rows of earlier runs, by key
	identity rowIdentity
	prog     *progress // counts the trials done now (those reused are counted up front)
	log      hclog.Logger
	// stop ends the run at once with a cause: a row that cannot be appended.
	stop context.CancelCauseFunc

	mu        sync.Mutex
	summary   Summary
	appendErr error // the first failed append; nothing is recorded after it
}

// done tells whether row's unit of work is finished in the journal of an earlier run.
func (j *journal) done(row results.Row) bool {
	_, ok := j.prev[row.Key()]
	return ok
}

// finished tells whether row's unit of work is finished in the journal of an earlier
// run, and gives that run's row; a finished trial counts as skipped.
func (j *journal) finished(row results.Row) (results.Row, bool) {
	if row.Kind == "" {
		row.Kind = results.KindTrial
	}
	prev, ok := j.prev[row.Key()]
	if ok && row.Kind == results.KindTrial {
		j.mu.Lock()
		j.summary.Skipped++
		j.mu.Unlock()
	}
	return prev, ok
}

// record appends a row to the journal, stamped with its identity. A failed append stops
// the run at once: a trial that cannot be recorded is lost work, and so is every one
// after it.
func (j *journal) record(row results.Row) {
	if row.Identity == nil {
		row.Identity, _ = j.identity(row)
	}
	j.mu.Lock()
	failed := j.appendErr != nil
	j.mu.Unlock()
	if failed {
		return
	}
	if err := j.w.Append(row); err != nil {
		j.mu.Lock()
		if j.appendErr == nil {
			j.appendErr = err
		}
		j.mu.Unlock()
		j.log.Error("cannot append to the journal; stopping the run", "error", err)
		j.stop(fmt.Errorf("stopped: a finished trial cannot be recorded: %w", err))
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if row.Kind == results.KindTrial {
		j.summary.Ran++
		if row.Error != "" {
			j.summary.Failed++
		}
		j.prog.done("trials", row.Method, time.Duration(row.Seconds*float64(time.Second)))
	}
}

// finish stamps a trial row and records it, unless the run was interrupted, in which
// case the trial is not finished and a rerun does it again.
func (j *journal) finish(ctx context.Context, row *results.Row, start time.Time, err error) {
	if ctx.Err() != nil {
		return
	}
	row.Seconds = time.Since(start).Seconds()
	if err != nil {
		row.Error = fmt.Sprintf("task %s: %v", row.Task, err)
		row.Metrics = map[string]float64{}
		j.log.Error("trial failed", "split", row.Split, "task", row.Task, "method", row.Method, "seed", row.Seed, "sample", row.Sample, "error", err)
	}
	j.record(*row)
}
