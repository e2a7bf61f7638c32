// Package similarity is SG-LoRA's semantic guidance (arXiv 2509.10535, §3): the cosine
// proximity of a target description embedding to every expert's, the top-K experts,
// their weights α_k = softmax_k(sim_k/τ), and the condition of the CVAE: the mean and
// variance of the α-weighted mixture of the experts' snapshot distributions,
//
//	μ* = Σ_k α_k μ_k,   σ*² = Σ_k α_k σ_k² + Σ_k α_k (μ_k − μ*)²   (law of total variance).
//
// The merging baselines use the same ranking and weights.
package similarity

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// Neighbour is one kept expert.
type Neighbour struct {
	Index  int     // position of the expert in the library
	Sim    float64 // cosine similarity to the target
	Weight float64 // α = softmax(sim/τ) over the kept experts
}

// Cosine returns the cosine similarity of a and b, accumulated in float64. Vectors of
// different lengths or of zero norm have none and are an error.
func Cosine(a, b []float32) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("similarity: embeddings have %d and %d dimensions", len(a), len(b))
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 || math.IsNaN(dot) || math.IsInf(dot, 0) {
		return 0, fmt.Errorf("similarity: cosine undefined for a zero or non-finite embedding")
	}
	return dot / math.Sqrt(na*nb), nil
}

// TopK ranks the experts' embeddings by cosine similarity to target (ties go to the
// lower index), keeps the first k (k ≤ 0 or k beyond the library keeps all), skips
// the expert at index exclude (−1 skips none: leave-one-out conditions exclude the
// expert being encoded) and weights the kept ones by softmax(sim/τ).
func TopK(target []float32, experts [][]float32, k int, tau float64, exclude int) ([]Neighbour, error) {
	if !(tau > 0) || math.IsInf(tau, 0) {
		return nil, fmt.Errorf("similarity: temperature τ = %v, must be positive and finite", tau)
	}
	ns := make([]Neighbour, 0, len(experts))
	for i, e := range experts {
		if i == exclude {
			continue
		}
		s, err := Cosine(target, e)
		if err != nil {
			return nil, fmt.Errorf("expert %d: %w", i, err)
		}
		ns = append(ns, Neighbour{Index: i, Sim: s})
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("similarity: no experts to choose from")
	}
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].Sim > ns[j].Sim })
	if k > 0 && k < len(ns) {
		ns = ns[:k]
	}
	sims := make([]float64, len(ns))
	for i, n := range ns {
		sims[i] = n.Sim
	}
	for i, w := range Softmax(sims, tau) {
		ns[i].Weight = w
	}
	return ns, nil
}

// Softmax returns softmax(x/τ), shifted by the maximum so that it cannot overflow.
func Softmax(x []float64, tau float64) []float64 {
	out := make([]float64, len(x))
	if len(x) == 0 {
		return out
	}
	hi := x[0]
	for _, v := range x {
		hi = max(hi, v)
	}
	sum := 0.0
	for i, v := range x {
		out[i] = math.Exp((v - hi) / tau)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Uniform sets every neighbour's weight to 1/len(ns), as AdapterSoup averages.
func Uniform(ns []Neighbour) {
	for i := range ns {
		ns[i].Weight = 1 / float64(len(ns))
	}
}

// Mixture writes the mean mu and variance variance of the mixture that picks expert
// ns[k].Index with probability ns[k].Weight and then draws from that expert's snapshot
// distribution with element-wise mean means[i] and variance vars[i]. Weights must sum
// to 1. Sums run in float64.
func Mixture(mu, variance []float32, ns []Neighbour, means, vars [][]float32) {
	P := len(mu)
	ms, vs := make([][]float32, len(ns)), make([][]float32, len(ns))
	w := make([]float64, len(ns))
	for k, n := range ns {
		ms[k], vs[k], w[k] = means[n.Index][:P], vars[n.Index][:P], n.Weight
	}
	variance = variance[:P]
	part := func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			m := 0.0
			for k, x := range ms {
				m += w[k] * float64(x[j])
			}
			v := 0.0
			for k, x := range ms {
				d := float64(x[j]) - m
				v += w[k] * (float64(vs[k][j]) + d*d)
			}
			mu[j], variance[j] = float32(m), float32(v)
		}
	}
	// Every element is its own sum, so splitting the elements over the cores changes no
	// bit; at paper scale (P = 110,592) this is on Generate's critical path.
	workers := runtime.GOMAXPROCS(0)
	if P*len(ns) < mixtureSerial || workers < 2 {
		part(0, P)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		j0, j1 := w*P/workers, (w+1)*P/workers
		wg.Go(func() { part(j0, j1) })
	}
	wg.Wait()
}

// mixtureSerial is the work (elements × neighbours) below which Mixture stays on one
// goroutine: starting more costs more than it saves.
const mixtureSerial = 1 << 16
