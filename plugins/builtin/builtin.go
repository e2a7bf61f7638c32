// Package builtin is the set of plugins the runner binary carries. The runner serves
// each by re-executing itself in plugin mode (`runner plugin serve KIND/NAME`), so a
// built-in takes the same gRPC path as a third-party executable.
package builtin

import (
	"sort"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/plugins/encoder/glove"
)

// Entry is one built-in plugin.
type Entry struct {
	Kind string
	Name string
	New  func() plugin.Base
}

// registry lists every built-in; adding a plugin to the binary is one line here.
var registry = []Entry{
	{plugin.KindEncoder, "glove", func() plugin.Base { return glove.New() }},
}

// All returns the built-ins sorted by kind and name.
func All() []Entry {
	out := append([]Entry(nil), registry...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Lookup finds a built-in by kind and name.
func Lookup(kind, name string) (Entry, bool) {
	for _, e := range registry {
		if e.Kind == kind && e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Names lists the built-in names of a kind.
func Names(kind string) []string {
	var out []string
	for _, e := range All() {
		if e.Kind == kind {
			out = append(out, e.Name)
		}
	}
	return out
}
