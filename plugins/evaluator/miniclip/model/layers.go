package model

import (
	"math"
	"sync"
)

// The layer kernels below work on row-major matrices held in flat slices. Forward
// functions write into a destination; backward functions accumulate (+=) into gradient
// destinations so that shared inputs and parameters sum their contributions, and skip a
// gradient whose destination is nil.

// dot returns Σ a[i]·b[i] with four partial sums in a fixed order.
func dot[T Float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy does y += alpha·x.
func axpy[T Float](alpha T, x, y []T) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y[i] += alpha * x[i]
		y[i+1] += alpha * x[i+1]
		y[i+2] += alpha * x[i+2]
		y[i+3] += alpha * x[i+3]
	}
	for ; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}

// gemm computes y (n×out) = x (n×in)·wᵀ + b, or adds x·wᵀ to y when acc is set; w is
// out×in and b may be nil. Every output is a dot product of two contiguous rows, taken
// four input rows at a time so that each weight row loaded is used four times. float32
// runs on a SIMD kernel that performs the same operations in the same order (gemm32),
// so both paths give the same bits.
func gemm[T Float](y, x, w, b []T, n, in, out int, acc bool) {
	if haveKernel {
		if yf, ok := any(y).([]float32); ok {
			bf, _ := any(b).([]float32)
			gemm32(yf, any(x).([]float32), any(w).([]float32), bf, n, in, out, acc)
			return
		}
	}
	gemmScalar(y, x, w, b, n, in, out, acc)
}

// gemmScalar is gemm in plain Go, the reference gemm32 must agree with bit for bit.
func gemmScalar[T Float](y, x, w, b []T, n, in, out int, acc bool) {
	x, y, w = x[:n*in], y[:n*out], w[:out*in]
	r := 0
	for ; r+4 <= n; r += 4 {
		x0, x1, x2, x3 := x[r*in:(r+1)*in], x[(r+1)*in:(r+2)*in], x[(r+2)*in:(r+3)*in], x[(r+3)*in:(r+4)*in]
		y0, y1, y2, y3 := y[r*out:(r+1)*out], y[(r+1)*out:(r+2)*out], y[(r+2)*out:(r+3)*out], y[(r+3)*out:(r+4)*out]
		for o := 0; o < out; o++ {
			wo := w[o*in : (o+1)*in]
			wo = wo[:len(x0)]
			x1, x2, x3 := x1[:len(wo)], x2[:len(wo)], x3[:len(wo)]
			var s0, s1, s2, s3 T
			for i, wv := range wo {
				s0 += wv * x0[i]
				s1 += wv * x1[i]
				s2 += wv * x2[i]
				s3 += wv * x3[i]
			}
			if b != nil {
				s0 += b[o]
				s1 += b[o]
				s2 += b[o]
				s3 += b[o]
			}
			if acc {
				s0 += y0[o]
				s1 += y1[o]
				s2 += y2[o]
				s3 += y3[o]
			}
			y0[o], y1[o], y2[o], y3[o] = s0, s1, s2, s3
		}
	}
	for ; r < n; r++ {
		xr, yr := x[r*in:(r+1)*in], y[r*out:(r+1)*out]
		for o := range yr {
			s := dot(w[o*in:(o+1)*in], xr)
			if b != nil {
				s += b[o]
			}
			if acc {
				s += yr[o]
			}
			yr[o] = s
		}
	}
}

// gemm32 is gemm for float32 on rows4x16: the rows in blocks of four, sixteen outputs
// at a time against wᵀ packed with rows padded to a multiple of sixteen. Each output is
// Σ_i w[o][i]·x[r][i] summed from zero in order of i, then + b, then + y, exactly as
// gemmScalar's four-row loop; the last n mod 4 rows take gemmScalar's one-row path.
func gemm32(y, x, w, b []float32, n, in, out int, acc bool) {
	x, y, w = x[:n*in], y[:n*out], w[:out*in]
	blocks := n / 4 * 4
	if blocks == 0 || in == 0 || out == 0 {
		gemmScalar(y, x, w, b, n, in, out, acc)
		return
	}
	ldw := (out + 15) &^ 15
	buf := packBufs.Get().(*[]float32)
	defer packBufs.Put(buf)
	wt := grow(buf, in*ldw)
	for i := 0; i < in; i++ {
		row := wt[i*ldw : (i+1)*ldw]
		for o := 0; o < out; o++ {
			row[o] = w[o*in+i]
		}
		clear(row[out:])
	}
	mode := 0
	if b != nil {
		mode |= 1
	}
	if acc {
		mode |= 2
	}
	full := out &^ 15 // columns the kernel stores itself; the rest go through tile
	var tile [4 * 16]float32
	for r := 0; r < blocks; r += 4 {
		x0, x1, x2, x3 := &x[r*in], &x[(r+1)*in], &x[(r+2)*in], &x[(r+3)*in]
		for j := 0; j < full; j += 16 {
			var bj *float32
			if b != nil {
				bj = &b[j]
			}
			rows4x16(in, x0, x1, x2, x3, &wt[j], ldw, bj, &y[r*out+j], out, mode)
		}
		if full == out {
			continue
		}
		rows4x16(in, x0, x1, x2, x3, &wt[full], ldw, nil, &tile[0], 16, 0)
		for q := 0; q < 4; q++ {
			yr, t := y[(r+q)*out:(r+q+1)*out], tile[q*16:(q+1)*16]
			for o := full; o < out; o++ {
				s := t[o-full]
				if b != nil {
					s += b[o]
				}
				if acc {
					s += yr[o]
				}
				yr[o] = s
			}
		}
	}
	if blocks < n {
		gemmScalar(y[blocks*out:], x[blocks*in:], w, b, n-blocks, in, out, acc)
	}
}

// packBufs holds gemm32's packed weights between calls.
var packBufs = sync.Pool{New: func() any { return new([]float32) }}

// transpose writes the cols×rows transpose of the rows×cols matrix a into dst.
func transpose[T Float](dst, a []T, rows, cols int) {
	dst = dst[:rows*cols]
	for r := 0; r < rows; r++ {
		ar := a[r*cols : (r+1)*cols]
		for c, v := range ar {
			dst[c*rows+r] = v
		}
	}
}

// scratch is reusable working memory for the backward kernels.
type scratch[T Float] struct{ a, b, c []T }

func grow[T Float](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	return (*buf)[:n]
}

// linearForward computes y (n×out) = x (n×in)·wᵀ + b, with w out×in; b may be nil.
func linearForward[T Float](y, x, w, b []T, n, in, out int) {
	gemm(y, x, w, b, n, in, out, false)
}

// linearBackward accumulates dx += dy·w, dw += dyᵀ·x and db += Σ dy; nil destinations
// are skipped. Both products run through gemm on transposed operands.
func linearBackward[T Float](ws *scratch[T], dx, dw, db, dy, x, w []T, n, in, out int) {
	dy = dy[:n*out]
	if dx != nil {
		wt := grow(&ws.a, in*out)
		transpose(wt, w, out, in)
		gemm(dx, dy, wt, nil, n, out, in, true)
	}
	if dw != nil {
		dyt, xt := grow(&ws.b, out*n), grow(&ws.c, in*n)
		transpose(dyt, dy, n, out)
		transpose(xt, x, n, in)
		gemm(dw, dyt, xt, nil, out, n, in, true)
	}
	if db != nil {
		for r := 0; r < n; r++ {
			dyr := dy[r*out : (r+1)*out]
			for o, g := range dyr {
				db[o] += g
			}
		}
	}
}

// lnEps is LayerNorm's variance floor.
const lnEps = 1e-5

// layerNormForward normalises each of the n rows of x (width d) and writes
// y = g⊙x̂ + b, keeping x̂ and 1/σ for the backward pass.
func layerNormForward[T Float](y, xhat, rstd, x, g, b []T, n, d int) {
	for r := 0; r < n; r++ {
		xr := x[r*d : (r+1)*d]
		var mean float64
		for _, v := range xr {
			mean += float64(v)
		}
		mean /= float64(d)
		var vr float64
		for _, v := range xr {
			dv := float64(v) - mean
			vr += dv * dv
		}
		vr /= float64(d)
		rs := 1 / math.Sqrt(vr+lnEps)
		rstd[r] = T(rs)
		hr, yr := xhat[r*d:(r+1)*d], y[r*d:(r+1)*d]
		for i, v := range xr {
			h := T((float64(v) - mean) * rs)
			hr[i] = h
			yr[i] = g[i]*h + b[i]
		}
	}
}

// layerNormBackward accumulates dx, dg and db from dy.
func layerNormBackward[T Float](dx, dg, db, dy, xhat, rstd, g []T, n, d int) {
	for r := 0; r < n; r++ {
		dyr, hr := dy[r*d:(r+1)*d], xhat[r*d:(r+1)*d]
		if dg != nil {
			for i, v := range dyr {
				dg[i] += v * hr[i]
				db[i] += v
			}
		}
		if dx == nil {
			continue
		}
		var m1, m2 T // mean(dx̂), mean(dx̂⊙x̂)
		for i, v := range dyr {
			dh := v * g[i]
			m1 += dh
			m2 += dh * hr[i]
		}
		m1 /= T(d)
		m2 /= T(d)
		rs := rstd[r]
		dxr := dx[r*d : (r+1)*d]
		for i, v := range dyr {
			dxr[i] += rs * (v*g[i] - m1 - hr[i]*m2)
		}
	}
}

