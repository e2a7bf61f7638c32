package library_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/library/librarytest"
)

func TestMomentsAreMeanAndPopulationVariance(t *testing.T) {
	s := librarytest.Schema(1, 1, 1, 1) // two parameters
	lib, err := library.New(s, []library.Expert{{
		ID: "a", Embedding: []float32{1},
		Snapshots: [][]float32{{1, 10}, {3, 10}, {8, 10}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e := lib.Experts[0]
	// mean 4, variance ((−3)² + (−1)² + 4²)/3 = 26/3
	if e.Mean[0] != 4 || math.Abs(float64(e.Var[0])-26.0/3) > 1e-6 || e.Mean[1] != 10 || e.Var[1] != 0 {
		t.Fatalf("mean %v var %v", e.Mean, e.Var)
	}
}

func TestNewRejects(t *testing.T) {
	s := librarytest.Schema(1, 2, 2, 1) // four parameters
	good := func() library.Expert {
		return library.Expert{ID: "x", Embedding: []float32{1, 0}, Snapshots: [][]float32{{1, 2, 3, 4}}}
	}
	for _, tc := range []struct {
		name string
		edit func(e *library.Expert)
		want string
	}{
		{"short snapshot", func(e *library.Expert) { e.Snapshots[0] = e.Snapshots[0][:3] }, `"x" snapshot 0 has 3`},
		{"NaN", func(e *library.Expert) { e.Snapshots[0][2] = float32(math.NaN()) }, "parameter 2 is NaN"},
		{"no snapshots", func(e *library.Expert) { e.Snapshots = nil }, "no snapshots"},
		{"zero embedding", func(e *library.Expert) { e.Embedding = []float32{0, 0} }, "zero"},
		{"embedding width", func(e *library.Expert) { e.Embedding = []float32{1} }, "1-dimensional"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good()
			tc.edit(&bad)
			_, err := library.New(s, []library.Expert{good(), bad})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := library.New(s, nil); err == nil {
		t.Fatal("empty library accepted")
	}
}

func TestLoadReadsSnapshotFiles(t *testing.T) {
	dir := t.TempDir()
	s := librarytest.Schema(3, 4, 5, 2)
	want, err := librarytest.New(librarytest.Options{Schema: s, Experts: 3, Snapshots: 4, Dim: 6}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pl plugin.Library
	pl.Schema = s
	for _, e := range want.Experts {
		path := filepath.Join(dir, e.ID+".safetensors")
		if err := lora.WriteSnapshots(path, s, e.Snapshots, nil); err != nil {
			t.Fatal(err)
		}
		pl.Experts = append(pl.Experts, plugin.Expert{ID: e.ID, Description: e.Description, Embedding: e.Embedding, SnapshotPath: path})
	}
	got, err := library.Load(context.Background(), pl)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got.Experts {
		for j := range e.Mean {
			if e.Mean[j] != want.Experts[i].Mean[j] || e.Var[j] != want.Experts[i].Var[j] {
				t.Fatalf("expert %d param %d: loaded moments differ", i, j)
			}
		}
	}

	// A file of another schema is named in the error.
	other := librarytest.Schema(3, 4, 5, 1)
	bad := filepath.Join(dir, "other.safetensors")
	if err := lora.WriteSnapshots(bad, other, [][]float32{make([]float32, other.NumParams())}, nil); err != nil {
		t.Fatal(err)
	}
	pl.Experts[1].SnapshotPath = bad
	if _, err := library.Load(context.Background(), pl); err == nil || !strings.Contains(err.Error(), "task01") || !strings.Contains(err.Error(), "other.safetensors") {
		t.Fatalf("schema mismatch error %v", err)
	}
	pl.Experts[1].SnapshotPath = filepath.Join(dir, "missing.safetensors")
	if _, err := library.Load(context.Background(), pl); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Fatalf("missing file error %v", err)
	}
}

func TestZScore(t *testing.T) {
	s := librarytest.Schema(4, 3, 5, 2)
	lib, err := librarytest.New(librarytest.Options{Schema: s, Experts: 5, Snapshots: 6, Dim: 4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	z := lib.ZScore()
	if len(z.Segments) != 2*len(s) {
		t.Fatalf("%d segments for %d modules", len(z.Segments), len(s))
	}
	// Over the library every tensor has mean 0 and standard deviation 1 after Normalize.
	for _, seg := range z.Segments {
		var sum, sq, n float64
		for _, e := range lib.Experts {
			for _, x := range e.Snapshots {
				y := make([]float32, len(x))
				z.Normalize(y, x)
				for _, v := range y[seg.Lo:seg.Hi] {
					sum += float64(v)
					sq += float64(v) * float64(v)
					n++
				}
				back := make([]float32, len(x))
				z.Denormalize(back, y)
				for j := range x {
					if math.Abs(float64(back[j]-x[j])) > 1e-6*(1+math.Abs(float64(x[j]))) {
						t.Fatalf("round trip changed parameter %d: %v → %v", j, x[j], back[j])
					}
				}
			}
		}
		if m, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n)); math.Abs(m) > 1e-4 || math.Abs(sd-1) > 1e-4 {
			t.Fatalf("%s: normalised mean %v std %v", seg.Name, m, sd)
		}
	}
	// NormalizeVar is the variance of the normalised snapshots.
	e := lib.Experts[0]
	nv := make([]float32, len(e.Var))
	z.NormalizeVar(nv, e.Var)
	norm := make([][]float32, len(e.Snapshots))
	for m, x := range e.Snapshots {
		norm[m] = make([]float32, len(x))
		z.Normalize(norm[m], x)
	}
	nlib, err := library.New(s, []library.Expert{{Embedding: e.Embedding, Snapshots: norm}})
	if err != nil {
		t.Fatal(err)
	}
	for j := range nv {
		if w := nlib.Experts[0].Var[j]; math.Abs(float64(nv[j]-w)) > 1e-4*(1+float64(w)) {
			t.Fatalf("param %d: NormalizeVar %v, variance of normalised %v", j, nv[j], w)
		}
	}
}

func TestNeighboursChecksTargetWidth(t *testing.T) {
	s := librarytest.Schema(1, 2, 2, 1)
	lib, err := librarytest.New(librarytest.Options{Schema: s, Experts: 3, Snapshots: 2, Dim: 4}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Neighbours([]float32{1, 2}, 2, 1); err == nil || !strings.Contains(err.Error(), "2 dimensions") {
		t.Fatalf("error %v", err)
	}
	ns, err := lib.Neighbours(lib.Experts[2].Embedding, 2, 0.1)
	if err != nil || ns[0].Index != 2 {
		t.Fatalf("own embedding not nearest: %+v %v", ns, err)
	}
}
