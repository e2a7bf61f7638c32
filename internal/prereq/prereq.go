// Package prereq ends a test whose prerequisite this machine lacks (Debian's Python
// packages, a local Slurm): with a skip that says what to install, or with a failure
// where the environment asks for the prerequisite, as .ci/run does, so that a missing
// package can never pass CI as a skipped test.
package prereq

import (
	"os"
	"testing"
)

// Missing ends t: it fails with msg when the environment variable env is "1", and
// otherwise skips, saying which variable would make the skip a failure.
func Missing(t testing.TB, env, msg string) {
	t.Helper()
	if os.Getenv(env) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipped (" + env + "=1 makes this a failure)")
}

// Recorder is a testing.TB for testing how a check ends a test: Skip and Fatal record
// their message and stop the check, as on a real test.
type Recorder struct {
	testing.TB
	SkipMsg, FatalMsg string
}

type stopped struct{}

func (r *Recorder) Helper()           {}
func (r *Recorder) Skip(args ...any)  { r.SkipMsg = args[0].(string); panic(stopped{}) }
func (r *Recorder) Fatal(args ...any) { r.FatalMsg = args[0].(string); panic(stopped{}) }

// Run runs check with r as its test and returns once check ends, normally or by Skip
// or Fatal.
func (r *Recorder) Run(check func(testing.TB)) {
	defer func() {
		if p := recover(); p != nil && p != (stopped{}) {
			panic(p)
		}
	}()
	check(r)
}
