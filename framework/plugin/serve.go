package plugin

import (
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the version of the protocol in proto/sglab.proto. A host and a
// plugin talk only when they share it (go-plugin's versioned handshake).
const ProtocolVersion = 1

// MaxMessageBytes bounds one gRPC message in both directions. Large data travels by
// file or stream, so this is a safety margin, not a design limit: one paper-scale
// adapter is 442 KB.
const MaxMessageBytes = 256 << 20

// Handshake keeps sglab plugins from being started by anything else and vice versa.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SGLAB_PLUGIN",
	MagicCookieValue: "c5f3b8e2-sglab-zero-shot-lora",
}

// pluginSet maps each implementation to its kind's go-plugin glue.
func pluginSet(impls ...Base) (goplugin.PluginSet, error) {
	set := goplugin.PluginSet{}
	for _, impl := range impls {
		var kind string
		var p goplugin.Plugin
		switch v := impl.(type) {
		case Encoder:
			kind, p = KindEncoder, &encoderPlugin{impl: v}
		case Evaluator:
			kind, p = KindEvaluator, &evaluatorPlugin{impl: v}
		case Generator:
			kind, p = KindGenerator, &generatorPlugin{impl: v}
		default:
			return nil, fmt.Errorf("plugin: %T implements none of Encoder, Evaluator, Generator", impl)
		}
		if set[kind] != nil {
			return nil, fmt.Errorf("plugin: two %s implementations in one process", kind)
		}
		set[kind] = p
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("plugin: nothing to serve")
	}
	return set, nil
}

// Serve runs impls as a plugin process; it returns only when the host is done with
// the plugin. A third-party plugin's main is:
//
//	func main() { plugin.Serve(mygenerator.New()) }
//
// Logs written through hclog.Default() go to stderr as JSON and reach the runner's log;
// stdout carries only the handshake.
func Serve(impls ...Base) {
	logger := hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Info})
	hclog.SetDefault(logger)
	set, err := pluginSet(impls...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{ProtocolVersion: set},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))...)
		},
		Logger: logger,
	})
}
