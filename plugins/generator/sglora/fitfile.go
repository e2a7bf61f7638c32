package sglora

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/internal/generator/library"
	"github.com/sglab/sglab/internal/generator/mlp"
)

// A saved fit is a safetensors file holding what Generate needs and nothing more: the
// generation layers of the frozen CVAE (the condition's projection, which loading
// tabulates again, the learned prior and the decoder; the encoder q(z|X,c) is not
// saved), the experts' embeddings and normalised prototypes and variances (the
// conditions' ingredients), with the configuration, the schema, the z-score and the
// experts' ids in the metadata.
const (
	fitFormat        = "sglab.sglora.fit"
	fitFormatVersion = 1
)

var _ plugin.FitSaver = (*Generator)(nil)

type fitMeta struct {
	Config   Config          `json:"config"`
	Schema   lora.Schema     `json:"schema"`
	Experts  []string        `json:"experts"`
	ZScore   *library.ZScore `json:"zscore"`
	Learned  bool            `json:"learned"`
	Residual bool            `json:"residual"`
	Latent   int             `json:"latent"`
	CDim     int             `json:"condition_dim"`
	Project  bool            `json:"projection"`
}

// generationLayers are the layers the sampler runs, by name.
func (m *cvae) generationLayers() []namedLayer {
	var out []namedLayer
	for _, l := range m.layers() {
		if l.name != "encoder.1" && l.name != "encoder.2" {
			out = append(out, l)
		}
	}
	return out
}

// SaveFit writes the fitted model to path.
func (g *Generator) SaveFit(_ context.Context, path string) error {
	f, ok := g.Fitted()
	if !ok {
		return fmt.Errorf("%s: SaveFit called before Fit", Name)
	}
	m := f.model
	meta := fitMeta{Config: f.cfg, Schema: f.lib.Schema, ZScore: f.z, Learned: m.learned, Residual: m.residual,
		Latent: m.L, CDim: m.CDim, Project: m.proj != nil}
	E := len(f.lib.Experts)
	D := len(f.lib.Experts[0].Embedding)
	P := m.P
	embs := make([]float32, 0, E*D)
	means := make([]float32, 0, E*P)
	vars := make([]float32, 0, E*P)
	for e, x := range f.lib.Experts {
		meta.Experts = append(meta.Experts, x.ID)
		embs = append(embs, x.Embedding...)
		means = append(means, f.means[e]...)
		vars = append(vars, f.vars[e]...)
	}
	ts := []lora.Tensor{
		{Name: "embeddings", Shape: []int{E, D}, Data: embs},
		{Name: "means", Shape: []int{E, P}, Data: means},
		{Name: "vars", Shape: []int{E, P}, Data: vars},
	}
	for _, l := range m.generationLayers() {
		ts = append(ts,
			lora.Tensor{Name: l.name + ".weight", Shape: []int{l.d.In, l.d.Out}, Data: l.d.Weights()},
			lora.Tensor{Name: l.name + ".bias", Shape: []int{l.d.Out}, Data: l.d.B})
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("%s: SaveFit: %w", Name, err)
	}
	md := map[string]string{"format": fitFormat, "format_version": strconv.Itoa(fitFormatVersion), "plugin_version": Version, "fit": string(js)}
	if err := lora.WriteSafetensors(path, ts, md); err != nil {
		return fmt.Errorf("%s: SaveFit: %w", Name, err)
	}
	return nil
}

// LoadFit restores a fit SaveFit wrote. lib is the library it was made on: its schema,
// expert ids and embeddings must be the saved ones, and the plugin's configuration the
// saved configuration.
func (g *Generator) LoadFit(_ context.Context, path string, lib plugin.Library) error {
	f, err := g.readFit(path, lib)
	if err != nil {
		return fmt.Errorf("%s: LoadFit %s: %w", Name, path, err)
	}
	g.SetFitted(f, f.lib.Schema, len(f.lib.Experts[0].Embedding))
	return nil
}

