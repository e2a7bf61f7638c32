// Package rpc carries the plugin contract (package plugin) across the process boundary:
// gRPC (proto/sglab.proto) through hashicorp/go-plugin. A plugin process calls Serve;
// the runner starts plugins with a Host and calls them through the client it dispenses.
// Each kind's client and server live in one file (encoder.go, evaluator.go,
// generator.go); the call timeouts and the mapping of gRPC errors are applied once, by
// the interceptors in calls.go.
package rpc

import (
	"context"
	"fmt"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sglab/sglab/framework/plugin"
)

// ProtocolVersion is the version of the protocol in proto/sglab.proto. A host and a
// plugin talk only when they share it (go-plugin's versioned handshake); the proto's
// header says what may change within a version.
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

// kind is the transport of one plugin kind. Adding a kind to the protocol is its
// service in the proto, its file here with its kind value, and one entry in kinds.
type kind struct {
	name string
	// serves reports whether impl implements the kind's interface.
	serves func(impl plugin.Base) bool
	// register serves impl (which serves the kind) on s.
	register func(s *grpc.Server, impl plugin.Base)
	// client is the kind's interface over conn; host names the plugin in the errors
	// the client finds in the plugin's answers.
	client func(conn *grpc.ClientConn, host *Client) plugin.Base
}

var kinds = []kind{encoderKind, evaluatorKind, generatorKind}

// glue is go-plugin's view of a kind: the server side around impl in a plugin
// process, the client side for host in the runner.
type glue struct {
	goplugin.NetRPCUnsupportedPlugin
	kind kind
	impl plugin.Base
	host *Client
}

func (g *glue) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	g.kind.register(s, g.impl)
	return nil
}

func (g *glue) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return g.kind.client(c, g.host), nil
}

// kindOf is the kind impl serves.
func kindOf(impl plugin.Base) (kind, error) {
	for _, k := range kinds {
		if k.serves(impl) {
			return k, nil
		}
	}
	return kind{}, fmt.Errorf("plugin: %T implements none of the kinds (%s)", impl, kindNames())
}

// KindOf is the kind impl serves (plugin.KindEncoder, ...).
func KindOf(impl plugin.Base) (string, error) {
	k, err := kindOf(impl)
	return k.name, err
}

// servedSet is the glue that serves impl as its kind.
func servedSet(impl plugin.Base) (goplugin.PluginSet, error) {
	k, err := kindOf(impl)
	if err != nil {
		return nil, err
	}
	return goplugin.PluginSet{k.name: &glue{kind: k, impl: impl}}, nil
}

// hostSet is the glue the host dispenses a plugin of the named kind with.
func hostSet(name string, host *Client) goplugin.PluginSet {
	for _, k := range kinds {
		if k.name == name {
			return goplugin.PluginSet{name: &glue{kind: k, host: host}}
		}
	}
	return goplugin.PluginSet{}
}

func kindNames() string {
	s := ""
	for i, k := range kinds {
		if i > 0 {
			s += ", "
		}
		s += k.name
	}
	return s
}
