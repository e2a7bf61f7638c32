package sglora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sglab/sglab/internal/generator/mlp"
)

// smallModel returns a tiny CVAE with every parameter randomised (biases too, and
// the Gaussian heads large enough that log-variances are far from zero), a batch of
// five snapshots of three experts and their conditions.
func smallModel(t *testing.T, condition, prior, decoder string, kl float64) (*cvae, *batch, [][]float32) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Condition, cfg.Prior, cfg.Decoder, cfg.KLWeight = condition, prior, decoder, kl
	cfg.Latent, cfg.EncoderHidden, cfg.PriorHidden, cfg.DecoderHidden, cfg.ConditionDim = 3, 7, 6, 8, 4
	const P = 5
	r := rand.New(rand.NewPCG(11, 12))
	m := newCVAE(cfg, P, r)
	for _, l := range m.layers() {
		for i := range l.d.B {
			l.d.B[i] = float32(0.5 * r.NormFloat64())
		}
	}
	for _, l := range []*mlp.Dense{m.enc2, m.pri2} {
		if l == nil {
			continue
		}
		for i := range l.W {
			l.W[i] = float32(0.4 * r.NormFloat64())
		}
	}
	conds := make([][]float32, 3)
	for e := range conds {
		conds[e] = make([]float32, 2*P)
		for j := range conds[e] {
			conds[e][j] = float32(r.NormFloat64())
			if j >= P {
				conds[e][j] = float32(r.Float64() + 0.1) // a variance
			}
		}
	}
	var b batch
	b.resize(m, 5)
	b.experts = []int{0, 1, 1, 2, 0}
	for i := range b.x {
		b.x[i] = float32(r.NormFloat64())
	}
	for i := range b.eps {
		b.eps[i] = float32(r.NormFloat64())
	}
	return m, &b, conds
}

// TestGradientsMatchFiniteDifferences checks backward against central differences of
// the loss for every parameter group under every combination of condition, prior and
// decoder.
// Float32 forward passes limit the accuracy of a difference quotient, and a step can
// cross a ReLU kink; a parameter whose quotients at h and h/2 disagree is skipped, and
// at most a fifth of a group may be.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, condition := range []string{"concat", "projection"} {
		for _, prior := range []string{"learned", "standard"} {
			for _, decoder := range []string{"direct", "residual"} {
				for _, kl := range []float64{1, 0.3} {
					t.Run(fmt.Sprintf("%s/%s/%s/kl=%g", condition, prior, decoder, kl), func(t *testing.T) {
						m, b, conds := smallModel(t, condition, prior, decoder, kl)
						m.forward(b, conds)
						m.backward(b)
						loss := func() float64 {
							rc, k := m.forward(b, conds)
							return rc + kl*k
						}
						quotient := func(w *float32, h float32) float64 {
							old := *w
							*w = old + h
							up := loss()
							*w = old - h
							down := loss()
							*w = old
							return (up - down) / float64(2*h)
						}
						for _, l := range m.layers() {
							for _, g := range []struct {
								name string
								w, g []float32
							}{{l.name + ".W", l.d.W, l.d.GW}, {l.name + ".b", l.d.B, l.d.GB}} {
								checked, skipped, informative := 0, 0, 0
								for i := range g.w {
									const h = 2e-3
									q1, q2 := quotient(&g.w[i], h), quotient(&g.w[i], h/2)
									if math.Abs(q1-q2) > 2e-2*(1+math.Abs(q1)) {
										skipped++
										continue
									}
									checked++
									got := float64(g.g[i])
									if math.Abs(got-q2) > 1e-2*(1+math.Abs(q2)) {
										t.Errorf("%s[%d]: backward %v, finite difference %v", g.name, i, got, q2)
									}
									if math.Abs(q2) > 1e-2 {
										informative++
									}
								}
								if skipped*5 > checked+skipped {
									t.Errorf("%s: %d of %d parameters at kinks", g.name, skipped, checked+skipped)
								}
								if informative == 0 {
									t.Errorf("%s: no parameter with a gradient to check", g.name)
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestKLClosedFormMatchesMonteCarlo compares klDiag with E_q[log q(z) − log p(z)].
func TestKLClosedFormMatchesMonteCarlo(t *testing.T) {
	mq := []float32{0.3, -1.2, 2}
	lvq := []float32{-0.5, 0.4, 0}
	mp := []float32{0, -0.7, 1.5}
	lvp := []float32{0.2, -0.3, 1}
	want := klDiag(mq, lvq, mp, lvp)
	logN := func(z, m, lv float64) float64 {
		return -0.5 * (math.Log(2*math.Pi) + lv + (z-m)*(z-m)/math.Exp(lv))
	}
	r := rand.New(rand.NewPCG(21, 22))
	const n = 200000
	var sum, sq float64
	for range n {
		d := 0.0
		for j := range mq {
			m, lv := float64(mq[j]), float64(lvq[j])
			z := m + math.Exp(0.5*lv)*r.NormFloat64()
			d += logN(z, m, lv) - logN(z, float64(mp[j]), float64(lvp[j]))
		}
		sum += d
		sq += d * d
	}
	mean := sum / n
	se := math.Sqrt((sq/n - mean*mean) / n)
	if math.Abs(mean-want) > 5*se {
		t.Fatalf("closed form %v, Monte Carlo %v ± %v", want, mean, se)
	}
	if klDiag(mq, lvq, mq, lvq) != 0 {
		t.Fatal("KL of a distribution to itself is not 0")
	}
}

// TestSamplerMatchesTrainingDecoder: the generation path (condition terms computed
// once, decoder batched) decodes exactly what the training forward pass decodes.
func TestSamplerMatchesTrainingDecoder(t *testing.T) {
	for _, condition := range []string{"concat", "projection"} {
		for _, prior := range []string{"learned", "standard"} {
			for _, decoder := range []string{"direct", "residual"} {
				name := fmt.Sprintf("%s/%s/%s", condition, prior, decoder)
				m, b, conds := smallModel(t, condition, prior, decoder, 1)
				m.forward(b, conds)
				s := m.newSampler(m.features(conds[b.experts[0]]), conds[b.experts[0]])
				// Training's z for snapshot 0, expressed as prior mean + σ_p·ε.
				eps := make([]float32, m.L)
				for j := range eps {
					eps[j] = (b.z[j] - s.mp[j]) / s.sp[j]
				}
				out := make([]float32, m.P)
				s.decode(out, eps, 1)
				for j := range out {
					if math.Abs(float64(out[j]-b.xhat[j])) > 1e-4*(1+math.Abs(float64(b.xhat[j]))) {
						t.Fatalf("%s: sampler %v, training decoder %v", name, out, b.xhat[:m.P])
					}
				}
				// The prior the sampler uses is the one training regularises towards.
				for j := range m.L {
					mp, sp := b.priOut[j], float32(math.Exp(0.5*float64(b.priOut[m.L+j])))
					if prior == "standard" {
						mp, sp = 0, 1
					}
					if math.Abs(float64(s.mp[j]-mp)) > 1e-5 || math.Abs(float64(s.sp[j]-sp)) > 1e-5 {
						t.Fatalf("%s: sampler prior (%v, %v), training (%v, %v)", name, s.mp[j], s.sp[j], mp, sp)
					}
				}
			}
		}
	}
}

// TestResidualDecoderAddsConditionMean: with the same weights, the residual decoder's
// X̂ is the direct decoder's plus the condition's mean μ*, in training and in
// generation (batched and one row at a time), and nothing else changes.
func TestResidualDecoderAddsConditionMean(t *testing.T) {
	for _, condition := range []string{"concat", "projection"} {
		t.Run(condition, func(t *testing.T) {
			m, b, conds := smallModel(t, condition, "learned", "direct", 1)
			P, n := m.P, b.n
			m.forward(b, conds)
			direct := append([]float32(nil), b.xhat[:n*P]...)
			const draws = 3
			eps := b.eps[:draws*m.L]
			cond := conds[b.experts[0]]
			genDirect := make([]float32, draws*P)
			m.newSampler(m.features(cond), cond).decode(genDirect, eps, draws)

			m.residual = true
			m.forward(b, conds)
			for s, e := range b.experts[:n] {
				for j := range P {
					want := direct[s*P+j] + conds[e][j]
					if got := b.xhat[s*P+j]; math.Abs(float64(got-want)) > 1e-5*(1+math.Abs(float64(want))) {
						t.Fatalf("training snapshot %d [%d]: residual %v, direct + μ* %v", s, j, got, want)
					}
				}
			}
			s := m.newSampler(m.features(cond), cond)
			batched := make([]float32, draws*P)
			s.decode(batched, eps, draws)
			for i := range draws {
				one := make([]float32, P)
				s.decode(one, eps[i*m.L:(i+1)*m.L], 1)
				for j := range P {
					want := genDirect[i*P+j] + cond[j]
					for _, got := range []float32{batched[i*P+j], one[j]} {
						if math.Abs(float64(got-want)) > 1e-5*(1+math.Abs(float64(want))) {
							t.Fatalf("sample %d [%d]: residual %v, direct + μ* %v", i, j, got, want)
						}
					}
				}
			}
		})
	}
}

// TestModelWeights checks the memory estimate train makes before allocating against the
// weights newCVAE allocates, for every condition and prior.
func TestModelWeights(t *testing.T) {
	for _, condition := range []string{"concat", "projection"} {
		for _, prior := range []string{"learned", "standard"} {
			cfg := DefaultConfig()
			cfg.Condition, cfg.Prior = condition, prior
			cfg.Latent, cfg.EncoderHidden, cfg.PriorHidden, cfg.DecoderHidden, cfg.ConditionDim = 3, 7, 5, 6, 4
			const p = 11
			m := newCVAE(cfg, p, rand.New(rand.NewPCG(1, 2)))
			weights := 0
			for _, l := range m.layers() {
				weights += len(l.d.W)
			}
			if got := modelWeights(cfg, p); got != float64(weights) {
				t.Errorf("%s/%s: modelWeights = %v, newCVAE allocates %d weights", condition, prior, got, weights)
			}
		}
	}
}
