package lora

// PEFT adapters are how real LoRA banks come in and generated adapters go out: a
// directory with adapter_model.safetensors and adapter_config.json, as Hugging Face
// PEFT's save_pretrained writes them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sglab/sglab/framework/atomicfile"
)

// File names inside a PEFT adapter directory.
const (
	PEFTWeightsFile = "adapter_model.safetensors"
	PEFTConfigFile  = "adapter_config.json"
)

// peftPrefix is what PEFT puts before module names in its state dict (the PeftModel
// wraps the base model twice). PEFT's loader needs it; LoadPEFT strips it.
const peftPrefix = "base_model.model."

// peftConfigOut is the adapter_config.json SavePEFT writes: the fields LoraConfig
// reads, with the defaults of a plain inference-mode LoRA.
type peftConfigOut struct {
	AlphaPattern    map[string]float64 `json:"alpha_pattern"`
	BaseModel       *string            `json:"base_model_name_or_path"`
	Bias            string             `json:"bias"`
	FanInFanOut     bool               `json:"fan_in_fan_out"`
	InferenceMode   bool               `json:"inference_mode"`
	InitLoraWeights bool               `json:"init_lora_weights"`
	LoraAlpha       float64            `json:"lora_alpha"`
	LoraDropout     float64            `json:"lora_dropout"`
	ModulesToSave   []string           `json:"modules_to_save"`
	PeftType        string             `json:"peft_type"`
	R               int                `json:"r"`
	RankPattern     map[string]int     `json:"rank_pattern"`
	TargetModules   []string           `json:"target_modules"`
	TaskType        *string            `json:"task_type"`
	UseDora         bool               `json:"use_dora"`
	UseRslora       bool               `json:"use_rslora"`
}

// peftConfigIn is what LoadPEFT reads from adapter_config.json; other fields are
// ignored, since PEFT configs carry many that do not change the LoRA tensors.
type peftConfigIn struct {
	PeftType      *string            `json:"peft_type"`
	BaseModel     *string            `json:"base_model_name_or_path"`
	R             *int               `json:"r"`
	LoraAlpha     *float64           `json:"lora_alpha"`
	TargetModules json.RawMessage    `json:"target_modules"`
	RankPattern   map[string]int     `json:"rank_pattern"`
	AlphaPattern  map[string]float64 `json:"alpha_pattern"`
	UseRslora     bool               `json:"use_rslora"`
	UseDora       bool               `json:"use_dora"`
}

// SavePEFT writes a as a PEFT LoRA adapter in dir (created if missing). Tensors are
// named base_model.model.<module>.lora_A.weight [r, in] and ...lora_B.weight
// [out, r], as PEFT names them; r and lora_alpha are the first module's, and modules
// that differ appear in rank_pattern / alpha_pattern under their full name.
// target_modules lists the last component of each module name. base_model_name_or_path
// is baseModel (the backbone the adapter applies to; null when empty).
func SavePEFT(dir string, a *Adapter, baseModel string) error {
	if err := savePEFT(dir, a, baseModel); err != nil {
		return fmt.Errorf("lora: save PEFT adapter %s: %w", dir, err)
	}
	return nil
}

func savePEFT(dir string, a *Adapter, baseModel string) error {
	weights, config, err := EncodePEFT(a, baseModel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{PEFTWeightsFile, weights}, {PEFTConfigFile, config}} {
		path := filepath.Join(dir, f.name)
		if err := atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(f.data); return err }); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// EncodePEFT is what SavePEFT writes, in memory: the bytes of adapter_model.safetensors
// and of adapter_config.json (for a zip, an HTTP body).
func EncodePEFT(a *Adapter, baseModel string) (weights, config []byte, err error) {
	s := a.Schema
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	if len(a.Params) != s.NumParams() {
		return nil, nil, fmt.Errorf("adapter has %d parameters, schema needs %d", len(a.Params), s.NumParams())
	}
	if err := a.CheckFinite(); err != nil {
		return nil, nil, err
	}
	cfg := peftConfigOut{
		AlphaPattern:    map[string]float64{},
		Bias:            "none",
		InferenceMode:   true,
		InitLoraWeights: true,
		LoraAlpha:       s[0].Alpha,
		PeftType:        "LORA",
		R:               s[0].Rank,
		RankPattern:     map[string]int{},
	}
	if baseModel != "" {
		cfg.BaseModel = &baseModel
	}
	ts := make([]Tensor, 0, 2*len(s))
	for i, m := range s {
		ts = append(ts,
			Tensor{Name: peftPrefix + m.Name + suffixA, Shape: []int{m.Rank, m.In}, Data: a.A(i)},
			Tensor{Name: peftPrefix + m.Name + suffixB, Shape: []int{m.Out, m.Rank}, Data: a.B(i)})
		if m.Rank != cfg.R {
			cfg.RankPattern[m.Name] = m.Rank
		}
		if m.Alpha != cfg.LoraAlpha {
			cfg.AlphaPattern[m.Name] = m.Alpha
		}
		target := m.Name[strings.LastIndexByte(m.Name, '.')+1:]
		if !slices.Contains(cfg.TargetModules, target) {
			cfg.TargetModules = append(cfg.TargetModules, target)
		}
	}
	slices.Sort(cfg.TargetModules)
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	js = append(js, '\n')
	var buf bytes.Buffer
	meta := map[string]string{"format": "pt"} // what torch-based loaders expect
	if err := encodeSafetensors(&buf, outTensors(ts), meta); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), js, nil
}

