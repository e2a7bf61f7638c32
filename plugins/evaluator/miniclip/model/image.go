package model

import "fmt"

// ImageTape runs the image tower on batches of up to Cap images and keeps every
// activation the backward pass needs. A tape is not safe for concurrent use; make one
// per goroutine. Buffers are allocated once, so training loops do not allocate.
type ImageTape[T Float] struct {
	m   *Model[T]
	Cap int
	n   int
	ad  *LoRA[T] // adapter used by the last forward pass

	fromPixels bool // whether the last forward pass ran the patch embedding

	patches []T // n·G² × P²: normalised pixels in patch order
	x0      []T // n·L × D: tokens entering block 0
	blocks  []blockTape[T]
	cls     []T // n × D: the CLS rows of the last block's output
	lnHat   []T
	lnRstd  []T
	lnOut   []T
	proj    []T // n × E before normalisation
	norms   []T
	emb     []T // n × E, unit rows

	// backward scratch
	g, dh, dattn []T // N × D
	dqkv         []T // N × 3D
	da, dm       []T // N × M
	dcls, dproj  []T
	dpatch       []T // n·G² × D
	tmp          []T
	ws           scratch[T]
}

type blockTape[T Float] struct {
	x            []T // N × D, the block's input
	h1Hat, h1    []T
	h1Rstd       []T
	qkv          []T // N × 3D
	probs        []T // n·H × L × L
	attn         []T // N × D
	x1           []T // N × D, after the attention residual
	h2Hat, h2    []T
	h2Rstd       []T
	m1, a1       []T // N × M, MLP pre- and post-activation
	sig          []T // N × M, the activation's sigmoid
	out          []T // N × D, the block's output
	wqkv         []T // effective 3D×D q/k/v weight (base + LoRA) of the last forward
	wqkvBuffered []T
}

// NewImageTape returns a tape for batches of at most capacity images.
func (m *Model[T]) NewImageTape(capacity int) *ImageTape[T] {
	c := m.Cfg
	d, mm, l, e := c.Width, c.MLP, c.Tokens(), c.Embed
	g2 := c.Grid() * c.Grid()
	n := capacity * l
	t := &ImageTape[T]{
		m: m, Cap: capacity,
		patches: make([]T, capacity*g2*c.PatchDim()),
		x0:      make([]T, n*d),
		cls:     make([]T, capacity*d),
		lnHat:   make([]T, capacity*d),
		lnRstd:  make([]T, capacity),
		lnOut:   make([]T, capacity*d),
		proj:    make([]T, capacity*e),
		norms:   make([]T, capacity),
		emb:     make([]T, capacity*e),
		g:       make([]T, n*d),
		dh:      make([]T, n*d),
		dattn:   make([]T, n*d),
		dqkv:    make([]T, n*3*d),
		da:      make([]T, n*mm),
		dm:      make([]T, n*mm),
		dcls:    make([]T, capacity*d),
		dproj:   make([]T, capacity*e),
		dpatch:  make([]T, capacity*g2*d),
		tmp:     make([]T, l),
	}
	t.blocks = make([]blockTape[T], c.Blocks)
	x := t.x0
	for b := range t.blocks {
		bt := &t.blocks[b]
		bt.x = x
		bt.h1Hat, bt.h1, bt.h1Rstd = make([]T, n*d), make([]T, n*d), make([]T, n)
		bt.qkv = make([]T, n*3*d)
		bt.probs = make([]T, capacity*c.Heads*l*l)
		bt.attn = make([]T, n*d)
		bt.x1 = make([]T, n*d)
		bt.h2Hat, bt.h2, bt.h2Rstd = make([]T, n*d), make([]T, n*d), make([]T, n)
		bt.m1, bt.a1, bt.sig = make([]T, n*mm), make([]T, n*mm), make([]T, n*mm)
		bt.out = make([]T, n*d)
		bt.wqkvBuffered = make([]T, 3*d*d)
		x = bt.out
	}
	return t
}

// Embed runs patch embedding on n images of raw pixels (n × ImageSize², values in [0,1])
// and writes the n·L × D tokens entering block 0 into dst. The patch embedding is frozen
// during LoRA training, so callers cache these tokens per image.
func (m *Model[T]) Embed(dst, pixels []T, n int) {
	c := m.Cfg
	g2 := c.Grid() * c.Grid()
	m.embed(dst, make([]T, n*g2*c.PatchDim()), make([]T, n*g2*c.Width), pixels, n)
}

func (t *ImageTape[T]) embed(pixels []T, n int) {
	t.m.embed(t.x0, t.patches, t.dpatch, pixels, n)
}

