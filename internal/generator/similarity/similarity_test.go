package similarity

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestMixtureIsBruteForceVariance checks the law-of-total-variance condition against
// the variance of the pooled, α-weighted set of all snapshots computed directly.
func TestMixtureIsBruteForceVariance(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const experts, snaps, p, dim = 6, 7, 11, 5
	embs := make([][]float32, experts)
	data := make([][][]float32, experts) // [expert][snapshot][param]
	means := make([][]float32, experts)
	vars := make([][]float32, experts)
	for e := range experts {
		embs[e] = randVec(r, dim)
		shift := float32(r.NormFloat64() * 3)
		data[e] = make([][]float32, snaps)
		for m := range snaps {
			data[e][m] = randVec(r, p)
			for j := range data[e][m] {
				data[e][m][j] = data[e][m][j]*float32(e+1) + shift
			}
		}
		means[e], vars[e] = make([]float32, p), make([]float32, p)
		for j := range p {
			s, ss := 0.0, 0.0
			for m := range snaps {
				s += float64(data[e][m][j])
			}
			mean := s / snaps
			for m := range snaps {
				d := float64(data[e][m][j]) - mean
				ss += d * d
			}
			means[e][j], vars[e][j] = float32(mean), float32(ss/snaps)
		}
	}
	for _, k := range []int{1, 3, experts} {
		ns, err := TopK(randVec(r, dim), embs, k, 0.3, -1)
		if err != nil {
			t.Fatal(err)
		}
		mu, v := make([]float32, p), make([]float32, p)
		Mixture(mu, v, ns, means, vars)
		for j := range p {
			// Pool every snapshot of the kept experts, each with mass α_k/M.
			bm := 0.0
			for _, n := range ns {
				for m := range snaps {
					bm += n.Weight / snaps * float64(data[n.Index][m][j])
				}
			}
			bv := 0.0
			for _, n := range ns {
				for m := range snaps {
					d := float64(data[n.Index][m][j]) - bm
					bv += n.Weight / snaps * d * d
				}
			}
			if math.Abs(float64(mu[j])-bm) > 1e-5*(1+math.Abs(bm)) || math.Abs(float64(v[j])-bv) > 1e-5*(1+bv) {
				t.Fatalf("k=%d param %d: mixture (%v, %v), brute force (%v, %v)", k, j, mu[j], v[j], bm, bv)
			}
		}
	}
}

func TestTopKWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	embs := make([][]float32, 9)
	for i := range embs {
		embs[i] = randVec(r, 8)
	}
	target := randVec(r, 8)
	for _, tc := range []struct {
		k, exclude, want int
		tau              float64
	}{{4, -1, 4, 0.1}, {0, -1, 9, 1}, {20, -1, 9, 0.05}, {3, 2, 3, 0.5}, {0, 0, 8, 2}} {
		ns, err := TopK(target, embs, tc.k, tc.tau, tc.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != tc.want {
			t.Fatalf("%+v: kept %d, want %d", tc, len(ns), tc.want)
		}
		sum := 0.0
		for i, n := range ns {
			sum += n.Weight
			if n.Index == tc.exclude {
				t.Fatalf("%+v: excluded expert kept", tc)
			}
			want, _ := Cosine(target, embs[n.Index])
			if n.Sim != want {
				t.Fatalf("%+v: sim %v, want %v", tc, n.Sim, want)
			}
			if i > 0 {
				if n.Sim > ns[i-1].Sim || n.Weight > ns[i-1].Weight {
					t.Fatalf("%+v: not ordered by similarity: %+v after %+v", tc, n, ns[i-1])
				}
				// α_i/α_{i−1} = exp((s_i − s_{i−1})/τ)
				if got, want := n.Weight/ns[i-1].Weight, math.Exp((n.Sim-ns[i-1].Sim)/tc.tau); math.Abs(got-want) > 1e-9 {
					t.Fatalf("%+v: weight ratio %v, want %v", tc, got, want)
				}
			}
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Fatalf("%+v: weights sum to %v", tc, sum)
		}
		// Every expert left out is no more similar than the last kept one.
		kept := map[int]bool{}
		for _, n := range ns {
			kept[n.Index] = true
		}
		for i, e := range embs {
			if s, _ := Cosine(target, e); !kept[i] && i != tc.exclude && s > ns[len(ns)-1].Sim {
				t.Fatalf("%+v: expert %d (sim %v) dropped but more similar than kept %v", tc, i, s, ns[len(ns)-1].Sim)
			}
		}
	}
}

