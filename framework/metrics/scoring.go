package metrics

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/sglab/sglab/framework/gemm"
)

// EmbeddingRanks returns exactly the ranks that Ranks gives on Similarity(img, txt),
// without that matrix: at COCO-5k scale (5,000 images, 25,000 captions, 512-d) the
// float64 matrix would take a gigabyte and a minute, where this takes about the time
// of the float32 matrix product.
//
// The similarity is streamed in blocks of image rows through the float32 gemm kernel
// (all cores), and each block is scanned once for both directions, counting the items
// scored at or above each query's best relevant score. That score, and every count
// the float32 product leaves in doubt, are computed in float64 exactly as Similarity
// computes them: a float32 score more than the a-priori rounding bound of the product
// (|s32 − s64| ≤ 2(d+2)·2⁻²⁴·‖x‖‖y‖, with room to spare) away from the threshold
// decides on its own, and the rest are recomputed. So near-ties and exact ties come
// out as in Ranks, bit for bit. Memory is the embeddings, one packed float32 copy of
// the texts and one block of 2²² float32 scores (16 MB; one row if rows are longer).
//
// The embeddings must be finite. The float64 work grows with the relevant pairs and
// with the items near each threshold; both are small for real retrieval data, but a
// constant similarity (every item tied) costs a float64 dot product per pair.
func EmbeddingRanks(img, txt [][]float32, imgGroup, txtGroup []int) (i2t, t2i []int, err error) {
	return embeddingRanks(img, txt, imgGroup, txtGroup, 1<<22)
}

// EmbeddingRetrieval is Retrieval(Similarity(img, txt), imgGroup, txtGroup, ks) with
// the ranks of EmbeddingRanks: the same recalls, at the cost of a float32 product.
func EmbeddingRetrieval(img, txt [][]float32, imgGroup, txtGroup []int, ks []int) (map[string]float64, error) {
	if err := checkKs(ks); err != nil {
		return nil, err
	}
	i2t, t2i, err := EmbeddingRanks(img, txt, imgGroup, txtGroup)
	if err != nil {
		return nil, err
	}
	return recall(i2t, t2i, ks)
}

// dot64 is one entry of Similarity: the dot product accumulated in float64, in order.
// Every product of two float32 values is exact in float64, so a fused multiply-add
// gives the same bits as a multiply and an add.
func dot64(a, b []float32) float64 {
	var s float64
	for k, x := range a {
		s += float64(x) * float64(b[k])
	}
	return s
}

func checkEmbeddings(img, txt [][]float32) error {
	if len(img) == 0 || len(txt) == 0 {
		return fmt.Errorf("metrics: similarity of %d images and %d texts", len(img), len(txt))
	}
	d := len(img[0])
	for i, v := range img {
		if len(v) != d {
			return fmt.Errorf("metrics: image embedding %d has %d values, image 0 has %d", i, len(v), d)
		}
	}
	for j, v := range txt {
		if len(v) != d {
			return fmt.Errorf("metrics: text embedding %d has %d values, images have %d", j, len(v), d)
		}
	}
	return nil
}

// norms returns the float64 Euclidean norm of each vector and the largest of them, or
// an error naming the first vector with a value that is not finite.
func norms(what string, vs [][]float32) ([]float64, float64, error) {
	out := make([]float64, len(vs))
	var top float64
	for i, v := range vs {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.IsNaN(ss) || math.IsInf(ss, 0) {
			return nil, 0, fmt.Errorf("metrics: %s embedding %d is not finite", what, i)
		}
		out[i] = math.Sqrt(ss)
		top = max(top, out[i])
	}
	return out, top, nil
}

// band is one query's decision interval in float32: a score at or above hi is surely
// (in float64) at or above the query's best relevant score, one below lo surely
// below it, and one in between is recomputed. A query without a relevant item has
// lo = hi = +Inf, which no finite score reaches.
type band struct{ lo, hi float32 }

func newBand(best, slack float64, found bool) band {
	if !found {
		inf := float32(math.Inf(1))
		return band{inf, inf}
	}
	lo, hi := float32(best-slack), float32(best+slack)
	if float64(lo) > best-slack {
		lo = math.Nextafter32(lo, float32(math.Inf(-1)))
	}
	if float64(hi) < best+slack {
		hi = math.Nextafter32(hi, float32(math.Inf(1)))
	}
	return band{lo, hi}
}