// embed writes tokens (n·L × D), using patches (n·G² × P²) and emb (n·G² × D) as scratch.
func (m *Model[T]) embed(tokens, patches, emb, pixels []T, n int) {
	c := m.Cfg
	s, p, g, d, l := c.ImageSize, c.Patch, c.Grid(), c.Width, c.Tokens()
	pd := c.PatchDim()
	mean, inv := T(c.PixelMean), T(1/c.PixelStd)
	for i := 0; i < n; i++ {
		img := pixels[i*s*s : (i+1)*s*s]
		for py := 0; py < g; py++ {
			for px := 0; px < g; px++ {
				dst := patches[((i*g+py)*g+px)*pd:]
				for dy := 0; dy < p; dy++ {
					row := img[(py*p+dy)*s+px*p : (py*p+dy)*s+px*p+p]
					for dx, v := range row {
						dst[dy*p+dx] = (v - mean) * inv
					}
				}
			}
		}
	}
	w := m.W
	g2 := g * g
	linearForward(emb, patches, w.PatchW, w.PatchB, n*g2, pd, d)
	for i := 0; i < n; i++ {
		seq := tokens[i*l*d : (i+1)*l*d]
		for k := 0; k < d; k++ {
			seq[k] = w.CLS[k] + w.Pos[k]
		}
		for q := 0; q < g2; q++ {
			row := seq[(1+q)*d : (2+q)*d]
			src := emb[(i*g2+q)*d : (i*g2+q+1)*d]
			pos := w.Pos[(1+q)*d : (2+q)*d]
			for k := range row {
				row[k] = src[k] + pos[k]
			}
		}
	}
}

// Forward embeds n images of raw pixels and returns their unit embeddings (n × E, a
// view into the tape). ad is the LoRA to inject, or nil.
func (t *ImageTape[T]) Forward(pixels []T, n int, ad *LoRA[T]) []T {
	t.check(n)
	t.embed(pixels, n)
	t.fromPixels = true
	return t.forwardBlocks(n, ad)
}

// ForwardTokens is Forward starting from tokens made by Model.Embed (n·L × D).
func (t *ImageTape[T]) ForwardTokens(tokens []T, n int, ad *LoRA[T]) []T {
	t.check(n)
	c := t.m.Cfg
	copy(t.x0, tokens[:n*c.Tokens()*c.Width])
	t.fromPixels = false
	return t.forwardBlocks(n, ad)
}

func (t *ImageTape[T]) check(n int) {
	if n <= 0 || n > t.Cap {
		panic(fmt.Sprintf("model: batch of %d images on a tape of capacity %d", n, t.Cap))
	}
}

func (t *ImageTape[T]) forwardBlocks(n int, ad *LoRA[T]) []T {
	c := t.m.Cfg
	d, mm, l, e, hs := c.Width, c.MLP, c.Tokens(), c.Embed, c.Heads
	t.n, t.ad = n, ad
	rows := n * l
	for b := range t.blocks {
		bt, w := &t.blocks[b], &t.m.W.Blocks[b]
		bt.wqkv = w.QKV
		if ad != nil {
			bt.wqkv = bt.wqkvBuffered
			ad.merge(bt.wqkv, w.QKV, b, d)
		}
		layerNormForward(bt.h1, bt.h1Hat, bt.h1Rstd, bt.x, w.LN1G, w.LN1B, rows, d)
		linearForward(bt.qkv, bt.h1, bt.wqkv, w.QKVB, rows, d, 3*d)
		for i := 0; i < n; i++ {
			attentionForward(bt.attn[i*l*d:(i+1)*l*d], bt.probs[i*hs*l*l:(i+1)*hs*l*l], bt.qkv[i*l*3*d:(i+1)*l*3*d], l, d, hs)
		}
		linearForward(bt.x1, bt.attn, w.Out, w.OutB, rows, d, d)
		addTo(bt.x1[:rows*d], bt.x[:rows*d])
		layerNormForward(bt.h2, bt.h2Hat, bt.h2Rstd, bt.x1, w.LN2G, w.LN2B, rows, d)
		linearForward(bt.m1, bt.h2, w.FC1, w.FC1B, rows, d, mm)
		geluForward(bt.a1[:rows*mm], bt.sig[:rows*mm], bt.m1[:rows*mm])
		linearForward(bt.out, bt.a1, w.FC2, w.FC2B, rows, mm, d)
		addTo(bt.out[:rows*d], bt.x1[:rows*d])
	}
	last := t.blocks[len(t.blocks)-1].out
	for i := 0; i < n; i++ {
		copy(t.cls[i*d:(i+1)*d], last[i*l*d:i*l*d+d])
	}
	w := t.m.W
	layerNormForward(t.lnOut, t.lnHat, t.lnRstd, t.cls, w.LNPostG, w.LNPostB, n, d)
	linearForward(t.proj, t.lnOut, w.Proj, nil, n, d, e)
	normalizeForward(t.emb, t.norms, t.proj, n, e)
	return t.emb[:n*e]
}

