package builtin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/plugin"
)

// TestBuiltinsLogThroughServe: every built-in takes the logger rpc.Serve hands it, so
// its logs reach the runner's. (What its Info says, kind included, TestConformance
// checks.)
func TestBuiltinsLogThroughServe(t *testing.T) {
	for _, e := range All() {
		if _, ok := e.New().(plugin.LoggerSetter); !ok {
			t.Errorf("%s/%s has no SetLogger: its logs would not reach the runner", e.Kind, e.Name)
		}
	}
}

// TestNames holds every built-in to one name: the registry's, its Info's, and its
// package folder's without hyphens.
func TestNames(t *testing.T) {
	ctx := context.Background()
	seen := map[[2]string]bool{}
	for _, e := range All() {
		if seen[[2]string{e.Kind, e.Name}] {
			t.Errorf("%s %s is registered twice", e.Kind, e.Name)
		}
		seen[[2]string{e.Kind, e.Name}] = true
		info, err := e.New().Info(ctx)
		if err != nil {
			t.Errorf("%s %s: Info: %v", e.Kind, e.Name, err)
			continue
		}
		if info.Name != e.Name {
			t.Errorf("registered as %s %q, its Info says %q", e.Kind, e.Name, info.Name)
		}
		folder := filepath.Join("..", e.Kind, strings.ReplaceAll(e.Name, "-", ""))
		if st, err := os.Stat(folder); err != nil || !st.IsDir() {
			t.Errorf("%s %q has no folder %s", e.Kind, e.Name, folder)
		}
		if _, ok := Lookup(e.Kind, e.Name); !ok {
			t.Errorf("Lookup(%s, %s) fails", e.Kind, e.Name)
		}
	}
	for old, name := range renamed {
		if _, ok := Lookup(old[0], name); !ok {
			t.Errorf("%s %q is renamed to %q, which is no built-in", old[0], old[1], name)
		}
		if _, ok := Lookup(old[0], old[1]); ok {
			t.Errorf("%s %q is both a built-in and renamed", old[0], old[1])
		}
	}
}
