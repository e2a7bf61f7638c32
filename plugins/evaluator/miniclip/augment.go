package miniclip

import (
	"fmt"
	"math/rand/v2"

	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/framework/task"
)

// CLIP was pretrained on web images of every orientation and polarity, so its
// zero-shot accuracy on a rotated or inverted image is weak but far from chance. A
// backbone pretrained on upright, bright-on-dark digits only is blind to those, and then
// no rank-2 LoRA can teach it much. Pretraining therefore shows each image, independently,
//
//   - inverted with probability PretrainOptions.Invert (a web corpus shows both dark
//     ink on light paper and light on dark; kept rare so that inversion remains a
//     real shift for the experiments),
//   - rotated by a uniform random angle with probability PretrainOptions.Rotate,
//   - through one mild random geometric or photometric change (below) with probability
//     PretrainOptions.Augment.
//
// Strong corruptions (heavy blur and noise, pixelation, edge maps, fog, occlusion, line
// clutter, ...) are never shown: like the styles a web corpus lacks, they are what expert
// LoRAs are for; only a light blur or a little noise, as in any photo collection.
// Tasks use fixed, often stronger settings and chains, so a task's domain stays unseen.

// augmentation draws one random transform.
type augmentation func(rng *rand.Rand) task.Transform

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

func tf(name string, args ...float64) task.Transform { return task.Transform{Name: name, Args: args} }

// augmentations are the mild changes, one per kind.
var augmentations = []augmentation{
	func(r *rand.Rand) task.Transform { return tf("scale", uniform(r, 0.7, 1.2)) },
	func(r *rand.Rand) task.Transform { return tf("translate", uniform(r, -4, 4), uniform(r, -4, 4)) },
	func(r *rand.Rand) task.Transform { return tf("shear", uniform(r, -0.4, 0.4)) },
	func(r *rand.Rand) task.Transform { return tf("elastic", uniform(r, 10, 30), 4) },
	func(r *rand.Rand) task.Transform { return tf("contrast", uniform(r, 0.5, 1.5)) },
	func(r *rand.Rand) task.Transform { return tf("brightness", uniform(r, -0.2, 0.2)) },
	func(r *rand.Rand) task.Transform { return tf("gaussian_blur", uniform(r, 0.3, 1.2)) },
	func(r *rand.Rand) task.Transform { return tf("gaussian_noise", uniform(r, 0.02, 0.25)) },
}

// augment shows img (in place) as pretraining sees it: see the comment above.
func augment(img []float32, opts PretrainOptions, rng *rand.Rand) error {
	var chain []task.Transform
	if rng.Float64() < opts.Invert {
		chain = append(chain, tf("invert"))
	}
	if rng.Float64() < opts.Rotate {
		chain = append(chain, tf("rotate", uniform(rng, -180, 180)))
	}
	if rng.Float64() < opts.Augment {
		chain = append(chain, augmentations[rng.IntN(len(augmentations))](rng))
	}
	if len(chain) == 0 {
		return nil
	}
	p, err := domain.Compile(chain)
	if err != nil {
		return fmt.Errorf("pretraining augmentation %v: %w", chain, err)
	}
	p.Apply(img, img, rng)
	return nil
}
