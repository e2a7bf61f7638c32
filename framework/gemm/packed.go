package gemm

import (
	"fmt"
	"runtime"
	"sync"
)

// Packed is a k×n matrix stored as the micro-kernel reads it: ⌈n/16⌉ panels of k×16,
// each contiguous, the last zero-padded. A weight matrix that is multiplied many
// times by a thin A (a generator's output layer) is packed once, so that each
// product streams it from memory exactly once, sequentially, with no packing pass.
type Packed struct {
	K, N int
	data []float32
}

// Pack copies the k×n matrix b (rows ldb floats apart) into panel layout.
func Pack(b []float32, k, n, ldb int) *Packed {
	if k < 0 || n < 0 || ldb < n || (k > 0 && n > 0 && len(b) < (k-1)*ldb+n) {
		panic(fmt.Sprintf("gemm: Pack of %d×%d with ldb %d from %d elements", k, n, ldb, len(b)))
	}
	p := &Packed{K: k, N: n, data: make([]float32, (n+nr-1)/nr*nr*k)}
	packB(p.data, k, n, b, ldb) // panel j at j·k: packB's layout with kb = k
	return p
}

// PackColumns packs the k×n matrix whose column j is cols[j] (so k = len(cols[0])),
// as Pack would pack it after a transpose, without building the transpose: a set of
// embeddings, one per row, becomes the right operand of a product with another set.
func PackColumns(cols [][]float32) *Packed {
	n, k := len(cols), 0
	if n > 0 {
		k = len(cols[0])
	}
	for j, c := range cols {
		if len(c) != k {
			panic(fmt.Sprintf("gemm: PackColumns: column %d has %d values, column 0 has %d", j, len(c), k))
		}
	}
	p := &Packed{K: k, N: n, data: make([]float32, (n+nr-1)/nr*nr*k)}
	for j, c := range cols {
		panel := p.data[j/nr*nr*k:]
		for q, v := range c {
			panel[q*nr+j%nr] = v
		}
	}
	return p
}

// GemmPacked computes C = beta·C + A·B for a packed B (K×N); A (m×K) is addressed as
// in Gemm. The panels are split over GOMAXPROCS goroutines.
func GemmPacked(m int, a []float32, ai, ap int, b *Packed, beta float32, c []float32, ldc int) {
	n, k := b.N, b.K
	if m < 0 || ai < 0 || ap < 0 || ldc < n {
		panic(fmt.Sprintf("gemm: GemmPacked m=%d ai=%d ap=%d ldc=%d for N=%d", m, ai, ap, ldc, n))
	}
	if m == 0 || n == 0 {
		return
	}
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("gemm: C has %d elements, needs %d", len(c), (m-1)*ldc+n))
	}
	if k > 0 && len(a) <= (m-1)*ai+(k-1)*ap {
		panic(fmt.Sprintf("gemm: A has %d elements, needs %d", len(a), (m-1)*ai+(k-1)*ap+1))
	}
	scale(m, n, beta, c, ldc)
	if k == 0 {
		return
	}
	np := (n + nr - 1) / nr
	workers := min(runtime.GOMAXPROCS(0), np)
	if m*n*k < serialWork {
		workers = 1
	}
	var wg sync.WaitGroup
	if m == 1 && ap == 1 {
		// One contiguous row: no packing, and no padding to a 6-row tile.
		for w := range workers {
			j0, j1 := w*np/workers, (w+1)*np/workers
			wg.Go(func() { packedRow(k, a, b, j0, j1, c) })
		}
		wg.Wait()
		return
	}
	// Pack all of A once: it is thin (a batch of activations).
	mp := (m + mr - 1) / mr
	apack := make([]float32, mp*mr*k)
	for pc := 0; pc < k; pc += kcBlock {
		kb := min(kcBlock, k-pc)
		for q := range mp {
			rows := min(mr, m-q*mr)
			// Panel q, k block pc: kb×mr floats at q·mr·k + pc·mr.
			packA(apack[q*mr*k+pc*mr:], rows, kb, a, q*mr*ai+pc*ap, ai, ap)
		}
	}
	for w := range workers {
		j0, j1 := w*np/workers, (w+1)*np/workers
		wg.Go(func() { packedPanels(m, k, apack, b, j0, j1, c, ldc) })
	}
	wg.Wait()
}

// packedRow runs panels [j0, j1) of B against the single row a.
func packedRow(k int, a []float32, b *Packed, j0, j1 int, c []float32) {
	var tile [nr]float32
	for jp := j0; jp < j1; jp++ {
		jr := jp * nr
		panel := &b.data[jr*k]
		if cols := b.N - jr; cols < nr {
			clear(tile[:])
			kernel1(k, &a[0], panel, &tile[0])
			for j := range cols {
				c[jr+j] += tile[j]
			}
			continue
		}
		kernel1(k, &a[0], panel, &c[jr])
	}
}

// packedPanels runs panels [j0, j1) of B against every row tile of the packed A.
func packedPanels(m, k int, apack []float32, b *Packed, j0, j1 int, c []float32, ldc int) {
	var tile [mr * nr]float32
	for jp := j0; jp < j1; jp++ {
		jr := jp * nr
		cols := min(nr, b.N-jr)
		panel := b.data[jr*k : jr*k+k*nr]
		for pc := 0; pc < k; pc += kcBlock {
			kb := min(kcBlock, k-pc)
			for ir := 0; ir < m; ir += mr {
				rows := min(mr, m-ir)
				ap := &apack[ir*k+pc*mr]
				if rows == mr && cols == nr {
					kernel(kb, ap, &panel[pc*nr], nr, &c[ir*ldc+jr], ldc, 1)
					continue
				}
				kernel(kb, ap, &panel[pc*nr], nr, &tile[0], nr, 0)
				for i := range rows {
					crow := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+cols]
					for j := range crow {
						crow[j] += tile[i*nr+j]
					}
				}
			}
		}
	}
}

// Unpack returns the k×n row-major matrix p was packed from.
func (p *Packed) Unpack() []float32 {
	k, n := p.K, p.N
	b := make([]float32, k*n)
	for jr := 0; jr < n; jr += nr {
		w := min(nr, n-jr)
		for r := range k {
			copy(b[r*n+jr:r*n+jr+w], p.data[jr*k+r*nr:jr*k+r*nr+w])
		}
	}
	return b
}
