// Package librarytest builds synthetic expert libraries for the generators' tests
// and benchmarks. Its experts have the structure SG-LoRA relies on: an expert's
// prototype is a smooth (linear) function of its description embedding, so that
// semantic neighbours have similar LoRAs, and its snapshots spread around the
// prototype like the last epochs of an SGD run: mostly along a few expert-specific
// directions, plus a little isotropic noise. Tensors get different scales, as real B
// and A tensors do.
package librarytest

import (
	"fmt"
	"math/rand/v2"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/internal/generator/library"
)

// Schema returns n modules of shape out×in at rank r (alpha = 2r), named like the
// attention projections of a transformer's blocks.
func Schema(n, in, out, r int) lora.Schema {
	s := make(lora.Schema, n)
	proj := []string{"q_proj", "k_proj", "v_proj"}
	for i := range s {
		s[i] = lora.Module{Name: fmt.Sprintf("blocks.%d.attn.%s", i/3, proj[i%3]), In: in, Out: out, Rank: r, Alpha: float64(2 * r)}
	}
	return s
}

// Options size a synthetic library.
type Options struct {
	Schema    lora.Schema
	Experts   int
	Snapshots int
	Dim       int     // embedding width
	Spread    float64 // snapshot spread relative to the prototype scale; 0 means 0.1
	// Pool, when positive, makes every snapshot a window into one shared pool of
	// Pool random floats instead of its own vector: the paper-scale benchmark's
	// 100×100 snapshots of 110,592 floats would otherwise take 4.4 GB. Snapshots then
	// share no semantic structure, which costs nothing when only timing.
	Pool int
}

// New returns a library drawn from seed.
func New(o Options, seed uint64) (*library.Library, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	p := o.Schema.NumParams()
	spread := o.Spread
	if spread == 0 {
		spread = 0.1
	}
	// Per-tensor scales: B tensors small, A tensors larger, varying by module.
	scale := make([]float32, p)
	for i, m := range o.Schema {
		off := o.Schema.Offset(i)
		nb := m.Out * m.Rank
		for j := range m.Size() {
			if j < nb {
				scale[off+j] = 0.01 * float32(1+i%3)
			} else {
				scale[off+j] = 0.1 * float32(1+i%2)
			}
		}
	}
	const drift = 2 // directions the snapshots of one expert vary along
	var pool []float32
	var mapping []float32
	if o.Pool > 0 {
		pool = make([]float32, o.Pool+p)
		for i := range pool {
			pool[i] = float32(r.NormFloat64()) * scale[i%p]
		}
	} else {
		mapping = make([]float32, p*o.Dim)
		for i := range mapping {
			mapping[i] = float32(r.NormFloat64())
		}
	}
	experts := make([]library.Expert, o.Experts)
	for e := range experts {
		emb := make([]float32, o.Dim)
		for i := range emb {
			emb[i] = float32(r.NormFloat64())
		}
		snaps := make([][]float32, o.Snapshots)
		if o.Pool > 0 {
			for m := range snaps {
				off := r.IntN(o.Pool)
				snaps[m] = pool[off : off+p : off+p]
			}
		} else {
			proto := make([]float32, p)
			for j := range proto {
				s := float32(0)
				for d, v := range emb {
					s += mapping[j*o.Dim+d] * v
				}
				proto[j] = s / float32(o.Dim) * scale[j] * 3
			}
			noise := float32(spread) * float32(0.5+r.Float64())
			dirs := make([][]float32, drift)
			for d := range dirs {
				dirs[d] = make([]float32, p)
				for j := range dirs[d] {
					dirs[d][j] = float32(r.NormFloat64())
				}
			}
			for m := range snaps {
				snaps[m] = make([]float32, p)
				coef := make([]float32, drift)
				for d := range coef {
					coef[d] = float32(r.NormFloat64())
				}
				for j := range proto {
					x := 0.3 * float32(r.NormFloat64())
					for d, c := range coef {
						x += c * dirs[d][j]
					}
					snaps[m][j] = proto[j] + noise*scale[j]*x
				}
			}
		}
		experts[e] = library.Expert{ID: fmt.Sprintf("task%02d", e), Description: fmt.Sprintf("synthetic task %d", e), Embedding: emb, Snapshots: snaps}
	}
	return library.New(o.Schema, experts)
}

// Fixed returns a library whose experts have the given embeddings and one snapshot
// each, so that each prototype is exactly the vector given: for hand-worked tests.
func Fixed(s lora.Schema, embeddings, prototypes [][]float32) (*library.Library, error) {
	experts := make([]library.Expert, len(embeddings))
	for i := range experts {
		experts[i] = library.Expert{ID: fmt.Sprintf("e%d", i), Embedding: embeddings[i], Snapshots: [][]float32{append([]float32(nil), prototypes[i]...)}}
	}
	return library.New(s, experts)
}
