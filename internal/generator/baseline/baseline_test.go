package baseline

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
)

type cfg struct {
	Scale float64 `param:"scale" doc:"multiplies the nearest prototype"`
	Count int     `param:"count" doc:"vectors to return; 0 means one"`
}

// scaled returns count copies of scale × the nearest prototype.
func scaled() *Plugin[cfg] {
	p := New(Method[cfg]{
		Name:        "scaled",
		Description: "test method",
		Defaults:    func() cfg { return cfg{Scale: 2} },
		Check: func(c cfg) error {
			if c.Scale < 0 {
				return fmt.Errorf("parameter %q: negative", "scale")
			}
			return nil
		},
		Merge: func(c cfg, lib *library.Library, target []float32, n int, _ uint64) ([][]float32, error) {
			ns, err := lib.Neighbours(target, 1, 1)
			if err != nil {
				return nil, err
			}
			out := make([][]float32, max(c.Count, 1))
			for i := range out {
				out[i] = make([]float32, lib.Schema.NumParams())
				for j, v := range lib.Experts[ns[0].Index].Mean {
					out[i][j] = float32(c.Scale) * v
				}
			}
			return out, nil
		},
	})
	return p
}

func fixture(t *testing.T) *library.Library {
	t.Helper()
	s := lora.Schema{{Name: "m", In: 1, Out: 1, Rank: 1, Alpha: 1}}
	lib, err := librarytest.Fixed(s, [][]float32{{1, 0}, {0, 1}}, [][]float32{{1, 2}, {3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func TestShell(t *testing.T) {
	ctx := context.Background()
	p := scaled()
	if _, err := p.Generate(ctx, []float32{1, 0}, 1, 1); err == nil || !strings.Contains(err.Error(), "before Fit") {
		t.Fatalf("before Fit: %v", err)
	}
	for _, tc := range []struct {
		p    plugin.Params
		want string
	}{
		{plugin.Params{"bogus": 1.0}, `scaled: parameter "bogus": unknown`},
		{plugin.Params{"scale": -1.0}, `"scale"`},
		{plugin.Params{"scale": "big"}, `"scale"`},
	} {
		if err := p.Configure(ctx, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Configure(%v) = %v, want %s", tc.p, err, tc.want)
		}
	}
	info, _ := p.Info(ctx)
	if info.Kind != plugin.KindGenerator || info.Name != "scaled" || len(info.Params) != 2 || info.Params[0].Default != "2" {
		t.Fatalf("info %+v", info)
	}

	lib := fixture(t)
	if err := p.FitLibrary(ctx, lib, 1); err != nil {
		t.Fatal(err)
	}
	ads, err := p.Generate(ctx, []float32{0.1, 1}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 3 || ads[0].Params[0] != 6 || ads[2].Params[1] != 8 {
		t.Fatalf("adapters %v", ads)
	}
	ads[0].Params[0] = 100 // copies are independent
	if ads[1].Params[0] != 6 || lib.Experts[1].Mean[0] != 3 {
		t.Fatal("copies share storage")
	}
	if lib.Experts[0].Snapshots != nil {
		t.Fatal("snapshots kept after fit")
	}
	for _, tc := range []struct {
		target []float32
		n      int
		want   string
	}{{[]float32{1}, 1, "dimensions"}, {[]float32{1, 0}, 0, "0 samples"}, {[]float32{0, 0}, 1, "zero"}} {
		if _, err := p.Generate(ctx, tc.target, tc.n, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Generate(%v, %d) = %v, want %q", tc.target, tc.n, err, tc.want)
		}
	}
	if err := p.Configure(ctx, plugin.Params{"count": int64(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Generate(ctx, []float32{1, 0}, 3, 1); err == nil || !strings.Contains(err.Error(), "returned 2") {
		t.Fatalf("wrong count: %v", err)
	}
	if err := p.Configure(ctx, plugin.Params{"scale": math.MaxFloat64}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Generate(ctx, []float32{1, 0}, 1, 1); err == nil || !strings.Contains(err.Error(), "Inf") {
		t.Fatalf("non-finite output: %v", err)
	}
}

func TestFitFromFiles(t *testing.T) {
	ctx := context.Background()
	lib := fixture(t)
	dir := t.TempDir()
	pl := plugin.Library{Schema: lib.Schema}
	for _, e := range lib.Experts {
		path := filepath.Join(dir, e.ID+".safetensors")
		if err := lora.WriteSnapshots(path, lib.Schema, e.Snapshots, nil); err != nil {
			t.Fatal(err)
		}
		pl.Experts = append(pl.Experts, plugin.Expert{ID: e.ID, Embedding: e.Embedding, SnapshotPath: path})
	}
	p := scaled()
	if err := p.Fit(ctx, pl, 0); err != nil {
		t.Fatal(err)
	}
	ads, err := p.Generate(ctx, []float32{1, 0.2}, 1, 0)
	if err != nil || ads[0].Params[0] != 2 || ads[0].Params[1] != 4 {
		t.Fatalf("%v %v", ads, err)
	}
	pl.Experts[1].SnapshotPath = filepath.Join(dir, "nope")
	if err := p.Fit(ctx, pl, 0); err == nil || !strings.Contains(err.Error(), "scaled") || !strings.Contains(err.Error(), "e1") {
		t.Fatalf("missing file: %v", err)
	}
}
