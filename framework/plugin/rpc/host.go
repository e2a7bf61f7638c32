package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sglab/sglab/framework/plugin"
)

// Spec says how to start one plugin process.
type Spec struct {
	Kind  string
	Label string // how messages name the plugin: a built-in's name or the executable's path
	Path  string // the executable
	Args  []string
	Env   []string // extra environment, KEY=VALUE
	// SHA256, when set, is the hex digest the executable must have; it is checked
	// before launch and a mismatch launches nothing.
	SHA256       string
	StartTimeout time.Duration // default plugin.DefaultTimeouts[plugin.CallStart]
	// Timeouts bound each call (by its plugin.Call* name); a call missing there is bounded by
	// CallTimeout, 0 meaning no bound. A call past its bound kills the plugin process
	// outright, so the call ends within its bound and a few seconds however the plugin
	// is stuck (even SIGSTOPped).
	Timeouts    map[string]time.Duration
	CallTimeout time.Duration
	Logger      hclog.Logger // the plugin's stderr logs are re-logged here
}

// Host starts plugins and kills them all on every exit path.
type Host struct {
	mu      sync.Mutex
	clients []*Client
	closed  bool
}

// Start launches the plugin, completes the handshake and dispenses its kind.
func (h *Host) Start(ctx context.Context, s Spec) (*Client, error) {
	if s.Label == "" {
		s.Label = s.Path
	}
	if s.Logger == nil {
		s.Logger = hclog.NewNullLogger()
	}
	if s.StartTimeout <= 0 {
		s.StartTimeout = plugin.DefaultTimeouts[plugin.CallStart]
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("plugin %s (%s): %s", s.Label, s.Kind, fmt.Sprintf(format, args...))
	}
	st, err := os.Stat(s.Path)
	if err != nil {
		return nil, fail("cannot start: %v", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fail("cannot start: %s is not an executable file", s.Path)
	}
	if s.SHA256 != "" {
		sum, err := plugin.FileSHA256(s.Path)
		if err != nil {
			return nil, fail("cannot verify checksum: %v", err)
		}
		if !strings.EqualFold(sum, s.SHA256) {
			return nil, fail("sha256 mismatch, not launched: %s has %s, the experiment expects %s", s.Path, sum, strings.ToLower(s.SHA256))
		}
	}

	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = append(os.Environ(), s.Env...)
	setParentDeathSignal(cmd)
	tail := &tailBuffer{max: 40}
	c := &Client{spec: s, tail: tail}
	gp := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{ProtocolVersion: hostSet(s.Kind, c)},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     s.StartTimeout,
		// The plugin's stderr is relayed by logWriter, once per line, not by go-plugin
		// (which adds a second timestamp, shuffles the keys and names the logger after
		// the executable).
		Logger: noRelay{Logger: s.Logger, exe: filepath.Base(s.Path)},
		Stderr: &logWriter{tail: tail, log: s.Logger, label: s.Label},
		// After the handshake go-plugin carries the plugin's os.Stdout and os.Stderr
		// over gRPC; both land in the tail and the log, never on the runner's stdout.
		SyncStdout: &logWriter{tail: tail, log: s.Logger, label: s.Label, prefix: "stdout: "},
		SyncStderr: &logWriter{tail: tail, log: s.Logger, label: s.Label},
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
			grpc.WithChainUnaryInterceptor(c.unary),
			grpc.WithChainStreamInterceptor(c.stream),
		},
	})
	c.proc = &child{gp: gp, cmd: cmd}
	if err := h.track(c); err != nil { // before the launch, which gp.Client does
		return nil, fail("not started: %v", err)
	}

	conn, err := gp.Client()
	if err != nil {
		gp.Kill()
		return nil, fail("failed to start: %s%s", explainStart(err), tail.suffix())
	}
	raw, err := conn.Dispense(s.Kind)
	if err != nil {
		gp.Kill()
		return nil, fail("does not serve the %s kind: %v%s", s.Kind, err, tail.suffix())
	}
	c.raw = raw.(plugin.Base)
	return c, nil
}

