package rpc

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/sglab/sglab/framework/plugin"
)

// Connect serves impl in this process over an in-memory gRPC connection and returns
// its client: the plugin's calls take the whole protocol path of a plugin process
// (conversion both ways, message limits, interceptors, timeouts, error mapping) without
// a process or a handshake. Tests use it (framework/plugintest); s gives the label and
// timeouts, its Kind is impl's and its Path, Args, Env and SHA256 are not used. Kill,
// or the Host's KillAll, stops the server.
func (h *Host) Connect(impl plugin.Base, s Spec) (*Client, error) {
	k, err := kindOf(impl)
	if err != nil {
		return nil, err
	}
	s.Kind = k.name
	if s.Label == "" {
		s.Label = fmt.Sprintf("%T", impl)
	}
	c := &Client{spec: s, tail: &tailBuffer{max: 40}}
	p := &inProcess{tail: c.tail}
	p.srv = grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(p.unary, serverUnary), grpc.ChainStreamInterceptor(p.stream, serverStream))
	k.register(p.srv, impl)
	lis := bufconn.Listen(1 << 20)
	go p.srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///"+s.Label,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithChainUnaryInterceptor(c.unary),
		grpc.WithChainStreamInterceptor(c.stream))
	if err != nil {
		p.srv.Stop()
		return nil, fmt.Errorf("plugin %s (%s): %v", s.Label, s.Kind, err)
	}
	p.conn = conn
	c.proc = p
	if err := h.track(c); err != nil {
		c.proc.kill()
		return nil, fmt.Errorf("plugin %s (%s): not connected: %v", s.Label, s.Kind, err)
	}
	c.raw = k.client(conn, c)
	return c, nil
}

// inProcess is a plugin served in this process (Connect).
type inProcess struct {
	srv  *grpc.Server
	conn *grpc.ClientConn
	tail *tailBuffer

	mu   sync.Mutex
	done bool
}

func (p *inProcess) stop() { p.kill() }

func (p *inProcess) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	p.conn.Close()
	p.srv.Stop()
}

func (p *inProcess) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// A panic in a plugin served in process ends it as it would end a plugin process:
// the call fails with the panic and its stack in the tail, the server stops, and the
// test binary goes on.
func (p *inProcess) recovered(err *error) {
	r := recover()
	if r == nil {
		return
	}
	for _, line := range strings.Split(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()), "\n") {
		p.tail.add(line)
	}
	*err = status.Errorf(codes.Unavailable, "plugin panicked: %v", r)
	go p.kill() // Stop waits for this handler
}

func (p *inProcess) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer p.recovered(&err)
	return handler(ctx, req)
}

func (p *inProcess) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer p.recovered(&err)
	return handler(srv, ss)
}
