package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/results"
)

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func checkRecall(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !closeTo(g, w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
}

func TestRetrievalHandComputed(t *testing.T) {
	cases := []struct {
		name             string
		sim              [][]float64
		img, txt         []int
		ks               []int
		wantI2T, wantT2I []int
		want             map[string]float64
	}{
		{
			// One caption per image. Row 1: its text t1 (0.5) is beaten by t2 (0.6) → rank 2.
			// Row 2: t2 (0.7) beaten by t1 (0.8) → rank 2. Columns: t0 → img0 first;
			// t1 (0.1, 0.5, 0.8) → img1 second; t2 (0.3, 0.6, 0.7) → img2 first.
			name: "distinct captions",
			sim: [][]float64{
				{0.9, 0.1, 0.3},
				{0.2, 0.5, 0.6},
				{0.4, 0.8, 0.7},
			},
			img: []int{0, 1, 2}, txt: []int{0, 1, 2}, ks: []int{1, 2},
			wantI2T: []int{1, 2, 2}, wantT2I: []int{1, 2, 1},
			want: map[string]float64{"i2t_r1": 100.0 / 3, "i2t_r2": 100, "t2i_r1": 200.0 / 3, "t2i_r2": 100},
		},
		{
			// Constant scores: every relevant item sits behind both irrelevant ones.
			name: "all tied",
			sim:  [][]float64{{0, 0, 0}, {0, 0, 0}, {0, 0, 0}},
			img:  []int{0, 1, 2}, txt: []int{0, 1, 2}, ks: []int{1, 2, 3},
			wantI2T: []int{3, 3, 3}, wantT2I: []int{3, 3, 3},
			want: map[string]float64{"i2t_r1": 0, "i2t_r2": 0, "i2t_r3": 100, "t2i_r1": 0, "t2i_r2": 0, "t2i_r3": 100},
		},
		{
			// Row 0: relevant t0 (0.5) tied with irrelevant t1 → rank 2, though a
			// stable sort would have put t0 first. Row 1: t1 (0.5) tied with t0 and
			// beaten by nothing else → rank 2. Columns: t0 (0.5, 0.5) → rank 2 for
			// img0; t1 (0.5, 0.5) → rank 2 for img1.
			name: "ties pessimistic",
			sim:  [][]float64{{0.5, 0.5}, {0.5, 0.5}},
			img:  []int{0, 1}, txt: []int{0, 1}, ks: []int{1},
			wantI2T: []int{2, 2}, wantT2I: []int{2, 2},
			want: map[string]float64{"i2t_r1": 0, "t2i_r1": 0},
		},
		{
			// Images 0 and 1 share a caption, written twice (t0, t1); image 2 has t2.
			// Row 0: best relevant is t1 (0.9) → rank 1 (t0 alone would rank 3).
			// Row 1: best relevant t1 (0.3) < t2 (0.4) → rank 2. Row 2: t2 (0.65) < t0 (0.7) → 2.
			// Column t0 (0.2, 0.1, 0.7): best relevant img0 (0.2) < img2 → 2.
			// Column t1 (0.9, 0.3, 0.6): img0 first → 1. Column t2 (0.5, 0.4, 0.65): img2 → 1.
			name: "multi-positive",
			sim: [][]float64{
				{0.2, 0.9, 0.5},
				{0.1, 0.3, 0.4},
				{0.7, 0.6, 0.65},
			},
			img: []int{0, 0, 1}, txt: []int{0, 0, 1}, ks: []int{1, 2},
			wantI2T: []int{1, 2, 2}, wantT2I: []int{2, 1, 1},
			want: map[string]float64{"i2t_r1": 100.0 / 3, "i2t_r2": 100, "t2i_r1": 200.0 / 3, "t2i_r2": 100},
		},
		{
			// Two relevant items tied at the top with an irrelevant one below: rank 1.
			name: "relevant ties do not hurt",
			sim:  [][]float64{{0.8, 0.8, 0.1}},
			img:  []int{0}, txt: []int{0, 0, 1}, ks: []int{1},
			wantI2T: []int{1}, wantT2I: []int{1, 1, 0},
			want: map[string]float64{"i2t_r1": 100, "t2i_r1": 100},
		},
		{
			// Image 1 (group 5) and text 1 (group 1) have nothing relevant: left out,
			// so each direction averages over its one remaining query.
			name: "queries without relevant items excluded",
			sim:  [][]float64{{0.9, 0.1}, {0.3, 0.2}},
			img:  []int{0, 5}, txt: []int{0, 1}, ks: nil,
			wantI2T: []int{1, 0}, wantT2I: []int{1, 0},
			want: map[string]float64{"i2t_r1": 100, "i2t_r5": 100, "i2t_r10": 100, "t2i_r1": 100, "t2i_r5": 100, "t2i_r10": 100},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i2t, t2i, err := Ranks(c.sim, c.img, c.txt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(i2t, c.wantI2T) || !slices.Equal(t2i, c.wantT2I) {
				t.Errorf("ranks i2t %v t2i %v, want %v %v", i2t, t2i, c.wantI2T, c.wantT2I)
			}
			got, err := Retrieval(c.sim, c.img, c.txt, c.ks)
			if err != nil {
				t.Fatal(err)
			}
			checkRecall(t, got, c.want)
		})
	}
}

func TestRetrievalErrors(t *testing.T) {
	ok := [][]float64{{1, 0}, {0, 1}}
	cases := []struct {
		name     string
		sim      [][]float64
		img, txt []int
		ks       []int
		want     string
	}{
		{"no images", nil, nil, []int{0}, nil, "images"},
		{"rows", ok, []int{0}, []int{0, 1}, nil, "rows"},
		{"cols", [][]float64{{1}, {0, 1}}, []int{0, 1}, []int{0, 1}, nil, "row 0"},
		{"nan", [][]float64{{1, math.NaN()}, {0, 1}}, []int{0, 1}, []int{0, 1}, nil, "NaN"},
		{"k", ok, []int{0, 1}, []int{0, 1}, []int{1, 0}, "K = 0"},
		{"nothing relevant", ok, []int{0, 1}, []int{2, 3}, nil, "no i2t query"},
	}
	for _, c := range cases {
		_, err := Retrieval(c.sim, c.img, c.txt, c.ks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// naiveRank sorts the items by score, irrelevant before relevant among equals, and
// returns the position of the first relevant one (0 when there is none).
func naiveRank(scores []float64, relevant []bool) int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		sa, sb := scores[idx[a]], scores[idx[b]]
		if sa != sb {
			return sa > sb
		}
		return !relevant[idx[a]] && relevant[idx[b]]
	})
	for pos, i := range idx {
		if relevant[i] {
			return pos + 1
		}
	}
	return 0
}

func TestRetrievalMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 300 {
		n, m := 1+rng.IntN(12), 1+rng.IntN(12)
		groups := 1 + rng.IntN(6)
		img, txt := make([]int, n), make([]int, m)
		for i := range img {
			img[i] = rng.IntN(groups)
		}
		for j := range txt {
			txt[j] = rng.IntN(groups)
		}
		levels := 2 + rng.IntN(6) // few distinct scores, so ties are common
		sim := make([][]float64, n)
		for i := range sim {
			sim[i] = make([]float64, m)
			for j := range sim[i] {
				sim[i][j] = float64(rng.IntN(levels)) / float64(levels)
			}
		}
		wantI2T, wantT2I := make([]int, n), make([]int, m)
		for i := range n {
			rel := make([]bool, m)
			for j := range m {
				rel[j] = img[i] == txt[j]
			}
			wantI2T[i] = naiveRank(sim[i], rel)
		}
		for j := range m {
			col, rel := make([]float64, n), make([]bool, n)
			for i := range n {
				col[i], rel[i] = sim[i][j], img[i] == txt[j]
			}
			wantT2I[j] = naiveRank(col, rel)
		}
		i2t, t2i, err := Ranks(sim, img, txt)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(i2t, wantI2T) || !slices.Equal(t2i, wantT2I) {
			t.Fatalf("trial %d: ranks %v %v, naive %v %v", trial, i2t, t2i, wantI2T, wantT2I)
		}

		ks := []int{1, 3, 5}
		got, err := Retrieval(sim, img, txt, ks)
		if !slices.ContainsFunc(wantI2T, func(r int) bool { return r > 0 }) {
			if err == nil {
				t.Fatalf("trial %d: no relevant pair, yet no error", trial)
			}
			continue
		}
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		want := map[string]float64{}
		for _, dir := range []struct {
			name  string
			ranks []int
		}{{"i2t", wantI2T}, {"t2i", wantT2I}} {
			for _, k := range ks {
				hits, q := 0.0, 0.0
				for _, r := range dir.ranks {
					if r > 0 {
						q++
						if r <= k {
							hits++
						}
					}
				}
				want[fmt.Sprintf("%s_r%d", dir.name, k)] = 100 * hits / q
			}
		}
		checkRecall(t, got, want)
	}
}

