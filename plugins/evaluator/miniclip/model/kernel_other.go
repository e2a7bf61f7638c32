//go:build !amd64

package model

const haveKernel = false

func rows4x16(k int, x0, x1, x2, x3, wt *float32, ldw int, b, y *float32, ldy, mode int) {
	panic("model: rows4x16 has no implementation on this architecture")
}

func scores8(q, kt *float32, ldk, blocks int, scale float32, out *float32) {
	panic("model: scores8 has no implementation on this architecture")
}

func wsum8(p *float32, l int, v *float32, stride int, o *float32) {
	panic("model: wsum8 has no implementation on this architecture")
}

const haveAVX2 = false

func exp8(x *float32, blocks int) int {
	panic("model: exp8 has no implementation on this architecture")
}

func outer8(p *float32, l int, x, y *float32, stride int) {
	panic("model: outer8 has no implementation on this architecture")
}

func dqk8(ds *float32, l int, q, k, dk *float32, stride int, dq *float32) {
	panic("model: dqk8 has no implementation on this architecture")
}
