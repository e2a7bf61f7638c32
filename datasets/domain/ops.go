package domain

import (
	"math"
	"math/rand/v2"
	"slices"
)

const centre = (Side - 1) / 2.0 // 13.5: the image turns about the middle of its pixels

// at reads a pixel, 0 outside the frame.
func at(src []float32, x, y int) float32 {
	if x < 0 || y < 0 || x >= Side || y >= Side {
		return 0
	}
	return src[y*Side+x]
}

// bilinear samples src at a real position, 0 outside the frame. At whole-pixel
// positions it returns the pixel exactly.
func bilinear(src []float32, x, y float64) float32 {
	x0, y0 := math.Floor(x), math.Floor(y)
	ix, iy := int(x0), int(y0)
	if ix < -1 || iy < -1 || ix >= Side || iy >= Side {
		return 0
	}
	fx, fy := float32(x-x0), float32(y-y0)
	top := (1-fx)*at(src, ix, iy) + fx*at(src, ix+1, iy)
	bot := (1-fx)*at(src, ix, iy+1) + fx*at(src, ix+1, iy+1)
	return (1-fy)*top + fy*bot
}

// bilinearEdge samples src at a real position, replicating the border outside.
func bilinearEdge(src []float32, x, y float64) float32 {
	return bilinear(src, min(max(x, 0), Side-1), min(max(y, 0), Side-1))
}

// affine samples, for every output pixel p, src at centre + M·(p − centre) with
// M = [[a, b], [c, d]]: M is the inverse of the displayed motion.
func affine(dst, src []float32, a, b, c, d float64) {
	for y := range Side {
		dy := float64(y) - centre
		for x := range Side {
			dx := float64(x) - centre
			dst[y*Side+x] = bilinear(src, centre+a*dx+b*dy, centre+c*dx+d*dy)
		}
	}
}

// rotate turns counterclockwise as displayed (y down) by deg degrees. Multiples of 90°
// are exact.
func rotate(dst, src []float32, deg float64) {
	s, c := math.Sincos(deg * math.Pi / 180)
	s, c = snap(s), snap(c)
	// A displayed counterclockwise turn maps source offset (dx, dy) to
	// (dx·c + dy·s, −dx·s + dy·c); sampling needs the inverse.
	affine(dst, src, c, -s, s, c)
}

// snap rounds values within 1e-12 of −1, 0 or 1, so right angles stay exact.
func snap(v float64) float64 {
	if r := math.Round(v); math.Abs(v-r) < 1e-12 {
		return r
	}
	return v
}

func translate(dst, src []float32, dx, dy float64) {
	for y := range Side {
		for x := range Side {
			dst[y*Side+x] = bilinear(src, float64(x)-dx, float64(y)-dy)
		}
	}
}

func flipH(dst, src []float32, _ *rand.Rand) {
	for y := range Side {
		for x := range Side {
			dst[y*Side+x] = src[y*Side+Side-1-x]
		}
	}
}

func flipV(dst, src []float32, _ *rand.Rand) {
	for y := range Side {
		copy(dst[y*Side:(y+1)*Side], src[(Side-1-y)*Side:(Side-y)*Side])
	}
}

// gaussianKernel returns normalised weights w[0..r] of a sampled Gaussian, r = ⌈3σ⌉.
func gaussianKernel(sigma float64) []float32 {
	r := int(math.Ceil(3 * sigma))
	w := make([]float64, r+1)
	sum := 0.0
	for k := range w {
		w[k] = math.Exp(-float64(k*k) / (2 * sigma * sigma))
		sum += w[k]
		if k > 0 {
			sum += w[k]
		}
	}
	out := make([]float32, r+1)
	for k := range w {
		out[k] = float32(w[k] / sum)
	}
	return out
}

// gaussianBlur blurs separably, replicating the border. sigma 0 copies.
func gaussianBlur(dst, src []float32, sigma float64) {
	if sigma == 0 {
		copy(dst, src)
		return
	}
	w := gaussianKernel(sigma)
	r := len(w) - 1
	clampIdx := func(i int) int { return min(max(i, 0), Side-1) }
	var tmp [Pixels]float32
	for y := range Side {
		row := src[y*Side : (y+1)*Side]
		for x := range Side {
			acc := w[0] * row[x]
			for k := 1; k <= r; k++ {
				acc += w[k] * (row[clampIdx(x-k)] + row[clampIdx(x+k)])
			}
			tmp[y*Side+x] = acc
		}
	}
	for y := range Side {
		for x := range Side {
			acc := w[0] * tmp[y*Side+x]
			for k := 1; k <= r; k++ {
				acc += w[k] * (tmp[clampIdx(y-k)*Side+x] + tmp[clampIdx(y+k)*Side+x])
			}
			dst[y*Side+x] = acc
		}
	}
}

