package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// TestOutOfRepoModule builds this plugin as a third party would, in a module of its
// own that finds github.com/sglab/sglab through the replace line the README gives
// (the module proxy does not serve it), and checks the result speaks the protocol.
// Offline: the module cache the repository builds with has every module it needs.
func TestOutOfRepoModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin binary")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/meanplugin\n\ngo 1.26\n\nrequire github.com/sglab/sglab v0.0.0\n\n" +
		"replace github.com/sglab/sglab => " + repo + "\n"
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(repo, "go.sum")) // no checksum database offline
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(goMod), "main.go": src, "go.sum": sums} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(dir, "example-mean")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-mod=mod", "-o", exe, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in a module of its own: %v\n%s", err, out)
	}

	h := &rpc.Host{}
	defer h.KillAll()
	c, err := h.Start(context.Background(), rpc.Spec{Kind: plugin.KindGenerator, Path: exe, StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Generator().Info(context.Background())
	if err != nil || info.Name != "example-mean" || len(info.Params) != 1 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}