var errShuttingDown = errors.New("the runner is shutting down")

// track adds c to the clients KillAll kills, unless KillAll has begun.
func (h *Host) track(c *Client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errShuttingDown
	}
	h.clients = append(h.clients, c)
	return nil
}

// KillAll kills every plugin started so far and refuses new ones. Safe to call from
// a signal handler goroutine and more than once.
func (h *Host) KillAll() {
	h.mu.Lock()
	h.closed = true
	cs := h.clients
	h.clients = nil
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Kill()
		}()
	}
	wg.Wait()
}

// explainStart rewords go-plugin's start errors for people who write plugins.
func explainStart(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "Unrecognized remote plugin message") {
		return "its stdout must carry only the go-plugin handshake; it printed something else first (log to stderr instead): " + msg
	}
	if strings.Contains(msg, "Incompatible API version") {
		return fmt.Sprintf("it speaks another sglab protocol version (this runner speaks %d): %s", ProtocolVersion, msg)
	}
	return msg
}

// Client is one running plugin: a process the Host started, or a plugin served in
// this process (Host.Connect).
type Client struct {
	spec Spec
	proc process
	tail *tailBuffer
	raw  plugin.Base // the kind's client, dispensed by go-plugin
}

// process is what a plugin runs in.
type process interface {
	stop()        // ask it to exit; may block while it does not answer
	kill()        // end it at once, without asking
	exited() bool // it is gone
}

// child is a plugin process go-plugin started.
type child struct {
	gp  *goplugin.Client
	cmd *exec.Cmd // go-plugin starts it; its Process is what kill kills
}

func (p *child) stop()        { p.gp.Kill() }
func (p *child) exited() bool { return p.gp.Exited() }

func (p *child) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	go p.gp.Kill() // releases go-plugin's side; fails fast on a dead process
}

// Label names the plugin in messages.
func (c *Client) Label() string { return c.spec.Label }

// Exited reports whether the process is gone.
func (c *Client) Exited() bool { return c.proc.exited() }

// killGrace is how long Kill lets go-plugin's graceful shutdown take before it kills
// the process outright: that path asks the plugin over gRPC to exit, and a plugin that
// cannot answer (hung, SIGSTOPped) would block it for ever.
const killGrace = 3 * time.Second

// Kill stops the process: gracefully when it answers, by SIGKILL within killGrace
// when it does not.
func (c *Client) Kill() {
	done := make(chan struct{})
	go func() {
		c.proc.stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
		c.killNow()
		select { // with the process gone, the graceful path fails fast
		case <-done:
		case <-time.After(killGrace):
		}
	}
}

// killNow kills the process at once, without asking it, and waits (bounded) until
// go-plugin has seen it exit, so that Exited is true when it returns.
func (c *Client) killNow() {
	c.proc.kill()
	c.waitExit(killGrace)
}

// waitExit reports whether the process exits within d; a broken connection is
// usually a dying process, and its last stderr lines are what explain it.
func (c *Client) waitExit(d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if c.proc.exited() {
			time.Sleep(50 * time.Millisecond) // let the stderr reader drain
			return true
		}
	}
	return false
}

// Tail returns the last lines the plugin wrote to stderr.
func (c *Client) Tail() string { return c.tail.String() }

// Base returns the plugin as the kind it was started as (Spec.Kind): a
// plugin.Encoder, plugin.Evaluator or plugin.Generator whose calls are bounded by the
// Spec's timeouts and whose errors are CallErrors naming the plugin and the call.
func (c *Client) Base() plugin.Base { return c.raw }

// Encoder returns an encoder plugin as a plugin.Encoder.
func (c *Client) Encoder() plugin.Encoder { return c.raw.(plugin.Encoder) }

// Evaluator returns an evaluator plugin as a plugin.Evaluator.
func (c *Client) Evaluator() plugin.Evaluator { return c.raw.(plugin.Evaluator) }

// Generator returns a generator plugin as a plugin.Generator.
func (c *Client) Generator() plugin.Generator { return c.raw.(plugin.Generator) }

