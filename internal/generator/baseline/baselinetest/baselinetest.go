// Package baselinetest holds the hand-worked fixture the merging baselines' tests
// share: three experts with embeddings (1,0), (0,1), (1,1) and one-snapshot
// prototypes of a 4-parameter schema (B 1×2, A 2×1). For the target (1,0) the cosine
// similarities are 1, 0 and 1/√2, so the ranking is expert 0, 2, 1.
package baselinetest

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/baseline"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
)

// The fixture.
var (
	Schema     = lora.Schema{{Name: "m", In: 1, Out: 1, Rank: 2, Alpha: 2}}
	Embeddings = [][]float32{{1, 0}, {0, 1}, {1, 1}}
	Prototypes = [][]float32{
		{4, -1, 0.5, -3},
		{2, 3, 1, -1},
		{1, -5, 2, 0.2},
	}
	Target = []float32{1, 0}
)

// Run configures a fresh plugin from newPlugin with p, fits it on the fixture and
// returns the parameters of n samples for Target.
func Run[C any](t *testing.T, newPlugin func() *baseline.Plugin[C], p plugin.Params, n int, seed uint64) [][]float32 {
	t.Helper()
	g := newPlugin()
	if err := g.Configure(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	lib, err := librarytest.Fixed(Schema, Embeddings, Prototypes)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.FitLibrary(context.Background(), lib, 1); err != nil {
		t.Fatal(err)
	}
	ads, err := g.Generate(context.Background(), Target, n, seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != n {
		t.Fatalf("%d adapters for n = %d", len(ads), n)
	}
	out := make([][]float32, n)
	for i, a := range ads {
		if err := Schema.Compatible(a.Schema); err != nil {
			t.Fatal(err)
		}
		out[i] = a.Params
	}
	return out
}

// Near fails unless got equals want within float32 rounding.
func Near(t *testing.T, got []float32, want []float64) {
	t.Helper()
	for j := range want {
		if math.Abs(float64(got[j])-want[j]) > 1e-5*(1+math.Abs(want[j])) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// Rejects checks that each parameter block, keyed by the parameter at fault, is
// refused with an error naming it.
func Rejects[C any](t *testing.T, newPlugin func() *baseline.Plugin[C], cases map[string]plugin.Params) {
	t.Helper()
	for key, p := range cases {
		err := newPlugin().Configure(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Errorf("Configure(%v) = %v, want an error naming %q", p, err, key)
		}
	}
}

// Describes checks Info's name and that its description cites the defining paper.
func Describes[C any](t *testing.T, newPlugin func() *baseline.Plugin[C], name, cite string) {
	t.Helper()
	info, err := newPlugin().Info(context.Background())
	if err != nil || info.Kind != plugin.KindGenerator || info.Name != name || !strings.Contains(info.Description, cite) {
		t.Fatalf("info %+v, %v; want generator %q citing %q", info, err, name, cite)
	}
	for _, p := range info.Params {
		if p.Doc == "" || p.Default == "" {
			t.Errorf("parameter %s lacks a doc or default", p.Name)
		}
	}
}