func (g *Generator) readFit(path string, lib plugin.Library) (*fitted, error) {
	ts, md, err := lora.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	if md["format"] != fitFormat {
		return nil, fmt.Errorf("not an SG-LoRA fit (format %q, want %q)", md["format"], fitFormat)
	}
	if v := md["format_version"]; v != strconv.Itoa(fitFormatVersion) {
		return nil, fmt.Errorf("fit format version %s; this plugin (version %s) reads version %d", v, Version, fitFormatVersion)
	}
	var meta fitMeta
	if err := json.Unmarshal([]byte(md["fit"]), &meta); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	cfg := g.Config()
	if meta.Config != cfg {
		return nil, fmt.Errorf("fitted with the configuration %+v, the plugin is configured with %+v", meta.Config, cfg)
	}
	if err := meta.Schema.Validate(); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if err := lib.Schema.Compatible(meta.Schema); err != nil {
		return nil, fmt.Errorf("the library's schema differs from the fit's: %w", err)
	}
	if len(lib.Experts) != len(meta.Experts) {
		return nil, fmt.Errorf("fitted on %d experts, the library has %d", len(meta.Experts), len(lib.Experts))
	}
	byName := map[string]lora.Tensor{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("no tensor %q", name)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, shape)
		}
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor %q element %d is %v", name, i, v)
			}
		}
		return t.Data, nil
	}
	E, P := len(meta.Experts), meta.Schema.NumParams()
	if E == 0 {
		return nil, fmt.Errorf("no experts")
	}
	D := 0
	if t, ok := byName["embeddings"]; ok && len(t.Shape) == 2 {
		D = t.Shape[1]
	}
	embs, err := get("embeddings", E, D)
	if err != nil {
		return nil, err
	}
	means, err := get("means", E, P)
	if err != nil {
		return nil, err
	}
	vars, err := get("vars", E, P)
	if err != nil {
		return nil, err
	}
	f := &fitted{cfg: cfg, z: meta.ZScore, lib: &library.Library{Schema: meta.Schema}}
	if f.z == nil || len(f.z.Segments) != 2*len(meta.Schema) {
		return nil, fmt.Errorf("z-score: want %d segments", 2*len(meta.Schema))
	}
	for e, id := range meta.Experts {
		x := lib.Experts[e]
		emb := embs[e*D : (e+1)*D : (e+1)*D]
		if x.ID != id {
			return nil, fmt.Errorf("expert %d is %q in the fit, %q in the library", e, id, x.ID)
		}
		if !sameFloats(x.Embedding, emb) {
			return nil, fmt.Errorf("expert %q: the library's embedding differs from the fit's", id)
		}
		f.lib.Experts = append(f.lib.Experts, library.Expert{ID: id, Description: x.Description, Embedding: emb})
		f.means = append(f.means, means[e*P:(e+1)*P:(e+1)*P])
		f.vars = append(f.vars, vars[e*P:(e+1)*P:(e+1)*P])
	}
	if meta.Latent != cfg.Latent || meta.Learned != (cfg.Prior == "learned") || meta.Residual != (cfg.Decoder == "residual") ||
		meta.Project != (cfg.Condition == "projection") {
		return nil, fmt.Errorf("model metadata disagrees with the configuration")
	}
	m := &cvae{P: P, L: meta.Latent, CRaw: 2 * P, CDim: 2 * P, learned: meta.Learned, residual: meta.Residual, klWeight: cfg.KLWeight}
	if meta.Project {
		m.CDim = cfg.ConditionDim
	}
	layer := func(name string, in, out int) (*mlp.Dense, error) {
		w, err := get(name+".weight", in, out)
		if err != nil {
			return nil, err
		}
		b, err := get(name+".bias", out)
		if err != nil {
			return nil, err
		}
		return &mlp.Dense{In: in, Out: out, W: w, B: b}, nil
	}
	type spec struct {
		dst     **mlp.Dense
		name    string
		in, out int
	}
	specs := []spec{
		{&m.dec1, "decoder.1", m.CDim + m.L, cfg.DecoderHidden},
		{&m.dec2, "decoder.2", cfg.DecoderHidden, cfg.DecoderHidden},
		{&m.dec3, "decoder.3", cfg.DecoderHidden, P},
	}
	if meta.Project {
		specs = append(specs, spec{&m.proj, "projection", m.CRaw, m.CDim})
	}
	if meta.Learned {
		specs = append(specs, spec{&m.pri1, "prior.1", m.CDim, cfg.PriorHidden}, spec{&m.pri2, "prior.2", cfg.PriorHidden, 2 * m.L})
	}
	for _, s := range specs {
		d, err := layer(s.name, s.in, s.out)
		if err != nil {
			return nil, err
		}
		*s.dst = d
	}
	f.model = m
	f.freeze()
	return f, nil
}

func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
