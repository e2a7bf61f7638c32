package model

import "golang.org/x/sys/cpu"

// rows4x16 is the float32 kernel of gemm (kernel_amd64.s): four rows of x against
// sixteen packed columns, then + b (mode&1) and + y (mode&2), stored into four rows of
// y at stride ldy.
//
//go:noescape
func rows4x16(k int, x0, x1, x2, x3, wt *float32, ldw int, b, y *float32, ldy, mode int)

// haveKernel reports whether rows4x16 may run: it needs AVX's 256-bit registers.
var haveKernel = cpu.X86.HasAVX

// scores8 and wsum8 are attentionForward's float32 kernels for heads of width 8
// (kernel_amd64.s).
//
//go:noescape
func scores8(q, kt *float32, ldk, blocks int, scale float32, out *float32)

//go:noescape
func wsum8(p *float32, l int, v *float32, stride int, o *float32)

// haveAVX2 reports whether exp8 may run: it shifts integers in 256-bit registers.
var haveAVX2 = cpu.X86.HasAVX2

// exp8 sets x[i] = exp32(x[i]) for up to 8·blocks values, a block of eight at a time,
// and returns the number of blocks done: it stops before the first block holding a
// value outside [expVecMin, expVecMax] or a NaN, and leaves that block as it was.
//
//go:noescape
func exp8(x *float32, blocks int) int

// outer8 and dqk8 are attentionBackward's float32 kernels for heads of width 8
// (kernel_amd64.s): outer8 adds p[j]·x into the eight values at y + j·stride for j < l;
// dqk8 adds ds[j]·k_j into dq and ds[j]·q into dk_j (rows k_j, dk_j at stride) for
// every j < l with ds[j] ≠ 0.
//
//go:noescape
func outer8(p *float32, l int, x, y *float32, stride int)

//go:noescape
func dqk8(ds *float32, l int, q, k, dk *float32, stride int, dq *float32)
