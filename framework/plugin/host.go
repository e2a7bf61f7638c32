package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/task"
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
	StartTimeout time.Duration // default DefaultTimeouts[CallStart]
	// Timeouts bound each call (by its Call* name); a call missing there is bounded by
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
		s.StartTimeout = DefaultTimeouts[CallStart]
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
		sum, err := FileSHA256(s.Path)
		if err != nil {
			return nil, fail("cannot verify checksum: %v", err)
		}
		if !strings.EqualFold(sum, s.SHA256) {
			return nil, fail("sha256 mismatch, not launched: %s has %s, the experiment expects %s", s.Path, sum, strings.ToLower(s.SHA256))
		}
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, fail("not started: the runner is shutting down")
	}

	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = append(os.Environ(), s.Env...)
	setParentDeathSignal(cmd)
	tail := &tailBuffer{max: 40}
	gp := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{ProtocolVersion: kindSet(s.Kind)},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     s.StartTimeout,
		Logger:           s.Logger,
		Stderr:           tail,
		// After the handshake go-plugin carries the plugin's os.Stdout and os.Stderr
		// over gRPC; both land in the tail and the log, never on the runner's stdout.
		SyncStdout: &logWriter{tail: tail, log: s.Logger, prefix: "stdout: "},
		SyncStderr: &logWriter{tail: tail, log: s.Logger},
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))},
	})
	c := &Client{spec: s, gp: gp, tail: tail, cmd: cmd}
	h.mu.Lock()
	h.clients = append(h.clients, c)
	h.mu.Unlock()

	rpc, err := gp.Client()
	if err != nil {
		gp.Kill()
		return nil, fail("failed to start: %s%s", explainStart(err), tail.suffix())
	}
	raw, err := rpc.Dispense(s.Kind)
	if err != nil {
		gp.Kill()
		return nil, fail("does not serve the %s kind: %v%s", s.Kind, err, tail.suffix())
	}
	c.raw = raw.(Base)
	return c, nil
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

func kindSet(kind string) goplugin.PluginSet {
	switch kind {
	case KindEncoder:
		return goplugin.PluginSet{kind: &encoderPlugin{}}
	case KindEvaluator:
		return goplugin.PluginSet{kind: &evaluatorPlugin{}}
	case KindGenerator:
		return goplugin.PluginSet{kind: &generatorPlugin{}}
	}
	return goplugin.PluginSet{}
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

// FileSHA256 is the hex sha256 digest of a file's content.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Client is one running plugin process.
type Client struct {
	spec Spec
	gp   *goplugin.Client
	tail *tailBuffer
	raw  Base
	cmd  *exec.Cmd // go-plugin starts it; its Process is what killNow kills
}

// Label names the plugin in messages.
func (c *Client) Label() string { return c.spec.Label }

// Exited reports whether the process is gone.
func (c *Client) Exited() bool { return c.gp.Exited() }

// killGrace is how long Kill lets go-plugin's graceful shutdown take before it kills
// the process outright: that path asks the plugin over gRPC to exit, and a plugin that
// cannot answer (hung, SIGSTOPped) would block it for ever.
const killGrace = 3 * time.Second

// Kill stops the process: gracefully when it answers, by SIGKILL within killGrace
// when it does not.
func (c *Client) Kill() {
	done := make(chan struct{})
	go func() {
		c.gp.Kill()
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
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Kill()
	}
	go c.gp.Kill() // releases go-plugin's side; fails fast on a dead process
	c.waitExit(killGrace)
}

// waitExit reports whether the process exits within d; a broken connection is
// usually a dying process, and its last stderr lines are what explain it.
func (c *Client) waitExit(d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if c.gp.Exited() {
			time.Sleep(50 * time.Millisecond) // let the stderr reader drain
			return true
		}
	}
	return false
}

// Tail returns the last lines the plugin wrote to stderr.
func (c *Client) Tail() string { return c.tail.String() }

// Encoder returns the plugin as an Encoder whose errors name the plugin and the call.
func (c *Client) Encoder() Encoder { return &encoderCalls{c: c, e: c.raw.(Encoder)} }

// Evaluator returns the plugin as an Evaluator whose errors name the plugin and the call.
func (c *Client) Evaluator() Evaluator { return &evaluatorCalls{c: c, e: c.raw.(Evaluator)} }

// Generator returns the plugin as a Generator whose errors name the plugin and the call.
func (c *Client) Generator() Generator { return &generatorCalls{c: c, g: c.raw.(Generator)} }

// CallError is a failed plugin call.
type CallError struct {
	Plugin string
	Kind   string
	Call   string
	Err    error
	Tail   string // the plugin's last stderr lines when the process failed
}

func (e *CallError) Error() string {
	msg := fmt.Sprintf("plugin %s (%s) %s: %v", e.Plugin, e.Kind, e.Call, e.Err)
	if e.Tail != "" {
		msg += "\nlast lines of the plugin's stderr:\n" + e.Tail
	}
	return msg
}

func (e *CallError) Unwrap() error { return e.Err }

// timeout is the bound of the call named call (a Call* name); 0 means none.
func (c *Client) timeout(call string) time.Duration {
	if d, ok := c.spec.Timeouts[call]; ok {
		return d
	}
	return c.spec.CallTimeout
}

// call runs f, the call kind (a Call* name) shown as name, with its timeout and turns
// failures into CallErrors. A call that times out kills the plugin outright: it may be
// wedged, and it must not outlive the runner.
func call[T any](c *Client, ctx context.Context, kind, name string, f func(context.Context) (T, error)) (T, error) {
	limit := c.timeout(kind)
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	v, err := f(ctx)
	if err == nil {
		return v, nil
	}
	ce := &CallError{Plugin: c.spec.Label, Kind: c.spec.Kind, Call: name, Err: err}
	// Transport failures arrive as gRPC statuses; the plugin's own refusals as
	// RemoteErrors and bad data as plain errors, which need no post-mortem.
	if _, transport := status.FromError(err); transport {
		switch {
		case limit > 0 && (ctx.Err() == context.DeadlineExceeded || status.Code(err) == codes.DeadlineExceeded):
			c.killNow()
			ce.Err = fmt.Errorf("no answer within %s (the %s timeout); plugin killed", limit, kind)
		case c.waitExit(2 * time.Second):
			ce.Err = fmt.Errorf("plugin process exited: %v", err)
		}
		ce.Tail = c.tail.String()
	}
	var zero T
	return zero, ce
}

type encoderCalls struct {
	c *Client
	e Encoder
}

func (w *encoderCalls) Info(ctx context.Context) (Info, error) {
	return call(w.c, ctx, CallInfo, "Info", w.e.Info)
}

func (w *encoderCalls) Configure(ctx context.Context, p Params) error {
	_, err := call(w.c, ctx, CallConfigure, "Configure", func(ctx context.Context) (struct{}, error) { return struct{}{}, w.e.Configure(ctx, p) })
	return err
}

func (w *encoderCalls) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return call(w.c, ctx, CallEmbed, "Embed", func(ctx context.Context) ([][]float32, error) { return w.e.Embed(ctx, texts) })
}

type evaluatorCalls struct {
	c *Client
	e Evaluator
}

func (w *evaluatorCalls) Info(ctx context.Context) (Info, error) {
	return call(w.c, ctx, CallInfo, "Info", w.e.Info)
}

func (w *evaluatorCalls) Configure(ctx context.Context, p Params) error {
	_, err := call(w.c, ctx, CallConfigure, "Configure", func(ctx context.Context) (struct{}, error) { return struct{}{}, w.e.Configure(ctx, p) })
	return err
}

func (w *evaluatorCalls) CheckTask(ctx context.Context, t task.Task) error {
	_, err := call(w.c, ctx, CallCheckTask, "CheckTask("+t.ID+")", func(ctx context.Context) (struct{}, error) { return struct{}{}, w.e.CheckTask(ctx, t) })
	return err
}

func (w *evaluatorCalls) Train(ctx context.Context, t task.Task, seed uint64, opts TrainOptions, out string) (TrainResult, error) {
	return call(w.c, ctx, CallTrain, "Train("+t.ID+")", func(ctx context.Context) (TrainResult, error) { return w.e.Train(ctx, t, seed, opts, out) })
}

