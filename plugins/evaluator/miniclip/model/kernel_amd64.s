#include "textflag.h"

// func rows4x16(k int, x0, x1, x2, x3, wt *float32, ldw int, out *float32)
//
// out[q·16 + j] = Σ_i x_q[i]·wt[i·ldw + j] for q < 4, j < 16, summed in order of i from
// zero, each product rounded before it is added (VMULPS then VADDPS, never FMA): the
// same operations, in the same order, as the scalar loop of gemm, so the bits agree.
TEXT ·rows4x16(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ x0+8(FP), R10
	MOVQ x1+16(FP), R11
	MOVQ x2+24(FP), R12
	MOVQ x3+32(FP), R13
	MOVQ wt+40(FP), DI
	MOVQ ldw+48(FP), R8
	MOVQ out+56(FP), DX
	SHLQ $2, R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JLE store

loop:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VBROADCASTSS (R10), Y10
	VMULPS Y8, Y10, Y14
	VADDPS Y14, Y0, Y0
	VMULPS Y9, Y10, Y15
	VADDPS Y15, Y1, Y1
	VBROADCASTSS (R11), Y11
	VMULPS Y8, Y11, Y14
	VADDPS Y14, Y2, Y2
	VMULPS Y9, Y11, Y15
	VADDPS Y15, Y3, Y3
	VBROADCASTSS (R12), Y12
	VMULPS Y8, Y12, Y14
	VADDPS Y14, Y4, Y4
	VMULPS Y9, Y12, Y15
	VADDPS Y15, Y5, Y5
	VBROADCASTSS (R13), Y13
	VMULPS Y8, Y13, Y14
	VADDPS Y14, Y6, Y6
	VMULPS Y9, Y13, Y15
	VADDPS Y15, Y7, Y7
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ R8, DI
	DECQ CX
	JNZ loop

store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET
