// Package miniclip is sglab's default evaluator: it owns a small CLIP-like dual encoder
// (package model) pretrained in-project on MNIST and Fashion-MNIST with fine-grained
// captions, trains expert and oracle LoRAs on the q/k/v projections of its image tower,
// and scores adapters by image–text retrieval (Recall@1/5/10, both directions).
//
// The flow: Pretrain makes the backbone once (the shipped checkpoint, data/); Train
// fine-tunes only a LoRA on a task's transformed training images and writes its last
// snapshots; Evaluate injects an adapter and ranks a task's test captions. Everything is
// deterministic for a seed, and a task's test data depends only on (task, seed), so every
// method is scored on the same images.
package miniclip

import (
	"fmt"
	"math"

	"github.com/sglab/sglab/datasets/glove"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

// Model is a pretrained backbone: the float32 network, how it was made, and the word
// vectors its text tower reads. It is read-only after creation and safe to share.
type Model struct {
	Net     *model.Model[float32]
	Options PretrainOptions // the options Pretrain ran with
	Digest  string          // sha256 of the checkpoint it was read from; "" if not read from one
	words   *glove.Vectors
}

// Config is the network's architecture.
func (m *Model) Config() model.Config { return m.Net.Cfg }

// wordVectors loads the shipped GloVe subset and checks its size against c.
func wordVectors(c model.Config) (*glove.Vectors, error) {
	v, err := glove.Load()
	if err != nil {
		return nil, err
	}
	if v.Dim() != c.WordDim {
		return nil, fmt.Errorf("miniclip: word vectors have %d dimensions, the model reads %d", v.Dim(), c.WordDim)
	}
	return v, nil
}

// TextFeatures is the text tower's input for text: the mean of its words' GloVe vectors.
// A text with no known word is an error naming it.
func (m *Model) TextFeatures(text string) ([]float32, error) {
	v, _, err := m.words.Embed(text)
	if err != nil {
		return nil, fmt.Errorf("miniclip: %w", err)
	}
	return v, nil
}

// EmbedTexts returns the unit joint-space embeddings of texts from the text tower.
func (m *Model) EmbedTexts(texts []string) ([][]float32, error) {
	c := m.Config()
	feats := make([]float32, len(texts)*c.WordDim)
	for i, t := range texts {
		f, err := m.TextFeatures(t)
		if err != nil {
			return nil, fmt.Errorf("text %d: %w", i, err)
		}
		copy(feats[i*c.WordDim:], f)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	flat := embedTextFeatures(m.Net, feats, len(texts))
	for i := range out {
		out[i] = flat[i*c.Embed : (i+1)*c.Embed : (i+1)*c.Embed]
	}
	return out, nil
}

// embedTextFeatures runs the text tower over n feature rows in batches, returning n × E.
func embedTextFeatures(net *model.Model[float32], feats []float32, n int) []float32 {
	c := net.Cfg
	const batch = 256
	out := make([]float32, n*c.Embed)
	tape := net.NewTextTape(min(batch, n))
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		copy(out[lo*c.Embed:], tape.Forward(feats[lo*c.WordDim:(lo+k)*c.WordDim], k))
	}
	return out
}

// checkFinite reports the first non-finite value of v.
func checkFinite(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("value %d is %v", i, x)
		}
	}
	return nil
}
