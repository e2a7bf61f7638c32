package lora

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPEFTRoundTrip(t *testing.T) {
	s := testSchema()
	a := randomAdapter(s, 50)
	dir := filepath.Join(t.TempDir(), "adapter") // SavePEFT creates it
	if err := SavePEFT(dir, a, "org/backbone"); err != nil {
		t.Fatal(err)
	}
	got, base, err := LoadPEFTBase(dir)
	if err != nil {
		t.Fatal(err)
	}
	if base != "org/backbone" {
		t.Errorf("base_model_name_or_path = %q, want org/backbone", base)
	}
	if !reflect.DeepEqual(got.Schema, s) {
		t.Errorf("schema = %v, want %v", got.Schema, s)
	}
	if !equalF32(got.Params, a.Params) {
		t.Error("parameters differ after SavePEFT/LoadPEFT")
	}
}

// TestPEFTFiles checks what a PEFT user would see: tensor names and shapes, and an
// adapter_config.json whose rank_pattern / alpha_pattern cover the modules that
// differ from the first.
func TestPEFTFiles(t *testing.T) {
	s := testSchema()
	a := randomAdapter(s, 51)
	dir := t.TempDir()
	if err := SavePEFT(dir, a, ""); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := ReadSafetensors(filepath.Join(dir, PEFTWeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	var want []Tensor
	for i, m := range s {
		want = append(want,
			Tensor{Name: "base_model.model." + m.Name + ".lora_A.weight", Shape: []int{m.Rank, m.In}, Data: a.A(i)},
			Tensor{Name: "base_model.model." + m.Name + ".lora_B.weight", Shape: []int{m.Out, m.Rank}, Data: a.B(i)})
	}
	sameTensors(t, ts, want)
	if meta["format"] != "pt" {
		t.Errorf("metadata = %v, want format pt", meta)
	}

	data, err := os.ReadFile(filepath.Join(dir, PEFTConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		PeftType      string             `json:"peft_type"`
		R             int                `json:"r"`
		LoraAlpha     float64            `json:"lora_alpha"`
		TargetModules []string           `json:"target_modules"`
		RankPattern   map[string]int     `json:"rank_pattern"`
		AlphaPattern  map[string]float64 `json:"alpha_pattern"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.PeftType != "LORA" || cfg.R != 2 || cfg.LoraAlpha != 4 {
		t.Errorf("peft_type=%q r=%d lora_alpha=%v, want LORA 2 4", cfg.PeftType, cfg.R, cfg.LoraAlpha)
	}
	if w := []string{"k_proj", "q_proj", "v_proj"}; !reflect.DeepEqual(cfg.TargetModules, w) {
		t.Errorf("target_modules = %v, want %v", cfg.TargetModules, w)
	}
	if w := map[string]int{"blocks.0.attn.k_proj": 1, "blocks.1.attn.v_proj": 3}; !reflect.DeepEqual(cfg.RankPattern, w) {
		t.Errorf("rank_pattern = %v, want %v", cfg.RankPattern, w)
	}
	if w := map[string]float64{"blocks.0.attn.k_proj": 1, "blocks.1.attn.v_proj": 1.5}; !reflect.DeepEqual(cfg.AlphaPattern, w) {
		t.Errorf("alpha_pattern = %v, want %v", cfg.AlphaPattern, w)
	}
}

// writePEFTDir writes a hand-made adapter directory.
func writePEFTDir(t *testing.T, config string, ts []Tensor) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteSafetensors(filepath.Join(dir, PEFTWeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, PEFTConfigFile), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func loraPair(name string, r, in, out int) []Tensor {
	return []Tensor{
		{Name: name + ".lora_A.weight", Shape: []int{r, in}, Data: ones(r * in)},
		{Name: name + ".lora_B.weight", Shape: []int{out, r}, Data: ones(out * r)},
	}
}

// TestLoadPEFTForeign loads adapters written the way other tools write them: no
// prefix, B before A, modules out of name order, regex patterns, rsLoRA.
func TestLoadPEFTForeign(t *testing.T) {
	ts := []Tensor{
		{Name: "z.q_proj.lora_B.weight", Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "z.q_proj.lora_A.weight", Shape: []int{2, 4}, Data: []float32{7, 8, 9, 10, 11, 12, 13, 14}},
	}
	ts = append(ts, loraPair("a.v_proj", 4, 5, 6)...)
	cfg := `{"peft_type":"LORA","r":2,"lora_alpha":8,"target_modules":["q_proj","v_proj"],
		"rank_pattern":{"v_proj":4},"alpha_pattern":{"a\\.v_.*":2},"use_rslora":true,"task_type":null,"bias":"none"}`
	a, err := LoadPEFT(writePEFTDir(t, cfg, ts))
	if err != nil {
		t.Fatal(err)
	}
	want := Schema{
		{Name: "z.q_proj", In: 4, Out: 3, Rank: 2, Alpha: 8 * math.Sqrt(2)},
		{Name: "a.v_proj", In: 5, Out: 6, Rank: 4, Alpha: 2 * math.Sqrt(4)},
	}
	if !reflect.DeepEqual(a.Schema, want) {
		t.Errorf("schema = %v, want %v", a.Schema, want)
	}
	if !equalF32(a.B(0), ts[0].Data) || !equalF32(a.A(0), ts[1].Data) {
		t.Errorf("module 0: B=%v A=%v", a.B(0), a.A(0))
	}
	// rsLoRA scales B·A by alpha/√r; the stored Alpha keeps that scale under Alpha/Rank.
	if got, w := a.Schema[0].Scale(), 8/math.Sqrt(2); math.Abs(got-w) > 1e-12 {
		t.Errorf("scale = %v, want %v", got, w)
	}
}

func TestLoadPEFTErrors(t *testing.T) {
	const cfg = `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["q_proj"]}`
	good := loraPair("m.q_proj", 2, 3, 4)
	prefixed := loraPair("base_model.model.m.q_proj", 2, 3, 4)
	nan := loraPair("m.q_proj", 2, 3, 4)
	nan[1].Data[5] = float32(math.NaN())
	tests := []struct {
		name string
		cfg  string
		ts   []Tensor
		want string
	}{
		{"config not JSON", `{"r":`, good, PEFTConfigFile},
		{"config trailing", cfg + "x", good, "trailing data"},
		{"no peft_type", `{"r":2,"lora_alpha":4}`, good, "missing peft_type"},
		{"not LORA", `{"peft_type":"IA3","r":2,"lora_alpha":4}`, good, `peft_type is "IA3"`},
		{"DoRA", `{"peft_type":"LORA","r":2,"lora_alpha":4,"use_dora":true}`, good, "DoRA"},
		{"no r", `{"peft_type":"LORA","lora_alpha":4}`, good, "missing r"},
		{"zero r", `{"peft_type":"LORA","r":0,"lora_alpha":4}`, good, "r is 0"},
		{"fractional r", `{"peft_type":"LORA","r":2.5,"lora_alpha":4}`, good, PEFTConfigFile},
		{"no alpha", `{"peft_type":"LORA","r":2}`, good, "missing lora_alpha"},
		{"bad rank_pattern", `{"peft_type":"LORA","r":2,"lora_alpha":4,"rank_pattern":{"x":-1}}`, good, `rank_pattern["x"] is -1`},
		{"rank differs from r", `{"peft_type":"LORA","r":4,"lora_alpha":4}`, good, `tensor "m.q_proj.lora_A.weight" has rank 2 but adapter_config.json gives module "m.q_proj" rank 4`},
		{"rank differs from pattern", `{"peft_type":"LORA","r":2,"lora_alpha":4,"rank_pattern":{"m.q_proj":3}}`, good, "rank 3"},
		{"ambiguous pattern", `{"peft_type":"LORA","r":2,"lora_alpha":4,"rank_pattern":{"q_proj":2,"m\\..*":3}}`, good, "both match"},
		{"bad pattern", `{"peft_type":"LORA","r":2,"lora_alpha":4,"alpha_pattern":{"(":1}}`, good, "not a regular expression"},
		{"not targeted", `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["k_proj"]}`, good, `module "m.q_proj"`},
		{"regex not targeted", `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":".*k_proj"}`, good, "not covered"},
		{"bad target_modules", `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":3}`, good, "target_modules"},
		{"no tensors", cfg, nil, "no LoRA tensors"},
		{"unknown tensor", cfg, append(loraPair("m.q_proj", 2, 3, 4), Tensor{Name: "m.q_proj.bias", Shape: []int{4}, Data: ones(4)}), `tensor "m.q_proj.bias" is not a LoRA weight`},
		{"missing A", cfg, good[1:], `tensor "m.q_proj.lora_B.weight" has no matching lora_A`},
		{"missing B", cfg, good[:1], `tensor "m.q_proj.lora_A.weight" has no matching lora_B`},
		{"prefix duplicate", cfg, append(loraPair("m.q_proj", 2, 3, 4), prefixed[0]), `"base_model.model.m.q_proj.lora_A.weight" duplicates`},
		{"no module name", cfg, []Tensor{{Name: ".lora_A.weight", Shape: []int{1, 1}, Data: ones(1)}}, "no module name"},
		{"A not 2-D", cfg, []Tensor{{Name: "m.q_proj.lora_A.weight", Shape: []int{2, 3, 1}, Data: ones(6)}, good[1]}, "want [r, in]"},
		{"B not 2-D", cfg, []Tensor{good[0], {Name: "m.q_proj.lora_B.weight", Shape: []int{8}, Data: ones(8)}}, "want [out, r]"},
		{"ranks disagree", cfg, []Tensor{good[0], {Name: "m.q_proj.lora_B.weight", Shape: []int{4, 3}, Data: ones(12)}}, `"m.q_proj.lora_A.weight" has rank 2 but tensor "m.q_proj.lora_B.weight" has rank 3`},
		{"empty dim", cfg, loraPair("m.q_proj", 2, 0, 4), "empty dimension"},
		{"NaN", cfg, nan, `tensor "m.q_proj.lora_B.weight": value 5 is NaN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePEFTDir(t, tt.cfg, tt.ts)
			_, err := LoadPEFT(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error = %v, want one naming %s and containing %q", err, dir, tt.want)
			}
		})
	}

	t.Run("missing weights", func(t *testing.T) {
		dir := writePEFTDir(t, cfg, good)
		os.Remove(filepath.Join(dir, PEFTWeightsFile))
		if _, err := LoadPEFT(dir); err == nil || !strings.Contains(err.Error(), PEFTWeightsFile) {
			t.Errorf("error = %v, want one naming %s", err, PEFTWeightsFile)
		}
	})
	t.Run("prefixed loads", func(t *testing.T) {
		a, err := LoadPEFT(writePEFTDir(t, cfg, prefixed))
		if err != nil || a.Schema[0].Name != "m.q_proj" {
			t.Errorf("LoadPEFT = %v, %v; want module m.q_proj", a, err)
		}
	})
}

func TestSavePEFTErrors(t *testing.T) {
	s := testSchema()
	nan := randomAdapter(s, 52)
	nan.Params[3] = float32(math.Inf(1))
	tests := []struct {
		name string
		a    *Adapter
		want string
	}{
		{"bad schema", &Adapter{Schema: Schema{{Name: "x"}}}, "in=0"},
		{"short params", &Adapter{Schema: s, Params: make([]float32, 3)}, "has 3 parameters"},
		{"non-finite", nan, "parameter 3 is +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			err := SavePEFT(dir, tt.a, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error = %v, want one naming %s and containing %q", err, dir, tt.want)
			}
			if _, serr := os.Stat(dir); serr == nil {
				t.Error("a refused adapter still created its directory")
			}
		})
	}
}
