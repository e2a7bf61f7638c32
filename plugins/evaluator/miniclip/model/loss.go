package model

import "math"

// InfoNCE is CLIP's symmetric contrastive loss over n image and n text embeddings (unit
// rows, n × e): logits S = exp(logScale)·I·Tᵀ, cross-entropy over each row (image → text)
// and each column (text → image), averaged. Pair i is (image i, text i). Fine-grained
// captions repeat inside a batch, so the target of a row is uniform over every text of
// the same group (groups[j] == groups[i]) rather than one-hot; with distinct groups this
// is exactly CLIP's loss.
//
// The gradients are accumulated into dImg and dTxt (either may be nil); the gradient
// with respect to logScale is returned. The scale is not clamped here: CLIP clamps the
// parameter after each step (Model.ClampLogScale).
func InfoNCE[T Float](img, txt []T, groups []int, n, e int, logScale T, dImg, dTxt []T) (loss float64, dLogScale T) {
	scale := math.Exp(float64(logScale))
	s := make([]float64, n*n)
	for i := 0; i < n; i++ {
		ii := img[i*e : (i+1)*e]
		for j := 0; j < n; j++ {
			s[i*n+j] = scale * float64(dot(ii, txt[j*e:(j+1)*e]))
		}
	}
	count := make(map[int]int, n)
	for _, g := range groups[:n] {
		count[g]++
	}
	ds := make([]float64, n*n)
	inv := 1 / float64(2*n)
	// Rows: image i against all texts.
	for i := 0; i < n; i++ {
		row := s[i*n : (i+1)*n]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(v - mx)
		}
		lz := mx + math.Log(z)
		pos := 1 / float64(count[groups[i]])
		for j, v := range row {
			p := math.Exp(v - lz)
			target := 0.0
			if groups[j] == groups[i] {
				target = pos
				loss -= pos * (v - lz) * inv
			}
			ds[i*n+j] += (p - target) * inv
		}
	}
	// Columns: text j against all images.
	for j := 0; j < n; j++ {
		mx := math.Inf(-1)
		for i := 0; i < n; i++ {
			mx = math.Max(mx, s[i*n+j])
		}
		var z float64
		for i := 0; i < n; i++ {
			z += math.Exp(s[i*n+j] - mx)
		}
		lz := mx + math.Log(z)
		pos := 1 / float64(count[groups[j]])
		for i := 0; i < n; i++ {
			v := s[i*n+j]
			p := math.Exp(v - lz)
			target := 0.0
			if groups[i] == groups[j] {
				target = pos
				loss -= pos * (v - lz) * inv
			}
			ds[i*n+j] += (p - target) * inv
		}
	}
	var dl float64
	for k, g := range ds {
		dl += g * s[k]
	}
	// dI = scale·dS·T, dT = scale·dSᵀ·I.
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g := T(scale * ds[i*n+j])
			if g == 0 {
				continue
			}
			if dImg != nil {
				axpy(g, txt[j*e:(j+1)*e], dImg[i*e:(i+1)*e])
			}
			if dTxt != nil {
				axpy(g, img[i*e:(i+1)*e], dTxt[j*e:(j+1)*e])
			}
		}
	}
	return loss, T(dl)
}
