package rpc_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// chattyEncoder logs on Configure, through the default logger and a sub-logger.
type chattyEncoder struct{ *fakeEncoder }

func (e chattyEncoder) Configure(ctx context.Context, p plugin.Params) error {
	hclog.Default().Warn("configured", "zeta", 1, "alpha", "a", "mid", true)
	hclog.Default().Named("sub").Info("from a sub-logger", "k", "v")
	return e.fakeEncoder.Configure(ctx, p)
}

// TestRelayedLogLines checks how a plugin's log lines reach the runner's log: once each,
// with one timestamp (the runner's), keys in sorted order, under the plugin's name (and
// its sub-logger's), never under the executable's.
func TestRelayedLogLines(t *testing.T) {
	var buf syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "sglab", Output: &buf, Level: hclog.Info})
	h := &rpc.Host{}
	defer h.KillAll()
	c := startFake(t, h, "chatty", func(s *rpc.Spec) { s.Logger = log.Named(s.Label) })
	if err := c.Encoder().Configure(context.Background(), plugin.Params{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(buf.String(), "from a sub-logger") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	c.Kill()
	want := []string{
		"[WARN]  sglab.fake-chatty: configured: alpha=a mid=true zeta=1",
		"[INFO]  sglab.fake-chatty.sub: from a sub-logger: k=v",
	}
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)
	found := 0
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if n := len(stamp.FindAllString(line, -1)); n != 1 {
			t.Errorf("%d timestamps in %q", n, line)
		}
		for _, w := range want {
			if strings.HasSuffix(line, w) {
				found++
			}
		}
		if strings.Contains(line, ".test:") || strings.Contains(line, "plugin.test") && !strings.Contains(line, "plugin=") {
			t.Errorf("a line named after the executable: %q", line)
		}
	}
	if found != len(want) {
		t.Errorf("want each of %q once, found %d matches in:\n%s", want, found, buf.String())
	}
}
