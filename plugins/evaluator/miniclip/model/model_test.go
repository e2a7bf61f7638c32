package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
)

func loraAdapter(t *testing.T, s lora.Schema, flat []float32) *lora.Adapter {
	t.Helper()
	a, err := lora.FromFlat(s, flat)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLayoutCoversParams(t *testing.T) {
	c := DefaultConfig()
	off := 0
	seen := map[string]bool{}
	for _, ts := range c.Layout() {
		if ts.Offset != off {
			t.Fatalf("%s starts at %d, want %d", ts.Name, ts.Offset, off)
		}
		if seen[ts.Name] {
			t.Fatalf("%s appears twice", ts.Name)
		}
		seen[ts.Name] = true
		off += ts.Size()
	}
	if off != c.NumParams() {
		t.Fatalf("layout covers %d values, NumParams says %d", off, c.NumParams())
	}
	// The q, k, v views must be the tensors of the same names.
	m, err := New[float32](c, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Params {
		m.Params[i] = float32(i)
	}
	for _, ts := range c.Layout() {
		if ts.Name == "visual.blocks.1.attn.k_proj.weight" {
			if got := m.W.Blocks[1].QKV[c.Width*c.Width]; got != float32(ts.Offset) {
				t.Fatalf("k_proj view starts at value %v, tensor at offset %d", got, ts.Offset)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"patch", func(c *Config) { c.Patch = 5 }, "multiple of patch"},
		{"heads", func(c *Config) { c.Heads = 5 }, "multiple of heads"},
		{"blocks", func(c *Config) { c.Blocks = 0 }, "must be positive"},
		{"std", func(c *Config) { c.PixelStd = 0 }, "std positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSchema(t *testing.T) {
	c := tinyConfig()
	good := Schema(c, 2, 4)
	if err := CheckSchema(c, good); err != nil {
		t.Fatal(err)
	}
	if len(good) != 3*c.Blocks || good[4].Name != "visual.blocks.1.attn.k_proj" {
		t.Fatalf("schema names: %v", good)
	}
	short := good[:5]
	if err := CheckSchema(c, short); err == nil {
		t.Error("a schema missing a module was accepted")
	}
	wide := append(lora.Schema(nil), good...)
	wide[2].In++
	if err := CheckSchema(c, wide); err == nil || !strings.Contains(err.Error(), "v_proj") {
		t.Errorf("a schema of the wrong shape gave %v", err)
	}
	if _, err := BindLoRA(c, good, make([]float32, 3)); err == nil {
		t.Error("a short flat vector was accepted")
	}
}

// TestAdamFirstStep: with bias correction the first step moves each parameter by
// lr·g/(|g|+eps), i.e. by lr against the sign of its gradient.
func TestAdamFirstStep(t *testing.T) {
	p := []float64{1, -2, 3}
	g := []float64{0.5, -4, 1e-3}
	a := NewAdam(3, 0.1)
	Step(a, p, g)
	for i, want := range []float64{0.9, -1.9, 2.9} {
		if math.Abs(p[i]-want) > 1e-6 {
			t.Errorf("param %d = %v, want %v", i, p[i], want)
		}
	}
	// Decoupled weight decay shrinks only the marked parameters.
	p = []float64{1, 1}
	a = NewAdam(2, 0.1)
	a.WeightDecay, a.Decay = 0.5, []bool{true, false}
	Step(a, p, []float64{0, 0})
	if math.Abs(p[0]-0.95) > 1e-12 || p[1] != 1 {
		t.Errorf("after decay: %v, want [0.95 1]", p)
	}
}

// TestAdamMinimisesQuadratic: Adam drives a convex quadratic to its minimum.
func TestAdamMinimisesQuadratic(t *testing.T) {
	target := []float64{3, -1, 0.5}
	p := make([]float64, 3)
	g := make([]float64, 3)
	a := NewAdam(3, 0.05)
	for it := 0; it < 2000; it++ {
		for i := range p {
			g[i] = 2 * (p[i] - target[i]) * float64(i+1)
		}
		Step(a, p, g)
	}
	for i := range p {
		if math.Abs(p[i]-target[i]) > 1e-3 {
			t.Errorf("param %d = %v, want %v", i, p[i], target[i])
		}
	}
}
