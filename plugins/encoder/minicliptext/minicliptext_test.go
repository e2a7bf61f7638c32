package minicliptext

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/plugins/evaluator/miniclip"
)

func TestEmbed(t *testing.T) {
	e := New()
	ctx := context.Background()
	texts := []string{
		"handwritten digits rotated upside down",
		"clothing photographed through heavy fog",
		"handwritten digits rotated upside down",
	}
	vs, err := e.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := miniclip.Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("%d vectors for 3 texts", len(vs))
	}
	for i, v := range vs {
		if len(v) != m.Config().Embed {
			t.Fatalf("vector %d has %d values, the joint space has %d", i, len(v), m.Config().Embed)
		}
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.Abs(ss-1) > 1e-5 {
			t.Errorf("vector %d has squared norm %v, want 1", i, ss)
		}
	}
	if !slices.Equal(vs[0], vs[2]) || slices.Equal(vs[0], vs[1]) {
		t.Error("equal texts must embed equally and different texts differently")
	}
	// The encoder is the backbone's own text tower.
	want, err := m.EmbedTexts(texts[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(want[0], vs[0]) {
		t.Error("encoder and backbone text tower disagree")
	}
	if _, err := e.Embed(ctx, []string{"fine", "zzqx qqzv"}); err == nil || !strings.Contains(err.Error(), "zzqx") {
		t.Errorf("a text without known words: %v", err)
	}
	out, err := e.Embed(ctx, nil)
	if err != nil || len(out) != 0 {
		t.Errorf("no texts: %v, %v", out, err)
	}
}

func TestConfigureAndInfo(t *testing.T) {
	e := New()
	ctx := context.Background()
	if err := e.Configure(ctx, plugin.Params{"size": int64(3)}); err == nil || !strings.Contains(err.Error(), `"size"`) {
		t.Errorf("unknown key: %v", err)
	}
	if err := e.Configure(ctx, plugin.Params{"checkpoint": "/nonexistent.safetensors"}); err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("missing checkpoint: %v", err)
	}
	if err := e.Configure(ctx, plugin.Params{}); err != nil {
		t.Fatal(err)
	}
	info, err := e.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != plugin.KindEncoder || info.Name != Name || len(info.Params) != 1 || info.Params[0].Name != "checkpoint" {
		t.Errorf("info %+v", info)
	}
}
