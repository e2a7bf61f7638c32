#include "textflag.h"

// func kernelAVX2(kc int, a *float32, b *float32, ldb int, c *float32, ldc int, add int)
//
// C[i][0:16] += Σ_p a[6p+i]·B[p][0:16] for i < 6, with B rows ldb floats apart and
// C rows ldc floats apart; add = 0 stores the sum instead, without reading C (the
// same bits as adding it to zeros, since a sum that starts at +0 is never −0). Twelve YMM accumulators hold the 6×16 tile for the whole
// k loop; each step loads one 16-wide row of B and broadcasts six values of the
// packed A panel. B is always packed (rows of 16 floats, 64 bytes apart), so the
// prefetch 2 KB ahead runs 32 k-steps in front of the loads; with a pre-packed weight
// matrix streaming from memory that is what brings the read rate near the machine's
// (measured: 7.6 GB/s with a one-step prefetch, 11 GB/s with 2 KB, cold cache).
TEXT ·kernelAVX2(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R8
	SHLQ $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JLE store

loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	PREFETCHT0 2048(DI)
	VBROADCASTSS (SI), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ $24, SI
	ADDQ R8, DI
	DECQ CX
	JNZ loop

store:
	MOVQ add+48(FP), AX
	TESTQ AX, AX
	JZ set
	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	VADDPS 32(DX), Y1, Y1
	VMOVUPS Y1, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y2, Y2
	VMOVUPS Y2, (DX)
	VADDPS 32(DX), Y3, Y3
	VMOVUPS Y3, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	VADDPS 32(DX), Y5, Y5
	VMOVUPS Y5, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	VADDPS 32(DX), Y7, Y7
	VMOVUPS Y7, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y8, Y8
	VMOVUPS Y8, (DX)
	VADDPS 32(DX), Y9, Y9
	VMOVUPS Y9, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y10, Y10
	VMOVUPS Y10, (DX)
	VADDPS 32(DX), Y11, Y11
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

set:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R9, DX
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ R9, DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R9, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R9, DX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R9, DX
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// func kernel1AVX2(kc int, a *float32, b *float32, c *float32)
//
// c[0:16] += Σ_p a[p]·b[16p : 16p+16]: one row of A (contiguous, unpacked) against a
// packed panel. A thin generation batch of one is this product; it is bound by
// streaming b, so the loop takes two k steps with four accumulators and prefetches
// both cache lines it advances over, 2 KB ahead.
TEXT ·kernel1AVX2(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

pair:
	CMPQ CX, $2
	JLT single
	PREFETCHT0 2048(DI)
	PREFETCHT0 2112(DI)
	VBROADCASTSS (SI), Y4
	VBROADCASTSS 4(SI), Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y4, Y1
	VFMADD231PS 64(DI), Y5, Y2
	VFMADD231PS 96(DI), Y5, Y3
	ADDQ $8, SI
	ADDQ $128, DI
	SUBQ $2, CX
	JMP pair

single:
	TESTQ CX, CX
	JLE done
	VBROADCASTSS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y4, Y1

done:
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	VADDPS 32(DX), Y1, Y1
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