// LoadPEFT reads a PEFT LoRA adapter directory. Module order is the order of the
// tensors' data in the file; a "base_model.model." prefix on tensor names is
// stripped. Every tensor must be a lora_A or lora_B weight, each module needs both,
// and their shapes must agree with each other and with r / rank_pattern. With
// use_rslora (scale alpha/√r) the stored Alpha is lora_alpha·√r, so Scale() and
// DeltaW stay exact. DoRA adapters are refused.
func LoadPEFT(dir string) (*Adapter, error) {
	a, _, err := LoadPEFTBase(dir)
	return a, err
}

// LoadPEFTBase is LoadPEFT that also returns the config's base_model_name_or_path
// ("" when absent or null).
func LoadPEFTBase(dir string) (*Adapter, string, error) {
	cpath := filepath.Join(dir, PEFTConfigFile)
	cfg, err := readPEFTConfig(cpath)
	if err != nil {
		return nil, "", fmt.Errorf("lora: %s: %w", cpath, err)
	}
	wpath := filepath.Join(dir, PEFTWeightsFile)
	ts, _, err := ReadSafetensors(wpath)
	if err != nil {
		return nil, "", err
	}
	a, err := buildPEFT(cfg, ts)
	if err != nil {
		return nil, "", fmt.Errorf("lora: %s: %w", wpath, err)
	}
	base := ""
	if cfg.BaseModel != nil {
		base = *cfg.BaseModel
	}
	return a, base, nil
}

func readPEFTConfig(path string) (*peftConfigIn, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg peftConfigIn
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the config object")
	}
	switch {
	case cfg.PeftType == nil:
		return nil, fmt.Errorf("missing peft_type")
	case *cfg.PeftType != "LORA":
		return nil, fmt.Errorf("peft_type is %q, want \"LORA\"", *cfg.PeftType)
	case cfg.UseDora:
		return nil, fmt.Errorf("use_dora is set; DoRA adapters are not supported")
	case cfg.R == nil:
		return nil, fmt.Errorf("missing r")
	case *cfg.R <= 0:
		return nil, fmt.Errorf("r is %d, want a positive rank", *cfg.R)
	case cfg.LoraAlpha == nil:
		return nil, fmt.Errorf("missing lora_alpha")
	}
	for k, r := range cfg.RankPattern {
		if r <= 0 {
			return nil, fmt.Errorf("rank_pattern[%q] is %d, want a positive rank", k, r)
		}
	}
	return &cfg, nil
}

