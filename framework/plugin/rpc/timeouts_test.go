package rpc_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/task"
)

// gone reports whether the process is gone, waiting up to d.
func gone(c *rpc.Client, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if c.Exited() {
			return true
		}
	}
	return false
}

// stop sends SIGSTOP to pid and waits until the kernel shows it stopped: kill returns
// before a busy process is, and a call sent in between would still be answered.
func stop(t *testing.T, pid int) {
	t.Helper()
	syscall.Kill(pid, syscall.SIGSTOP)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // no /proc: nothing better to wait on
		}
		// The state follows the parenthesised command name: "pid (comm) T ...".
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " T") {
			return
		}
	}
	t.Fatalf("process %d did not stop", pid)
}

// TestStoppedPluginKilledWithinTimeout: a SIGSTOPped plugin cannot answer go-plugin's
// graceful shutdown, yet a call past its timeout ends within the timeout and a few
// seconds, with the process killed; per-call timeouts apply by call.
func TestStoppedPluginKilledWithinTimeout(t *testing.T) {
	h := &rpc.Host{}
	defer h.KillAll()
	c := startFake(t, h, "evaluator", func(s *rpc.Spec) {
		s.Timeouts = map[string]time.Duration{plugin.CallEvaluate: 500 * time.Millisecond, plugin.CallInfo: time.Minute}
	})
	if _, err := c.Evaluator().Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop(t, rpc.Pid(c))
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
	h := &rpc.Host{}
	defer h.KillAll()
	a := startFake(t, h, "encoder", nil)
	b := startFake(t, h, "encoder", nil)
	for _, c := range []*rpc.Client{a, b} {
		stop(t, rpc.Pid(c))
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
	if took := time.Since(start); took > 4*rpc.KillGrace+2*time.Second {
		t.Fatalf("killing two stopped plugins took %s", took)
	}
}