// quickGELU is CLIP's activation x·σ(1.702x); sig keeps σ(1.702x) for the backward pass.
func geluForward[T Float](y, sig, x []T) {
	x, sig = x[:len(y)], sig[:len(y)]
	for i, v := range x {
		sig[i] = -1.702 * v
	}
	expInPlace(sig)
	for i, v := range x {
		s := 1 / (1 + sig[i])
		sig[i] = s
		y[i] = v * s
	}
}

// geluBackward accumulates dx += dy·(σ + 1.702·x·σ·(1−σ)).
func geluBackward[T Float](dx, dy, x, sig []T) {
	x, sig, dy = x[:len(dx)], sig[:len(dx)], dy[:len(dx)]
	for i, v := range x {
		s := sig[i]
		dx[i] += dy[i] * (s + 1.702*v*s*(1-s))
	}
}

// expInPlace sets x[i] = exp(x[i]): exp32 for float32 (eight at a time by exp8 where
// the kernel runs), math.Exp otherwise.
func expInPlace[T Float](x []T) {
	if x32, ok := any(x).([]float32); ok {
		exp32s(x32)
		return
	}
	for i, v := range x {
		x[i] = T(math.Exp(float64(v)))
	}
}

// exp32s sets x[i] = exp32(x[i]). exp8 takes whole blocks of eight and stops at a
// block with a value outside [expVecMin, expVecMax] (or a NaN), which exp32 then does
// one by one; the results are the same bits either way.
func exp32s(x []float32) {
	i := 0
	for haveAVX2 && i+8 <= len(x) {
		i += 8 * exp8(&x[i], (len(x)-i)/8)
		if i+8 <= len(x) { // exp8 stopped before a block it does not take
			for j := i; j < i+8; j++ {
				x[j] = exp32(x[j])
			}
			i += 8
		}
	}
	for ; i < len(x); i++ {
		x[i] = exp32(x[i])
	}
}

// exp32's constants, shared with exp8 through expConsts so that both round them alike.
const (
	expLog2e = 1.44269504088896341
	expLn2hi = 0.693359375
	expLn2lo = -2.12194440e-4
	// expVecMin and expVecMax bound the inputs exp8 takes: exp32's main path, with
	// n = round(x·log2 e) ≤ 127 so that 2ⁿ is one normal float32.
	expVecMin = -87.33654
	expVecMax = 88
)

// expConsts is read by exp8 (kernel_amd64.s) at these float32 offsets.
var expConsts = [...]float32{
	expLog2e, 0.5, expLn2hi, expLn2lo,
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1,
	expVecMin, expVecMax,
}

// expInts are exp8's integer constants: the float32 sign bit and the exponent bias.
var expInts = [...]uint32{1 << 31, 127}

