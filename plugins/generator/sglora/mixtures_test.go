package sglora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sglab/sglab/internal/generator/mlp"
	"github.com/sglab/sglab/internal/generator/similarity"
)

// TestMixturesMatchDirectProjection checks the tabulated projection against the
// projection of the mixture computed in float64 from its definition, for one expert
// (the merge of one expert is that expert), the paper's K = 4, every expert, and
// weights that do not sum to 1 (which exercise the (2 − s) term). The experts' means
// sit far from 0 with small variances, where σ*² = E[σ² + μ²] − μ*² cancels most. The
// direct float32 path is held to the same tolerance, so the tables are no worse.
func TestMixturesMatchDirectProjection(t *testing.T) {
	for _, tc := range []struct {
		P, E, C int
		offset  float64 // mean of the experts' means
	}{
		{P: 5, E: 3, C: 4, offset: 0},
		{P: 300, E: 20, C: 7, offset: 0}, // 210 pairs: three blocks of rows
		{P: 300, E: 20, C: 7, offset: 3},
	} {
		t.Run(fmt.Sprintf("P=%d/E=%d/C=%d/offset=%v", tc.P, tc.E, tc.C, tc.offset), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.P), uint64(tc.E)))
			proj := mlp.NewDense(2*tc.P, tc.C, 1, r)
			for i := range proj.B {
				proj.B[i] = float32(r.NormFloat64())
			}
			means, vars := make([][]float32, tc.E), make([][]float32, tc.E)
			for e := range means {
				means[e], vars[e] = make([]float32, tc.P), make([]float32, tc.P)
				for j := range tc.P {
					means[e][j] = float32(tc.offset + r.NormFloat64())
					vars[e][j] = float32(0.01 * r.Float64())
				}
			}
			tab := newMixtures(proj, means, vars)
			if got, want := float64(len(tab.lin)+len(tab.quad)), mixtureRows(tc.E)*float64(tc.C); got != want {
				t.Errorf("the tables hold %v numbers, train's memory check counts %v", got, want)
			}
			for _, ns := range neighbourSets(r, tc.E) {
				want, scale := exactProjection(proj, means, vars, ns)
				got := make([]float32, tc.C)
				tab.project(got, ns)
				c := make([]float32, 2*tc.P)
				similarity.Mixture(c[:tc.P], c[tc.P:], ns, means, vars)
				direct := make([]float32, tc.C)
				proj.Forward(direct, c, 1)
				for j := range tc.C {
					tol := 2e-6 * scale[j]
					if d := math.Abs(float64(got[j]) - want[j]); !(d <= tol) {
						t.Errorf("%d experts, ĉ[%d]: tables %v, exact %v (|Δ| %.3g > %.3g)", len(ns), j, got[j], want[j], d, tol)
					}
					if d := math.Abs(float64(direct[j]) - want[j]); !(d <= tol) {
						t.Errorf("%d experts, ĉ[%d]: direct %v, exact %v (|Δ| %.3g > %.3g)", len(ns), j, direct[j], want[j], d, tol)
					}
				}
			}
		})
	}
}

// neighbourSets returns weighted expert sets: one expert, four by softmax, all of them
// in reverse order, and four whose weights sum to 0.7.
func neighbourSets(r *rand.Rand, E int) [][]similarity.Neighbour {
	pick := func(k int) []similarity.Neighbour {
		ns := make([]similarity.Neighbour, k)
		for i, e := range r.Perm(E)[:k] {
			ns[i] = similarity.Neighbour{Index: e, Sim: r.Float64()}
		}
		sims := make([]float64, k)
		for i, n := range ns {
			sims[i] = n.Sim
		}
		for i, w := range similarity.Softmax(sims, 0.1) {
			ns[i].Weight = w
		}
		return ns
	}
	all := pick(E)
	for i, j := 0, E-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	short := pick(min(4, E))
	for i := range short {
		short[i].Weight *= 0.7
	}
	return [][]similarity.Neighbour{pick(1), pick(min(4, E)), all, short}
}

// exactProjection is W·[μ*; σ*²] + b in float64 from the definitions, and per output
// the scale Σ_p |W_pc|·|c_p| + |b_c| that rounding errors are relative to.
func exactProjection(proj *mlp.Dense, means, vars [][]float32, ns []similarity.Neighbour) (want, scale []float64) {
	P, C := proj.In/2, proj.Out
	c := make([]float64, 2*P)
	for j := range P {
		m := 0.0
		for _, n := range ns {
			m += n.Weight * float64(means[n.Index][j])
		}
		v := 0.0
		for _, n := range ns {
			d := float64(means[n.Index][j]) - m
			v += n.Weight * (float64(vars[n.Index][j]) + d*d)
		}
		c[j], c[P+j] = m, v
	}
	want, scale = make([]float64, C), make([]float64, C)
	for o := range C {
		want[o], scale[o] = float64(proj.B[o]), math.Abs(float64(proj.B[o]))
		for p, x := range c {
			w := float64(proj.W[p*C+o])
			want[o] += w * x
			scale[o] += math.Abs(w * x)
		}
	}
	return want, scale
}

// TestFeaturesFromTables: a frozen fit's condition features come from the tables and
// agree with the projection of the raw condition; the residual decoder still gets μ*.
func TestFeaturesFromTables(t *testing.T) {
	for _, decoder := range []string{"direct", "residual"} {
		t.Run(decoder, func(t *testing.T) {
			cfg := smallConfig()
			cfg.Decoder = decoder
			f, ok := fitWith(t, cfg, small(t, 1), 1).Fitted()
			if !ok || f.mixtures == nil {
				t.Fatalf("fitted %v, tables %v", ok, f.mixtures != nil)
			}
			ns, err := f.lib.Neighbours(f.lib.Experts[0].Embedding, cfg.TopK, cfg.Tau)
			if err != nil {
				t.Fatal(err)
			}
			cf, mu := f.features(ns)
			c := f.condition(ns)
			direct := f.model.features(c)
			for j := range direct {
				if d := math.Abs(float64(cf[j] - direct[j])); d > 1e-4*(1+math.Abs(float64(direct[j]))) {
					t.Errorf("ĉ[%d]: tables %v, direct %v", j, cf[j], direct[j])
				}
			}
			if decoder == "residual" && !sameFloats(mu, c[:f.model.P]) {
				t.Error("the residual decoder's μ* is not the mixture's mean")
			}
			if decoder == "direct" && mu != nil {
				t.Error("the direct decoder computed μ* it does not use")
			}
		})
	}
}
