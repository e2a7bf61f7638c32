package domain_test

import (
	"math/rand/v2"
	"testing"

	"github.com/sglab/sglab/datasets"
	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/framework/task"
)

// images1000 returns the first 1,000 shipped training digits as float32 images.
func images1000(b *testing.B) [][]float32 {
	b.Helper()
	s, err := datasets.Load("digits")
	if err != nil {
		b.Fatal(err)
	}
	imgs := make([][]float32, 1000)
	for i := range imgs {
		imgs[i] = make([]float32, domain.Pixels)
		s.Train[i].Image.Float32(imgs[i])
	}
	return imgs
}

func compile(b *testing.B, chain ...string) *domain.Pipeline {
	b.Helper()
	var ts []task.Transform
	for _, s := range chain {
		t, err := task.ParseTransform(s)
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, t)
	}
	p, err := domain.Compile(ts)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkChain1000 applies a typical three-step chain to 1,000 images, seeding the
// rng per image as the evaluator does.
func BenchmarkChain1000(b *testing.B) {
	imgs := images1000(b)
	p := compile(b, "rotate(30)", "gaussian_blur(1)", "gaussian_noise(0.1)")
	dst := make([]float32, domain.Pixels)
	for b.Loop() {
		for i, img := range imgs {
			p.Apply(dst, img, rand.New(rand.NewPCG(uint64(i), 1)))
		}
	}
}

// BenchmarkTransform1000 applies each transform's example to 1,000 images.
func BenchmarkTransform1000(b *testing.B) {
	imgs := images1000(b)
	dst := make([]float32, domain.Pixels)
	for _, in := range domain.Describe() {
		p := compile(b, in.Example)
		b.Run(in.Name, func(b *testing.B) {
			for b.Loop() {
				for i, img := range imgs {
					p.Apply(dst, img, rand.New(rand.NewPCG(uint64(i), 1)))
				}
			}
		})
	}
}
