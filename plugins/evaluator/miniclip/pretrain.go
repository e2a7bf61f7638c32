package miniclip

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/datasets"
	"github.com/sglab/sglab/framework/metrics"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

// PretrainOptions say how a backbone is made. They are stored in every checkpoint.
type PretrainOptions struct {
	Model       model.Config `json:"model"`
	Datasets    []string     `json:"datasets"`     // training data: the clean training images of these datasets
	DataDir     string       `json:"data_dir"`     // folder with the original idx files; "" uses the shipped subsets
	PerClass    int          `json:"per_class"`    // training images per class (a seeded choice); ≤ 0 keeps all
	Seed        uint64       `json:"seed"`         // initialisation and batch order
	Epochs      int          `json:"epochs"`       // passes over the data
	BatchSize   int          `json:"batch_size"`   // image–caption pairs per step
	LR          float64      `json:"lr"`           // peak Adam learning rate
	WarmupSteps int          `json:"warmup_steps"` // linear warm-up, then cosine decay to LR/10
	WeightDecay float64      `json:"weight_decay"` // decoupled, on weight matrices only
	Invert      float64      `json:"invert"`       // probability of showing an image inverted (augment.go)
	Rotate      float64      `json:"rotate"`       // probability of showing an image at a random angle
	Augment     float64      `json:"augment"`      // probability of one mild random geometric or photometric change
}

// DefaultPretrainOptions are the options of the shipped checkpoint.
func DefaultPretrainOptions() PretrainOptions {
	return PretrainOptions{
		Model:       model.DefaultConfig(),
		Datasets:    []string{"digits", "fashion"},
		Seed:        1,
		Epochs:      100,
		BatchSize:   128,
		LR:          2e-3,
		WarmupSteps: 100,
		WeightDecay: 0.05,
		Invert:      0.1,
		Rotate:      0.3,
		Augment:     0.4,
	}
}

// Validate reports the first bad option.
func (o PretrainOptions) Validate() error {
	if err := o.Model.Validate(); err != nil {
		return err
	}
	switch {
	case len(o.Datasets) == 0:
		return fmt.Errorf("miniclip: pretrain: no datasets")
	case o.Epochs <= 0:
		return fmt.Errorf("miniclip: pretrain: epochs %d must be positive", o.Epochs)
	case o.BatchSize < 2:
		return fmt.Errorf("miniclip: pretrain: batch size %d must be at least 2 (the loss contrasts pairs)", o.BatchSize)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("miniclip: pretrain: learning rate %v must be positive", o.LR)
	case o.WarmupSteps < 0:
		return fmt.Errorf("miniclip: pretrain: warmup steps %d must not be negative", o.WarmupSteps)
	case !(o.Invert >= 0 && o.Invert <= 1):
		return fmt.Errorf("miniclip: pretrain: invert %v must be a probability", o.Invert)
	case !(o.Rotate >= 0 && o.Rotate <= 1):
		return fmt.Errorf("miniclip: pretrain: rotate %v must be a probability", o.Rotate)
	case !(o.Augment >= 0 && o.Augment <= 1):
		return fmt.Errorf("miniclip: pretrain: augment %v must be a probability", o.Augment)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("miniclip: pretrain: weight decay %v must be finite and not negative", o.WeightDecay)
	}
	return nil
}

// loadSet returns a dataset: the shipped subset, or all of the idx files in
// dir/<name> (MNIST and Fashion-MNIST use the same file names).
func loadSet(name, dir string) (*datasets.Set, error) {
	if dir == "" {
		return datasets.Load(name)
	}
	return datasets.LoadDir(name, filepath.Join(dir, name), 0, 0)
}

// selectPerClass returns the indices of perClass examples of each class (all when
// perClass ≤ 0), chosen by datasets.Select with seed.
func selectPerClass(ex []datasets.Example, classes, perClass int, seed uint64) ([]int, error) {
	labels := make([]byte, len(ex))
	for i, e := range ex {
		labels[i] = byte(e.Label)
	}
	return datasets.Select(labels, classes, perClass, seed)
}

// pairs is a set of captioned images in the model's input form.
type pairs struct {
	pixels   []float32 // n × 784 in [0, 1]
	feats    []float32 // n × WordDim: mean word vector of the caption
	captions []string
	groups   []int // caption identity (metrics.GroupCaptions): equal captions share a group
	n        int
}

// captionIndex caches the word features of distinct captions.
type captionIndex struct {
	m     *Model
	feats map[string][]float32
}

func newCaptionIndex(m *Model) *captionIndex {
	return &captionIndex{m: m, feats: map[string][]float32{}}
}

func (ci *captionIndex) features(caption string) ([]float32, error) {
	if f, ok := ci.feats[caption]; ok {
		return f, nil
	}
	f, err := ci.m.TextFeatures(caption)
	if err != nil {
		return nil, err
	}
	ci.feats[caption] = f
	return f, nil
}

// add appends an image (already in [0, 1]) and its caption; call group when done.
func (p *pairs) add(ci *captionIndex, pix []float32, caption string) error {
	f, err := ci.features(caption)
	if err != nil {
		return err
	}
	p.pixels = append(p.pixels, pix...)
	p.feats = append(p.feats, f...)
	p.captions = append(p.captions, caption)
	p.n++
	return nil
}

// group assigns the caption groups.
func (p *pairs) group() { p.groups = metrics.GroupCaptions(p.captions) }

