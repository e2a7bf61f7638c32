package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
)

func adapter(t *testing.T, s lora.Schema, params ...float32) *lora.Adapter {
	t.Helper()
	a, err := lora.FromFlat(s, params)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// One 1×1 module of rank 1: params [b, a], ΔW = scale·b·a.
func scalarSchema(alpha float64) lora.Schema {
	return lora.Schema{{Name: "m", In: 1, Out: 1, Rank: 1, Alpha: alpha}}
}

func TestDiversityHandWorked(t *testing.T) {
	s := scalarSchema(1)
	// p1 = (1,0), p2 = (0,1), p3 = (1,1). Cosines: 0, 1/√2, 1/√2, so
	// div_cos = (1 + 2(1 − 1/√2))/3 = (3 − √2)/3. ΔW = 0, 0, 1: distances 0, 1, 1,
	// so div_frob = 2/3. R@1 = 10, 20, 30: population variance 200/3.
	ads := []*lora.Adapter{adapter(t, s, 1, 0), adapter(t, s, 0, 1), adapter(t, s, 1, 1)}
	got, err := Diversity(ads, []float64{10, 20, 30})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"div_cos": (3 - math.Sqrt2) / 3, "div_frob": 2.0 / 3, "r1_std": math.Sqrt(200.0 / 3)}
	checkRecall(t, got, want)

	// alpha = 2 on rank 1 doubles ΔW, not the flat vector.
	s2 := scalarSchema(2)
	ads2 := []*lora.Adapter{adapter(t, s2, 1, 0), adapter(t, s2, 0, 1), adapter(t, s2, 1, 1)}
	got, err = Diversity(ads2, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRecall(t, got, map[string]float64{"div_cos": (3 - math.Sqrt2) / 3, "div_frob": 4.0 / 3})
}

func TestFrobeniusTwoModules(t *testing.T) {
	// m1: 1×1 rank 1, params [b, a]; m2: out 2, in 1, rank 1, params [b1, b2, a].
	// X: ΔW1 = 2·1 = 2, ΔW2 = (1·3, 0·3) = (3, 0).
	// Y: ΔW1 = 1·1 = 1, ΔW2 = (0·4, 1·4) = (0, 4).
	// ‖X − Y‖² = 1 + 9 + 16 = 26.
	s := lora.Schema{
		{Name: "m1", In: 1, Out: 1, Rank: 1, Alpha: 1},
		{Name: "m2", In: 1, Out: 2, Rank: 1, Alpha: 1},
	}
	x := adapter(t, s, 2, 1, 1, 0, 3)
	y := adapter(t, s, 1, 1, 0, 1, 4)
	d, err := FrobeniusDistance(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if !closeTo(d, math.Sqrt(26)) {
		t.Errorf("distance %v, want √26", d)
	}
}

func randomSchema(rng *rand.Rand) lora.Schema {
	var s lora.Schema
	for i := range 1 + rng.IntN(4) {
		s = append(s, lora.Module{
			Name: string(rune('a' + i)), In: 1 + rng.IntN(9), Out: 1 + rng.IntN(9),
			Rank: 1 + rng.IntN(3), Alpha: float64(1 + rng.IntN(8)),
		})
	}
	return s
}

func randomAdapter(rng *rand.Rand, s lora.Schema) *lora.Adapter {
	a := lora.New(s)
	for i := range a.Params {
		a.Params[i] = float32(rng.NormFloat64())
	}
	return a
}

// bruteFrobenius materialises every ΔW with lora.DeltaW.
func bruteFrobenius(a, b *lora.Adapter) float64 {
	var ss float64
	for i := range a.Schema {
		da, db := a.DeltaW(nil, i), b.DeltaW(nil, i)
		for k := range da {
			d := float64(da[k]) - float64(db[k])
			ss += d * d
		}
	}
	return math.Sqrt(ss)
}

func TestFrobeniusMatchesMaterialised(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for trial := range 200 {
		s := randomSchema(rng)
		a, b := randomAdapter(rng, s), randomAdapter(rng, s)
		if trial%5 == 0 { // nearly equal adapters stress the cancellation
			b = a.Clone()
			b.Params[rng.IntN(len(b.Params))] += 0.01
		}
		got, err := FrobeniusDistance(a, b)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteFrobenius(a, b)
		if math.Abs(got-want) > 1e-4*math.Max(want, 1e-2) {
			t.Fatalf("trial %d (%v): factor space %v, materialised %v", trial, s, got, want)
		}
	}
}

func TestDiversityMatchesPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 1))
	s := randomSchema(rng)
	ads := make([]*lora.Adapter, 5)
	for i := range ads {
		ads[i] = randomAdapter(rng, s)
	}
	got, err := Diversity(ads, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cosSum, frobSum float64
	for i := range ads {
		for j := i + 1; j < len(ads); j++ {
			var ab, aa, bb float64
			for k := range ads[i].Params {
				x, y := float64(ads[i].Params[k]), float64(ads[j].Params[k])
				ab, aa, bb = ab+x*y, aa+x*x, bb+y*y
			}
			cosSum += 1 - ab/math.Sqrt(aa*bb)
			frobSum += bruteFrobenius(ads[i], ads[j])
		}
	}
	if !closeTo(got["div_cos"], cosSum/10) || math.Abs(got["div_frob"]-frobSum/10) > 1e-4*frobSum/10 {
		t.Errorf("got %v, want div_cos %v div_frob %v", got, cosSum/10, frobSum/10)
	}
	if _, ok := got["r1_std"]; ok {
		t.Error("r1_std reported without R@1 values")
	}
}

