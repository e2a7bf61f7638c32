// Command example is a third-party generator plugin written against sglab's public
// packages only: build it with `go build -o bin/example-mean ./plugins/example` and
// name the executable in an experiment:
//
//	[[method]]
//	name = "Example mean"
//	generator = "../bin/example-mean"   # relative to the TOML file
//	sha256 = "…"                        # optional: `sha256sum bin/example-mean`
//
// It merges the last snapshot of every expert, weighted by a softmax of cosine
// similarity at temperature tau, which is all a plugin needs to show: Info, strict
// Configure, Fit on a library of snapshot files, Generate, logging through the
// logger rpc.Serve hands it, and its test: the plugin kit's conformance suite
// (framework/plugintest), as every plugin should run it.
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

func main() {
	if err := rpc.Serve(newGenerator()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func newGenerator() *generator {
	return &generator{cfg: config{Tau: 0.1}, log: hclog.NewNullLogger()}
}

type config struct {
	Tau float64 `param:"tau" above:"0" doc:"softmax temperature over cosine similarities; small is nearly top-1"`
}

type generator struct {
	cfg    config
	log    hclog.Logger // rpc.Serve's: JSON on stderr, shown in the runner's log
	schema lora.Schema
	embs   [][]float32
	finals [][]float32
}

func (g *generator) Info(context.Context) (plugin.Info, error) {
	ps, err := params.Describe(&g.cfg) // the parameters, their defaults and constraints
	if err != nil {
		return plugin.Info{}, err
	}
	return plugin.Info{Kind: plugin.KindGenerator, Name: "example-mean", Version: "0.1.0",
		Description: "example third-party plugin: similarity-weighted mean of the experts' last snapshots",
		Params:      ps}, nil
}

func (g *generator) SetLogger(l hclog.Logger) { g.log = l }

func (g *generator) Configure(_ context.Context, p plugin.Params) error {
	cfg := config{Tau: 0.1}
	// Every problem at once, each naming its key: unknown keys, wrong types and values
	// out of the bounds the tags declare. A check involving several parameters would
	// add its own params.Problems here.
	if err := params.Decode(p, &cfg); err != nil {
		return err
	}
	g.cfg = cfg
	return nil
}

func (g *generator) Fit(_ context.Context, lib plugin.Library, _ uint64) error {
	g.schema, g.embs, g.finals = lib.Schema, nil, nil
	for _, e := range lib.Experts {
		s, snaps, _, err := lora.ReadSnapshots(e.SnapshotPath)
		if err != nil {
			return fmt.Errorf("expert %s: %w", e.ID, err)
		}
		if err := s.Compatible(lib.Schema); err != nil {
			return fmt.Errorf("expert %s: %w", e.ID, err)
		}
		g.embs = append(g.embs, e.Embedding)
		g.finals = append(g.finals, snaps[len(snaps)-1])
	}
	if len(g.finals) == 0 {
		return fmt.Errorf("the library has no experts")
	}
	g.log.Info("fitted", "experts", len(g.finals))
	return nil
}

func (g *generator) Generate(_ context.Context, target []float32, n int, _ uint64) ([]*lora.Adapter, error) {
	if len(g.finals) == 0 {
		return nil, errors.New("Generate called before Fit")
	}
	w := make([]float64, len(g.embs))
	var z float64
	for i, e := range g.embs {
		w[i] = math.Exp(cosine(target, e) / g.cfg.Tau)
		z += w[i]
	}
	merged := make([]float32, g.schema.NumParams())
	for i, f := range g.finals {
		for j, v := range f {
			merged[j] += float32(w[i]/z) * v
		}
	}
	out := make([]*lora.Adapter, n)
	for i := range out {
		out[i] = &lora.Adapter{Schema: g.schema, Params: append([]float32(nil), merged...)}
	}
	return out, nil
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