func embeddingRanks(img, txt [][]float32, imgGroup, txtGroup []int, blockFloats int) (i2t, t2i []int, err error) {
	n, m := len(imgGroup), len(txtGroup)
	if n == 0 || m == 0 {
		return nil, nil, fmt.Errorf("metrics: retrieval needs images and texts, got %d and %d", n, m)
	}
	if len(img) != n || len(txt) != m {
		return nil, nil, fmt.Errorf("metrics: %d image and %d text embeddings for %d image and %d text groups", len(img), len(txt), n, m)
	}
	if err := checkEmbeddings(img, txt); err != nil {
		return nil, nil, err
	}
	d := len(img[0])
	nx, topX, err := norms("image", img)
	if err != nil {
		return nil, nil, err
	}
	ny, topY, err := norms("text", txt)
	if err != nil {
		return nil, nil, err
	}
	if d > 1<<20 || topX*topY > 1e36 {
		// Beyond what the rounding bound below covers (float32 overflow, or d·2⁻²⁴ no
		// longer small): score the exact way.
		sim, err := Similarity(img, txt)
		if err != nil {
			return nil, nil, err
		}
		return Ranks(sim, imgGroup, txtGroup)
	}

	// Best relevant score of every query, in float64 as Similarity has it.
	bestRow, bestCol := make([]float64, n), make([]float64, m)
	foundRow, foundCol := make([]bool, n), make([]bool, m)
	txtOf := make(map[int][]int)
	for j, g := range txtGroup {
		txtOf[g] = append(txtOf[g], j)
	}
	for i, g := range imgGroup {
		for _, j := range txtOf[g] {
			s := dot64(img[i], txt[j])
			if !foundRow[i] || s > bestRow[i] {
				bestRow[i], foundRow[i] = s, true
			}
			if !foundCol[j] || s > bestCol[j] {
				bestCol[j], foundCol[j] = s, true
			}
		}
	}
	// |s32 − s64| ≤ (γ_d(float32) + γ_d(float64))·‖x‖‖y‖ plus underflow, whatever
	// order the kernel sums in; twice that, so the rounding of the bound itself and of
	// best ± slack cannot matter.
	c := 2 * float64(d+2) * 0x1p-24
	tiny := float64(d+2) * 0x1p-148
	rowBand, colBand := make([]band, n), make([]band, m)
	for i := range rowBand {
		rowBand[i] = newBand(bestRow[i], c*nx[i]*topY+tiny, foundRow[i])
	}
	for j := range colBand {
		colBand[j] = newBand(bestCol[j], c*topX*ny[j]+tiny, foundCol[j])
	}

	rows := max(1, min(n, blockFloats/m))
	packed := gemm.PackColumns(txt)
	a := make([]float32, rows*d)
	block := make([]float32, rows*m)
	workers := max(1, min(runtime.GOMAXPROCS(0), rows))
	rowCount := make([]int, n)
	colCount := make([][]int32, workers)
	for w := range colCount {
		colCount[w] = make([]int32, m)
	}
	for i0 := 0; i0 < n; i0 += rows {
		r := min(rows, n-i0)
		for i := range r {
			copy(a[i*d:(i+1)*d], img[i0+i])
		}
		gemm.GemmPacked(r, a, d, 1, packed, 0, block, m)
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := w*r/workers, (w+1)*r/workers
			wg.Go(func() {
				cols := colCount[w]
				for i := i0 + lo; i < i0+hi; i++ {
					x, g, rb, best := img[i], imgGroup[i], rowBand[i], bestRow[i]
					count := 0
					for j, s := range block[(i-i0)*m : (i-i0+1)*m] {
						if s >= rb.lo && txtGroup[j] != g && (s >= rb.hi || dot64(x, txt[j]) >= best) {
							count++
						}
						if cb := colBand[j]; s >= cb.lo && txtGroup[j] != g && (s >= cb.hi || dot64(x, txt[j]) >= bestCol[j]) {
							cols[j]++
						}
					}
					rowCount[i] = count
				}
			})
		}
		wg.Wait()
	}

	i2t, t2i = make([]int, n), make([]int, m)
	for i := range i2t {
		if foundRow[i] {
			i2t[i] = 1 + rowCount[i]
		}
	}
	for j := range t2i {
		if !foundCol[j] {
			continue
		}
		t2i[j] = 1
		for _, cols := range colCount {
			t2i[j] += int(cols[j])
		}
	}
	return i2t, t2i, nil
}
