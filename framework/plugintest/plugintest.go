// Package plugintest is the test kit for sglab plugins, built-in and third-party
// alike. It runs a plugin three ways:
//
//   - in process over the real protocol: Connect serves an implementation on an
//     in-memory gRPC connection and returns its client, so a test exercises the
//     conversion, limits and error mapping of a plugin process without starting one;
//   - as a real process: Main, in a package's TestMain, lets the test binary
//     re-execute itself as one of the Plugins it is given, and Plugins.Start
//     launches that process through the runner's Host; Launch starts any other
//     executable (a Python plugin, a built binary) from its rpc.Spec;
//   - against the contract: Generator, Encoder and Evaluator are conformance suites
//     that check, one subtest each, what every plugin of the kind must do (Info
//     well-formed, strict Configure reporting every bad parameter at once, same seed
//     same output, n samples, finite outputs of the right schema, Generate before Fit
//     refused, ...).
//
// A suite takes a function that makes a fresh plugin for each check, so the same
// suite runs on an implementation in process, over Connect or in a process:
//
//	func TestConformance(t *testing.T) {
//		plugintest.Generator(t, func(t testing.TB) plugin.Generator {
//			return plugintest.Connect(t, mygen.New()).Generator()
//		}, plugintest.GeneratorOptions{Common: plugintest.Common{Params: plugin.Params{"epochs": int64(2)}}})
//	}
//
// Generators fit on Library, a synthetic library of snapshot files in the test's
// temporary folder, and generate for Target. Every plugin the kit starts or connects
// is killed when the test that asked for it ends; a panic in a plugin served by
// Connect ends that plugin, as a crash ends a process, and fails only its check.
package plugintest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// Connect serves impl in this process over an in-memory gRPC connection (the whole
// protocol path but the process) and returns its client, stopped when t ends.
func Connect(t testing.TB, impl plugin.Base) *rpc.Client {
	t.Helper()
	h := &rpc.Host{}
	t.Cleanup(h.KillAll)
	c, err := h.Connect(impl, rpc.Spec{Label: label(impl)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// label names impl in the errors of its client: its Info name, or its type.
func label(impl plugin.Base) string {
	if in, err := impl.Info(context.Background()); err == nil && in.Name != "" {
		return in.Name
	}
	return fmt.Sprintf("%T", impl)
}

// Launch starts the plugin process s describes (a Python plugin, a built binary,
// the re-executed test binary of Plugins.Spec) and returns its client, killed when t ends.
func Launch(t testing.TB, s rpc.Spec) *rpc.Client {
	t.Helper()
	h := &rpc.Host{}
	t.Cleanup(h.KillAll)
	c, err := h.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Plugins are what a test binary can be re-executed as, by name.
type Plugins map[string]func() plugin.Base

// envServe names the plugin a re-executed test binary serves.
const envServe = "SGLAB_PLUGINTEST_SERVE"

// Main is a package's TestMain when its tests run plugins as processes: in the test
// binary re-executed by Plugins.Spec or Plugins.Start it serves the plugin named and
// exits; otherwise it runs the tests.
//
//	var fakes = plugintest.Plugins{"mean": func() plugin.Base { return mean.New() }}
//
//	func TestMain(m *testing.M) { plugintest.Main(m, fakes) }
//
//	func TestMeanProcess(t *testing.T) {
//		gen := fakes.Start(t, "mean").Generator()
//		...
//	}
func Main(m *testing.M, plugins Plugins) {
	if name := os.Getenv(envServe); name != "" {
		newPlugin, ok := plugins[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "plugintest: this test binary serves no plugin %q\n", name)
			os.Exit(1)
		}
		if err := rpc.Serve(newPlugin()); err != nil {
			fmt.Fprintf(os.Stderr, "plugintest: plugin %q: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Spec is the Spec that re-executes the test binary as the plugin named, which ps,
// given to Main in the package's TestMain, makes (here once, to learn its kind);
// change it (timeouts, logger, environment) before Launch.
func (ps Plugins) Spec(name string) (rpc.Spec, error) {
	newPlugin, ok := ps[name]
	if !ok {
		return rpc.Spec{}, fmt.Errorf("plugintest: no plugin %q among those given to Main", name)
	}
	kind, err := rpc.KindOf(newPlugin())
	if err != nil {
		return rpc.Spec{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return rpc.Spec{}, fmt.Errorf("plugintest: the test binary: %v", err)
	}
	return rpc.Spec{Kind: kind, Label: name, Path: exe, Env: []string{envServe + "=" + name}}, nil
}

// Start runs the test binary as the plugin named (see Main) and returns its client,
// killed when t ends.
func (ps Plugins) Start(t testing.TB, name string) *rpc.Client {
	t.Helper()
	s, err := ps.Spec(name)
	if err != nil {
		t.Fatal(err)
	}
	return Launch(t, s)
}
