package plugin

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/task"
)

// gone reports whether the process is gone, waiting up to d.
func gone(c *Client, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if c.Exited() {
			return true
		}
	}
	return false
}

// TestStoppedPluginKilledWithinTimeout: a SIGSTOPped plugin cannot answer go-plugin's
// graceful shutdown, yet a call past its timeout ends within the timeout and a few
// seconds, with the process killed; per-call timeouts apply by call.
func TestStoppedPluginKilledWithinTimeout(t *testing.T) {
	h := &Host{}
	defer h.KillAll()
	c := startFake(t, h, KindEvaluator, "evaluator", func(s *Spec) {
		s.Timeouts = map[string]time.Duration{CallEvaluate: 500 * time.Millisecond, CallInfo: time.Minute}
	})
	if _, err := c.Evaluator().Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(c.cmd.Process.Pid, syscall.SIGSTOP)
	start := time.Now()
	_, err := c.Evaluator().Evaluate(context.Background(), task.Task{ID: "a", Domain: []task.Transform{{Name: "x", Args: []float64{1}}}}, nil, 1)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer within 500ms (the evaluate timeout); plugin killed") {
		t.Fatalf("stopped plugin: %v", err)
	}
	if took > 500*time.Millisecond+5*time.Second {
		t.Fatalf("the call took %s", took)
	}
	if !c.Exited() {
		t.Fatal("the stopped plugin was not killed")
	}
}

// TestKillStoppedPlugin: Kill and KillAll end a SIGSTOPped plugin within their grace,
// rather than waiting for ever on its graceful shutdown.
func TestKillStoppedPlugin(t *testing.T) {
	h := &Host{}
	defer h.KillAll()
	a := startFake(t, h, KindEncoder, "encoder", nil)
	b := startFake(t, h, KindEncoder, "encoder", nil)
	for _, c := range []*Client{a, b} {
		syscall.Kill(c.cmd.Process.Pid, syscall.SIGSTOP)
	}
	start := time.Now()
	a.Kill()
	if !gone(a, time.Second) {
		t.Fatal("Kill left a stopped plugin running")
	}
	h.KillAll()
	if !gone(b, time.Second) {
		t.Fatal("KillAll left a stopped plugin running")
	}
	if took := time.Since(start); took > 4*killGrace+2*time.Second {
		t.Fatalf("killing two stopped plugins took %s", took)
	}
}
