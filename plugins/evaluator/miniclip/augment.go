package miniclip

import (
	"fmt"
	"math/rand/v2"

	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/framework/task"
)

// CLIP was pretrained on web images in every style, so its zero-shot accuracy in a new
// domain is weak but far from chance. A backbone pretrained on clean digits only is
// blind to an inverted or rotated digit, and then no rank-2 LoRA can teach it much.
// Pretraining therefore shows each image, with probability PretrainOptions.Augment,
// through one random transform of moderate strength from the families below (domain
// randomisation). Independently, an image is shown inverted with probability
// PretrainOptions.Invert: dark ink on light paper is how handwriting and product photos
// mostly look on the web, so a CLIP knows both polarities. Task domains are chains of transforms at fixed, often stronger
// settings, so a task's exact domain stays unseen, and some styles (edge maps, fog,
// blots, stripes, line clutter) are never shown, like the styles a web corpus lacks.

// augmentation draws one random transform.
type augmentation func(rng *rand.Rand) task.Transform

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func tf(name string, args ...float64) task.Transform { return task.Transform{Name: name, Args: args} }

// augmentations are the pretraining families, one per kind of shift.
var augmentations = []augmentation{
	func(r *rand.Rand) task.Transform { return tf("rotate", uniform(r, -180, 180)) },
	func(r *rand.Rand) task.Transform { return tf("scale", uniform(r, 0.6, 1.3)) },
	func(r *rand.Rand) task.Transform { return tf("translate", uniform(r, -5, 5), uniform(r, -5, 5)) },
	func(r *rand.Rand) task.Transform { return tf("shear", uniform(r, -0.6, 0.6)) },
	func(r *rand.Rand) task.Transform { return tf("gaussian_blur", uniform(r, 0.5, 2)) },
	func(r *rand.Rand) task.Transform { return tf("gaussian_noise", uniform(r, 0.05, 0.4)) },
	func(r *rand.Rand) task.Transform { return tf("impulse_noise", uniform(r, 0.02, 0.2)) },
	func(r *rand.Rand) task.Transform { return tf("contrast", uniform(r, 0.3, 1.5)) },
	func(r *rand.Rand) task.Transform { return tf("brightness", uniform(r, -0.3, 0.3)) },
	func(r *rand.Rand) task.Transform { return tf("invert") },
	func(r *rand.Rand) task.Transform { return tf("elastic", uniform(r, 10, 40), 4) },
	func(r *rand.Rand) task.Transform { return tf("occlude", uniform(r, 0.1, 0.3)) },
	func(r *rand.Rand) task.Transform { return tf("pixelate", float64(2+r.IntN(3))) },
}

// augment transforms img in place with a chain of 1 to maxChain random augmentations
// (the number drawn uniformly).
func augment(img []float32, maxChain int, rng *rand.Rand) error {
	k := 1 + rng.IntN(maxChain)
	chain := make([]task.Transform, k)
	for i := range chain {
		chain[i] = augmentations[rng.IntN(len(augmentations))](rng)
	}
	p, err := domain.Compile(chain)
	if err != nil {
		return fmt.Errorf("pretraining augmentation %v: %w", chain, err)
	}
	p.Apply(img, img, rng)
	return nil
}
