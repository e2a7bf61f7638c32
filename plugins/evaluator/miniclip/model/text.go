package model

import "fmt"

// TextTape runs the text tower on batches of up to Cap captions. Its input is the mean
// of the caption's (frozen) word vectors; the tower is fc1 → GELU → fc2 → unit norm.
type TextTape[T Float] struct {
	m   *Model[T]
	Cap int
	n   int

	feats  []T // n × WordDim, a copy of the input
	h, a   []T // n × H, pre- and post-activation
	sig    []T // n × H, the activation's sigmoid
	out    []T // n × E
	norms  []T
	emb    []T
	dout   []T
	da, dh []T
	ws     scratch[T]
}

// NewTextTape returns a tape for batches of at most capacity captions.
func (m *Model[T]) NewTextTape(capacity int) *TextTape[T] {
	c := m.Cfg
	return &TextTape[T]{
		m: m, Cap: capacity,
		feats: make([]T, capacity*c.WordDim),
		h:     make([]T, capacity*c.TextHidden),
		a:     make([]T, capacity*c.TextHidden),
		sig:   make([]T, capacity*c.TextHidden),
		out:   make([]T, capacity*c.Embed),
		norms: make([]T, capacity),
		emb:   make([]T, capacity*c.Embed),
		dout:  make([]T, capacity*c.Embed),
		da:    make([]T, capacity*c.TextHidden),
		dh:    make([]T, capacity*c.TextHidden),
	}
}

// Forward embeds n captions given as mean word vectors (n × WordDim) and returns their
// unit embeddings (n × E, a view into the tape).
func (t *TextTape[T]) Forward(feats []T, n int) []T {
	if n <= 0 || n > t.Cap {
		panic(fmt.Sprintf("model: batch of %d captions on a tape of capacity %d", n, t.Cap))
	}
	c, w := t.m.Cfg, t.m.W
	t.n = n
	copy(t.feats, feats[:n*c.WordDim])
	linearForward(t.h, t.feats, w.TextW1, w.TextB1, n, c.WordDim, c.TextHidden)
	geluForward(t.a[:n*c.TextHidden], t.sig[:n*c.TextHidden], t.h[:n*c.TextHidden])
	linearForward(t.out, t.a, w.TextW2, w.TextB2, n, c.TextHidden, c.Embed)
	normalizeForward(t.emb, t.norms, t.out, n, c.Embed)
	return t.emb[:n*c.Embed]
}

// Backward accumulates the text tower's weight gradients into grad from dEmb, the loss
// gradient of the last Forward's output. The word vectors are frozen, so no input
// gradient is formed.
func (t *TextTape[T]) Backward(dEmb []T, grad *Weights[T]) {
	c, w, n := t.m.Cfg, t.m.W, t.n
	dout := t.dout[:n*c.Embed]
	clear(dout)
	normalizeBackward(dout, dEmb, t.emb, t.norms, n, c.Embed)
	da := t.da[:n*c.TextHidden]
	clear(da)
	linearBackward(&t.ws, da, grad.TextW2, grad.TextB2, dout, t.a, w.TextW2, n, c.TextHidden, c.Embed)
	dh := t.dh[:n*c.TextHidden]
	clear(dh)
	geluBackward(dh, da, t.h[:n*c.TextHidden], t.sig[:n*c.TextHidden])
	linearBackward(&t.ws, nil, grad.TextW1, grad.TextB1, dh, t.feats, w.TextW1, n, c.WordDim, c.TextHidden)
}
