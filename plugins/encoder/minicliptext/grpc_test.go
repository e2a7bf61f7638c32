package minicliptext

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugintest"
)

// The test binary re-executes itself as the plugin (plugintest.Main), so the gRPC
// path is tested in a process of its own with no build step outside go test.
func TestMain(m *testing.M) { plugintest.Main(m, served) }

var served = plugintest.Plugins{"minicliptext": func() plugin.Base { return New() }}

func TestGRPCRoundTrip(t *testing.T) {
	c := served.Start(t, "minicliptext")
	ctx := context.Background()
	remote := c.Encoder()
	texts := []string{"handwritten digits with heavy noise", "inverted clothing photographs"}
	got, err := remote.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	want, err := New().Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("text %d: embedding over gRPC differs from in process", i)
		}
	}
	if _, err := remote.Embed(ctx, []string{"qqzv"}); err == nil || !strings.Contains(err.Error(), "qqzv") {
		t.Errorf("unknown words over gRPC: %v", err)
	}
}
