package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/internal/pythontest"
)

// TestPythonConformance runs the same suite over the Python example, each check on a
// plugin process of its own. (Outside this repository, check for the interpreter
// yourself instead of with internal/pythontest.)
func TestPythonConformance(t *testing.T) {
	pythontest.Require(t, "the Python example generator", pythontest.SDK)
	path, err := filepath.Abs("python/mean_generator.py")
	if err != nil {
		t.Fatal(err)
	}
	spec := rpc.Spec{Kind: plugin.KindGenerator, Label: "mean_generator.py", Path: path, StartTimeout: 20 * time.Second}
	plugintest.Generator(t, func(t testing.TB) plugin.Generator {
		return plugintest.Launch(t, spec).Generator()
	}, plugintest.GeneratorOptions{})
}