// Pretrain trains a backbone from scratch on the training images and captions of
// opts.Datasets (clean, or inverted, rotated or mildly changed at random: augment.go)
// with the symmetric InfoNCE loss, Adam and a warm-up + cosine schedule.
// It runs on one goroutine and is deterministic for opts. Progress goes to log (nil
// for none).
func Pretrain(opts PretrainOptions, log hclog.Logger) (*Model, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := opts.Model
	words, err := wordVectors(c)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6d696e69636c6970)) // "miniclip"
	net, err := model.New[float32](c, rng)
	if err != nil {
		return nil, err
	}
	m := &Model{Net: net, Options: opts, words: words}

	var data pairs
	ci := newCaptionIndex(m)
	pix := make([]float32, datasets.Pixels)
	for _, name := range opts.Datasets {
		set, err := loadSet(name, opts.DataDir)
		if err != nil {
			return nil, fmt.Errorf("miniclip: pretrain: %w", err)
		}
		idx, err := selectPerClass(set.Train, len(set.Classes), opts.PerClass, opts.Seed)
		if err != nil {
			return nil, fmt.Errorf("miniclip: pretrain: dataset %q: %w", name, err)
		}
		for _, i := range idx {
			e := &set.Train[i]
			e.Image.Float32(pix)
			if err := data.add(ci, pix, e.Caption); err != nil {
				return nil, fmt.Errorf("miniclip: pretrain: dataset %q image %d: %w", name, e.Index, err)
			}
		}
	}
	data.group()
	if c.Pixels() != datasets.Pixels {
		return nil, fmt.Errorf("miniclip: pretrain: the model reads %d pixels, the datasets have %d", c.Pixels(), datasets.Pixels)
	}
	log.Info("pretraining", "datasets", strings.Join(opts.Datasets, ","), "pairs", data.n, "captions", len(ci.feats),
		"params", len(net.Params), "epochs", opts.Epochs, "batch", opts.BatchSize)

	B := min(opts.BatchSize, data.n)
	stepsPerEpoch := data.n / B // the last partial batch is dropped: small batches make a noisy contrastive loss
	total := stepsPerEpoch * opts.Epochs
	adam := model.NewAdam(len(net.Params), opts.LR)
	adam.WeightDecay = opts.WeightDecay
	adam.Decay = decayMask(c)

	it, tt := net.NewImageTape(B), net.NewTextTape(B)
	grad := make([]float32, len(net.Params))
	gw := model.Bind(c, grad)
	bPix := make([]float32, B*c.Pixels())
	bFeat := make([]float32, B*c.WordDim)
	bGroup := make([]int, B)
	dImg, dTxt := make([]float32, B*c.Embed), make([]float32, B*c.Embed)
	start := time.Now()
	step := 0
	for ep := 0; ep < opts.Epochs; ep++ {
		perm := rng.Perm(data.n)
		var sum float64
		for s := 0; s < stepsPerEpoch; s++ {
			for k, i := range perm[s*B : (s+1)*B] {
				img := bPix[k*c.Pixels() : (k+1)*c.Pixels()]
				copy(img, data.pixels[i*c.Pixels():(i+1)*c.Pixels()])
				if err := augment(img, opts, rng); err != nil {
					return nil, fmt.Errorf("miniclip: pretrain: %w", err)
				}
				copy(bFeat[k*c.WordDim:(k+1)*c.WordDim], data.feats[i*c.WordDim:(i+1)*c.WordDim])
				bGroup[k] = data.groups[i]
			}
			ie := it.Forward(bPix, B, nil)
			te := tt.Forward(bFeat, B)
			clear(dImg)
			clear(dTxt)
			loss, dls := model.InfoNCE(ie, te, bGroup, B, c.Embed, net.W.LogitScale[0], dImg, dTxt)
			clear(grad)
			gw.LogitScale[0] = dls
			it.Backward(dImg, &gw, nil)
			tt.Backward(dTxt, &gw)
			adam.LR = schedule(opts, step, total)
			model.Step(adam, net.Params, grad)
			net.ClampLogScale()
			sum += loss
			step++
		}
		if math.IsNaN(sum) || math.IsInf(sum, 0) {
			return nil, fmt.Errorf("miniclip: pretrain: loss diverged in epoch %d (try a lower learning rate)", ep+1)
		}
		log.Info("pretrain epoch", "epoch", ep+1, "loss", sum/float64(stepsPerEpoch),
			"logit_scale", float64(net.Scale()), "elapsed", time.Since(start).Round(time.Millisecond).String())
	}
	if err := checkFinite(net.Params); err != nil {
		return nil, fmt.Errorf("miniclip: pretrain: parameters: %w", err)
	}
	return m, nil
}

// schedule is the learning rate at step: linear warm-up to opts.LR, then cosine decay
// to opts.LR/10 at the last step.
func schedule(opts PretrainOptions, step, total int) float64 {
	if step < opts.WarmupSteps {
		return opts.LR * float64(step+1) / float64(opts.WarmupSteps)
	}
	span := max(1, total-opts.WarmupSteps)
	p := float64(step-opts.WarmupSteps) / float64(span)
	return opts.LR * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*p)))
}

// decayMask marks the weight matrices (2-D tensors other than the positional embedding),
// the usual AdamW practice: gains, biases and embeddings are not decayed.
func decayMask(c model.Config) []bool {
	mask := make([]bool, c.NumParams())
	for _, t := range c.Layout() {
		if len(t.Shape) == 2 && t.Name != "visual.positional_embedding" {
			for i := t.Offset; i < t.Offset+t.Size(); i++ {
				mask[i] = true
			}
		}
	}
	return mask
}
