package miniclip

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

// LoRAOptions control one LoRA fine-tuning run.
type LoRAOptions struct {
	Schema    lora.Schema // the adapter to train (model.Schema of the backbone)
	LR        float64     // Adam learning rate
	BatchSize int         // pairs per step
	Epochs    int         // passes over the training pairs
	Snapshots int         // keep the adapters after each of the last Snapshots epochs
	InitSeed  uint64      // seeds the adapter's initialization (shared across tasks)
	FreezeA   bool        // keep A at its initialization, train B only (LoRA-FA)
}

// encoded is a set of pairs in the form LoRA training and evaluation consume: the
// tokens entering block 0 (the patch embedding is frozen) and the caption embeddings
// (the text tower is frozen), both computed once.
type encoded struct {
	tokens []float32 // n × L × D
	text   []float32 // n × E, unit rows
	groups []int
	n      int
}

// encode runs the frozen parts of the backbone over p.
func (m *Model) encode(p *pairs) *encoded {
	c := m.Config()
	e := &encoded{tokens: make([]float32, p.n*c.Tokens()*c.Width), groups: p.groups, n: p.n}
	const chunk = 256
	for lo := 0; lo < p.n; lo += chunk {
		k := min(chunk, p.n-lo)
		m.Net.Embed(e.tokens[lo*c.Tokens()*c.Width:(lo+k)*c.Tokens()*c.Width], p.pixels[lo*c.Pixels():(lo+k)*c.Pixels()], k)
	}
	e.text = embedTextFeatures(m.Net, p.feats, p.n)
	return e
}

// trainResult is what one LoRA run produced.
type trainResult struct {
	snaps  [][]float32 // the last Snapshots epochs' flat adapters, oldest first
	losses []float64   // mean training loss per epoch
}

// trainLoRA fine-tunes a fresh adapter (PEFT init from opts.InitSeed: B = 0, A uniform)
// on data with the backbone's contrastive loss; only the adapter moves, the logit scale
// stays at its pretrained value. The batch order comes from seed. It checks ctx between
// batches.
func (m *Model) trainLoRA(ctx context.Context, data *encoded, opts LoRAOptions, seed uint64) (*trainResult, error) {
	c := m.Config()
	switch {
	case data.n < 2:
		return nil, fmt.Errorf("%d training pairs; the contrastive loss needs at least 2", data.n)
	case opts.Epochs <= 0 || opts.Snapshots <= 0 || opts.Snapshots > opts.Epochs:
		return nil, fmt.Errorf("epochs %d and snapshots %d: need 0 < snapshots ≤ epochs", opts.Epochs, opts.Snapshots)
	case opts.BatchSize < 2:
		return nil, fmt.Errorf("batch size %d must be at least 2", opts.BatchSize)
	case !(opts.LR > 0) || math.IsInf(opts.LR, 0):
		return nil, fmt.Errorf("learning rate %v must be positive", opts.LR)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c6f7261)) // "lora"
	ad, err := model.BindLoRA(c, opts.Schema, make([]float32, opts.Schema.NumParams()))
	if err != nil {
		return nil, err
	}
	model.InitLoRA(ad, rand.New(rand.NewPCG(opts.InitSeed, 0x696e6974))) // "init"
	g, err := model.BindLoRA(c, opts.Schema, make([]float32, opts.Schema.NumParams()))
	if err != nil {
		return nil, err
	}
	adam := model.NewAdam(len(ad.Flat), opts.LR)

	B := min(opts.BatchSize, data.n)
	// Every pair is used each epoch: the last batch takes the remainder, merged into the
	// previous one when it would be too small to contrast.
	var bounds []int
	for lo := 0; lo < data.n; lo += B {
		bounds = append(bounds, lo)
	}
	if last := data.n - bounds[len(bounds)-1]; last < 2 || (len(bounds) > 1 && last < B/2) {
		bounds = bounds[:len(bounds)-1]
	}
	bounds = append(bounds, data.n)
	maxB := 0
	for i := 1; i < len(bounds); i++ {
		maxB = max(maxB, bounds[i]-bounds[i-1])
	}

	tl := c.Tokens() * c.Width
	tape := m.Net.NewImageTape(maxB)
	bTok := make([]float32, maxB*tl)
	bTxt := make([]float32, maxB*c.Embed)
	bGroup := make([]int, maxB)
	dImg := make([]float32, maxB*c.Embed)
	logScale := m.Net.W.LogitScale[0]
	res := &trainResult{}
	for ep := 0; ep < opts.Epochs; ep++ {
		perm := rng.Perm(data.n)
		var sum float64
		for s := 1; s < len(bounds); s++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			idx := perm[bounds[s-1]:bounds[s]]
			n := len(idx)
			for k, i := range idx {
				copy(bTok[k*tl:(k+1)*tl], data.tokens[i*tl:(i+1)*tl])
				copy(bTxt[k*c.Embed:(k+1)*c.Embed], data.text[i*c.Embed:(i+1)*c.Embed])
				bGroup[k] = data.groups[i]
			}
			emb := tape.ForwardTokens(bTok, n, ad)
			clear(dImg)
			loss, _ := model.InfoNCE(emb, bTxt[:n*c.Embed], bGroup[:n], n, c.Embed, logScale, dImg, nil)
			clear(g.Flat)
			tape.Backward(dImg[:n*c.Embed], nil, g)
			if opts.FreezeA {
				for i := range g.Mods {
					clear(g.Mods[i].A)
				}
			}
			model.Step(adam, ad.Flat, g.Flat)
			sum += loss * float64(n)
		}
		mean := sum / float64(data.n)
		if math.IsNaN(mean) || math.IsInf(mean, 0) {
			return nil, fmt.Errorf("training loss diverged in epoch %d (try a lower lr)", ep+1)
		}
		res.losses = append(res.losses, mean)
		if ep >= opts.Epochs-opts.Snapshots {
			res.snaps = append(res.snaps, append([]float32(nil), ad.Flat...))
		}
	}
	return res, nil
}

// embedImages returns the unit image embeddings (n × E) of encoded tokens with adapter
// ad injected (nil for the bare backbone).
func (m *Model) embedImages(data *encoded, ad *model.LoRA[float32]) []float32 {
	c := m.Config()
	const chunk = 128
	tl := c.Tokens() * c.Width
	out := make([]float32, data.n*c.Embed)
	tape := m.Net.NewImageTape(min(chunk, data.n))
	for lo := 0; lo < data.n; lo += chunk {
		k := min(chunk, data.n-lo)
		copy(out[lo*c.Embed:], tape.ForwardTokens(data.tokens[lo*tl:(lo+k)*tl], k, ad))
	}
	return out
}

// rows returns views of the n rows (width e) of flat.
func rows(flat []float32, n, e int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*e : (i+1)*e : (i+1)*e]
	}
	return out
}
