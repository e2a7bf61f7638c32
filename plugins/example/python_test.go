package main

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugintest"
	"github.com/sglab/sglab/internal/pythontest"
)

// TestPythonConformance runs the same suite over the Python example, each check on a
// plugin process of its own. (Outside this repository, check for the interpreter
// yourself instead of with internal/pythontest.)
func TestPythonConformance(t *testing.T) {
	spec := pythontest.Spec(t, "the Python example generator", pythontest.SDK, plugin.KindGenerator, "python/mean_generator.py")
	plugintest.Generator(t, func(t testing.TB) plugin.Generator {
		return plugintest.Launch(t, spec).Generator()
	}, plugintest.GeneratorOptions{})
}
