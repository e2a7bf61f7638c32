package mlp

import "golang.org/x/sys/cpu"

//go:noescape
func adamAVX2(n int, w, grad, m, v *float32, b1, a1, b2, a2, step, inv2, eps float32)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		adamUpdate = func(w, g, m, v []float32, b1, b2, step, inv2, eps float32) {
			n := len(g) / 8 * 8
			if n > 0 {
				adamAVX2(n, &w[0], &g[0], &m[0], &v[0], b1, 1-b1, b2, 1-b2, step, inv2, eps)
			}
			adamGo(w[n:], g[n:], m[n:], v[n:], b1, b2, step, inv2, eps)
		}
	}
}
