#include "textflag.h"

// func rows4x16(k int, x0, x1, x2, x3, wt *float32, ldw int, b, y *float32, ldy, mode int)
//
// For q < 4, j < 16: s = Σ_i x_q[i]·wt[i·ldw + j], summed in order of i from zero, each
// product rounded before it is added (VMULPS then VADDPS, never FMA); then s += b[j] if
// mode&1, s += y[q·ldy + j] if mode&2; y[q·ldy + j] = s. The same operations, in the
// same order, as the scalar loop of gemm, so the bits agree.
TEXT ·rows4x16(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), CX
	MOVQ x0+8(FP), R10
	MOVQ x1+16(FP), R11
	MOVQ x2+24(FP), R12
	MOVQ x3+32(FP), R13
	MOVQ wt+40(FP), DI
	MOVQ ldw+48(FP), R8
	MOVQ y+64(FP), DX
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
	MOVQ mode+80(FP), AX
	TESTQ $1, AX
	JZ nobias
	MOVQ b+56(FP), BX
	VMOVUPS (BX), Y8
	VMOVUPS 32(BX), Y9
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y8, Y2, Y2
	VADDPS Y9, Y3, Y3
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y8, Y6, Y6
	VADDPS Y9, Y7, Y7

nobias:
	MOVQ ldy+72(FP), R9
	SHLQ $2, R9
	TESTQ $2, AX
	JZ put
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	ADDQ R9, DX
	VADDPS (DX), Y2, Y2
	VADDPS 32(DX), Y3, Y3
	ADDQ R9, DX
	VADDPS (DX), Y4, Y4
	VADDPS 32(DX), Y5, Y5
	ADDQ R9, DX
	VADDPS (DX), Y6, Y6
	VADDPS 32(DX), Y7, Y7
	MOVQ y+64(FP), DX

put:
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
	VZEROUPPER
	RET

// func scores8(q, kt *float32, ldk, blocks int, scale float32, out *float32)
//
// out[8b + j] = (Σ_{k<8} q[k]·kt[k·ldk + 8b + j])·scale for b < blocks, j < 8: eight
// keys' scores at once, each summed from zero in order of k with every product rounded
// (VMULPS then VADDPS), then scaled, as attentionForward's scalar loop does.
TEXT ·scores8(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), SI
	MOVQ kt+8(FP), DI
	MOVQ ldk+16(FP), R8
	MOVQ blocks+24(FP), CX
	VBROADCASTSS scale+32(FP), Y15
	MOVQ out+40(FP), DX
	SHLQ $2, R8
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VBROADCASTSS 8(SI), Y10
	VBROADCASTSS 12(SI), Y11
	VBROADCASTSS 16(SI), Y12
	VBROADCASTSS 20(SI), Y13
	VBROADCASTSS 24(SI), Y14
	TESTQ CX, CX
	JLE done

block:
	MOVQ DI, AX
	VXORPS Y0, Y0, Y0
	VMULPS (AX), Y8, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VMULPS (AX), Y9, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VMULPS (AX), Y10, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VMULPS (AX), Y11, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VMULPS (AX), Y12, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VMULPS (AX), Y13, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VMULPS (AX), Y14, Y1
	VADDPS Y1, Y0, Y0
	ADDQ R8, AX
	VBROADCASTSS 28(SI), Y2
	VMULPS (AX), Y2, Y1
	VADDPS Y1, Y0, Y0
	VMULPS Y15, Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JNZ block

done:
	VZEROUPPER
	RET

