package model

import "golang.org/x/sys/cpu"

// rows4x16 is the float32 kernel of gemm (kernel_amd64.s).
//
//go:noescape
func rows4x16(k int, x0, x1, x2, x3, wt *float32, ldw int, out *float32)

// haveKernel reports whether rows4x16 may run: it needs AVX's 256-bit registers.
var haveKernel = cpu.X86.HasAVX
