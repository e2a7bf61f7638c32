package reports

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/results"
)

// measured builds a measurement of one split whose seed-mean gains are gain: the
// backbone scores 10 and 12 on the two seeds, an expert 11 + gain ± 1.
func measured(name string, seen, novel []string, sim, gain [][]float64) results.TransferSplit {
	sp := results.TransferSplit{Name: name, Seen: seen, Novel: novel, Similarity: sim}
	for s, zs := range []float64{10, 12} {
		z := make([]float64, len(seen)+len(novel))
		var mat [][]float64
		for j := range z {
			z[j] = zs
		}
		for _, g := range gain {
			row := make([]float64, len(g))
			for j, v := range g {
				row[j] = zs + v + 1 - 2*float64(s)
			}
			mat = append(mat, row)
		}
		sp.ZeroShot, sp.Expert = append(sp.ZeroShot, z), append(sp.Expert, mat)
	}
	return sp
}

var (
	handSim = [][]float64{ // targets a b c n
		{1, .8, .2, .5},
		{.8, 1, .4, .9},
		{.2, .4, 1, .9}, // ties with b on n: the first (b) is nearest
	}
	handGain = [][]float64{
		{5, 3, -1, 2},
		{4, 6, -2, -1},
		{0, 1, 7, 3},
	}
)

func nearPtr(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = null, want %v", name, want)
		return
	}
	near(t, name, *got, want)
}

// TestTransferByHand checks the statistics on a split small enough to rank by hand.
func TestTransferByHand(t *testing.T) {
	m := &results.Transfer{Experiment: "hand", Metric: "i2t_r1", Seeds: []uint64{1, 2},
		Splits: []results.TransferSplit{measured("s", []string{"a", "b", "c"}, []string{"n"}, handSim, handGain)}}
	rep, err := AnalyzeTransfer(m)
	if err != nil {
		t.Fatal(err)
	}
	for e, row := range rep.Splits[0].Gain {
		for j, v := range row {
			if math.Abs(v-handGain[e][j]) > 1e-12 || rep.Splits[0].ZeroShot[j] != 11 {
				t.Fatalf("gain[%d][%d] = %v, want %v", e, j, v, handGain[e][j])
			}
		}
	}
	// The 9 off-diagonal pairs: similarity ranks 6.5 1.5 6.5 3.5 1.5 3.5 5 8.5 8.5 and
	// gain ranks 9 4 7.5 5 2.5 1 6 2.5 7.5 (targets a, a, b, b, c, c, n, n, n), centred
	// on 5: Σdxdy = 28, Σdx² = 58, Σdy² = 59.
	if rep.Pairs != 9 || rep.NovelPairs != 3 {
		t.Errorf("pairs %d, novel %d; want 9 and 3", rep.Pairs, rep.NovelPairs)
	}
	nearPtr(t, "spearman", rep.Spearman, 28/math.Sqrt(58*59))
	// Novel n: similarity ranks 1 2.5 2.5, gain ranks 2 1 3: uncorrelated.
	nearPtr(t, "novel_spearman", rep.NovelSpearman, 0)
	// Nearest: a ← b (+4, wins), b ← a (+3, wins), c ← b (−2), n ← b (−1, tie with c).
	nearPtr(t, "top1_win_rate", rep.Top1WinRate, 0.5)
	nearPtr(t, "novel_top1_win_rate", rep.NovelTop1WinRate, 0)
	wantNearest := map[string]string{"a": "b", "b": "a", "c": "b", "n": "b"}
	wantRho := map[string]float64{"a": 1, "b": 1, "c": -1, "n": 0}
	for _, pt := range rep.PerTarget {
		if pt.Nearest != wantNearest[pt.Task] || pt.Experts != map[bool]int{true: 3, false: 2}[pt.Novel] {
			t.Errorf("target %s: nearest %s of %d experts", pt.Task, pt.Nearest, pt.Experts)
		}
		nearPtr(t, "spearman of "+pt.Task, pt.Spearman, wantRho[pt.Task])
	}
	if pt := rep.PerTarget[2]; pt.Best != "a" || *pt.BestGain != -1 {
		t.Errorf("best expert of c: %s %v", pt.Best, pt.BestGain)
	}
	if len(rep.Notes) != 0 {
		t.Errorf("notes %q", rep.Notes)
	}

	// A second split repeating pairs of the first: each distinct pair counts once in
	// the pooled figure; (a, c) and (b, c) are new novel pairs.
	sub := func(rows [][]float64) [][]float64 {
		return [][]float64{{rows[0][0], rows[0][1], rows[0][2]}, {rows[1][0], rows[1][1], rows[1][2]}}
	}
	m.Splits = append(m.Splits, measured("t", []string{"a", "b"}, []string{"c"}, sub(handSim), sub(handGain)))
	rep, err = AnalyzeTransfer(m)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pairs != 9 || rep.NovelPairs != 5 || rep.Targets != 7 || rep.NovelTargets != 2 {
		t.Errorf("two splits: pairs %d, novel %d, targets %d, novel targets %d", rep.Pairs, rep.NovelPairs, rep.Targets, rep.NovelTargets)
	}
	nearPtr(t, "spearman over two splits", rep.Spearman, 28/math.Sqrt(58*59))
	// Targets a and b of t have one other expert each: no per-target spearman.
	if len(rep.Notes) != 2 || !strings.Contains(rep.Notes[0], "4 off-diagonal (expert, target) pairs occur in more than one split") ||
		!strings.Contains(rep.Notes[1], "null for 2 of 7 targets") {
		t.Errorf("notes %q", rep.Notes)
	}
}

