// Package gemm multiplies float32 matrices: the generators' neural networks and the
// retrieval metrics' image–text similarities share it, so it lives in the framework,
// which plugins may import. The SG-LoRA decoder's last layer maps a few hundred hidden
// units to every LoRA parameter (110,592 at paper scale), so generating an adapter is
// one long, thin matrix product whose cost is reading that weight matrix once;
// training adds the transposed products of backpropagation; scoring COCO-5k is a
// 5,000 × 25,000 × 512 product. Gemm packs the small operand, streams the large one
// through a register-blocked 6×16 micro-kernel (AVX2+FMA assembly on amd64, plain Go
// elsewhere) and splits the work over GOMAXPROCS goroutines.
package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Micro-kernel tile (mr×nr) and cache blocks, GotoBLAS style: a kcBlock×ncBlock block of
// B is packed into contiguous kcBlock×nr panels (512 KB, L2) and an mcBlock×kcBlock
// block of A into mr-row panels (120 KB). Packing B matters: rows of a large B lie a
// multiple of 4 KB apart and would otherwise all land in the same cache sets.
const (
	mr      = 6
	nr      = 16
	kcBlock = 256
	mcBlock = 120
	ncBlock = 512
)

// kernel computes C[0:mr][0:nr] += Σ_p a[mr·p+i]·B[p][0:nr] over kc steps, or with
// add = 0 stores the sum without reading C; B and C rows are ldb and ldc floats apart.
// The assembly version replaces it when the CPU allows.
var kernel = kernelGo

// kernel1 computes c[0:nr] += Σ_p a[p]·b[nr·p : nr·p+nr] for one contiguous row of A
// against a packed panel.
var kernel1 = kernel1Go

var kernelName = "go"

// Kernel names the micro-kernel in use ("avx2-fma" or "go"), for benchmark reports.
func Kernel() string { return kernelName }

// serialWork is the size (m·n·k) below which splitting over goroutines costs more
// than it saves.
const serialWork = 1 << 18

// Gemm computes C = beta·C + A·B where C is m×n (rows ldc floats apart), B is k×n
// (rows ldb floats apart) and A is m×k with element (i, p) at a[i·ai + p·ap], so that
// both A and its transpose are passed without copying. beta = 0 overwrites C (NaNs in
// C do not survive). It panics when a slice is too short for the shapes, like gonum.
func Gemm(m, n, k int, a []float32, ai, ap int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(m, n, k, a, ai, ap, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	// beta = 0 with k > 0: the first block of the k loop stores instead of adding, so
	// that C (a weight gradient of 226 MB at paper scale) is neither cleared nor read.
	set := beta == 0 && k > 0
	if !set {
		scale(m, n, beta, c, ldc)
	}
	if k == 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if m*n*k < serialWork {
		workers = 1
	}
	mp, np := (m+mr-1)/mr, (n+nr-1)/nr
	if workers > max(mp, np) {
		workers = max(mp, np)
	}
	if workers <= 1 {
		serial(m, n, k, a, ai, ap, b, ldb, c, ldc, set)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		// Split the dimension with more micro-tiles, on tile boundaries.
		if np >= mp {
			j0, j1 := w*np/workers*nr, min((w+1)*np/workers*nr, n)
			if j0 >= j1 {
				continue
			}
			wg.Go(func() {
				serial(m, j1-j0, k, a, ai, ap, b[j0:], ldb, c[j0:], ldc, set)
			})
		} else {
			i0, i1 := w*mp/workers*mr, min((w+1)*mp/workers*mr, m)
			if i0 >= i1 {
				continue
			}
			wg.Go(func() {
				serial(i1-i0, n, k, a[i0*ai:], ai, ap, b, ldb, c[i0*ldc:], ldc, set)
			})
		}
	}
	wg.Wait()
}

func check(m, n, k int, a []float32, ai, ap int, b []float32, ldb int, c []float32, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("gemm: negative shape %d×%d×%d", m, n, k))
	case ai < 0 || ap < 0:
		panic("gemm: negative stride of A")
	case ldb < n || ldc < n:
		panic(fmt.Sprintf("gemm: row strides ldb=%d ldc=%d shorter than n=%d", ldb, ldc, n))
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm: C has %d elements, needs %d", len(c), (m-1)*ldc+n))
	}
	if m > 0 && n > 0 && k > 0 {
		if len(a) <= (m-1)*ai+(k-1)*ap {
			panic(fmt.Sprintf("gemm: A has %d elements, needs %d", len(a), (m-1)*ai+(k-1)*ap+1))
		}
		if len(b) < (k-1)*ldb+n {
			panic(fmt.Sprintf("gemm: B has %d elements, needs %d", len(b), (k-1)*ldb+n))
		}
	}
}

