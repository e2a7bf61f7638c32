package rpc

import (
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sglab/sglab/framework/plugin"
)

// Serve runs impls as a plugin process; it returns only when the host is done with
// the plugin. A third-party plugin's main is:
//
//	func main() { rpc.Serve(mygenerator.New()) }
//
// Logs written through hclog.Default() go to stderr as JSON and reach the runner's log;
// stdout carries only the handshake.
func Serve(impls ...plugin.Base) {
	logger := hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Info})
	hclog.SetDefault(logger)
	set, err := servedSet(impls...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
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
}
