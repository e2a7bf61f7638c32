package metrics

import (
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/gemm"
)

// BenchmarkCOCO5k scores COCO-5k's shape (5,000 images, 25,000 captions, five per
// image, 512-d unit embeddings) next to the bare float32 product of the same shape:
// "product" is one gemm.Gemm call into a preallocated 5,000×25,000 matrix, "recall"
// is EmbeddingRetrieval, both directions, from the embeddings. peak-MB is the most
// live heap seen during the sub-benchmark, inputs included.
func BenchmarkCOCO5k(b *testing.B) {
	const n, perImage, d = 5000, 5, 512
	m := n * perImage
	rng := rand.New(rand.NewPCG(5, 25))
	img, txt := make([][]float32, n), make([][]float32, m)
	ig, tg := make([]int, n), make([]int, m)
	for i := range img {
		img[i], ig[i] = unit(rng, nil, 0), i
	}
	for j := range txt {
		txt[j], tg[j] = unit(rng, img[j/perImage], 1.2), j/perImage
	}

	b.Run("product", func(b *testing.B) {
		a, bt := make([]float32, n*d), make([]float32, m*d)
		for i, v := range img {
			copy(a[i*d:], v)
		}
		for j, v := range txt {
			copy(bt[j*d:], v)
		}
		bm := make([]float32, d*m)
		gemm.Transpose(bm, bt, m, d)
		bt = nil
		c := make([]float32, n*m)
		peakHeap(b, func() { gemm.Gemm(n, m, d, a, d, 1, bm, m, 0, c, m) })
	})
	b.Run("recall", func(b *testing.B) {
		peakHeap(b, func() {
			if _, err := EmbeddingRetrieval(img, txt, ig, tg, nil); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// unit returns a random unit vector of dimension 512: near, plus Gaussian noise of
// deviation noise per coordinate, when near is given.
func unit(rng *rand.Rand, near []float32, noise float64) []float32 {
	const d = 512
	v := make([]float32, d)
	var ss float64
	for k := range v {
		x := rng.NormFloat64()
		if near != nil {
			x = float64(near[k]) + noise*x/math.Sqrt(d)
		}
		v[k] = float32(x)
		ss += x * x
	}
	for k := range v {
		v[k] = float32(float64(v[k]) / math.Sqrt(ss))
	}
	return v
}

// peakHeap runs f in b.Loop and reports the largest live heap seen meanwhile (sampled
// every millisecond) as peak-MB.
func peakHeap(b *testing.B, f func()) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	read := func() {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		f()
	}
	close(done)
	wg.Wait()
	read()
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
}