// FitSaver returns a generator plugin's SaveFit and LoadFit; on a plugin without them
// they fail with plugin.ErrCannotSaveFit (inside the CallError).
func (c *Client) FitSaver() plugin.FitSaver { return c.raw.(plugin.FitSaver) }

// timeout is the bound of the call named call (a plugin.Call* name); 0 means none.
func (c *Client) timeout(call string) time.Duration {
	if d, ok := c.spec.Timeouts[call]; ok {
		return d
	}
	return c.spec.CallTimeout
}

// tailBuffer keeps the last lines a plugin wrote to stderr (and stdout), made readable:
// hclog's JSON lines become "level: message key=value". logWriters feed it.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
	// partial is each writer's unfinished last line, shown too: a crash may leave one.
	partial map[*logWriter]string
}

func (t *tailBuffer) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if line := readable([]byte(line)); line != "" {
		t.lines = append(t.lines, line)
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
}

func (t *tailBuffer) setPartial(w *logWriter, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.partial == nil {
		t.partial = map[*logWriter]string{}
	}
	t.partial[w] = line
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := slices.Clone(t.lines)
	for _, p := range t.partial {
		if p := readable([]byte(p)); p != "" {
			lines = append(lines, p)
		}
	}
	return strings.Join(lines, "\n")
}

func (t *tailBuffer) suffix() string {
	if s := t.String(); s != "" {
		return "\nlast lines of the plugin's stderr:\n" + s
	}
	return ""
}

func readable(line []byte) string {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return ""
	}
	level, msg, _, args, ok := parseLog(line)
	if !ok {
		return string(line)
	}
	var extra []string
	for i := 0; i+1 < len(args); i += 2 {
		extra = append(extra, fmt.Sprintf("%s=%v", args[i], args[i+1]))
	}
	return strings.TrimSpace(level + ": " + msg + " " + strings.Join(extra, " "))
}

// parseLog reads one hclog JSON line: its level, message, logger name (@module) and
// other keys in sorted order as key, value pairs; its timestamp is dropped, the relaying
// logger has its own. ok is false for a line that is not such JSON.
func parseLog(line []byte) (level, msg, module string, args []any, ok bool) {
	var entry map[string]any
	if json.Unmarshal(line, &entry) != nil {
		return "", "", "", nil, false
	}
	level, _ = entry["@level"].(string)
	msg, _ = entry["@message"].(string)
	module, _ = entry["@module"].(string)
	var keys []string
	for k := range entry {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, k, entry[k])
	}
	return level, msg, module, args, true
}

// logWriter relays a plugin's output, line by line, into the tail and the runner's log:
// an hclog JSON line at its level with its keys in sorted order (by a sub-logger when the
// plugin logged through one other than its own name), any other line at info.
type logWriter struct {
	tail   *tailBuffer
	log    hclog.Logger
	label  string // the plugin's name, which log already carries
	prefix string

	mu      sync.Mutex
	partial []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			w.tail.setPartial(w, w.prefix+string(w.partial))
			return len(p), nil
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		if strings.TrimSpace(line) == "" {
			continue
		}
		w.tail.add(w.prefix + line)
		level, msg, module, args, ok := parseLog([]byte(line))
		if !ok {
			w.log.Info(w.prefix + line)
			continue
		}
		lv := hclog.LevelFromString(level)
		if lv == hclog.NoLevel {
			lv = hclog.Info
		}
		log := w.log
		if module != "" && module != w.label {
			log = log.Named(strings.TrimPrefix(module, w.label+"."))
		}
		log.Log(lv, w.prefix+msg, args...)
	}
}

// noRelay is the logger go-plugin gets: its own messages go to the plugin's logger, but
// the sub-logger it relays the plugin's stderr through, named after the executable, is
// silent, since logWriter relays that stderr.
type noRelay struct {
	hclog.Logger
	exe string
}

func (l noRelay) Named(name string) hclog.Logger {
	if name == l.exe {
		return hclog.NewNullLogger()
	}
	return l.Logger.Named(name)
}
