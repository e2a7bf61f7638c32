package miniclip

import (
	"slices"

	"github.com/sglab/sglab/framework/metrics"
	"strings"
	"testing"
)

func tinyPretrain() PretrainOptions {
	o := DefaultPretrainOptions()
	o.Model = smallConfig()
	o.Datasets = []string{"digits", "fashion"}
	o.PerClass = 6
	o.Epochs = 2
	o.BatchSize = 30
	o.WarmupSteps = 2
	return o
}

// TestPretrainDeterministic: the same options give the same bits, a different seed
// different ones, and training moves every tower.
func TestPretrainDeterministic(t *testing.T) {
	o := tinyPretrain()
	a, err := Pretrain(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Pretrain(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Net.Params, b.Net.Params) {
		t.Fatal("two runs with the same options differ")
	}
	o.Seed++
	c, err := Pretrain(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.Net.Params, c.Net.Params) {
		t.Fatal("a different seed gave the same model")
	}
	init := randomModel(t, o.Model, 0) // only for the layout
	for _, ts := range init.Config().Layout() {
		if ts.Name == "logit_scale" {
			continue
		}
		if slices.Equal(a.Net.Params[ts.Offset:ts.Offset+ts.Size()], make([]float32, ts.Size())) {
			t.Errorf("tensor %s is all zero after training", ts.Name)
		}
	}
}

// TestPretrainLearns: a tiny backbone trained on 100 digits already ranks their own
// captions far above chance.
func TestPretrainLearns(t *testing.T) {
	o := tinyPretrain()
	o.Datasets = []string{"digits"}
	o.PerClass = 10
	o.Epochs = 100
	o.BatchSize = 50
	o.Augment, o.Invert, o.Rotate = 0, 0, 0
	o.LR = 1e-2
	m, err := Pretrain(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := loadSet("digits", "")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := selectPerClass(set.Train, 10, o.PerClass, o.Seed)
	if err != nil {
		t.Fatal(err)
	}
	// Image → caption retrieval over the training pairs, counting a hit when the top
	// caption is of the image's class (chance 10%).
	c := m.Config()
	n := len(idx)
	pix := make([]float32, n*c.Pixels())
	captions := make([]string, n)
	labels := make([]int, n)
	for k, i := range idx {
		set.Train[i].Image.Float32(pix[k*c.Pixels() : (k+1)*c.Pixels()])
		captions[k], labels[k] = set.Train[i].Caption, set.Train[i].Label
	}
	txt, err := m.EmbedTexts(captions)
	if err != nil {
		t.Fatal(err)
	}
	img := m.Net.NewImageTape(n).Forward(pix, n, nil)
	rows := make([][]float32, n)
	for k := range rows {
		rows[k] = img[k*c.Embed : (k+1)*c.Embed]
	}
	sim, err := metrics.Similarity(rows, txt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Retrieval(sim, labels, labels, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	g := metrics.GroupCaptions(captions)
	exact, err := metrics.Retrieval(sim, g, g, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if exact["i2t_r1"] < 10 {
		t.Errorf("exact-caption image→caption R@1 on the training pairs is %.0f%%; chance is about 1%%", exact["i2t_r1"])
	}
	if r["i2t_r1"] < 30 {
		t.Errorf("class-level image→caption R@1 on the training pairs is %.0f%%; chance is 10%%", r["i2t_r1"])
	}
}

func TestPretrainOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*PretrainOptions)
		want string
	}{
		{"datasets", func(o *PretrainOptions) { o.Datasets = nil }, "no datasets"},
		{"epochs", func(o *PretrainOptions) { o.Epochs = 0 }, "epochs"},
		{"batch", func(o *PretrainOptions) { o.BatchSize = 1 }, "batch size"},
		{"lr", func(o *PretrainOptions) { o.LR = -1 }, "learning rate"},
		{"augment", func(o *PretrainOptions) { o.Augment = 1.5 }, "augment"},
		{"invert", func(o *PretrainOptions) { o.Invert = -0.1 }, "invert"},
		{"rotate", func(o *PretrainOptions) { o.Rotate = 2 }, "rotate"},
		{"model", func(o *PretrainOptions) { o.Model.Heads = 5 }, "heads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultPretrainOptions()
			tc.edit(&o)
			if _, err := Pretrain(o, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Pretrain = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	o := tinyPretrain()
	o.Datasets = []string{"letters"}
	if _, err := Pretrain(o, nil); err == nil || !strings.Contains(err.Error(), "letters") {
		t.Fatalf("unknown dataset: %v", err)
	}
}
