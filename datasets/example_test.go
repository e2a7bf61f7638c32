package datasets_test

import (
	"fmt"

	"github.com/sglab/sglab/datasets"
)

func ExampleLoad() {
	set, err := datasets.Load("fashion")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(set.Train), len(set.Test), set.Classes[9])
	e := set.Train[0]
	fmt.Printf("%s (label %d, image %d of the Fashion-MNIST training file)\n", e.Caption, e.Label, e.Index)
	// Output:
	// 2000 500 boot
	// a large dark thick boot standing upright (label 9, image 0 of the Fashion-MNIST training file)
}
