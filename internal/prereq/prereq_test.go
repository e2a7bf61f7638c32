package prereq

import (
	"strings"
	"testing"
)

// TestMissing: a skip naming the variable, or a failure when it is set to 1.
func TestMissing(t *testing.T) {
	for _, c := range []struct {
		env           string
		skip, failure bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Setenv("SGLAB_REQUIRE_TEST", c.env)
		var r Recorder
		r.Run(func(tb testing.TB) { Missing(tb, "SGLAB_REQUIRE_TEST", "the thing needs X") })
		if (r.SkipMsg != "") != c.skip || (r.FatalMsg != "") != c.failure {
			t.Errorf("SGLAB_REQUIRE_TEST=%q: skipped %q, failed %q", c.env, r.SkipMsg, r.FatalMsg)
		}
		if msg := r.SkipMsg + r.FatalMsg; !strings.Contains(msg, "the thing needs X") {
			t.Errorf("SGLAB_REQUIRE_TEST=%q: message %q does not say what is missing", c.env, msg)
		}
		if c.skip && !strings.Contains(r.SkipMsg, "SGLAB_REQUIRE_TEST=1 makes this a failure") {
			t.Errorf("skip %q does not name the variable", r.SkipMsg)
		}
	}
	var r Recorder
	r.Run(func(testing.TB) {})
	if r.SkipMsg != "" || r.FatalMsg != "" {
		t.Errorf("a check that returns: skipped %q, failed %q", r.SkipMsg, r.FatalMsg)
	}
}
