package miniclip

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

// A checkpoint is a safetensors file (Hugging Face layout, so outside tools can read it)
// with one F32 tensor per entry of model.Config.Layout, under the same names, and this
// metadata: "format" = CheckpointFormat, "version" = CheckpointVersion, "config" (the
// architecture, JSON), "pretrain" (the PretrainOptions that made it, JSON) and "made_by"
// (the code version, which fixes the augmentation families).
const (
	CheckpointFormat  = "sglab-miniclip"
	CheckpointVersion = 1
)

// shippedCheckpoint is the backbone the default world uses, embedded in the binary
// (data/miniclip.safetensors, 120 kB). It was made by
//
//	go run ./runner pretrain -out plugins/evaluator/miniclip/data/miniclip.safetensors
//
// that is, Pretrain(DefaultPretrainOptions()), whose options are stored in the file's
// "pretrain" metadata and are exactly:
//
//	model: image 28, patch 7 (16 patches + CLS), width 32, 4 heads, 2 blocks, MLP 64,
//	       joint space 32, word vectors 100-d, text MLP 64, pixels (x − 0.25)/0.35
//	data:  digits and fashion, shipped subsets, all 200 training images per class
//	       (4,000 pairs, 1,854 distinct captions)
//	seed 1, 100 epochs, batch 128, Adam lr 2e-3 (100 warm-up steps, cosine to 2e-4),
//	weight decay 0.05, invert 0.1, rotate 0.3, augment 0.4
//
// It takes about 3.5 minutes on one core and is bit-for-bit reproducible.
//
//go:embed data/miniclip.safetensors
var shippedCheckpoint []byte

var loadShipped = sync.OnceValues(func() (*Model, error) {
	m, err := Decode(shippedCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("miniclip: shipped checkpoint: %w", err)
	}
	return m, nil
})

// Default returns the shipped backbone, decoded once and shared.
func Default() (*Model, error) { return loadShipped() }

// Save writes the model to path atomically.
func (m *Model) Save(path string) error {
	ts, meta, err := m.tensors()
	if err != nil {
		return err
	}
	return lora.WriteSafetensors(path, ts, meta)
}

// Encode writes the checkpoint bytes.
func (m *Model) Encode() ([]byte, error) {
	ts, meta, err := m.tensors()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := lora.EncodeSafetensors(&buf, ts, meta); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (m *Model) tensors() ([]lora.Tensor, map[string]string, error) {
	c := m.Config()
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, nil, err
	}
	opts, err := json.Marshal(m.Options)
	if err != nil {
		return nil, nil, err
	}
	meta := map[string]string{
		"format":   CheckpointFormat,
		"version":  strconv.Itoa(CheckpointVersion),
		"config":   string(cfg),
		"pretrain": string(opts),
		"made_by":  "sglab miniclip " + Version, // the augmentation families are code (augment.go), versioned with it
	}
	var ts []lora.Tensor
	for _, t := range c.Layout() {
		ts = append(ts, lora.Tensor{Name: t.Name, Shape: t.Shape, Data: m.Net.Params[t.Offset : t.Offset+t.Size()]})
	}
	return ts, meta, nil
}

// Load reads a checkpoint file.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("miniclip: checkpoint: %w", err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

// Decode reads a checkpoint held in memory.
func Decode(data []byte) (*Model, error) {
	ts, meta, err := lora.DecodeSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("miniclip: checkpoint: %w", err)
	}
	m, err := fromTensors(ts, meta)
	if err != nil {
		return nil, fmt.Errorf("miniclip: checkpoint: %w", err)
	}
	sum := sha256.Sum256(data)
	m.Digest = hex.EncodeToString(sum[:])
	return m, nil
}

// fromTensors validates a decoded checkpoint: format and version, a valid architecture,
// exactly the tensors of its layout with their shapes, and finite values.
func fromTensors(ts []lora.Tensor, meta map[string]string) (*Model, error) {
	if got := meta["format"]; got != CheckpointFormat {
		return nil, fmt.Errorf("metadata format is %q, want %q", got, CheckpointFormat)
	}
	if got := meta["version"]; got != strconv.Itoa(CheckpointVersion) {
		return nil, fmt.Errorf("format version %q is not supported (this build reads version %d)", got, CheckpointVersion)
	}
	var c model.Config
	if err := strictJSON(meta["config"], &c); err != nil {
		return nil, fmt.Errorf("metadata config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("metadata config: %w", err)
	}
	var opts PretrainOptions
	if err := strictJSON(meta["pretrain"], &opts); err != nil {
		return nil, fmt.Errorf("metadata pretrain: %w", err)
	}
	layout := c.Layout()
	if len(ts) != len(layout) {
		return nil, fmt.Errorf("%d tensors, the configured architecture has %d", len(ts), len(layout))
	}
	byName := make(map[string]lora.Tensor, len(ts))
	for _, t := range ts {
		byName[t.Name] = t
	}
	params := make([]float32, c.NumParams())
	for _, want := range layout {
		t, ok := byName[want.Name]
		if !ok {
			return nil, fmt.Errorf("tensor %q is missing", want.Name)
		}
		if !slices.Equal(t.Shape, want.Shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", want.Name, t.Shape, want.Shape)
		}
		if err := checkFinite(t.Data); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", want.Name, err)
		}
		copy(params[want.Offset:want.Offset+want.Size()], t.Data)
	}
	net, err := model.FromParams(c, params)
	if err != nil {
		return nil, err
	}
	words, err := wordVectors(c)
	if err != nil {
		return nil, err
	}
	return &Model{Net: net, Options: opts, words: words}, nil
}

// strictJSON decodes s into dst, refusing unknown fields and trailing data.
func strictJSON(s string, dst any) error {
	if s == "" {
		return fmt.Errorf("missing")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
