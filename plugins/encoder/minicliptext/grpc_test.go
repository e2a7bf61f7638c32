package minicliptext

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// With SGLAB_MINICLIPTEXT_SERVE set the test binary serves the encoder, so the gRPC
// path is tested with no build step outside go test.
func TestMain(m *testing.M) {
	if os.Getenv("SGLAB_MINICLIPTEXT_SERVE") != "" {
		if err := rpc.Serve(New()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestGRPCRoundTrip(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &rpc.Host{}
	defer h.KillAll()
	c, err := h.Start(context.Background(), rpc.Spec{
		Kind: plugin.KindEncoder, Label: "minicliptext", Path: exe,
		Args: []string{"-test.run=^$"}, Env: []string{"SGLAB_MINICLIPTEXT_SERVE=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
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