// func wsum8(p *float32, l int, v *float32, stride int, o *float32)
//
// o[0:8] += p[j]·v[j·stride : j·stride+8] for j < l in order, every product rounded
// before it is added: attentionForward's weighted sum of the values for one head of
// width 8.
TEXT ·wsum8(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ l+8(FP), CX
	MOVQ v+16(FP), DI
	MOVQ stride+24(FP), R8
	MOVQ o+32(FP), DX
	SHLQ $2, R8
	VMOVUPS (DX), Y0
	TESTQ CX, CX
	JLE store8

loop8:
	VBROADCASTSS (SI), Y1
	VMULPS (DI), Y1, Y2
	VADDPS Y2, Y0, Y0
	ADDQ $4, SI
	ADDQ R8, DI
	DECQ CX
	JNZ loop8

store8:
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func exp8(x *float32, blocks int) int
//
// exp32's main path on eight lanes, operation for operation (VMULPS, VADDPS, VSUBPS,
// never FMA; the rounding k ± 0.5 then truncation; 2ⁿ built from n+127 shifted into the
// exponent), with exp32's constants from expConsts, so the bits agree with exp32.
TEXT ·exp8(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	XORQ AX, AX
	LEAQ ·expConsts(SB), DI
	VBROADCASTSS 0(DI), Y8   // log2 e
	VBROADCASTSS 4(DI), Y9   // 0.5
	VBROADCASTSS 8(DI), Y10  // ln2hi
	VBROADCASTSS 12(DI), Y11 // ln2lo
	VBROADCASTSS 48(DI), Y12 // expVecMin
	VBROADCASTSS 52(DI), Y13 // expVecMax
	LEAQ ·expInts(SB), R9
	VBROADCASTSS 0(R9), Y14  // sign bit
	VPBROADCASTD 4(R9), Y15  // 127
	TESTQ CX, CX
	JLE done

block:
	VMOVUPS (SI), Y0                 // x
	VCMPPS $0x1D, Y12, Y0, Y1        // x >= min (ordered)
	VCMPPS $0x12, Y13, Y0, Y2        // x <= max (ordered)
	VANDPS Y2, Y1, Y1
	VMOVMSKPS Y1, DX
	CMPL DX, $0xFF
	JNE done
	VMULPS Y8, Y0, Y1                // k = x·log2e
	VANDPS Y14, Y1, Y2
	VORPS Y9, Y2, Y2                 // ±0.5 with k's sign
	VADDPS Y2, Y1, Y1
	VCVTTPS2DQ Y1, Y1                // n
	VCVTDQ2PS Y1, Y2                 // fn
	VMULPS Y10, Y2, Y3
	VSUBPS Y3, Y0, Y3                // x − fn·ln2hi
	VMULPS Y11, Y2, Y4
	VSUBPS Y4, Y3, Y3                // r
	VBROADCASTSS 16(DI), Y4          // p = 1/5040
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 20(DI), Y5
	VADDPS Y5, Y4, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 24(DI), Y5
	VADDPS Y5, Y4, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 28(DI), Y5
	VADDPS Y5, Y4, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 32(DI), Y5
	VADDPS Y5, Y4, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 36(DI), Y5
	VADDPS Y5, Y4, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 40(DI), Y5
	VADDPS Y5, Y4, Y4
	VMULPS Y3, Y4, Y4
	VBROADCASTSS 44(DI), Y5
	VADDPS Y5, Y4, Y4
	VPADDD Y15, Y1, Y1
	VPSLLD $23, Y1, Y1               // 2ⁿ
	VMULPS Y1, Y4, Y4
	VMOVUPS Y4, (SI)
	ADDQ $32, SI
	INCQ AX
	DECQ CX
	JNZ block

done:
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET

// func outer8(p *float32, l int, x, y *float32, stride int)
//
// y_j += p[j]·x, eight lanes, for j < l (VMULPS then VADDPS, as the scalar
// dv_j[k] += p_ij·do_i[k]).
TEXT ·outer8(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ l+8(FP), CX
	MOVQ x+16(FP), AX
	MOVQ y+24(FP), DI
	MOVQ stride+32(FP), R8
	SHLQ $2, R8
	VMOVUPS (AX), Y0
	TESTQ CX, CX
	JLE outerdone

outerloop:
	VBROADCASTSS (SI), Y1
	VMULPS Y0, Y1, Y2
	VADDPS (DI), Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $4, SI
	ADDQ R8, DI
	DECQ CX
	JNZ outerloop

outerdone:
	VZEROUPPER
	RET

// func dqk8(ds *float32, l int, q, k, dk *float32, stride int, dq *float32)
//
// For j < l with ds[j] ≠ 0 (either zero skipped, tested on the bits): dq += ds[j]·k_j
// in a register, in order of j, and dk_j += ds[j]·q, each product rounded before it is
// added, as the scalar loop does.
TEXT ·dqk8(SB), NOSPLIT, $0-56
	MOVQ ds+0(FP), SI
	MOVQ l+8(FP), CX
	MOVQ q+16(FP), AX
	MOVQ k+24(FP), DI
	MOVQ dk+32(FP), R9
	MOVQ stride+40(FP), R8
	MOVQ dq+48(FP), DX
	SHLQ $2, R8
	VMOVUPS (AX), Y7
	VMOVUPS (DX), Y0
	TESTQ CX, CX
	JLE dqkstore

dqkloop:
	MOVL (SI), BX
	TESTL $0x7FFFFFFF, BX
	JZ dqknext
	VBROADCASTSS (SI), Y1
	VMULPS (DI), Y1, Y2
	VADDPS Y2, Y0, Y0
	VMULPS Y7, Y1, Y3
	VADDPS (R9), Y3, Y3
	VMOVUPS Y3, (R9)

dqknext:
	ADDQ $4, SI
	ADDQ R8, DI
	ADDQ R8, R9
	DECQ CX
	JNZ dqkloop

dqkstore:
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET
