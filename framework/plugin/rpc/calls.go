package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sglab/sglab/framework/plugin"
	pb "github.com/sglab/sglab/framework/plugin/proto"
)

// RemoteError is an error the plugin itself returned (it said no), as opposed to a
// transport failure (the plugin crashed, hung or vanished).
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

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

// rpcs are the protocol's calls by RPC name (the same in every service): the
// [timeouts] name that bounds each, and for an RPC a plugin may lack (protocol 1's
// later additions), the error its absence means.
var rpcs = map[string]struct {
	timeout string
	absent  error
}{
	"Info":      {timeout: plugin.CallInfo},
	"Configure": {timeout: plugin.CallConfigure},
	"Embed":     {timeout: plugin.CallEmbed},
	"CheckTask": {timeout: plugin.CallCheckTask},
	"Train":     {timeout: plugin.CallTrain},
	"Evaluate":  {timeout: plugin.CallEvaluate},
	"Fit":       {timeout: plugin.CallFit},
	"Generate":  {timeout: plugin.CallGenerate},
	"SaveFit":   {timeout: plugin.CallFit, absent: plugin.ErrCannotSaveFit},
	"LoadFit":   {timeout: plugin.CallFit, absent: plugin.ErrCannotSaveFit},
}

// servicePrefix starts the full method name of every sglab RPC; go-plugin's own
// services (controller, stdio, broker) on the same connection are left alone.
var servicePrefix = "/" + string(pb.File_sglab_proto.Package()) + "."

// ---- plugin side ---------------------------------------------------------------------

// toStatus keeps the plugin's message intact across the wire; errors that already are
// statuses (a request the server could not decode, an absent optional call) pass as
// they are.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

func serverUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, toStatus(err)
}

func serverStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return toStatus(handler(srv, ss))
}

// ---- runner side ---------------------------------------------------------------------

// call is one RPC in flight from the runner: its bound and the names errors give it.
type call struct {
	c       *Client
	ctx     context.Context
	rpc     string // "Fit"
	name    string // how messages name the call: "Train(task)"
	timeout string // the [timeouts] name
	limit   time.Duration
	absent  error
}

// begin bounds an sglab RPC by its timeout; ok is false for go-plugin's own calls.
func (c *Client) begin(ctx context.Context, method string, req any) (*call, context.CancelFunc, bool) {
	if !strings.HasPrefix(method, servicePrefix) {
		return nil, nil, false
	}
	rpc := method[strings.LastIndexByte(method, '/')+1:]
	k := &call{c: c, rpc: method[1:], name: rpc, timeout: rpcs[rpc].timeout, absent: rpcs[rpc].absent}
	var t *pb.Task
	switch r := req.(type) {
	case *pb.Task:
		t = r
	case interface{ GetTask() *pb.Task }:
		t = r.GetTask()
	}
	if t != nil {
		k.name += "(" + t.GetId() + ")"
	}
	k.limit = c.timeout(k.timeout)
	cancel := context.CancelFunc(func() {})
	if k.limit > 0 {
		ctx, cancel = context.WithTimeout(ctx, k.limit)
	}
	k.ctx = ctx
	return k, cancel, true
}

// fail turns the gRPC error of a call into a CallError. A call that timed out kills
// the plugin outright: it may be wedged, and it must not outlive the runner.
func (k *call) fail(err error) error {
	if err == nil {
		return nil
	}
	c := k.c
	ce := c.callError(k.name, err)
	st, ok := status.FromError(err)
	if !ok { // not from the wire: nothing to learn from the process
		return ce
	}
	switch code := st.Code(); {
	case code == codes.Unknown || code == codes.InvalidArgument || code == codes.FailedPrecondition || code == codes.NotFound:
		ce.Err = &RemoteError{Msg: st.Message()}
	case code == codes.Unimplemented && k.absent != nil:
		ce.Err = k.absent
	case code == codes.Unimplemented:
		ce.Err = fmt.Errorf("plugin %s is older than this runner: it does not implement RPC %s", c.spec.Label, k.rpc)
	case k.limit > 0 && (k.ctx.Err() == context.DeadlineExceeded || code == codes.DeadlineExceeded):
		c.killNow()
		ce.Err = fmt.Errorf("no answer within %s (the %s timeout); plugin killed", k.limit, k.timeout)
		ce.Tail = c.tail.String()
	default:
		if c.waitExit(2 * time.Second) {
			ce.Err = fmt.Errorf("plugin process exited: %v", err)
		}
		ce.Tail = c.tail.String()
	}
	return ce
}

func (c *Client) callError(name string, err error) *CallError {
	return &CallError{Plugin: c.spec.Label, Kind: c.spec.Kind, Call: name, Err: err}
}

// badData is an answer of the plugin that breaks the contract (wrong counts, NaN).
func (c *Client) badData(name string, format string, args ...any) error {
	return c.callError(name, fmt.Errorf("bad data: "+format, args...))
}

func (c *Client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	k, cancel, ok := c.begin(ctx, method, req)
	if !ok {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	defer cancel()
	return k.fail(invoker(k.ctx, method, req, reply, cc, opts...))
}

func (c *Client) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	k, cancel, ok := c.begin(ctx, method, nil)
	if !ok {
		return streamer(ctx, desc, cc, method, opts...)
	}
	s, err := streamer(k.ctx, desc, cc, method, opts...)
	if err != nil {
		err = k.fail(err)
		cancel()
		return nil, err
	}
	return &boundStream{ClientStream: s, call: k, cancel: cancel}, nil
}

// boundStream holds a streaming call's bound until the stream ends.
type boundStream struct {
	grpc.ClientStream
	call   *call
	cancel context.CancelFunc
}

func (s *boundStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err == nil || err == io.EOF { // io.EOF: the stream ended; RecvMsg tells why
		return err
	}
	err = s.call.fail(err)
	s.cancel()
	return err
}

func (s *boundStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		return nil
	case err == io.EOF:
		s.cancel()
		return err
	}
	err = s.call.fail(err)
	s.cancel()
	return err
}
