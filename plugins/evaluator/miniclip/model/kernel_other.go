//go:build !amd64

package model

const haveKernel = false

func rows4x16(k int, x0, x1, x2, x3, wt *float32, ldw int, out *float32) {
	panic("model: rows4x16 has no implementation on this architecture")
}
