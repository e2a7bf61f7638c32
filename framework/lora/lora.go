// Package lora is the adapter model every part of sglab shares: a LoRA adapter is
// an ordered list of modules, each with a down-projection A (rank×in) and an
// up-projection B (out×rank). Generators work on the canonical flat vector
// ([B; A] per module, in module order); evaluators inject ΔW = (alpha/rank)·B·A.
package lora

import (
	"fmt"
	"math"
)

// Module describes one adapted weight matrix W (out×in).
type Module struct {
	Name  string  // e.g. "visual.blocks.0.attn.q_proj"
	In    int     // columns of W
	Out   int     // rows of W
	Rank  int     // r
	Alpha float64 // lora_alpha; ΔW is scaled by Alpha/Rank
}

// Size is the number of parameters of the module: out·r (B) + r·in (A).
func (m Module) Size() int { return m.Out*m.Rank + m.Rank*m.In }

// Scale is alpha/rank, the factor PEFT applies to B·A.
func (m Module) Scale() float64 { return m.Alpha / float64(m.Rank) }

// Schema identifies compatible adapters: the same module names, shapes, ranks and alphas
// in the same order.
type Schema []Module

// Validate reports the first ill-formed module.
func (s Schema) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("lora: schema has no modules")
	}
	seen := make(map[string]bool, len(s))
	for i, m := range s {
		switch {
		case m.Name == "":
			return fmt.Errorf("lora: module %d has no name", i)
		case seen[m.Name]:
			return fmt.Errorf("lora: module %q appears twice", m.Name)
		case m.In <= 0 || m.Out <= 0 || m.Rank <= 0:
			return fmt.Errorf("lora: module %q has shape in=%d out=%d rank=%d; all must be positive", m.Name, m.In, m.Out, m.Rank)
		case math.IsNaN(m.Alpha) || math.IsInf(m.Alpha, 0):
			return fmt.Errorf("lora: module %q has alpha %v", m.Name, m.Alpha)
		}
		seen[m.Name] = true
	}
	return nil
}

// NumParams is the length of the flat vector of an adapter with this schema.
func (s Schema) NumParams() int {
	n := 0
	for _, m := range s {
		n += m.Size()
	}
	return n
}

// Offset is where module i starts in the flat vector.
func (s Schema) Offset(i int) int {
	n := 0
	for _, m := range s[:i] {
		n += m.Size()
	}
	return n
}

// Compatible returns nil when adapters of schema o can be mixed with adapters of s,
// and otherwise an error naming the first difference.
func (s Schema) Compatible(o Schema) error {
	if len(s) != len(o) {
		return fmt.Errorf("lora: incompatible schemas: %d modules vs %d", len(s), len(o))
	}
	for i := range s {
		if s[i] != o[i] {
			return fmt.Errorf("lora: incompatible schemas at module %d: %s vs %s", i, s[i], o[i])
		}
	}
	return nil
}

func (m Module) String() string {
	return fmt.Sprintf("%s[out=%d in=%d r=%d alpha=%g]", m.Name, m.Out, m.In, m.Rank, m.Alpha)
}

// Adapter is one LoRA: a schema and its parameters in canonical flat order.
// Per module the flat vector holds B (out×rank, row-major) then A (rank×in, row-major).
type Adapter struct {
	Schema Schema
	Params []float32
}

// New returns a zero adapter of schema s.
func New(s Schema) *Adapter {
	return &Adapter{Schema: s, Params: make([]float32, s.NumParams())}
}

// FromFlat wraps v (not copied) as an adapter of schema s.
func FromFlat(s Schema, v []float32) (*Adapter, error) {
	if len(v) != s.NumParams() {
		return nil, fmt.Errorf("lora: flat vector has %d values, schema needs %d", len(v), s.NumParams())
	}
	return &Adapter{Schema: s, Params: v}, nil
}

// Flatten returns the canonical flat vector (shared, not copied).
func (a *Adapter) Flatten() []float32 { return a.Params }

// Clone returns a deep copy.
func (a *Adapter) Clone() *Adapter {
	return &Adapter{Schema: append(Schema(nil), a.Schema...), Params: append([]float32(nil), a.Params...)}
}

// B returns module i's up-projection (out×rank, row-major) as a view into Params.
func (a *Adapter) B(i int) []float32 {
	off := a.Schema.Offset(i)
	m := a.Schema[i]
	return a.Params[off : off+m.Out*m.Rank]
}

// A returns module i's down-projection (rank×in, row-major) as a view into Params.
func (a *Adapter) A(i int) []float32 {
	m := a.Schema[i]
	off := a.Schema.Offset(i) + m.Out*m.Rank
	return a.Params[off : off+m.Rank*m.In]
}

// DeltaW writes (alpha/rank)·B·A of module i into dst (out×in, row-major) and returns it;
// dst is allocated when nil and must otherwise have out·in elements.
func (a *Adapter) DeltaW(dst []float32, i int) []float32 {
	m := a.Schema[i]
	if dst == nil {
		dst = make([]float32, m.Out*m.In)
	}
	if len(dst) != m.Out*m.In {
		panic("lora: DeltaW destination has the wrong length")
	}
	b, am := a.B(i), a.A(i)
	scale := float32(m.Scale())
	for o := 0; o < m.Out; o++ {
		row := dst[o*m.In : (o+1)*m.In]
		clear(row)
		for r := 0; r < m.Rank; r++ {
			w := scale * b[o*m.Rank+r]
			if w == 0 {
				continue
			}
			ar := am[r*m.In : (r+1)*m.In]
			for j, v := range ar {
				row[j] += w * v
			}
		}
	}
	return dst
}

// CheckFinite reports the first NaN or infinite parameter, so bad generator output
// is caught before it reaches an evaluator.
func (a *Adapter) CheckFinite() error {
	for i, v := range a.Params {
		// NaN and ±Inf are the float32s whose exponent bits are all ones.
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return fmt.Errorf("lora: parameter %d is %v", i, v)
		}
	}
	return nil
}
