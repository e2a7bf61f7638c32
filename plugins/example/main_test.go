package main

import (
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugintest"
)

// TestConformance runs the generator suite of the plugin kit over the protocol, as a
// third-party plugin's test does.
func TestConformance(t *testing.T) {
	plugintest.Generator(t, func(t testing.TB) plugin.Generator {
		return plugintest.Connect(t, newGenerator()).Generator()
	}, plugintest.GeneratorOptions{})
}