func scale(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// buffers are one goroutine's packing space.
type buffers struct {
	a    []float32 // packed A block: ⌈mcBlock/mr⌉ panels of kcBlock×mr
	b    []float32 // packed B block: ncBlock/nr panels of kcBlock×nr
	tile [mr * nr]float32
}

var pool = sync.Pool{New: func() any {
	return &buffers{
		a: make([]float32, (mcBlock+mr-1)/mr*mr*kcBlock),
		b: make([]float32, kcBlock*ncBlock),
	}
}}

// serial accumulates C += A·B on one goroutine, or with set computes C = A·B.
func serial(m, n, k int, a []float32, ai, ap int, b []float32, ldb int, c []float32, ldc int, set bool) {
	buf := pool.Get().(*buffers)
	defer pool.Put(buf)
	for jc := 0; jc < n; jc += ncBlock {
		nb := min(ncBlock, n-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kb := min(kcBlock, k-pc)
			add := 1
			if set && pc == 0 {
				add = 0
			}
			packB(buf.b, kb, nb, b[pc*ldb+jc:], ldb)
			for ic := 0; ic < m; ic += mcBlock {
				mb := min(mcBlock, m-ic)
				packA(buf.a, mb, kb, a, ic*ai+pc*ap, ai, ap)
				for jr := 0; jr < nb; jr += nr {
					cols := min(nr, nb-jr)
					bp := &buf.b[jr*kb]
					for ir := 0; ir < mb; ir += mr {
						rows := min(mr, mb-ir)
						apanel := &buf.a[ir*kb]
						if rows == mr && cols == nr {
							kernel(kb, apanel, bp, nr, &c[(ic+ir)*ldc+jc+jr], ldc, add)
							continue
						}
						kernel(kb, apanel, bp, nr, &buf.tile[0], nr, 0)
						for i := range rows {
							off := (ic+ir+i)*ldc + jc + jr
							crow := c[off : off+cols]
							tile := buf.tile[i*nr : i*nr+cols]
							if add == 0 {
								copy(crow, tile)
								continue
							}
							for j := range crow {
								crow[j] += tile[j]
							}
						}
					}
				}
			}
		}
	}
}

// packA copies the mb×kb block of A starting at a[off] into mr-row panels, each kb×mr
// with the mr values of one k step adjacent; rows past mb are zero.
func packA(dst []float32, mb, kb int, a []float32, off, ai, ap int) {
	for q := 0; q*mr < mb; q++ {
		panel := dst[q*mr*kb : (q+1)*mr*kb]
		rows := min(mr, mb-q*mr)
		if rows < mr {
			clear(panel)
		}
		if ai == 1 {
			// A transposed: the rows of one k step are adjacent.
			for p := range kb {
				base := off + q*mr + p*ap
				copy(panel[p*mr:p*mr+rows], a[base:base+rows])
			}
			continue
		}
		for i := range rows {
			base := off + (q*mr+i)*ai
			if ap == 1 {
				src := a[base : base+kb]
				for p, v := range src {
					panel[p*mr+i] = v
				}
				continue
			}
			for p := range kb {
				panel[p*mr+i] = a[base+p*ap]
			}
		}
	}
}

// packB copies the kb×nb block of B at b[0] into nr-column panels, each kb×nr with
// one k step's nr values adjacent; columns past nb are zero. It walks B row by row so
// that each row segment is read sequentially.
func packB(dst []float32, kb, nb int, b []float32, ldb int) {
	full := nb / nr * nr
	for p := range kb {
		src := b[p*ldb : p*ldb+nb]
		for jr := 0; jr < full; jr += nr {
			copy(dst[jr*kb+p*nr:jr*kb+p*nr+nr], src[jr:jr+nr])
		}
		if full < nb {
			row := dst[full*kb+p*nr : full*kb+p*nr+nr]
			copy(row, src[full:])
			clear(row[nb-full:])
		}
	}
}

func kernelGo(kc int, a, b *float32, ldb int, c *float32, ldc int, add int) {
	var acc [mr][nr]float32
	if kc > 0 {
		as := unsafe.Slice(a, kc*mr)
		bs := unsafe.Slice(b, (kc-1)*ldb+nr)
		for p := range kc {
			brow := (*[nr]float32)(bs[p*ldb : p*ldb+nr])
			ap := (*[mr]float32)(as[p*mr : p*mr+mr])
			for i, av := range ap {
				for j, bv := range brow {
					acc[i][j] += av * bv
				}
			}
		}
	}
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := range acc {
		row := cs[i*ldc : i*ldc+nr]
		if add == 0 {
			copy(row, acc[i][:])
			continue
		}
		for j := range row {
			row[j] += acc[i][j]
		}
	}
}

func kernel1Go(kc int, a, b, c *float32) {
	var acc [nr]float32
	if kc > 0 {
		as := unsafe.Slice(a, kc)
		bs := unsafe.Slice(b, kc*nr)
		for p, av := range as {
			brow := (*[nr]float32)(bs[p*nr : p*nr+nr])
			for j, bv := range brow {
				acc[j] += av * bv
			}
		}
	}
	cs := (*[nr]float32)(unsafe.Slice(c, nr))
	for j := range cs {
		cs[j] += acc[j]
	}
}

// Transpose writes the transpose of the rows×cols row-major matrix src into dst
// (cols×rows), in cache-sized tiles.
func Transpose(dst, src []float32, rows, cols int) {
	if len(src) < rows*cols || len(dst) < rows*cols {
		panic(fmt.Sprintf("gemm: Transpose of %d×%d needs %d elements, have src %d dst %d", rows, cols, rows*cols, len(src), len(dst)))
	}
	const t = 32
	for i0 := 0; i0 < rows; i0 += t {
		for j0 := 0; j0 < cols; j0 += t {
			for i := i0; i < min(i0+t, rows); i++ {
				for j := j0; j < min(j0+t, cols); j++ {
					dst[j*rows+i] = src[i*cols+j]
				}
			}
		}
	}
}