// exp32 is exp for float32 to within 2 ulp (Cody–Waite reduction by ln 2 and a
// degree-7 polynomial), several times cheaper than math.Exp. Results below the smallest
// normal float32 flush to zero.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < expVecMin:
		return 0
	}
	k := x * expLog2e
	if k >= 0 {
		k += 0.5
	} else {
		k -= 0.5
	}
	n := int32(k)
	fn := float32(n)
	r := (x - fn*expLn2hi) - fn*expLn2lo
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	if n > 127 { // scale in two steps so each power of two is representable
		return p * math.Float32frombits(uint32(n+127-64)<<23) * math.Float32frombits(uint32(127+64)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// attentionForward runs multi-head self-attention over one sequence of l tokens: qkv is
// l×3d (q | k | v per row), out is l×d, probs (heads×l×l) keeps the softmax weights.
// The loops over a head's dh values are written out inline: with dh ≈ 8 a call per dot
// product would cost as much as the arithmetic.
func attentionForward[T Float](out, probs, qkv []T, l, d, heads int) {
	if haveKernel && d == 8*heads {
		if o32, ok := any(out).([]float32); ok {
			attentionForward8(o32, any(probs).([]float32), any(qkv).([]float32), l, d, heads)
			return
		}
	}
	attentionForwardScalar(out, probs, qkv, l, d, heads)
}

// attentionForwardScalar is attentionForward in plain Go, the reference
// attentionForward8 must agree with bit for bit.
func attentionForwardScalar[T Float](out, probs, qkv []T, l, d, heads int) {
	dh := d / heads
	scale := T(1 / math.Sqrt(float64(dh)))
	stride := 3 * d
	clear(out[:l*d])
	for h := 0; h < heads; h++ {
		qo, ko, vo := h*dh, d+h*dh, 2*d+h*dh
		p := probs[h*l*l : (h+1)*l*l]
		for i := 0; i < l; i++ {
			qi := qkv[i*stride+qo : i*stride+qo+dh]
			pi := p[i*l : (i+1)*l]
			mx := T(math.Inf(-1))
			for j := range pi {
				kj := qkv[j*stride+ko : j*stride+ko+dh]
				kj = kj[:len(qi)]
				var s T
				for k, q := range qi {
					s += q * kj[k]
				}
				s *= scale
				pi[j] = s
				if s > mx {
					mx = s
				}
			}
			for j := range pi {
				pi[j] -= mx
			}
			expInPlace(pi)
			var sum T
			for _, e := range pi {
				sum += e
			}
			inv := 1 / sum
			oi := out[i*d+h*dh : i*d+h*dh+dh]
			for j := range pi {
				pi[j] *= inv
				w := pi[j]
				vj := qkv[j*stride+vo : j*stride+vo+dh]
				vj = vj[:len(oi)]
				for k := range oi {
					oi[k] += w * vj[k]
				}
			}
		}
	}
}

// attentionForward8 is attentionForward for float32 heads of width 8 on two kernels:
// scores8 scores eight keys at once against keys packed transposed, and wsum8 adds the
// weighted values into a head's output in one register. Each number goes through the
// same operations in the same order as attentionForwardScalar; the softmax between them
// is the scalar code itself.
func attentionForward8(out, probs, qkv []float32, l, d, heads int) {
	const dh = 8
	scale := float32(1 / math.Sqrt(float64(dh)))
	stride := 3 * d
	blocks := (l + 7) / 8
	ldk := blocks * 8
	buf := packBufs.Get().(*[]float32)
	defer packBufs.Put(buf)
	kt := grow(buf, dh*ldk+ldk) // keys transposed, then one row of scores
	row := kt[dh*ldk:]
	clear(out[:l*d])
	if l == 0 {
		return
	}
	for h := 0; h < heads; h++ {
		qo, ko, vo := h*dh, d+h*dh, 2*d+h*dh
		packHead8(kt, qkv, l, ldk, stride, ko)
		p := probs[h*l*l : (h+1)*l*l]
		for i := 0; i < l; i++ {
			scores8(&qkv[i*stride+qo], &kt[0], ldk, blocks, scale, &row[0])
			pi := p[i*l : (i+1)*l]
			copy(pi, row[:l])
			mx := float32(math.Inf(-1))
			for _, s := range pi {
				if s > mx {
					mx = s
				}
			}
			for j := range pi {
				pi[j] -= mx
			}
			expInPlace(pi)
			var sum float32
			for _, e := range pi {
				sum += e
			}
			inv := 1 / sum
			for j := range pi {
				pi[j] *= inv
			}
			wsum8(&pi[0], l, &qkv[vo], stride, &out[i*d+h*dh])
		}
	}
}

// packHead8 writes the eight columns off..off+7 of the l rows of qkv (stride floats
// apart) transposed into dst: row k holds column off+k of every token, padded with
// zeros to ldk, so that scores8 reads eight tokens' values of one column at once.
func packHead8(dst, qkv []float32, l, ldk, stride, off int) {
	for k := 0; k < 8; k++ {
		r := dst[k*ldk : (k+1)*ldk]
		for j := 0; j < l; j++ {
			r[j] = qkv[j*stride+off+k]
		}
		clear(r[l:])
	}
}

// attentionBackward accumulates dqkv (l×3d) from dout (l×d). tmp needs l values.
func attentionBackward[T Float](dqkv, dout, probs, qkv, tmp []T, l, d, heads int) {
	if haveKernel && d == 8*heads {
		if dqkv32, ok := any(dqkv).([]float32); ok {
			attentionBackward8(dqkv32, any(dout).([]float32), any(probs).([]float32), any(qkv).([]float32), l, d, heads)
			return
		}
	}
	attentionBackwardScalar(dqkv, dout, probs, qkv, tmp, l, d, heads)
}

// attentionBackward8 is attentionBackward for float32 heads of width 8. Per query row:
// scores8 gives the eight-wide dot products do·v_j against values packed transposed
// (scale 1, which is exact), outer8 adds p_ij·do_i into every dv_j, and dqk8 adds
// ds_ij·k_j into dq_i and ds_ij·q_i into every dk_j, skipping ds_ij = 0 as the scalar
// code does. Every accumulator sees the same operations in the same order as in
// attentionBackwardScalar, so the bits agree; the sums over j (s, ds) stay in Go.
func attentionBackward8(dqkv, dout, probs, qkv []float32, l, d, heads int) {
	const dh = 8
	if l == 0 {
		return
	}
	scale := float32(1 / math.Sqrt(float64(dh)))
	stride := 3 * d
	blocks := (l + 7) / 8
	ldk := blocks * 8
	buf := packBufs.Get().(*[]float32)
	defer packBufs.Put(buf)
	vt := grow(buf, dh*ldk+2*ldk) // values transposed, then dp and ds
	dp := vt[dh*ldk : dh*ldk+ldk]
	ds := vt[dh*ldk+ldk : dh*ldk+2*ldk]
	for h := 0; h < heads; h++ {
		qo, ko, vo := h*dh, d+h*dh, 2*d+h*dh
		packHead8(vt, qkv, l, ldk, stride, vo)
		p := probs[h*l*l : (h+1)*l*l]
		for i := 0; i < l; i++ {
			doi := &dout[i*d+h*dh]
			pi := p[i*l : (i+1)*l]
			scores8(doi, &vt[0], ldk, blocks, 1, &dp[0])
			var s float32
			for j, pij := range pi {
				s += pij * dp[j]
			}
			outer8(&pi[0], l, doi, &dqkv[vo], stride)
			for j, pij := range pi {
				ds[j] = pij * (dp[j] - s) * scale
			}
			dqk8(&ds[0], l, &qkv[i*stride+qo], &qkv[ko], &dqkv[ko], stride, &dqkv[i*stride+qo])
		}
	}
}

// attentionBackwardScalar is attentionBackward in plain Go, the reference
// attentionBackward8 must agree with bit for bit.
func attentionBackwardScalar[T Float](dqkv, dout, probs, qkv, tmp []T, l, d, heads int) {
	dh := d / heads
	scale := T(1 / math.Sqrt(float64(dh)))
	stride := 3 * d
	for h := 0; h < heads; h++ {
		qo, ko, vo := h*dh, d+h*dh, 2*d+h*dh
		p := probs[h*l*l : (h+1)*l*l]
		for i := 0; i < l; i++ {
			doi := dout[i*d+h*dh : i*d+h*dh+dh]
			pi := p[i*l : (i+1)*l]
			dp := tmp[:len(pi)]
			var s T
			for j, pij := range pi {
				vj := qkv[j*stride+vo : j*stride+vo+dh]
				vj = vj[:len(doi)]
				dvj := dqkv[j*stride+vo : j*stride+vo+dh]
				dvj = dvj[:len(doi)]
				var g T
				for k, o := range doi {
					g += o * vj[k]
					dvj[k] += pij * o
				}
				dp[j] = g
				s += pij * g
			}
			qi := qkv[i*stride+qo : i*stride+qo+dh]
			dqi := dqkv[i*stride+qo : i*stride+qo+dh]
			dqi = dqi[:len(qi)]
			for j, pij := range pi {
				ds := pij * (dp[j] - s) * scale
				if ds == 0 {
					continue
				}
				kj := qkv[j*stride+ko : j*stride+ko+dh]
				kj = kj[:len(qi)]
				dkj := dqkv[j*stride+ko : j*stride+ko+dh]
				dkj = dkj[:len(qi)]
				for k, q := range qi {
					dqi[k] += ds * kj[k]
					dkj[k] += ds * q
				}
			}
		}
	}
}

// normalizeForward writes y = x/‖x‖ row by row and keeps the norms.
func normalizeForward[T Float](y, norms, x []T, n, d int) {
	for r := 0; r < n; r++ {
		xr := x[r*d : (r+1)*d]
		var ss float64
		for _, v := range xr {
			ss += float64(v) * float64(v)
		}
		nr := math.Sqrt(ss) + 1e-12
		norms[r] = T(nr)
		yr := y[r*d : (r+1)*d]
		for i, v := range xr {
			yr[i] = T(float64(v) / nr)
		}
	}
}

// normalizeBackward accumulates dx += (dy − y·(y·dy)) / ‖x‖.
func normalizeBackward[T Float](dx, dy, y, norms []T, n, d int) {
	for r := 0; r < n; r++ {
		yr, dyr := y[r*d:(r+1)*d], dy[r*d:(r+1)*d]
		c := dot(yr, dyr)
		inv := 1 / norms[r]
		dxr := dx[r*d : (r+1)*d]
		for i := range dxr {
			dxr[i] += (dyr[i] - yr[i]*c) * inv
		}
	}
}
