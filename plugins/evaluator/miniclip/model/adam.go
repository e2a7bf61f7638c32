package model

import "math"

// Adam is the Adam optimiser with decoupled weight decay (AdamW) on the parameters
// marked in Decay (all when Decay is nil and WeightDecay > 0). Moments are float64 so
// that float32 models and float64 tests step identically up to rounding of the result.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64
	Decay                 []bool

	m, v []float64
	t    int
}

// NewAdam returns Adam for n parameters with the usual betas (0.9, 0.999) and eps 1e-8.
func NewAdam(n int, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, m: make([]float64, n), v: make([]float64, n)}
}

// Steps is the number of steps taken.
func (a *Adam) Steps() int { return a.t }

// Step updates params from grads.
func Step[T Float](a *Adam, params, grads []T) {
	if len(params) != len(a.m) || len(grads) != len(a.m) {
		panic("model: Adam step on vectors of the wrong length")
	}
	a.t++
	c1 := 1 - math.Pow(a.Beta1, float64(a.t))
	c2 := 1 - math.Pow(a.Beta2, float64(a.t))
	for i, g := range grads {
		gf := float64(g)
		a.m[i] = a.Beta1*a.m[i] + (1-a.Beta1)*gf
		a.v[i] = a.Beta2*a.v[i] + (1-a.Beta2)*gf*gf
		p := float64(params[i])
		if a.WeightDecay > 0 && (a.Decay == nil || a.Decay[i]) {
			p -= a.LR * a.WeightDecay * p
		}
		p -= a.LR * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + a.Eps)
		params[i] = T(p)
	}
}
