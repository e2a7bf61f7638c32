// Package membw measures the machine's streaming read bandwidth, the limit of a
// product that reads a large weight matrix once (a batch-1 generation reads the
// SG-LoRA decoder's last layer, 226 MB at paper scale). Benchmarks run Read beside
// the product they judge, so that both are measured in one run on one machine.
package membw

import (
	"runtime"
	"sync"
	"testing"
)

// sum adds up x, 32 floats at a time where the CPU allows, with the same prefetch
// distance as the gemm kernels; the result only keeps the loads from being dropped.
var sum = sumGo

// Read reads buf once, split over GOMAXPROCS goroutines, and returns its sum.
func Read(buf []float32) float32 {
	workers := max(1, min(runtime.GOMAXPROCS(0), len(buf)/4096))
	sums := make([]float32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		part := buf[w*len(buf)/workers : (w+1)*len(buf)/workers]
		wg.Go(func() { sums[w] = sum(part) })
	}
	wg.Wait()
	var s float32
	for _, x := range sums {
		s += x
	}
	return s
}

func sumGo(x []float32) float32 {
	var s0, s1, s2, s3 float32
	for len(x) >= 4 {
		s0 += x[0]
		s1 += x[1]
		s2 += x[2]
		s3 += x[3]
		x = x[4:]
	}
	for _, v := range x {
		s0 += v
	}
	return s0 + s1 + s2 + s3
}

var evictBuf []float32

// Evict sweeps 1 GB through the caches, so that the next product reads its weights
// from memory, as a generation that follows other work does.
func Evict() {
	if evictBuf == nil {
		evictBuf = make([]float32, 1<<28)
	}
	for i := 0; i < len(evictBuf); i += 16 {
		evictBuf[i]++
	}
}

// Repeat calls f(i) for i < b.N, evicting the caches (untimed) before each call when
// cold.
func Repeat(b *testing.B, cold bool, f func(i int)) {
	for i := range b.N {
		if cold {
			b.StopTimer()
			Evict()
			b.StartTimer()
		}
		f(i)
	}
}