func (w *evaluatorCalls) Evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	return call(w.c, ctx, CallEvaluate, "Evaluate("+t.ID+")", func(ctx context.Context) (map[string]float64, error) { return w.e.Evaluate(ctx, t, a, seed) })
}

type generatorCalls struct {
	c *Client
	g Generator
}

func (w *generatorCalls) Info(ctx context.Context) (Info, error) {
	return call(w.c, ctx, CallInfo, "Info", w.g.Info)
}

func (w *generatorCalls) Configure(ctx context.Context, p Params) error {
	_, err := call(w.c, ctx, CallConfigure, "Configure", func(ctx context.Context) (struct{}, error) { return struct{}{}, w.g.Configure(ctx, p) })
	return err
}

func (w *generatorCalls) Fit(ctx context.Context, lib Library, seed uint64) error {
	_, err := call(w.c, ctx, CallFit, "Fit", func(ctx context.Context) (struct{}, error) { return struct{}{}, w.g.Fit(ctx, lib, seed) })
	return err
}

func (w *generatorCalls) Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	return call(w.c, ctx, CallGenerate, "Generate", func(ctx context.Context) ([]*lora.Adapter, error) { return w.g.Generate(ctx, target, n, seed) })
}

// SaveFit asks the generator to save its fitted state to path; ErrCannotSaveFit (in
// the CallError) when it cannot.
func (w *generatorCalls) SaveFit(ctx context.Context, path string) error {
	fs, ok := w.g.(FitSaver)
	if !ok {
		return &CallError{Plugin: w.c.spec.Label, Kind: w.c.spec.Kind, Call: "SaveFit", Err: ErrCannotSaveFit}
	}
	_, err := call(w.c, ctx, CallFit, "SaveFit", func(ctx context.Context) (struct{}, error) { return struct{}{}, fs.SaveFit(ctx, path) })
	return err
}

// LoadFit asks the generator to load a fit SaveFit saved, made on lib.
func (w *generatorCalls) LoadFit(ctx context.Context, path string, lib Library) error {
	fs, ok := w.g.(FitSaver)
	if !ok {
		return &CallError{Plugin: w.c.spec.Label, Kind: w.c.spec.Kind, Call: "LoadFit", Err: ErrCannotSaveFit}
	}
	_, err := call(w.c, ctx, CallFit, "LoadFit", func(ctx context.Context) (struct{}, error) { return struct{}{}, fs.LoadFit(ctx, path, lib) })
	return err
}

// FitSaver returns the generator plugin's SaveFit and LoadFit, whose errors name the
// plugin and the call.
func (c *Client) FitSaver() FitSaver { return &generatorCalls{c: c, g: c.raw.(Generator)} }

// tailBuffer keeps the last lines a plugin wrote to stderr, made readable: hclog's
// JSON lines become "level: message key=value".
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	partial []byte
	lines   []string
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		if line := readable(t.partial[:i]); line != "" {
			t.lines = append(t.lines, line)
			if len(t.lines) > t.max {
				t.lines = t.lines[len(t.lines)-t.max:]
			}
		}
		t.partial = t.partial[i+1:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if p := readable(t.partial); p != "" {
		lines = append(append([]string(nil), lines...), p)
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
	var entry map[string]any
	if json.Unmarshal(line, &entry) != nil {
		return string(line)
	}
	level, _ := entry["@level"].(string)
	msg, _ := entry["@message"].(string)
	var extra []string
	for k, v := range entry {
		if !strings.HasPrefix(k, "@") {
			extra = append(extra, fmt.Sprintf("%s=%v", k, v))
		}
	}
	sort.Strings(extra)
	return strings.TrimSpace(level + ": " + msg + " " + strings.Join(extra, " "))
}

// logWriter passes a plugin's redirected output into the tail and the runner's log.
type logWriter struct {
	tail   *tailBuffer
	log    hclog.Logger
	prefix string
}

func (w *logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		w.tail.Write([]byte(w.prefix + line + "\n"))
		w.log.Info(w.prefix + line)
	}
	return len(p), nil
}