func TestRetrievalFloat32AndSimilarity(t *testing.T) {
	img := [][]float32{{1, 0}, {0, 1}, {0.6, 0.8}}
	txt := [][]float32{{0.6, 0.8}, {1, 0}}
	sim, err := Similarity(img, txt)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{0.6, 1}, {0.8, 0}, {1, 0.6}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(sim[i][j]-want[i][j]) > 1e-7 {
				t.Errorf("sim[%d][%d] = %v, want %v", i, j, sim[i][j], want[i][j])
			}
		}
	}
	// Image 2's caption is t0, image 0's is t1, image 1 has none.
	imgG, txtG := []int{1, 2, 0}, []int{0, 1}
	sim32 := make([][]float32, len(sim))
	for i, row := range sim {
		for _, s := range row {
			sim32[i] = append(sim32[i], float32(s))
		}
	}
	a, err := Retrieval(sim, imgG, txtG, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Retrieval(sim32, imgG, txtG, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	checkRecall(t, b, a)
	checkRecall(t, a, map[string]float64{"i2t_r1": 100, "t2i_r1": 100})

	if _, err := Similarity(img, [][]float32{{1, 2, 3}}); err == nil {
		t.Error("Similarity accepted mismatched dimensions")
	}
}

func TestGroupCaptions(t *testing.T) {
	got := GroupCaptions([]string{"a thin seven", "a bold two", "a thin seven", "", "a bold two", "A thin seven"})
	if want := []int{0, 1, 0, 2, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("GroupCaptions = %v, want %v", got, want)
	}
}

// TestRecallMetricsNameRetrievalsKeys: what an evaluator declares from RecallMetrics is
// exactly what Retrieval returns, and the reports' fallback for older output folders
// (results.LegacyMetrics) is the default declaration.
func TestRecallMetricsNameRetrievalsKeys(t *testing.T) {
	sim := [][]float64{{1, 0}, {0, 1}}
	for _, ks := range [][]int{nil, {2, 1}} {
		got, err := Retrieval(sim, []int{0, 1}, []int{0, 1}, ks)
		if err != nil {
			t.Fatal(err)
		}
		ms := RecallMetrics(ks)
		if err := ms.Check("recall"); err != nil {
			t.Fatal(err)
		}
		names := ms.Names()
		if len(names) != len(got) {
			t.Fatalf("ks %v: declared %v, returned %v", ks, names, got)
		}
		for _, n := range names {
			if _, ok := got[n]; !ok {
				t.Errorf("ks %v: declared %s, not returned (%v)", ks, n, got)
			}
		}
	}
	def, legacy := RecallMetrics(nil), results.LegacyMetrics
	if !slices.Equal(def.Names(), legacy.Names()) || !slices.Equal(def.Headline, legacy.Headline) {
		t.Errorf("RecallMetrics(nil) %v %v, LegacyMetrics %v %v", def.Names(), def.Headline, legacy.Names(), legacy.Headline)
	}
	if h := RecallMetrics([]int{5, 10}).Headline; !slices.Equal(h, []string{"i2t_r5", "t2i_r5"}) {
		t.Errorf("headline without K=1: %v", h)
	}
}
