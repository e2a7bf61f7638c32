package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func kernelAVX2(kc int, a *float32, b *float32, ldb int, c *float32, ldc int, add int)

//go:noescape
func kernel1AVX2(kc int, a *float32, b *float32, c *float32)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernel = kernelAVX2
		kernel1 = kernel1AVX2
		kernelName = "avx2-fma"
	}
}
