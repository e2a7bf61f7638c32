package rpc

import (
	"errors"
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sglab/sglab/framework/plugin"
)

// Option changes how Serve serves.
type Option func(*serveConfig)

type serveConfig struct {
	level hclog.Level
}

// LogLevel sets the lowest level the plugin's logger writes; the default is Info (the
// runner shows what it wants of that).
func LogLevel(l hclog.Level) Option { return func(c *serveConfig) { c.level = l } }

// ErrNotStartedByRunner is Serve's answer in a process the runner did not start: a
// plugin is named in an experiment and started by `runner run`, not run by hand.
var ErrNotStartedByRunner = errors.New("this program is an sglab plugin, not meant to be run directly: name it in an experiment file and run that with `runner run FILE`, which starts the plugin itself")

// Serve runs impl as a plugin process and returns when the host is done with it. A
// third-party plugin's main is:
//
//	func main() {
//		if err := rpc.Serve(mygenerator.New()); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//	}
//
// Serve makes the plugin's logger, JSON lines on stderr that the runner relays into
// its own log, and hands it to impl when impl has a SetLogger method
// (plugin.LoggerSetter); it is also hclog.Default(). Stdout carries only the handshake.
func Serve(impl plugin.Base, opts ...Option) error {
	cfg := serveConfig{level: hclog.Info}
	for _, o := range opts {
		o(&cfg)
	}
	set, err := servedSet(impl)
	if err != nil {
		return err
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		return ErrNotStartedByRunner // go-plugin would print its own message and exit
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: cfg.level})
	hclog.SetDefault(logger)
	if l, ok := impl.(plugin.LoggerSetter); ok {
		l.SetLogger(logger)
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{ProtocolVersion: set},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
				grpc.ChainUnaryInterceptor(serverUnary), grpc.ChainStreamInterceptor(serverStream))...)
		},
		Logger: logger,
	})
	return nil
}