// motionBlur averages ⌈length⌉+1 evenly spaced samples on a segment of the given length
// centred on each pixel, replicating the border.
func motionBlur(dst, src []float32, length, angleDeg float64) {
	if length == 0 {
		copy(dst, src)
		return
	}
	n := int(math.Ceil(length)) + 1
	s, c := math.Sincos(angleDeg * math.Pi / 180)
	s, c = snap(s), snap(c)
	for y := range Side {
		for x := range Side {
			var acc float32
			for k := range n {
				t := length * (float64(k)/float64(n-1) - 0.5)
				acc += bilinearEdge(src, float64(x)+t*c, float64(y)-t*s) // up is −y
			}
			dst[y*Side+x] = acc / float32(n)
		}
	}
}

func glassBlur(dst, src []float32, sigma float64, delta, iters int, rng *rand.Rand) {
	var tmp [Pixels]float32
	gaussianBlur(tmp[:], src, sigma)
	for range iters {
		for y := Side - 1 - delta; y >= delta; y-- {
			for x := Side - 1 - delta; x >= delta; x-- {
				if rng.IntN(2) == 0 {
					continue
				}
				dx, dy := rng.IntN(2*delta+1)-delta, rng.IntN(2*delta+1)-delta
				i, j := y*Side+x, (y+dy)*Side+x+dx
				tmp[i], tmp[j] = tmp[j], tmp[i]
			}
		}
	}
	gaussianBlur(dst, tmp[:], sigma)
}

func pixelate(dst, src []float32, block int) {
	for by := 0; by < Side; by += block {
		for bx := 0; bx < Side; bx += block {
			ye, xe := min(by+block, Side), min(bx+block, Side)
			var sum float32
			for y := by; y < ye; y++ {
				for x := bx; x < xe; x++ {
					sum += src[y*Side+x]
				}
			}
			mean := sum / float32((ye-by)*(xe-bx))
			for y := by; y < ye; y++ {
				for x := bx; x < xe; x++ {
					dst[y*Side+x] = mean
				}
			}
		}
	}
}

func contrast(dst, src []float32, f float64) {
	var sum float64
	for _, v := range src {
		sum += float64(v)
	}
	m := sum / Pixels
	for i, v := range src {
		dst[i] = clamp01(float32((float64(v)-m)*f + m))
	}
}

// poisson draws from a Poisson distribution of the given mean: Knuth's product of
// uniforms below 10, Hörmann's transformed rejection (PTRS, 1993) above.
func poisson(rng *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean < 10 {
		limit, p, k := math.Exp(-mean), rng.Float64(), 0
		for p > limit {
			p *= rng.Float64()
			k++
		}
		return k
	}
	slam, loglam := math.Sqrt(mean), math.Log(mean)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invalpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := rng.Float64() - 0.5
		v := rng.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + mean + 0.43)
		if us >= 0.07 && v <= vr {
			return int(k)
		}
		if k < 0 || us < 0.013 && v > us {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invalpha)-math.Log(a/(us*us)+b) <= -mean+k*loglam-lg {
			return int(k)
		}
	}
}

const plasmaSide = 32 // a power of two at least Side

// plasma makes a plasma fractal on a plasmaSide torus by the diamond-square algorithm,
// normalised to [0, 1]; the random amplitude shrinks by decay per octave.
func plasma(rng *rand.Rand, decay float64) []float64 {
	const n = plasmaSide
	m := make([]float64, n*n)
	idx := func(y, x int) int { return ((y+n)%n)*n + (x+n)%n }
	wibble := 100.0
	for step := n; step >= 2; step /= 2 {
		half := step / 2
		for y := 0; y < n; y += step {
			for x := 0; x < n; x += step {
				sum := m[idx(y, x)] + m[idx(y, x+step)] + m[idx(y+step, x)] + m[idx(y+step, x+step)]
				m[idx(y+half, x+half)] = sum/4 + wibble*(2*rng.Float64()-1)
			}
		}
		for y := 0; y < n; y += step {
			for x := 0; x < n; x += step {
				// The diamond centres right of and below each corner.
				sum := m[idx(y, x)] + m[idx(y, x+step)] + m[idx(y-half, x+half)] + m[idx(y+half, x+half)]
				m[idx(y, x+half)] = sum/4 + wibble*(2*rng.Float64()-1)
				sum = m[idx(y, x)] + m[idx(y+step, x)] + m[idx(y+half, x-half)] + m[idx(y+half, x+half)]
				m[idx(y+half, x)] = sum/4 + wibble*(2*rng.Float64()-1)
			}
		}
		wibble /= decay
	}
	lo, hi := slices.Min(m), slices.Max(m)
	for i := range m {
		m[i] = (m[i] - lo) / (hi - lo)
	}
	return m
}

