// Package builtin is the set of plugins the runner binary carries. The runner serves
// each by re-executing itself in plugin mode (`runner plugin serve KIND/NAME`), so a
// built-in takes the same gRPC path as a third-party executable.
package builtin

import (
	"sort"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/plugins/encoder/glove"
	"github.com/sglab/sglab/plugins/encoder/minicliptext"
	"github.com/sglab/sglab/plugins/evaluator/miniclip"
	"github.com/sglab/sglab/plugins/generator/adaptersoup"
	"github.com/sglab/sglab/plugins/generator/dare"
	"github.com/sglab/sglab/plugins/generator/hypernet"
	"github.com/sglab/sglab/plugins/generator/meanlora"
	"github.com/sglab/sglab/plugins/generator/nearest"
	"github.com/sglab/sglab/plugins/generator/sglora"
	"github.com/sglab/sglab/plugins/generator/taskarithmetic"
	"github.com/sglab/sglab/plugins/generator/ties"
	"github.com/sglab/sglab/plugins/generator/topkweighted"
)

// Entry is one built-in plugin.
type Entry struct {
	Kind string
	Name string
	New  func() plugin.Base
}

// registry lists every built-in; adding a plugin to the binary is one line here. Each
// name is the plugin package's Name, the one its Info reports (TestNames holds them
// to it); the package's folder is that name without hyphens.
var registry = []Entry{
	{plugin.KindEncoder, glove.Name, func() plugin.Base { return glove.New() }},
	{plugin.KindEncoder, minicliptext.Name, func() plugin.Base { return minicliptext.New() }},
	{plugin.KindEvaluator, miniclip.Name, func() plugin.Base { return miniclip.New() }},
	{plugin.KindGenerator, sglora.Name, func() plugin.Base { return sglora.New() }},
	{plugin.KindGenerator, meanlora.Name, func() plugin.Base { return meanlora.New() }},
	{plugin.KindGenerator, adaptersoup.Name, func() plugin.Base { return adaptersoup.New() }},
	{plugin.KindGenerator, topkweighted.Name, func() plugin.Base { return topkweighted.New() }},
	{plugin.KindGenerator, nearest.Name, func() plugin.Base { return nearest.New() }},
	{plugin.KindGenerator, taskarithmetic.Name, func() plugin.Base { return taskarithmetic.New() }},
	{plugin.KindGenerator, ties.Name, func() plugin.Base { return ties.New() }},
	{plugin.KindGenerator, dare.Name, func() plugin.Base { return dare.New() }},
	{plugin.KindGenerator, hypernet.Name, func() plugin.Base { return hypernet.New() }},
}

// renamed maps names a built-in once answered to (in its Info, which `runner plugins`
// printed) to its name, so that an experiment using one gets told the name.
var renamed = map[[2]string]string{
	{plugin.KindEncoder, "minicliptext"}: minicliptext.Name,
}

// Renamed returns the current name of a built-in that name once meant.
func Renamed(kind, name string) (string, bool) {
	n, ok := renamed[[2]string{kind, name}]
	return n, ok
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
