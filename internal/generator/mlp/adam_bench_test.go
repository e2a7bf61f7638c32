package mlp

import "testing"

// BenchmarkAdamStep updates 32M parameters (512 MB of state: w, g, m, v); the
// reported MB/s counts the 7 arrays' worth of traffic (4 read, 3 written).
func BenchmarkAdamStep(b *testing.B) {
	const n = 1 << 25
	w, g := make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = 1e-3 * float32(i%17)
	}
	a := NewAdam(1e-3, []Param{{W: w, G: g}})
	a.Step() // the moments' first touch (fresh pages) is not a step's cost
	b.SetBytes(7 * 4 * n)
	for b.Loop() {
		a.Step()
	}
}
