// Package domain is the catalog of image transforms that make a task's domain: a task
// is a dataset seen through a chain of transforms such as ["rotate(30)",
// "gaussian_blur(1)"], written in TOML and parsed by task.ParseTransform. The evaluator
// checks a task's chain once (Check or Compile) and then applies it to every image.
//
// Images are 28×28 float32 in [0, 1], row-major, ink bright on a dark background (as
// datasets.Image.Float32 gives them). Coordinates are (x, y) = (column, row) with y
// pointing down; geometric transforms turn about the image centre (13.5, 13.5) and
// fill with 0 what comes from outside the frame. Every transform's output is clamped
// to [0, 1].
//
// Random transforms (noises, occlusions, MNIST-C-style corruptions) draw only from the
// *rand.Rand passed to Apply, so seeding it per image makes a task's images
// reproducible. Several transforms follow the corruptions of MNIST-C (Mu and Gilmer,
// 2019) in spirit; they are reimplemented here, not ported.
//
// The transforms, as written in a task's chain (arguments with a default may be left
// out from the right; `go doc` shows this list):
//
//	brightness(delta)
//	    adds delta to every pixel
//	canny_edges(sigma=1, low=0.1, high=0.2)
//	    keeps only the edges found by Canny's detector (smoothing sigma, hysteresis on Sobel gradient magnitude)
//	contrast(factor)
//	    scales deviations from the image mean by factor (< 1 flattens, > 1 sharpens)
//	dotted_line
//	    draws a random dotted line across the image (MNIST-C)
//	elastic(alpha=34, sigma=4)
//	    warps by a random smooth displacement field: uniform noise blurred by sigma, scaled by alpha pixels (Simard et al., 2003)
//	flip_h
//	    mirrors left to right
//	flip_v
//	    mirrors top to bottom
//	fog(strength=1.5, decay=2)
//	    veils the image with a random plasma-fractal fog: v ← (v + strength·fog)·max/(max + strength) (MNIST-C)
//	gaussian_blur(sigma)
//	    blurs with a Gaussian of standard deviation sigma pixels
//	gaussian_noise(sigma)
//	    adds independent Gaussian noise of standard deviation sigma to every pixel
//	glass_blur(sigma=0.7, delta=1, iterations=2)
//	    blurs by sigma, swaps each pixel with a random neighbour within delta pixels (iterations passes), blurs again (MNIST-C)
//	identity
//	    leaves the image unchanged (the clean domain)
//	impulse_noise(p)
//	    sets each pixel with probability p to 0 or 1 (equally likely): salt and pepper
//	invert
//	    replaces v by 1 − v: dark ink on a light background
//	motion_blur(length, angle=0)
//	    averages along a line of length pixels centred on each pixel, at angle degrees counterclockwise from horizontal
//	occlude(fraction, value=0)
//	    covers a random square of the given fraction of the image area with value
//	pixelate(block)
//	    replaces each block×block tile by its mean (tiles at the right and bottom edges may be smaller)
//	rotate(deg, jitter=0)
//	    rotates counterclockwise (as displayed) by deg degrees, plus a uniform random jitter in [-jitter, jitter]
//	scale(f)
//	    zooms about the centre by factor f (f > 1 enlarges and crops, f < 1 shrinks)
//	shear(s)
//	    shears horizontally about the centre: x += s·(13.5 − y), so s > 0 leans the top to the right
//	shot_noise(lambda)
//	    replaces each value v by Poisson(lambda·v)/lambda: photon noise, stronger for smaller lambda
//	spatter(amount=0.2, sigma=2)
//	    splashes random grey mud blots over about amount of the image; sigma sets the blot size (MNIST-C)
//	stripe(width=7)
//	    inverts the width leftmost and width rightmost columns (MNIST-C)
//	translate(dx, dy)
//	    shifts by dx pixels to the right and dy pixels down
//	zigzag
//	    draws a random zigzag line across the image (MNIST-C)
package domain