func TestDiversityZeroCases(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	s := randomSchema(rng)
	a := randomAdapter(rng, s)
	for name, c := range map[string]struct {
		ads []*lora.Adapter
		r1  []float64
	}{
		"single":    {[]*lora.Adapter{a}, []float64{37.5}},
		"identical": {[]*lora.Adapter{a, a.Clone(), a.Clone()}, []float64{0.1, 0.1, 0.1}},
		"zeros":     {[]*lora.Adapter{lora.New(s), lora.New(s)}, []float64{5, 5}},
	} {
		got, err := Diversity(c.ads, c.r1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, k := range []string{"div_cos", "div_frob", "r1_std"} {
			if v, ok := got[k]; !ok || v != 0 {
				t.Errorf("%s: %s = %v, want exactly 0", name, k, v)
			}
		}
	}
}

func TestDiversityErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 8))
	s := randomSchema(rng)
	other := append(lora.Schema(nil), s...)
	other[0].Rank++
	a, b := randomAdapter(rng, s), randomAdapter(rng, s)
	short := &lora.Adapter{Schema: s, Params: a.Params[:len(a.Params)-1]}
	nan := a.Clone()
	nan.Params[0] = float32(math.NaN())
	cases := []struct {
		name string
		ads  []*lora.Adapter
		r1   []float64
		want string
	}{
		{"none", nil, nil, "no adapters"},
		{"mixed schemas", []*lora.Adapter{a, randomAdapter(rng, other)}, nil, "adapter 1: lora: incompatible"},
		{"short params", []*lora.Adapter{a, short}, nil, "adapter 1"},
		{"nan", []*lora.Adapter{a, nan}, nil, "adapter 1"},
		{"nil", []*lora.Adapter{a, nil}, nil, "adapter 1"},
		{"r1 count", []*lora.Adapter{a, b}, []float64{1}, "1 R@1 values for 2"},
		{"r1 nan", []*lora.Adapter{a, b}, []float64{1, math.NaN()}, "R@1 value 1"},
		{"zero vs other", []*lora.Adapter{a, lora.New(s)}, nil, "all zeros"},
	}
	for _, c := range cases {
		_, err := Diversity(c.ads, c.r1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := FrobeniusDistance(a, randomAdapter(rng, other)); err == nil {
		t.Error("FrobeniusDistance accepted mixed schemas")
	}
}

func TestPopStd(t *testing.T) {
	cases := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 0},
		{[]float64{1, 3}, 1},                   // mean 2, deviations ±1
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 2}, // the textbook example
	}
	for _, c := range cases {
		if got := PopStd(c.xs); !closeTo(got, c.want) {
			t.Errorf("PopStd(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// Paper scale: 12 blocks × q, k, v of 768×768 at rank 2.
func paperAdapters(n int) []*lora.Adapter {
	var s lora.Schema
	for i := range 36 {
		s = append(s, lora.Module{Name: string(rune('A'+i%26)) + string(rune('a'+i/26)), In: 768, Out: 768, Rank: 2, Alpha: 2})
	}
	rng := rand.New(rand.NewPCG(1, 1))
	ads := make([]*lora.Adapter, n)
	for i := range ads {
		ads[i] = randomAdapter(rng, s)
	}
	return ads
}

func BenchmarkFrobeniusFactorSpace(b *testing.B) {
	ads := paperAdapters(2)
	for b.Loop() {
		FrobeniusDistance(ads[0], ads[1])
	}
}

func BenchmarkFrobeniusMaterialised(b *testing.B) {
	ads := paperAdapters(2)
	for b.Loop() {
		bruteFrobenius(ads[0], ads[1])
	}
}

func BenchmarkDiversity10(b *testing.B) {
	ads := paperAdapters(10)
	for b.Loop() {
		Diversity(ads, nil)
	}
}
