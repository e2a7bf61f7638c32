package model

import (
	"math/rand/v2"
	"testing"
)

func benchModel(b *testing.B) (*Model[float32], *rand.Rand) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := New[float32](DefaultConfig(), rng)
	if err != nil {
		b.Fatal(err)
	}
	return m, rng
}

func benchPixels(rng *rand.Rand, n, pixels int) []float32 {
	p := make([]float32, n*pixels)
	for i := range p {
		p[i] = rng.Float32()
	}
	return p
}

// BenchmarkLoRAStep is one LoRA training step on 64 images: forward from cached tokens,
// contrastive loss against fixed text embeddings, backward into the adapter only.
func BenchmarkLoRAStep(b *testing.B) {
	m, rng := benchModel(b)
	c := m.Cfg
	const n = 64
	tokens := make([]float32, n*c.Tokens()*c.Width)
	m.Embed(tokens, benchPixels(rng, n, c.Pixels()), n)
	s := Schema(c, 2, 4)
	ad, _ := BindLoRA(c, s, make([]float32, s.NumParams()))
	InitLoRA(ad, rng)
	g, _ := BindLoRA(c, s, make([]float32, s.NumParams()))
	txt := make([]float32, n*c.Embed)
	for i := range txt {
		txt[i] = float32(rng.NormFloat64())
	}
	groups := make([]int, n)
	for i := range groups {
		groups[i] = i
	}
	tape := m.NewImageTape(n)
	dImg := make([]float32, n*c.Embed)
	opt := NewAdam(s.NumParams(), 1e-3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		emb := tape.ForwardTokens(tokens, n, ad)
		clear(dImg)
		InfoNCE(emb, txt, groups, n, c.Embed, m.W.LogitScale[0], dImg, nil)
		clear(g.Flat)
		tape.Backward(dImg, nil, g)
		Step(opt, ad.Flat, g.Flat)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/image")
}

// BenchmarkForward embeds 100 images from cached tokens with an adapter (Evaluate's work).
func BenchmarkForward(b *testing.B) {
	m, rng := benchModel(b)
	c := m.Cfg
	const n = 100
	tokens := make([]float32, n*c.Tokens()*c.Width)
	m.Embed(tokens, benchPixels(rng, n, c.Pixels()), n)
	s := Schema(c, 2, 4)
	ad, _ := BindLoRA(c, s, make([]float32, s.NumParams()))
	InitLoRA(ad, rng)
	tape := m.NewImageTape(n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tape.ForwardTokens(tokens, n, ad)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/image")
}

// BenchmarkPretrainStep is one full training step on 128 image-caption pairs.
func BenchmarkPretrainStep(b *testing.B) {
	m, rng := benchModel(b)
	c := m.Cfg
	const n = 128
	pix := benchPixels(rng, n, c.Pixels())
	feats := make([]float32, n*c.WordDim)
	for i := range feats {
		feats[i] = float32(rng.NormFloat64())
	}
	groups := make([]int, n)
	for i := range groups {
		groups[i] = i
	}
	it, tt := m.NewImageTape(n), m.NewTextTape(n)
	grad := make([]float32, len(m.Params))
	gw := Bind(c, grad)
	dImg, dTxt := make([]float32, n*c.Embed), make([]float32, n*c.Embed)
	opt := NewAdam(len(m.Params), 1e-3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ie := it.Forward(pix, n, nil)
		te := tt.Forward(feats, n)
		clear(dImg)
		clear(dTxt)
		_, dls := InfoNCE(ie, te, groups, n, c.Embed, m.W.LogitScale[0], dImg, dTxt)
		clear(grad)
		gw.LogitScale[0] = dls
		it.Backward(dImg, &gw, nil)
		tt.Backward(dTxt, &gw)
		Step(opt, m.Params, grad)
		m.ClampLogScale()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/image")
}
