package rpc

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(serverUnary), grpc.ChainStreamInterceptor(serverStream))
	k.register(srv, impl)
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	c := &Client{spec: s, tail: &tailBuffer{max: 40}}
	conn, err := grpc.NewClient("passthrough:///"+s.Label,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithChainUnaryInterceptor(c.unary),
		grpc.WithChainStreamInterceptor(c.stream))
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("plugin %s (%s): %v", s.Label, s.Kind, err)
	}
	c.proc = &inProcess{srv: srv, conn: conn}
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
