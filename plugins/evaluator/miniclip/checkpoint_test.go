package miniclip

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

// smallConfig is a backbone small enough for fast tests but shaped like the real one
// (28×28 images, 100-d word vectors).
func smallConfig() model.Config {
	c := model.DefaultConfig()
	c.Width, c.Heads, c.Blocks, c.MLP, c.Embed, c.TextHidden = 8, 2, 2, 16, 8, 16
	return c
}

// randomModel returns an untrained backbone of config c.
func randomModel(t *testing.T, c model.Config, seed uint64) *Model {
	t.Helper()
	net, err := model.New[float32](c, rand.New(rand.NewPCG(seed, 0)))
	if err != nil {
		t.Fatal(err)
	}
	words, err := wordVectors(c)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultPretrainOptions()
	opts.Model = c
	return &Model{Net: net, Options: opts, words: words}
}

func TestCheckpointRoundTrip(t *testing.T) {
	m := randomModel(t, smallConfig(), 1)
	m.Options.Seed = 42
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Net.Params, m.Net.Params) {
		t.Error("parameters changed in the round trip")
	}
	if got.Config() != m.Config() || got.Options.Seed != 42 || !slices.Equal(got.Options.Datasets, m.Options.Datasets) {
		t.Errorf("metadata changed: %+v vs %+v", got.Options, m.Options)
	}
	b1, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b2, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Error("re-encoding a loaded checkpoint changed its bytes")
	}
}

// TestCheckpointRejects feeds corrupted checkpoints to Decode: each must be an error
// that says what is wrong, never a panic.
func TestCheckpointRejects(t *testing.T) {
	m := randomModel(t, smallConfig(), 2)
	base, meta, err := m.tensors()
	if err != nil {
		t.Fatal(err)
	}
	clone := func() ([]lora.Tensor, map[string]string) {
		ts := make([]lora.Tensor, len(base))
		for i, x := range base {
			ts[i] = lora.Tensor{Name: x.Name, Shape: slices.Clone(x.Shape), Data: slices.Clone(x.Data)}
		}
		md := map[string]string{}
		for k, v := range meta {
			md[k] = v
		}
		return ts, md
	}
	for _, tc := range []struct {
		name string
		edit func([]lora.Tensor, map[string]string) []lora.Tensor
		want string
	}{
		{"format", func(ts []lora.Tensor, md map[string]string) []lora.Tensor { md["format"] = "other"; return ts }, "format"},
		{"version", func(ts []lora.Tensor, md map[string]string) []lora.Tensor { md["version"] = "2"; return ts }, "version"},
		{"no config", func(ts []lora.Tensor, md map[string]string) []lora.Tensor { delete(md, "config"); return ts }, "config"},
		{"bad config", func(ts []lora.Tensor, md map[string]string) []lora.Tensor {
			md["config"] = strings.Replace(md["config"], `"heads":2`, `"heads":3`, 1)
			return ts
		}, "heads"},
		{"unknown config field", func(ts []lora.Tensor, md map[string]string) []lora.Tensor {
			md["config"] = strings.Replace(md["config"], "{", `{"depth":3,`, 1)
			return ts
		}, "depth"},
		{"bad options", func(ts []lora.Tensor, md map[string]string) []lora.Tensor { md["pretrain"] = "[1]"; return ts }, "pretrain"},
		{"missing tensor", func(ts []lora.Tensor, md map[string]string) []lora.Tensor { return ts[1:] }, "tensors"},
		{"renamed tensor", func(ts []lora.Tensor, md map[string]string) []lora.Tensor { ts[3].Name = "visual.pos"; return ts }, "missing"},
		{"shape", func(ts []lora.Tensor, md map[string]string) []lora.Tensor {
			ts[0].Shape = []int{ts[0].Shape[1], ts[0].Shape[0]}
			return ts
		}, "shape"},
		{"NaN", func(ts []lora.Tensor, md map[string]string) []lora.Tensor {
			ts[5].Data[0] = float32(math.NaN())
			return ts
		}, "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, md := clone()
			ts = tc.edit(ts, md)
			var buf bytes.Buffer
			if err := lora.EncodeSafetensors(&buf, ts, md); err != nil {
				t.Fatal(err)
			}
			_, err := Decode(buf.Bytes())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Decode([]byte("not a checkpoint")); err == nil {
		t.Error("garbage decoded without error")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.safetensors")); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("Load of a missing file = %v", err)
	}
}

// TestShippedCheckpoint checks the embedded backbone decodes and records how it was made.
func TestShippedCheckpoint(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Options.Validate(); err != nil {
		t.Errorf("recorded options: %v", err)
	}
	if m.Options.Model != m.Config() {
		t.Errorf("recorded options say %+v, checkpoint has %+v", m.Options.Model, m.Config())
	}
	if !reflect.DeepEqual(m.Options, DefaultPretrainOptions()) {
		t.Errorf("shipped checkpoint was made with %+v; DefaultPretrainOptions is %+v (the doc claims they agree: rebuild it)", m.Options, DefaultPretrainOptions())
	}
}
