package domain_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/sglab/sglab/datasets"
	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/framework/task"
)

// Prepare a task's images: check the chain once, then apply it to each image with an
// rng seeded per image, so every run sees the same images.
func Example() {
	var chain []task.Transform
	for _, s := range []string{"rotate(30)", "gaussian_noise(0.1)"} {
		t, err := task.ParseTransform(s)
		if err != nil {
			panic(err)
		}
		chain = append(chain, t)
	}
	p, err := domain.Compile(chain)
	if err != nil {
		panic(err) // e.g. transform "rotate(x)": ...
	}
	set, err := datasets.Load("digits")
	if err != nil {
		panic(err)
	}
	src := make([]float32, domain.Pixels)
	dst := make([]float32, domain.Pixels)
	const taskSeed = 42
	for i, e := range set.Test[:2] {
		e.Image.Float32(src)
		p.Apply(dst, src, rand.New(rand.NewPCG(taskSeed, uint64(i))))
		fmt.Println(e.Caption)
	}
	// Output:
	// a small faint thin seven standing upright
	// a large dark thick five standing upright
}

func ExampleCheck() {
	t, _ := task.ParseTransform("gaussian_blur(-1)")
	fmt.Println(domain.Check([]task.Transform{t}))
	// Output:
	// transform "gaussian_blur(-1)": sigma = -1 is out of range [0, 10]
}
