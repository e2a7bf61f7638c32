package lora

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// testSchema has modules of different shapes, ranks and alphas so that offset and
// view bugs that cancel out on uniform schemas show up.
func testSchema() Schema {
	return Schema{
		{Name: "blocks.0.attn.q_proj", In: 5, Out: 4, Rank: 2, Alpha: 4},
		{Name: "blocks.0.attn.k_proj", In: 3, Out: 6, Rank: 1, Alpha: 1},
		{Name: "blocks.1.attn.v_proj", In: 7, Out: 2, Rank: 3, Alpha: 1.5},
	}
}

// randomAdapter fills an adapter of schema s with N(0,1) values from seed.
func randomAdapter(s Schema, seed uint64) *Adapter {
	rng := rand.New(rand.NewPCG(seed, 1))
	a := New(s)
	for i := range a.Params {
		a.Params[i] = float32(rng.NormFloat64())
	}
	return a
}

func TestSize(t *testing.T) {
	m := Module{Name: "x", In: 768, Out: 768, Rank: 2, Alpha: 2}
	if got, want := m.Size(), 768*2+2*768; got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}
	if got := m.Scale(); got != 1 {
		t.Errorf("Scale = %v, want 1", got)
	}
}

func TestFlattenRoundTrip(t *testing.T) {
	s := testSchema()
	a := randomAdapter(s, 1)
	b, err := FromFlat(s, a.Flatten())
	if err != nil {
		t.Fatal(err)
	}
	if &b.Params[0] != &a.Params[0] {
		t.Error("FromFlat copied the vector; it should wrap it")
	}
	for i := range s {
		if !equalF32(b.A(i), a.A(i)) || !equalF32(b.B(i), a.B(i)) {
			t.Errorf("module %d differs after FromFlat(Flatten())", i)
		}
	}
	if _, err := FromFlat(s, make([]float32, s.NumParams()-1)); err == nil {
		t.Error("FromFlat accepted a short vector")
	}
	if _, err := FromFlat(s, make([]float32, s.NumParams()+1)); err == nil {
		t.Error("FromFlat accepted a long vector")
	}

	c := a.Clone()
	c.Params[0]++
	c.Schema[0].Name = "changed"
	if a.Params[0] == c.Params[0] || a.Schema[0].Name == "changed" {
		t.Error("Clone shares memory with the original")
	}
	for _, v := range New(s).Params {
		if v != 0 {
			t.Fatal("New is not zero")
		}
	}
}

func TestOffsets(t *testing.T) {
	s := testSchema()
	sizes := []int{4*2 + 2*5, 6*1 + 1*3, 2*3 + 3*7}
	want := 0
	for i := range s {
		if got := s.Offset(i); got != want {
			t.Errorf("Offset(%d) = %d, want %d", i, got, want)
		}
		want += sizes[i]
	}
	if got := s.Offset(len(s)); got != want {
		t.Errorf("Offset(len) = %d, want %d", got, want)
	}
	if got := s.NumParams(); got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
}

// TestViews checks the canonical layout element by element: per module B (out×r)
// then A (r×in), row-major, and that views write through to Params.
func TestViews(t *testing.T) {
	s := testSchema()
	a := New(s)
	for i := range a.Params {
		a.Params[i] = float32(i)
	}
	pos := 0
	for i, m := range s {
		b, am := a.B(i), a.A(i)
		if len(b) != m.Out*m.Rank || len(am) != m.Rank*m.In {
			t.Fatalf("module %d: len(B)=%d len(A)=%d", i, len(b), len(am))
		}
		for o := 0; o < m.Out; o++ {
			for r := 0; r < m.Rank; r++ {
				if b[o*m.Rank+r] != float32(pos) {
					t.Fatalf("module %d: B[%d,%d] = %v, want %d", i, o, r, b[o*m.Rank+r], pos)
				}
				pos++
			}
		}
		for r := 0; r < m.Rank; r++ {
			for j := 0; j < m.In; j++ {
				if am[r*m.In+j] != float32(pos) {
					t.Fatalf("module %d: A[%d,%d] = %v, want %d", i, r, j, am[r*m.In+j], pos)
				}
				pos++
			}
		}
		b[0], am[0] = -1, -2
		if a.Params[s.Offset(i)] != -1 || a.Params[s.Offset(i)+m.Out*m.Rank] != -2 {
			t.Errorf("module %d: views do not write through", i)
		}
	}
}