// Backward back-propagates dEmb (n × E, the loss gradient of the last Forward's output).
// It accumulates base-weight gradients into grad when grad is non-nil (pretraining), and
// LoRA gradients into lgrad when lgrad is non-nil (lgrad must be bound to the same schema
// as the adapter of the forward pass). The tape's forward activations are left intact.
func (t *ImageTape[T]) Backward(dEmb []T, grad *Weights[T], lgrad *LoRA[T]) {
	c := t.m.Cfg
	d, mm, l, e, hs := c.Width, c.MLP, c.Tokens(), c.Embed, c.Heads
	n := t.n
	rows := n * l
	if lgrad != nil && t.ad == nil {
		panic("model: LoRA gradient requested for a forward pass without a LoRA")
	}
	w := t.m.W

	dproj := t.dproj[:n*e]
	clear(dproj)
	normalizeBackward(dproj, dEmb, t.emb, t.norms, n, e)
	dln := t.dh[:n*d]
	clear(dln)
	var gProj, gLNG, gLNB []T
	if grad != nil {
		gProj, gLNG, gLNB = grad.Proj, grad.LNPostG, grad.LNPostB
	}
	linearBackward(&t.ws, dln, gProj, nil, dproj, t.lnOut, w.Proj, n, d, e)
	dcls := t.dcls[:n*d]
	clear(dcls)
	layerNormBackward(dcls, gLNG, gLNB, dln, t.lnHat, t.lnRstd, w.LNPostG, n, d)

	g := t.g[:rows*d]
	clear(g)
	for i := 0; i < n; i++ {
		copy(g[i*l*d:i*l*d+d], dcls[i*d:(i+1)*d])
	}

	for b := len(t.blocks) - 1; b >= 0; b-- {
		bt, wb := &t.blocks[b], &w.Blocks[b]
		gb := &Block[T]{} // nil views: no base-weight gradients
		if grad != nil {
			gb = &grad.Blocks[b]
		}
		// MLP branch: out = x1 + fc2(gelu(fc1(ln2(x1)))).
		da := t.da[:rows*mm]
		clear(da)
		linearBackward(&t.ws, da, gb.FC2, gb.FC2B, g, bt.a1, wb.FC2, rows, mm, d)
		dm := t.dm[:rows*mm]
		clear(dm)
		geluBackward(dm, da, bt.m1[:rows*mm], bt.sig[:rows*mm])
		dh := t.dh[:rows*d]
		clear(dh)
		linearBackward(&t.ws, dh, gb.FC1, gb.FC1B, dm, bt.h2, wb.FC1, rows, d, mm)
		layerNormBackward(g, gb.LN2G, gb.LN2B, dh, bt.h2Hat, bt.h2Rstd, wb.LN2G, rows, d)

		// Attention branch: x1 = x + out_proj(attn(qkv(ln1(x)))).
		dattn := t.dattn[:rows*d]
		clear(dattn)
		linearBackward(&t.ws, dattn, gb.Out, gb.OutB, g, bt.attn, wb.Out, rows, d, d)
		dqkv := t.dqkv[:rows*3*d]
		clear(dqkv)
		for i := 0; i < n; i++ {
			attentionBackward(dqkv[i*l*3*d:(i+1)*l*3*d], dattn[i*l*d:(i+1)*l*d], bt.probs[i*hs*l*l:(i+1)*hs*l*l], bt.qkv[i*l*3*d:(i+1)*l*3*d], t.tmp, l, d, hs)
		}
		if lgrad != nil {
			t.ad.backward(lgrad, b, dqkv, bt.h1, rows, d)
		}
		if b == 0 && grad == nil {
			break // nothing below block 0 needs a gradient
		}
		clear(dh)
		linearBackward(&t.ws, dh, gb.QKV, gb.QKVB, dqkv, bt.h1, bt.wqkv, rows, d, 3*d)
		layerNormBackward(g, gb.LN1G, gb.LN1B, dh, bt.h1Hat, bt.h1Rstd, wb.LN1G, rows, d)
	}
	if grad == nil {
		return
	}
	if !t.fromPixels {
		panic("model: base-weight gradients need a forward pass from pixels, not tokens")
	}
	// Patch embedding, CLS and positions.
	g2 := c.Grid() * c.Grid()
	dpatch := t.dpatch[:n*g2*d]
	for i := 0; i < n; i++ {
		seq := g[i*l*d : (i+1)*l*d]
		addTo(grad.CLS, seq[:d])
		addTo(grad.Pos, seq)
		copy(dpatch[i*g2*d:(i+1)*g2*d], seq[d:])
	}
	linearBackward(&t.ws, nil, grad.PatchW, grad.PatchB, dpatch, t.patches, w.PatchW, n*g2, c.PatchDim(), d)
}

// addTo does y += x.
func addTo[T Float](y, x []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += v
	}
}