func fog(dst, src []float32, strength, decay float64, rng *rand.Rand) {
	f := plasma(rng, decay)
	mx := float64(slices.Max(src))
	if mx+strength == 0 {
		copy(dst, src)
		return
	}
	for y := range Side {
		for x := range Side {
			i := y*Side + x
			v := (float64(src[i]) + strength*f[y*plasmaSide+x]) * mx / (mx + strength)
			dst[i] = clamp01(float32(v))
		}
	}
}

func elastic(dst, src []float32, alpha, sigma float64, rng *rand.Rand) {
	var ux, uy, fx, fy [Pixels]float32
	for i := range ux {
		ux[i] = float32(2*rng.Float64() - 1)
		uy[i] = float32(2*rng.Float64() - 1)
	}
	gaussianBlur(fx[:], ux[:], sigma)
	gaussianBlur(fy[:], uy[:], sigma)
	for y := range Side {
		for x := range Side {
			i := y*Side + x
			dst[i] = bilinear(src, float64(x)+alpha*float64(fx[i]), float64(y)+alpha*float64(fy[i]))
		}
	}
}

func occlude(dst, src []float32, side int, value float32, rng *rand.Rand) {
	copy(dst, src)
	if side == 0 {
		return
	}
	x0, y0 := rng.IntN(Side-side+1), rng.IntN(Side-side+1)
	for y := y0; y < y0+side; y++ {
		for x := x0; x < x0+side; x++ {
			dst[y*Side+x] = value
		}
	}
}

func stripe(dst, src []float32, width int) {
	copy(dst, src)
	for y := range Side {
		for x := range Side {
			if x < width || x >= Side-width {
				dst[y*Side+x] = 1 - src[y*Side+x]
			}
		}
	}
}

// segment paints an antialiased segment into layer (keeping the brighter value): full
// intensity within half a pixel of it, fading to nothing at a pixel and a half.
func segment(layer []float32, x0, y0, x1, y1 float64) {
	vx, vy := x1-x0, y1-y0
	l2 := vx*vx + vy*vy
	// Only pixels within 1.5 of the segment can change: scan its bounding box.
	xa, xb := int(math.Floor(min(x0, x1)-1.5)), int(math.Ceil(max(x0, x1)+1.5))
	ya, yb := int(math.Floor(min(y0, y1)-1.5)), int(math.Ceil(max(y0, y1)+1.5))
	for y := max(ya, 0); y <= min(yb, Side-1); y++ {
		for x := max(xa, 0); x <= min(xb, Side-1); x++ {
			px, py := float64(x)-x0, float64(y)-y0
			t := 0.0
			if l2 > 0 {
				t = min(max((px*vx+py*vy)/l2, 0), 1)
			}
			d := math.Hypot(px-t*vx, py-t*vy)
			if v := float32(min(max(1.5-d, 0), 1)); v > layer[y*Side+x] {
				layer[y*Side+x] = v
			}
		}
	}
}

// overlay adds a layer of strokes to an image.
func overlay(dst, src, layer []float32) {
	for i, v := range src {
		dst[i] = clamp01(v + layer[i])
	}
}

// dottedLine draws a line between random heights of the left and right borders, keeping
// only alternate pairs of columns.
func dottedLine(dst, src []float32, rng *rand.Rand) {
	var layer [Pixels]float32
	r0, r1 := float64(rng.IntN(Side-1)), float64(rng.IntN(Side-1))
	segment(layer[:], 0, r0, Side-1, r1)
	for y := range Side {
		for x := range Side {
			if (x/2)%2 == 0 {
				layer[y*Side+x] = 0
			}
		}
	}
	overlay(dst, src, layer[:])
}