func TestTopKTiesAndLimits(t *testing.T) {
	embs := [][]float32{{1, 0}, {0, 1}, {1, 0}}
	ns, err := TopK([]float32{2, 0}, embs, 2, 1e-3, -1)
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].Index != 0 || ns[1].Index != 2 || math.Abs(ns[0].Weight-0.5) > 1e-12 {
		t.Fatalf("tie handling: %+v", ns)
	}
	// A tiny temperature must not overflow.
	ns, err = TopK([]float32{1, 0.1}, embs, 0, 1e-6, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if math.IsNaN(n.Weight) {
			t.Fatalf("NaN weight: %+v", ns)
		}
	}
}

func TestErrors(t *testing.T) {
	embs := [][]float32{{1, 0}, {0, 1}}
	for _, tc := range []struct {
		name    string
		target  []float32
		embs    [][]float32
		tau     float64
		exclude int
		want    string
	}{
		{"dims", []float32{1, 2, 3}, embs, 1, -1, "dimensions"},
		{"zero target", []float32{0, 0}, embs, 1, -1, "zero"},
		{"zero expert", []float32{1, 0}, [][]float32{{0, 0}}, 1, -1, "expert 0"},
		{"tau", []float32{1, 0}, embs, 0, -1, "τ"},
		{"nothing left", []float32{1, 0}, [][]float32{{1, 0}}, 1, 0, "no experts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TopK(tc.target, tc.embs, 2, tc.tau, tc.exclude)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// BenchmarkMixture is SG-LoRA's per-task condition at paper scale: K = 4 experts of
// 110,592 parameters.
func BenchmarkMixture(b *testing.B) {
	const p, k = 110592, 4
	r := rand.New(rand.NewPCG(1, 1))
	means, vars := make([][]float32, k), make([][]float32, k)
	ns := make([]Neighbour, k)
	for i := range k {
		means[i], vars[i] = randVec(r, p), randVec(r, p)
		ns[i] = Neighbour{Index: i, Weight: 0.25}
	}
	mu, v := make([]float32, p), make([]float32, p)
	for b.Loop() {
		Mixture(mu, v, ns, means, vars)
	}
}

// TestMixtureSplitIsSerial checks that Mixture split over goroutines (a large P) gives
// the bits of the serial path, computed here element range by element range on short
// slices, which stay serial.
func TestMixtureSplitIsSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const experts, p, chunk = 5, 1 << 15, 1000
	means, vars := make([][]float32, experts), make([][]float32, experts)
	for e := range experts {
		means[e], vars[e] = randVec(r, p), randVec(r, p)
		for j := range vars[e] {
			vars[e][j] *= vars[e][j]
		}
	}
	ns := []Neighbour{{Index: 0, Weight: 0.1}, {Index: 2, Weight: 0.2}, {Index: 3, Weight: 0.3}, {Index: 4, Weight: 0.4}}
	if p*len(ns) < mixtureSerial {
		t.Fatalf("P·K = %d does not reach the split at %d", p*len(ns), mixtureSerial)
	}
	mu, v := make([]float32, p), make([]float32, p)
	Mixture(mu, v, ns, means, vars)
	for j0 := 0; j0 < p; j0 += chunk {
		j1 := min(j0+chunk, p)
		m2, v2 := make([][]float32, experts), make([][]float32, experts)
		for e := range experts {
			m2[e], v2[e] = means[e][j0:j1], vars[e][j0:j1]
		}
		wantMu, wantV := make([]float32, j1-j0), make([]float32, j1-j0)
		Mixture(wantMu, wantV, ns, m2, v2)
		for j := range wantMu {
			if math.Float32bits(mu[j0+j]) != math.Float32bits(wantMu[j]) || math.Float32bits(v[j0+j]) != math.Float32bits(wantV[j]) {
				t.Fatalf("element %d: split (%v, %v), serial (%v, %v)", j0+j, mu[j0+j], v[j0+j], wantMu[j], wantV[j])
			}
		}
	}
}
