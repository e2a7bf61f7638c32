package library

import (
	"math"

	"github.com/sglab/sglab/framework/lora"
)

// ZScore standardises each tensor (every module's B and A) by the mean and standard
// deviation of its elements over every snapshot of every expert. LoRA tensors differ
// in scale (B starts at zero, A at Kaiming noise; layers differ), so an unscaled
// squared error would be dominated by the largest tensors; after the z-score each
// tensor weighs by its size. Generators train and sample in these units and map back.
type ZScore struct {
	Segments []Segment
}

// Segment is one tensor's range [Lo, Hi) in the flat vector and its statistics.
type Segment struct {
	Name      string // e.g. "blocks.0.attn.q_proj.lora_B"
	Lo, Hi    int
	Mean, Std float32
}

// ZScore computes the per-tensor statistics over all snapshots. A tensor that is
// constant over the library gets Std = 1, so it maps to zero and back unchanged.
func (l *Library) ZScore() *ZScore {
	z := Identity(l.Schema)
	for i := range z.Segments {
		seg := &z.Segments[i]
		var s, ss, n float64
		for _, e := range l.Experts {
			for _, x := range e.Snapshots {
				for _, v := range x[seg.Lo:seg.Hi] {
					s += float64(v)
					ss += float64(v) * float64(v)
				}
				n += float64(seg.Hi - seg.Lo)
			}
		}
		mean := s / n
		std := math.Sqrt(max(ss/n-mean*mean, 0))
		if !(std > 1e-12*(1+math.Abs(mean))) {
			std = 1
		}
		seg.Mean, seg.Std = float32(mean), float32(std)
	}
	return z
}

// Identity returns the z-score that changes nothing (normalisation switched off).
func Identity(s lora.Schema) *ZScore {
	z := &ZScore{}
	for i, m := range s {
		off := s.Offset(i)
		nb := m.Out * m.Rank
		z.Segments = append(z.Segments,
			Segment{Name: m.Name + ".lora_B", Lo: off, Hi: off + nb, Std: 1},
			Segment{Name: m.Name + ".lora_A", Lo: off + nb, Hi: off + m.Size(), Std: 1})
	}
	return z
}

// Normalize writes (src − mean)/std per tensor into dst (which may be src).
func (z *ZScore) Normalize(dst, src []float32) {
	for _, s := range z.Segments {
		inv := 1 / s.Std
		for j := s.Lo; j < s.Hi; j++ {
			dst[j] = (src[j] - s.Mean) * inv
		}
	}
}

// Denormalize writes src·std + mean per tensor into dst (which may be src).
func (z *ZScore) Denormalize(dst, src []float32) {
	for _, s := range z.Segments {
		for j := s.Lo; j < s.Hi; j++ {
			dst[j] = src[j]*s.Std + s.Mean
		}
	}
}

// NormalizeVar writes a variance in normalised units, src/std², into dst.
func (z *ZScore) NormalizeVar(dst, src []float32) {
	for _, s := range z.Segments {
		inv := 1 / (s.Std * s.Std)
		for j := s.Lo; j < s.Hi; j++ {
			dst[j] = src[j] * inv
		}
	}
}