func TestDeltaW(t *testing.T) {
	s := testSchema()
	a := randomAdapter(s, 2)
	for i, m := range s {
		b, am := a.B(i), a.A(i)
		// Brute force in float64: ΔW[o][j] = (alpha/r) Σ_k B[o][k] A[k][j].
		want := make([]float64, m.Out*m.In)
		for o := 0; o < m.Out; o++ {
			for j := 0; j < m.In; j++ {
				sum := 0.0
				for k := 0; k < m.Rank; k++ {
					sum += float64(b[o*m.Rank+k]) * float64(am[k*m.In+j])
				}
				want[o*m.In+j] = m.Alpha / float64(m.Rank) * sum
			}
		}
		// dst filled with garbage must be overwritten, not accumulated into.
		dst := make([]float32, m.Out*m.In)
		for j := range dst {
			dst[j] = 1e6
		}
		for _, got := range [][]float32{a.DeltaW(nil, i), a.DeltaW(dst, i)} {
			for j := range want {
				if math.Abs(float64(got[j])-want[j]) > 1e-5*(1+math.Abs(want[j])) {
					t.Fatalf("module %d: ΔW[%d] = %v, want %v", i, j, got[j], want[j])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DeltaW with a wrong-length dst did not panic")
		}
	}()
	a.DeltaW(make([]float32, 3), 0)
}

func TestCompatible(t *testing.T) {
	s := testSchema()
	if err := s.Compatible(testSchema()); err != nil {
		t.Fatalf("identical schemas: %v", err)
	}
	tests := []struct {
		name   string
		change func(Schema) Schema
		want   string
	}{
		{"fewer modules", func(o Schema) Schema { return o[:2] }, "3 modules vs 2"},
		{"name", func(o Schema) Schema { o[1].Name = "x"; return o }, "module 1"},
		{"in", func(o Schema) Schema { o[2].In++; return o }, "module 2"},
		{"out", func(o Schema) Schema { o[0].Out++; return o }, "module 0"},
		{"rank", func(o Schema) Schema { o[0].Rank++; return o }, "module 0"},
		{"alpha", func(o Schema) Schema { o[2].Alpha = 2; return o }, "module 2"},
		{"order", func(o Schema) Schema { o[0], o[1] = o[1], o[0]; return o }, "module 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Compatible(tt.change(testSchema()))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := testSchema().Validate(); err != nil {
		t.Fatalf("valid schema: %v", err)
	}
	tests := []struct {
		name   string
		schema Schema
		want   string
	}{
		{"empty", Schema{}, "no modules"},
		{"no name", Schema{{In: 1, Out: 1, Rank: 1}}, "module 0 has no name"},
		{"duplicate", Schema{{Name: "a", In: 1, Out: 1, Rank: 1}, {Name: "a", In: 2, Out: 2, Rank: 1}}, `"a" appears twice`},
		{"zero in", Schema{{Name: "a", In: 0, Out: 1, Rank: 1}}, "in=0"},
		{"negative out", Schema{{Name: "a", In: 1, Out: -1, Rank: 1}}, "out=-1"},
		{"zero rank", Schema{{Name: "a", In: 1, Out: 1, Rank: 0}}, "rank=0"},
		{"NaN alpha", Schema{{Name: "a", In: 1, Out: 1, Rank: 1, Alpha: math.NaN()}}, "alpha NaN"},
		{"Inf alpha", Schema{{Name: "a", In: 1, Out: 1, Rank: 1, Alpha: math.Inf(-1)}}, "alpha -Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.schema.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckFinite(t *testing.T) {
	s := testSchema()
	if err := randomAdapter(s, 3).CheckFinite(); err != nil {
		t.Fatalf("finite adapter: %v", err)
	}
	for _, edge := range []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1))} {
		a := randomAdapter(s, 3)
		a.Params[5] = edge
		if err := a.CheckFinite(); err != nil {
			t.Errorf("finite value %v: %v", edge, err)
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		a := randomAdapter(s, 3)
		a.Params[17] = bad
		a.Params[20] = bad
		err := a.CheckFinite()
		if err == nil || !strings.Contains(err.Error(), "parameter 17 ") {
			t.Errorf("value %v: error = %v, want one naming parameter 17", bad, err)
		}
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
