#include "textflag.h"

// func adamAVX2(n int, w, grad, m, v *float32, b1, a1, b2, a2, step, inv2, eps float32)
//
// For n (a multiple of 8) parameters:
//	m ← b1·m + a1·g;  v ← b2·v + a2·g²;  w ← w − step·m / (√(v·inv2) + eps)
// eight at a time. The update is bound by memory traffic once the square root and
// the division are vectorised; scalar, they made it the largest cost of a
// paper-scale training step.
TEXT ·adamAVX2(SB), NOSPLIT, $0-68
	MOVQ n+0(FP), CX
	MOVQ w+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	VBROADCASTSS b1+40(FP), Y0
	VBROADCASTSS a1+44(FP), Y1
	VBROADCASTSS b2+48(FP), Y2
	VBROADCASTSS a2+52(FP), Y3
	VBROADCASTSS step+56(FP), Y4
	VBROADCASTSS inv2+60(FP), Y5
	VBROADCASTSS eps+64(FP), Y6

loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y7
	VMULPS (R8), Y0, Y8
	VFMADD231PS Y7, Y1, Y8
	VMOVUPS Y8, (R8)
	VMULPS Y7, Y7, Y9
	VMULPS (R9), Y2, Y10
	VFMADD231PS Y9, Y3, Y10
	VMOVUPS Y10, (R9)
	VMULPS Y10, Y5, Y11
	VSQRTPS Y11, Y11
	VADDPS Y11, Y6, Y11
	VMULPS Y8, Y4, Y12
	VDIVPS Y11, Y12, Y12
	VMOVUPS (DI), Y13
	VSUBPS Y12, Y13, Y13
	VMOVUPS Y13, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JMP loop

done:
	VZEROUPPER
	RET
