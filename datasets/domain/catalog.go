package domain

import (
	"errors"
	"math"
	"math/rand/v2"
)

// fixed wraps an op that never draws from the rng.
func fixed(f op) (op, bool, error) { return f, false, nil }

// random wraps an op that draws from the rng.
func random(f op) (op, bool, error) { return f, true, nil }

const maxAbs = 1e6 // bound for arguments with no natural range

// catalog lists every transform. Keep docs to one line: they are shown to users.
var catalog = []spec{
	{Info{Name: "identity", Doc: "leaves the image unchanged (the clean domain)", Example: "identity"},
		func([]float64) (op, bool, error) {
			return fixed(func(dst, src []float32, _ *rand.Rand) { copy(dst, src) })
		}},

	// Geometry.
	{Info{Name: "rotate", Random: true, Doc: "rotates counterclockwise (as displayed) by deg degrees, plus a uniform random jitter in [-jitter, jitter]",
		Example: "rotate(30)",
		Params: []Param{
			{Name: "deg", Doc: "angle in degrees", Required: true, Min: -maxAbs, Max: maxAbs},
			{Name: "jitter", Doc: "half-width of the random extra angle in degrees", Min: 0, Max: 180},
		}},
		func(a []float64) (op, bool, error) {
			deg, jitter := a[0], a[1]
			if jitter == 0 {
				return fixed(func(dst, src []float32, _ *rand.Rand) { rotate(dst, src, deg) })
			}
			return random(func(dst, src []float32, rng *rand.Rand) {
				rotate(dst, src, deg+jitter*(2*rng.Float64()-1))
			})
		}},
	{Info{Name: "shear", Doc: "shears horizontally about the centre: x += s·(13.5 − y), so s > 0 leans the top to the right",
		Example: "shear(0.4)",
		Params:  []Param{{Name: "s", Doc: "shear factor", Required: true, Min: -5, Max: 5}}},
		func(a []float64) (op, bool, error) {
			s := a[0]
			return fixed(func(dst, src []float32, _ *rand.Rand) { affine(dst, src, 1, s, 0, 1) })
		}},
	{Info{Name: "scale", Doc: "zooms about the centre by factor f (f > 1 enlarges and crops, f < 1 shrinks)",
		Example: "scale(0.7)",
		Params:  []Param{{Name: "f", Doc: "zoom factor", Required: true, Min: 0.05, Max: 20}}},
		func(a []float64) (op, bool, error) {
			f := a[0]
			return fixed(func(dst, src []float32, _ *rand.Rand) { affine(dst, src, 1/f, 0, 0, 1/f) })
		}},
	{Info{Name: "translate", Doc: "shifts by dx pixels to the right and dy pixels down",
		Example: "translate(4, -3)",
		Params: []Param{
			{Name: "dx", Doc: "shift to the right in pixels", Required: true, Min: -Side, Max: Side},
			{Name: "dy", Doc: "shift down in pixels", Required: true, Min: -Side, Max: Side},
		}},
		func(a []float64) (op, bool, error) {
			dx, dy := a[0], a[1]
			return fixed(func(dst, src []float32, _ *rand.Rand) { translate(dst, src, dx, dy) })
		}},
	{Info{Name: "flip_h", Doc: "mirrors left to right", Example: "flip_h"},
		func([]float64) (op, bool, error) { return fixed(flipH) }},
	{Info{Name: "flip_v", Doc: "mirrors top to bottom", Example: "flip_v"},
		func([]float64) (op, bool, error) { return fixed(flipV) }},
	{Info{Name: "elastic", Random: true, Doc: "warps by a random smooth displacement field: uniform noise blurred by sigma, scaled by alpha pixels (Simard et al., 2003)",
		Example: "elastic(34, 4)",
		Params: []Param{
			{Name: "alpha", Doc: "displacement scale in pixels", Default: 34, Min: 0, Max: 1000},
			{Name: "sigma", Doc: "smoothness of the field in pixels", Default: 4, Min: 0.5, Max: Side},
		}},
		func(a []float64) (op, bool, error) {
			alpha, sigma := a[0], a[1]
			return random(func(dst, src []float32, rng *rand.Rand) { elastic(dst, src, alpha, sigma, rng) })
		}},

	// Blurs.
	{Info{Name: "gaussian_blur", Doc: "blurs with a Gaussian of standard deviation sigma pixels",
		Example: "gaussian_blur(1.5)",
		Params:  []Param{{Name: "sigma", Doc: "standard deviation in pixels", Required: true, Min: 0, Max: 10}}},
		func(a []float64) (op, bool, error) {
			sigma := a[0]
			return fixed(func(dst, src []float32, _ *rand.Rand) { gaussianBlur(dst, src, sigma) })
		}},
	{Info{Name: "motion_blur", Doc: "averages along a line of length pixels centred on each pixel, at angle degrees counterclockwise from horizontal",
		Example: "motion_blur(6, 0)",
		Params: []Param{
			{Name: "length", Doc: "blur length in pixels", Required: true, Min: 0, Max: Side},
			{Name: "angle", Doc: "direction in degrees, 0 = horizontal", Default: 0, Min: -maxAbs, Max: maxAbs},
		}},
		func(a []float64) (op, bool, error) {
			length, angle := a[0], a[1]
			return fixed(func(dst, src []float32, _ *rand.Rand) { motionBlur(dst, src, length, angle) })
		}},
	{Info{Name: "glass_blur", Random: true, Doc: "blurs by sigma, swaps each pixel with a random neighbour within delta pixels (iterations passes), blurs again (MNIST-C)",
		Example: "glass_blur(0.7, 1, 2)",
		Params: []Param{
			{Name: "sigma", Doc: "blur before and after, in pixels", Default: 0.7, Min: 0, Max: 10},
			{Name: "delta", Doc: "largest displacement of a swap, in pixels", Default: 1, Min: 1, Max: 10, Integer: true},
			{Name: "iterations", Doc: "shuffling passes", Default: 2, Min: 1, Max: 10, Integer: true},
		}},
		func(a []float64) (op, bool, error) {
			sigma, delta, iters := a[0], int(a[1]), int(a[2])
			return random(func(dst, src []float32, rng *rand.Rand) { glassBlur(dst, src, sigma, delta, iters, rng) })
		}},
	{Info{Name: "pixelate", Doc: "replaces each block×block tile by its mean (tiles at the right and bottom edges may be smaller)",
		Example: "pixelate(3)",
		Params:  []Param{{Name: "block", Doc: "tile side in pixels", Required: true, Min: 1, Max: Side, Integer: true}}},
		func(a []float64) (op, bool, error) {
			block := int(a[0])
			return fixed(func(dst, src []float32, _ *rand.Rand) { pixelate(dst, src, block) })
		}},

	// Noises.
	{Info{Name: "gaussian_noise", Random: true, Doc: "adds independent Gaussian noise of standard deviation sigma to every pixel",
		Example: "gaussian_noise(0.2)",
		Params:  []Param{{Name: "sigma", Doc: "standard deviation", Required: true, Min: 0, Max: 10}}},
		func(a []float64) (op, bool, error) {
			sigma := a[0]
			return random(func(dst, src []float32, rng *rand.Rand) {
				for i, v := range src {
					dst[i] = clamp01(v + float32(sigma*rng.NormFloat64()))
				}
			})
		}},
	{Info{Name: "shot_noise", Random: true, Doc: "replaces each value v by Poisson(lambda·v)/lambda: photon noise, stronger for smaller lambda",
		Example: "shot_noise(10)",
		Params:  []Param{{Name: "lambda", Doc: "photons at full intensity", Required: true, Min: 0.01, Max: 1e6}}},
		func(a []float64) (op, bool, error) {
			lambda := a[0]
			return random(func(dst, src []float32, rng *rand.Rand) {
				for i, v := range src {
					dst[i] = clamp01(float32(float64(poisson(rng, lambda*float64(clamp01(v)))) / lambda))
				}
			})
		}},
	{Info{Name: "impulse_noise", Random: true, Doc: "sets each pixel with probability p to 0 or 1 (equally likely): salt and pepper",
		Example: "impulse_noise(0.1)",
		Params:  []Param{{Name: "p", Doc: "probability that a pixel is hit", Required: true, Min: 0, Max: 1}}},
		func(a []float64) (op, bool, error) {
			p := a[0]
			return random(func(dst, src []float32, rng *rand.Rand) {
				for i, v := range src {
					if rng.Float64() < p {
						v = float32(rng.IntN(2))
					}
					dst[i] = v
				}
			})
		}},

	// Intensity.
	{Info{Name: "brightness", Doc: "adds delta to every pixel",
		Example: "brightness(0.3)",
		Params:  []Param{{Name: "delta", Doc: "added intensity", Required: true, Min: -1, Max: 1}}},
		func(a []float64) (op, bool, error) {
			d := float32(a[0])
			return fixed(func(dst, src []float32, _ *rand.Rand) {
				for i, v := range src {
					dst[i] = clamp01(v + d)
				}
			})
		}},
	{Info{Name: "contrast", Doc: "scales deviations from the image mean by factor (< 1 flattens, > 1 sharpens)",
		Example: "contrast(0.3)",
		Params:  []Param{{Name: "factor", Doc: "contrast factor", Required: true, Min: 0, Max: 100}}},
		func(a []float64) (op, bool, error) {
			f := a[0]
			return fixed(func(dst, src []float32, _ *rand.Rand) { contrast(dst, src, f) })
		}},
	{Info{Name: "invert", Doc: "replaces v by 1 − v: dark ink on a light background", Example: "invert"},
		func([]float64) (op, bool, error) {
			return fixed(func(dst, src []float32, _ *rand.Rand) {
				for i, v := range src {
					dst[i] = 1 - v
				}
			})
		}},
	{Info{Name: "fog", Random: true, Doc: "veils the image with a random plasma-fractal fog: v ← (v + strength·fog)·max/(max + strength) (MNIST-C)",
		Example: "fog(1.5)",
		Params: []Param{
			{Name: "strength", Doc: "fog weight", Default: 1.5, Min: 0, Max: 100},
			{Name: "decay", Doc: "roughness decay per octave (larger is smoother)", Default: 2, Min: 1, Max: 10},
		}},
		func(a []float64) (op, bool, error) {
			strength, decay := a[0], a[1]
			return random(func(dst, src []float32, rng *rand.Rand) { fog(dst, src, strength, decay, rng) })
		}},

	// Occlusions and overlays.
	{Info{Name: "occlude", Random: true, Doc: "covers a random square of the given fraction of the image area with value",
		Example: "occlude(0.25)",
		Params: []Param{
			{Name: "fraction", Doc: "share of the image area covered", Required: true, Min: 0, Max: 1},
			{Name: "value", Doc: "intensity of the patch", Default: 0, Min: 0, Max: 1},
		}},
		func(a []float64) (op, bool, error) {
			side := int(math.Round(Side * math.Sqrt(a[0])))
			value := float32(a[1])
			return random(func(dst, src []float32, rng *rand.Rand) { occlude(dst, src, side, value, rng) })
		}},
	{Info{Name: "stripe", Doc: "inverts the width leftmost and width rightmost columns (MNIST-C)",
		Example: "stripe",
		Params:  []Param{{Name: "width", Doc: "columns inverted on each side", Default: 7, Min: 0, Max: Side / 2, Integer: true}}},
		func(a []float64) (op, bool, error) {
			width := int(a[0])
			return fixed(func(dst, src []float32, _ *rand.Rand) { stripe(dst, src, width) })
		}},
	{Info{Name: "zigzag", Random: true, Doc: "draws a random zigzag line across the image (MNIST-C)", Example: "zigzag"},
		func([]float64) (op, bool, error) { return random(zigzag) }},
	{Info{Name: "dotted_line", Random: true, Doc: "draws a random dotted line across the image (MNIST-C)", Example: "dotted_line"},
		func([]float64) (op, bool, error) { return random(dottedLine) }},
	{Info{Name: "spatter", Random: true, Doc: "splashes random grey mud blots over about amount of the image; sigma sets the blot size (MNIST-C)",
		Example: "spatter(0.2)",
		Params: []Param{
			{Name: "amount", Doc: "share of the image covered", Default: 0.2, Min: 0, Max: 1},
			{Name: "sigma", Doc: "blot size in pixels", Default: 2, Min: 0.5, Max: 10},
		}},
		func(a []float64) (op, bool, error) {
			amount, sigma := a[0], a[1]
			return random(func(dst, src []float32, rng *rand.Rand) { spatter(dst, src, amount, sigma, rng) })
		}},
	{Info{Name: "canny_edges", Doc: "keeps only the edges found by Canny's detector (smoothing sigma, hysteresis on Sobel gradient magnitude)",
		Example: "canny_edges",
		Params: []Param{
			{Name: "sigma", Doc: "smoothing in pixels", Default: 1, Min: 0, Max: 10},
			{Name: "low", Doc: "weak-edge gradient threshold", Default: 0.1, Min: 0, Max: 100},
			{Name: "high", Doc: "strong-edge gradient threshold", Default: 0.2, Min: 0, Max: 100},
		}},
		func(a []float64) (op, bool, error) {
			sigma, low, high := a[0], a[1], a[2]
			if low > high {
				return nil, false, errors.New("low must not exceed high")
			}
			return fixed(func(dst, src []float32, _ *rand.Rand) { canny(dst, src, sigma, low, high) })
		}},
}
