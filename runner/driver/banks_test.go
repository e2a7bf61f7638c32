package driver

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
)

// TestBankAdapter: a PEFT folder is put in the evaluator's module order whatever its
// own; a missing, extra or differently shaped module is refused naming the file and
// the tensor.
func TestBankAdapter(t *testing.T) {
	schema := lora.Schema{
		{Name: "blocks.0.attn.q_proj", In: 4, Out: 3, Rank: 2, Alpha: 4},
		{Name: "blocks.0.attn.v_proj", In: 4, Out: 3, Rank: 2, Alpha: 4},
	}
	reversed := lora.Schema{schema[1], schema[0]}
	a := lora.New(reversed)
	for i := range a.Params {
		a.Params[i] = float32(i)
	}
	dir := filepath.Join(t.TempDir(), "a")
	if err := lora.SavePEFT(dir, a, ""); err != nil {
		t.Fatal(err)
	}
	got, err := bankAdapter(dir, schema)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.A(0), a.A(1)) || !slices.Equal(got.B(1), a.B(0)) || !slices.Equal(got.Schema, schema) {
		t.Errorf("modules not reordered to the evaluator's: %v", got.Params)
	}

	weights := filepath.Join(dir, lora.PEFTWeightsFile)
	for _, tt := range []struct {
		name   string
		schema lora.Schema
		want   string
	}{
		{"module the evaluator lacks", lora.Schema{schema[0]}, "tensor base_model.model.blocks.0.attn.v_proj.lora_A.weight is for a module the evaluator does not adapt"},
		{"module the file lacks", append(slices.Clone(schema), lora.Module{Name: "blocks.1.attn.q_proj", In: 4, Out: 3, Rank: 2, Alpha: 4}), "no tensor base_model.model.blocks.1.attn.q_proj.lora_A.weight"},
		{"rank", lora.Schema{schema[0], {Name: "blocks.0.attn.v_proj", In: 4, Out: 3, Rank: 1, Alpha: 4}}, "tensor base_model.model.blocks.0.attn.v_proj.lora_A.weight has shape [2, 4], the evaluator's module wants [1, 4]"},
		{"out", lora.Schema{schema[0], {Name: "blocks.0.attn.v_proj", In: 4, Out: 5, Rank: 2, Alpha: 4}}, "tensor base_model.model.blocks.0.attn.v_proj.lora_B.weight has shape [3, 2], the evaluator's module wants [5, 2]"},
		{"alpha", lora.Schema{schema[0], {Name: "blocks.0.attn.v_proj", In: 4, Out: 3, Rank: 2, Alpha: 8}}, "module blocks.0.attn.v_proj has lora_alpha 4, the evaluator's has 8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bankAdapter(dir, tt.schema)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %v; want %q naming %s", err, tt.want, weights)
			}
		})
	}
}