// zigzag draws a zigzag of amplitude 2 and half-period 2 pixels along a random, nearly
// horizontal line from x = 2 to x = 25.
func zigzag(dst, src []float32, rng *rand.Rand) {
	const amp, halfPeriod = 2.0, 2.0
	var layer [Pixels]float32
	x0, x1 := 2.0, 25.0
	y0 := float64(rng.IntN(Side - 1))
	y1 := y0 + float64(rng.IntN(10)-5)
	length := math.Hypot(x1-x0, y1-y0)
	ux, uy := (x1-x0)/length, (y1-y0)/length // along the line
	nx, ny := -uy, ux                        // across it
	px, py := x0, y0
	sign := 1.0
	for along := halfPeriod; ; along += 2 * halfPeriod {
		qx, qy := x0+along*ux+sign*amp*nx, y0+along*uy+sign*amp*ny
		if along >= length {
			qx, qy = x1, y1
		}
		segment(layer[:], px, py, qx, qy)
		if along >= length {
			break
		}
		px, py, sign = qx, qy, -sign
	}
	overlay(dst, src, layer[:])
}

// spatter covers the brightest amount of a smoothed noise field with grey (0.25) mud,
// with soft blot edges.
func spatter(dst, src []float32, amount, sigma float64, rng *rand.Rand) {
	var noise, field, mask, m [Pixels]float32
	for i := range noise {
		noise[i] = float32(rng.NormFloat64())
	}
	gaussianBlur(field[:], noise[:], sigma)
	sorted := slices.Clone(field[:])
	slices.Sort(sorted)
	k := int(math.Round((1 - amount) * Pixels))
	for i, v := range field {
		if k < Pixels && v >= sorted[k] {
			mask[i] = 1
		}
	}
	gaussianBlur(m[:], mask[:], 0.5)
	const mud = 0.25
	for i, v := range src {
		w := m[i]
		if w < 0.5 {
			w = 0
		}
		dst[i] = v*(1-w) + mud*w
	}
}

// canny marks with 1 the edges that Canny's detector finds: Gaussian smoothing, Sobel
// gradients, non-maximum suppression along the gradient, hysteresis between low and
// high. The outer one-pixel border never holds an edge.
func canny(dst, src []float32, sigma, low, high float64) {
	var s [Pixels]float32
	gaussianBlur(s[:], src, sigma)
	px := func(x, y int) float64 { return float64(s[min(max(y, 0), Side-1)*Side+min(max(x, 0), Side-1)]) }
	var mag, gx, gy [Pixels]float64
	for y := range Side {
		for x := range Side {
			i := y*Side + x
			gx[i] = px(x+1, y-1) + 2*px(x+1, y) + px(x+1, y+1) - px(x-1, y-1) - 2*px(x-1, y) - px(x-1, y+1)
			gy[i] = px(x-1, y+1) + 2*px(x, y+1) + px(x+1, y+1) - px(x-1, y-1) - 2*px(x, y-1) - px(x+1, y-1)
			mag[i] = math.Hypot(gx[i], gy[i])
		}
	}
	sin22 := math.Sin(math.Pi / 8)
	sign := func(v float64) int {
		if v > 0 {
			return 1
		}
		return -1
	}
	var cand [Pixels]bool // local maxima above low
	var stack []int
	for y := 1; y < Side-1; y++ {
		for x := 1; x < Side-1; x++ {
			i := y*Side + x
			g := mag[i]
			if g < low || g == 0 {
				continue
			}
			dx, dy := 0, 0
			if math.Abs(gx[i]) > g*sin22 {
				dx = sign(gx[i])
			}
			if math.Abs(gy[i]) > g*sin22 {
				dy = sign(gy[i])
			}
			if g < mag[(y+dy)*Side+x+dx] || g < mag[(y-dy)*Side+x-dx] {
				continue
			}
			cand[i] = true
			if g >= high {
				stack = append(stack, i)
			}
		}
	}
	clear(dst)
	for _, i := range stack {
		dst[i] = 1
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		y, x := i/Side, i%Side
		for ny := y - 1; ny <= y+1; ny++ {
			for nx := x - 1; nx <= x+1; nx++ {
				j := ny*Side + nx
				if cand[j] && dst[j] == 0 {
					dst[j] = 1
					stack = append(stack, j)
				}
			}
		}
	}
}
