package shell

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
)

type cfg struct {
	Scale float64 `param:"scale" doc:"multiplies the first prototype"`
}

// scaler's fit is the first prototype times the scale configured at fit time; it
// generates scale(now) × fit, one vector or n.
func scaler(refit bool, perSample bool) *Plugin[cfg, []float32] {
	return New(Method[cfg, []float32]{
		Name: "scaler", Version: "1", Description: "test", Refit: refit,
		Defaults: func() cfg { return cfg{Scale: 2} },
		Fit: func(_ context.Context, c cfg, lib *library.Library, _ uint64, _ hclog.Logger) ([]float32, error) {
			out := make([]float32, len(lib.Experts[0].Mean))
			for j, v := range lib.Experts[0].Mean {
				out[j] = float32(c.Scale) * v
			}
			return out, nil
		},
		Generate: func(c cfg, f []float32, _ []float32, n int, _ uint64, _ hclog.Logger) ([][]float32, error) {
			v := make([]float32, len(f))
			for j, x := range f {
				v[j] = float32(c.Scale) * x
			}
			if !perSample {
				return [][]float32{v}, nil
			}
			out := make([][]float32, n)
			for i := range out {
				out[i] = append([]float32(nil), v...)
				out[i][0] += float32(i)
			}
			return out, nil
		},
	})
}

// TestRefit: a trained method's fit is discarded by Configure, a merging method's
// is kept and Generate reads the new parameters; one vector becomes n copies.
func TestRefit(t *testing.T) {
	ctx := context.Background()
	s := lora.Schema{{Name: "m", In: 1, Out: 1, Rank: 1, Alpha: 1}}
	for _, tc := range []struct {
		name      string
		refit     bool
		perSample bool
		want      [][]float32 // after fitting at scale 2 and configuring scale 3; nil: an error
	}{
		{"merging", false, false, [][]float32{{6, 12}, {6, 12}}},
		{"merging, a vector per sample", false, true, [][]float32{{6, 12}, {7, 12}}},
		{"trained", true, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lib, err := librarytest.Fixed(s, [][]float32{{1, 0}}, [][]float32{{1, 2}})
			if err != nil {
				t.Fatal(err)
			}
			p := scaler(tc.refit, tc.perSample)
			if err := p.FitLibrary(ctx, lib, 1); err != nil {
				t.Fatal(err)
			}
			if err := p.Configure(ctx, plugin.Params{"scale": 3.0}); err != nil {
				t.Fatal(err)
			}
			ads, err := p.Generate(ctx, []float32{1, 0}, 2, 1)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "scaler: Generate called before Fit") {
					t.Fatalf("Generate after Configure = %v, want before Fit", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range ads {
				if a.Params[0] != tc.want[i][0] || a.Params[1] != tc.want[i][1] {
					t.Fatalf("sample %d: %v, want %v", i, a.Params, tc.want[i])
				}
			}
			ads[0].Params[1] = -1
			if ads[1].Params[1] != 12 {
				t.Fatal("samples share storage")
			}
		})
	}
}
