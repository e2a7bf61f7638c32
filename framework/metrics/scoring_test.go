package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// embeddings draws n vectors of dimension d: Gaussian, small integers (many exact
// ties), or copies of a few bases nudged by an ulp or two, so that float32 products
// round near-ties differently from the float64 ones.
func embeddings(rng *rand.Rand, kind string, n, d int) [][]float32 {
	out := make([][]float32, n)
	bases := [][]float32{}
	for range 3 {
		v := make([]float32, d)
		for k := range v {
			v[k] = float32(rng.NormFloat64())
		}
		bases = append(bases, v)
	}
	for i := range out {
		v := make([]float32, d)
		switch kind {
		case "gauss":
			for k := range v {
				v[k] = float32(rng.NormFloat64())
			}
		case "ints":
			for k := range v {
				v[k] = float32(rng.IntN(3) - 1)
			}
		case "near":
			copy(v, bases[rng.IntN(len(bases))])
			for range 2 {
				k := rng.IntN(d)
				v[k] = math.Nextafter32(v[k], float32(rng.NormFloat64()*10))
			}
		}
		out[i] = v
	}
	return out
}

func TestEmbeddingRanksMatchSimilarity(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 34))
	for trial := range 120 {
		kind := []string{"gauss", "ints", "near"}[trial%3]
		n, m, d := 1+rng.IntN(40), 1+rng.IntN(90), 1+rng.IntN(70)
		groups := 1 + rng.IntN(max(n, m))
		img, txt := embeddings(rng, kind, n, d), embeddings(rng, kind, m, d)
		ig, tg := make([]int, n), make([]int, m)
		for i := range ig {
			ig[i] = rng.IntN(groups)
		}
		for j := range tg {
			tg[j] = rng.IntN(groups)
		}
		sim, err := Similarity(img, txt)
		if err != nil {
			t.Fatal(err)
		}
		wantI2T, wantT2I, err := Ranks(sim, ig, tg)
		if err != nil {
			t.Fatal(err)
		}
		// Blocks of one row, a few rows, and all rows, over one or more workers.
		for _, bf := range []int{1, 3 * m, 1 << 22} {
			i2t, t2i, err := embeddingRanks(img, txt, ig, tg, bf)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(i2t, wantI2T) || !slices.Equal(t2i, wantT2I) {
				t.Fatalf("trial %d (%s, %d×%d×%d, block %d): ranks %v %v, want %v %v", trial, kind, n, m, d, bf, i2t, t2i, wantI2T, wantT2I)
			}
		}
		want, werr := Retrieval(sim, ig, tg, nil)
		got, gerr := EmbeddingRetrieval(img, txt, ig, tg, nil)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("trial %d: errors %v and %v", trial, gerr, werr)
		}
		if werr == nil && !equalMaps(got, want) {
			t.Fatalf("trial %d: recalls %v, want %v", trial, got, want)
		}
	}
}

func equalMaps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestEmbeddingRetrievalErrors(t *testing.T) {
	ok := [][]float32{{1, 0}, {0, 1}}
	nan := [][]float32{{1, 0}, {float32(math.NaN()), 1}}
	cases := []struct {
		name     string
		img, txt [][]float32
		ig, tg   []int
		ks       []int
		want     string
	}{
		{"no texts", ok, nil, []int{0, 1}, nil, nil, "images and texts"},
		{"groups", ok, ok, []int{0}, []int{0, 1}, nil, "for 1 image and 2 text groups"},
		{"dims", ok, [][]float32{{1}, {0, 1}}, []int{0, 1}, []int{0, 1}, nil, "text embedding 0"},
		{"nan", ok, nan, []int{0, 1}, []int{0, 1}, nil, "text embedding 1 is not finite"},
		{"k", ok, ok, []int{0, 1}, []int{0, 1}, []int{0}, "K = 0"},
		{"nothing relevant", ok, ok, []int{0, 1}, []int{2, 3}, nil, "no i2t query"},
	}
	for _, c := range cases {
		_, err := EmbeddingRetrieval(c.img, c.txt, c.ig, c.tg, c.ks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
