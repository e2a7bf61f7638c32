package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sglab/sglab/internal/membw"
)

// BenchmarkDecoderOutput times the SG-LoRA decoder's last layer at paper scale
// (hidden 512 → P = 110,592) for generation batches of 1 and 10: the cost of reading
// the 226 MB weight once, then of the extra arithmetic per sample.
func BenchmarkDecoderOutput(b *testing.B) {
	const h, p = 512, 110592
	r := rand.New(rand.NewPCG(1, 1))
	w := randSlice(r, h*p)
	packed := Pack(w, h, p, p)
	for _, cold := range []bool{false, true} {
		// The limit: a parallel read of the packed weight, the bytes the products read.
		b.Run(fmt.Sprintf("stream-read/cold=%v", cold), func(b *testing.B) {
			b.SetBytes(int64(4 * h * p))
			membw.Repeat(b, cold, func(int) { readSink += membw.Read(packed.data) })
		})
	}
	for _, batch := range []int{1, 10} {
		x := randSlice(r, batch*h)
		y := make([]float32, batch*p)
		b.Run(fmt.Sprintf("batch=%d/kernel=%s/unpacked", batch, Kernel()), func(b *testing.B) {
			b.SetBytes(int64(4 * h * p))
			for b.Loop() {
				Gemm(batch, p, h, x, h, 1, w, p, 0, y, p)
			}
		})
		for _, cold := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/kernel=%s/packed/cold=%v", batch, Kernel(), cold), func(b *testing.B) {
				b.SetBytes(int64(4 * h * p))
				membw.Repeat(b, cold, func(int) { GemmPacked(batch, x, h, 1, packed, 0, y, p) })
			})
		}
	}
}

var readSink float32

// BenchmarkTraining times the three products of one paper-scale training batch of 64
// through a 512×P layer: forward, weight gradient, input gradient, each reported in
// GFLOP/s (2·64·512·P per product), the kernel's throughput on the training shapes,
// called as mlp.Dense calls it (the weight gradient overwritten, beta 0).
// Every output buffer is written once before timing: a first touch of fresh pages
// (226 MB for the weight gradient) costs more than the product on this machine.
func BenchmarkTraining(b *testing.B) {
	const h, p, batch = 512, 110592, 64
	const flops = 2.0 * batch * h * p
	r := rand.New(rand.NewPCG(1, 2))
	w := randSlice(r, h*p)
	x := randSlice(r, batch*h)
	dy := randSlice(r, batch*p)
	report := func(b *testing.B) {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	b.Run("forward", func(b *testing.B) {
		y := make([]float32, batch*p)
		Gemm(batch, p, h, x, h, 1, w, p, 0, y, p)
		for b.Loop() {
			Gemm(batch, p, h, x, h, 1, w, p, 0, y, p)
		}
		report(b)
	})
	b.Run("weight-grad", func(b *testing.B) {
		gw := make([]float32, h*p)
		Gemm(h, p, batch, x, 1, h, dy, p, 0, gw, p)
		for b.Loop() {
			Gemm(h, p, batch, x, 1, h, dy, p, 0, gw, p)
		}
		report(b)
	})
	b.Run("input-grad", func(b *testing.B) {
		dyT := make([]float32, p*batch)
		Transpose(dyT, dy, batch, p)
		dxT := make([]float32, h*batch)
		Gemm(h, batch, p, w, p, 1, dyT, batch, 0, dxT, batch)
		for b.Loop() {
			Gemm(h, batch, p, w, p, 1, dyT, batch, 0, dxT, batch)
		}
		report(b)
	})
}
