package config

import (
	"fmt"
	"io"
	"maps"
	"os"
	"time"
	"unicode/utf8"

	"github.com/sglab/sglab/framework/plugin"
)

// Limits. Every number an experiment gives is bounded by what can run, so that a typo
// (a rank of 1e9, an epoch count of 2^63, /dev/zero as an include) is an error naming
// its key, found by `runner validate`, rather than a runtime crash, an allocation that
// takes the machine down or a run that writes nothing for ever. Bounds that depend on
// the evaluator (LoRA rank against its layer sizes, the memory of a library) are checked
// by the runner once the evaluator has said what it adapts.
const (
	MaxFileBytes       = 4 << 20   // an experiment file or an included file
	MaxNameLen         = 200       // bytes of a name: experiment, task id, split, method (swept ones too)
	MaxDescriptionLen  = 2000      // bytes of a task description
	MaxSeeds           = 1000      // seeds of an experiment
	MaxEpochs          = 100_000   // [train] epochs
	MaxSnapshots       = 10_000    // [train] snapshots
	MaxRank            = 4096      // [train] rank
	MaxSamples         = 10_000    // samples of a method
	MaxTrials          = 1_000_000 // trials of a whole experiment
	MaxTimeout         = 7 * 24 * time.Hour
	maxTransformsCount = 64 // transforms of one task
)

// readBounded reads a file that must be a regular file of at most MaxFileBytes. The
// read itself is bounded too, so a file that grows while it is read cannot exhaust
// memory.
func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%d bytes; an experiment file may hold at most %d", st.Size(), MaxFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("more than %d bytes; an experiment file may hold at most that", MaxFileBytes)
	}
	return data, nil
}

// checkName reports a name longer than MaxNameLen or not valid UTF-8.
func (f *file) checkName(p keyPath, what, name string) bool {
	switch {
	case len(name) > MaxNameLen:
		f.errorf(p, "%s of %d bytes; at most %d", what, len(name), MaxNameLen)
		return false
	case !utf8.ValidString(name):
		f.errorf(p, "%s is not valid UTF-8", what)
		return false
	}
	return true
}

// bounded reports an integer at p outside [lo, hi].
func (f *file) bounded(p keyPath, n, lo, hi int64) bool {
	switch {
	case n < lo && lo == 0:
		f.errorf(p, "must not be negative, got %d", n)
	case n < lo && lo == 1:
		f.errorf(p, "must be positive, got %d", n)
	case n < lo:
		f.errorf(p, "must be at least %d, got %d", lo, n)
	case n > hi:
		f.errorf(p, "%d is more than can run; at most %d", n, hi)
	default:
		return true
	}
	return false
}

// timeouts reads [timeouts]: one duration per plugin call ("90s", "2h"), over
// plugin.DefaultTimeouts.
func (l *loader) timeouts(t tbl) map[string]time.Duration {
	out := defaultTimeouts()
	t.allow(sortedKeys(plugin.DefaultTimeouts)...)
	for _, k := range sortedKeys(t.m) {
		if _, known := plugin.DefaultTimeouts[k]; !known {
			continue
		}
		s, ok := t.str(k, false)
		if !ok {
			continue
		}
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			t.f.errorf(t.at(k), "%q is not a duration such as \"90s\", \"30m\" or \"2h\"", s)
		case d <= 0:
			t.f.errorf(t.at(k), "must be positive, got %s", s)
		case d > MaxTimeout:
			t.f.errorf(t.at(k), "%s is more than the %s a call may be given", s, MaxTimeout)
		default:
			out[k] = d
		}
	}
	return out
}

func defaultTimeouts() map[string]time.Duration { return maps.Clone(plugin.DefaultTimeouts) }

// checkTrials reports an experiment that makes more than MaxTrials trials.
func (l *loader) checkTrials() {
	if len(l.errs) > 0 {
		return // the counts may be the very mistakes reported
	}
	e := l.e
	var n int64
	for _, m := range e.Methods {
		for _, s := range e.Splits {
			n += int64(len(s.Novel)) * int64(m.Samples) * int64(len(e.Seeds))
		}
		if n > MaxTrials {
			l.main.errorf("method", "the experiment makes more than %d trials (seeds × novel tasks of every split × samples, over the methods); split it into several experiments", MaxTrials)
			return
		}
	}
}