// buildPEFT turns the tensors of an adapter file into an Adapter, checking them
// against its config.
func buildPEFT(cfg *peftConfigIn, ts []Tensor) (*Adapter, error) {
	type pair struct{ a, b *Tensor }
	var order []string
	mods := map[string]*pair{}
	for i := range ts {
		t := &ts[i]
		name := strings.TrimPrefix(t.Name, peftPrefix)
		var module string
		isA := strings.HasSuffix(name, suffixA)
		switch {
		case isA:
			module = strings.TrimSuffix(name, suffixA)
		case strings.HasSuffix(name, suffixB):
			module = strings.TrimSuffix(name, suffixB)
		default:
			return nil, fmt.Errorf("tensor %q is not a LoRA weight (want <module>%s or <module>%s)", t.Name, suffixA, suffixB)
		}
		if module == "" {
			return nil, fmt.Errorf("tensor %q has no module name", t.Name)
		}
		p := mods[module]
		if p == nil {
			p = &pair{}
			mods[module] = p
			order = append(order, module)
		}
		slot := &p.b
		if isA {
			slot = &p.a
		}
		if *slot != nil {
			return nil, fmt.Errorf("tensor %q duplicates tensor %q", t.Name, (*slot).Name)
		}
		*slot = t
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no LoRA tensors")
	}
	match, err := targetMatcher(cfg.TargetModules)
	if err != nil {
		return nil, fmt.Errorf("%s: target_modules: %w", PEFTConfigFile, err)
	}

	s := make(Schema, len(order))
	for i, name := range order {
		p := mods[name]
		switch {
		case p.a == nil:
			return nil, fmt.Errorf("tensor %q has no matching %s", p.b.Name, suffixA[1:])
		case p.b == nil:
			return nil, fmt.Errorf("tensor %q has no matching %s", p.a.Name, suffixB[1:])
		case len(p.a.Shape) != 2:
			return nil, fmt.Errorf("tensor %q has shape %v, want [r, in]", p.a.Name, p.a.Shape)
		case len(p.b.Shape) != 2:
			return nil, fmt.Errorf("tensor %q has shape %v, want [out, r]", p.b.Name, p.b.Shape)
		case p.a.Shape[0] != p.b.Shape[1]:
			return nil, fmt.Errorf("tensor %q has rank %d but tensor %q has rank %d", p.a.Name, p.a.Shape[0], p.b.Name, p.b.Shape[1])
		case p.a.Shape[0] == 0 || p.a.Shape[1] == 0 || p.b.Shape[0] == 0:
			return nil, fmt.Errorf("tensors %q and %q have an empty dimension (%v, %v)", p.a.Name, p.b.Name, p.a.Shape, p.b.Shape)
		}
		if match != nil && !match(name) {
			return nil, fmt.Errorf("module %q (tensor %q) is not covered by %s target_modules %s", name, p.a.Name, PEFTConfigFile, cfg.TargetModules)
		}
		rank, err := patternValue(cfg.RankPattern, name, *cfg.R)
		if err != nil {
			return nil, fmt.Errorf("%s: rank_pattern: %w", PEFTConfigFile, err)
		}
		if p.a.Shape[0] != rank {
			return nil, fmt.Errorf("tensor %q has rank %d but %s gives module %q rank %d", p.a.Name, p.a.Shape[0], PEFTConfigFile, name, rank)
		}
		alpha, err := patternValue(cfg.AlphaPattern, name, *cfg.LoraAlpha)
		if err != nil {
			return nil, fmt.Errorf("%s: alpha_pattern: %w", PEFTConfigFile, err)
		}
		if cfg.UseRslora {
			alpha *= math.Sqrt(float64(rank))
		}
		s[i] = Module{Name: name, In: p.a.Shape[1], Out: p.b.Shape[0], Rank: rank, Alpha: alpha}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	a := New(s)
	for i, name := range order {
		p := mods[name]
		for _, t := range []*Tensor{p.a, p.b} {
			if j, ok := firstNonFinite(t.Data); !ok {
				return nil, fmt.Errorf("tensor %q: value %d is %v", t.Name, j, t.Data[j])
			}
		}
		copy(a.A(i), p.a.Data)
		copy(a.B(i), p.b.Data)
	}
	return a, nil
}

// patternValue resolves a module's value from a PEFT rank_pattern / alpha_pattern:
// an exact key wins; otherwise keys are regular expressions matched against the end
// of the name at a dot boundary, as PEFT matches them. Matches that disagree are an
// error rather than a guess (Go maps have no order to break the tie by).
func patternValue[T comparable](pat map[string]T, name string, def T) (T, error) {
	if v, ok := pat[name]; ok {
		return v, nil
	}
	keys := make([]string, 0, len(pat))
	for k := range pat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	found := ""
	var val T
	for _, k := range keys {
		re, err := regexp.Compile(`^(?:.*\.)?(?:` + k + `)$`)
		if err != nil {
			return def, fmt.Errorf("key %q is not a regular expression: %w", k, err)
		}
		if !re.MatchString(name) {
			continue
		}
		if found != "" && pat[k] != val {
			return def, fmt.Errorf("keys %q and %q both match module %q with different values", found, k, name)
		}
		found, val = k, pat[k]
	}
	if found == "" {
		return def, nil
	}
	return val, nil
}

// targetMatcher returns a test for module names under PEFT's target_modules (a list
// of name suffixes or one regular expression matched against the whole name), or nil
// when it cannot check: absent, "all-linear", or a pattern outside Go's regexp syntax.
func targetMatcher(raw json.RawMessage) (func(string) bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pattern string
	if err := json.Unmarshal(raw, &pattern); err == nil {
		if pattern == "all-linear" {
			return nil, nil
		}
		re, err := regexp.Compile(`^(?:` + pattern + `)$`)
		if err != nil {
			return nil, nil // Python-only syntax (lookarounds, backreferences): cannot check here
		}
		return re.MatchString, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("want a list of strings or a string: %w", err)
	}
	return func(name string) bool {
		for _, t := range list {
			if name == t || strings.HasSuffix(name, "."+t) {
				return true
			}
		}
		return false
	}, nil
}

// PEFTSampleDir is the name of sample i's folder where several generated adapters are
// written together (by `runner generate`, in `runner serve`'s zip): sample-<i>.
func PEFTSampleDir(i int) string { return fmt.Sprintf("sample-%d", i) }