// TestTransferUndefined checks that undefined statistics are null with a note, and that
// the files hold no NaN.
func TestTransferUndefined(t *testing.T) {
	flat := [][]float64{{0, 0, 0}, {0, 0, 0}}
	m := &results.Transfer{Experiment: "flat", Metric: "i2t_r1", Seeds: []uint64{1, 2}, Splits: []results.TransferSplit{
		measured("flat", []string{"a", "b"}, []string{"n"}, [][]float64{{1, .5, .2}, {.5, 1, .7}}, flat),
		measured("lonely", []string{"a"}, nil, [][]float64{{1}}, [][]float64{{3}}),
	}}
	dir := t.TempDir()
	rep, err := WriteTransfer(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Spearman != nil || rep.NovelSpearman != nil || rep.Top1WinRate == nil || *rep.Top1WinRate != 0 || rep.Targets != 3 {
		t.Errorf("spearman %v, novel %v, top1 %v over %d targets", rep.Spearman, rep.NovelSpearman, rep.Top1WinRate, rep.Targets)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"spearman is null: every pair has the same gain", "novel_spearman is null", "per-target spearman is null for 4 of 4"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if pt := rep.PerTarget[3]; pt.Task != "a" || pt.Nearest != "" || pt.Win != nil || !strings.Contains(pt.SpearmanNote, "0 off-diagonal pairs") {
		t.Errorf("a target with no other expert: %+v", pt)
	}
	raw, err := os.ReadFile(filepath.Join(dir, TransferJSON))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("NaN")) || !bytes.Contains(raw, []byte(`"spearman": null`)) || !json.Valid(raw) {
		t.Errorf("transfer.json:\n%s", raw)
	}
	var sum bytes.Buffer
	rep.Summary(&sum)
	if !strings.Contains(sum.String(), "spearman(similarity, gain)  –") || !strings.Contains(sum.String(), "note: ") {
		t.Errorf("summary:\n%s", sum.String())
	}

	m.Splits[0].Expert[1][0][2] = math.NaN()
	if _, err := AnalyzeTransfer(m); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN measurement: %v", err)
	}
}
