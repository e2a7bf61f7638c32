package driver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/internal/buildinfo"
)

// TestManifestCommitNeverSilent checks that a manifest outside any git work tree, from a
// binary without a VCS stamp (a test binary has none), says why it has no commit.
func TestManifestCommitNeverSilent(t *testing.T) {
	exp := &config.Experiment{Name: "x", File: filepath.Join(t.TempDir(), "x.toml")}
	m := newManifest(exp, 1, buildinfo.Info{})
	if m.GitCommit == "" && !strings.HasPrefix(m.CommitNote, "the binary was built without VCS info") {
		t.Errorf("no commit and no note: %+v", m)
	}
	if m.GitCommit != "" && m.CommitNote != "" {
		t.Errorf("a commit and a note saying it is unknown: %+v", m)
	}
	given := buildinfo.Info{Version: "v1.0.0", Commit: "abc", Source: "build"}
	if m := newManifest(exp, 1, given); m.Runner != "v1.0.0" || m.GitCommit != "abc" || m.CommitSource != "build" || m.CommitNote != "" {
		t.Errorf("the build given is not what the manifest records: %+v", m)
	}
}

// TestManifestNamesBuiltins checks that a built-in plugin is recorded by name, not by the
// runner's executable path (a temporary file under go run), and a plugin by path by its path.
func TestManifestNamesBuiltins(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	man := &Manifest{}
	l := newLauncher(&config.Experiment{}, Options{}, man)
	info := plugin.Info{Name: "glove", Version: "1"}
	l.noteInfo(plugin.KindEncoder, config.PluginRef{Name: "glove"}, rpc.Spec{Path: exe}, info)
	l.noteInfo(plugin.KindGenerator, config.PluginRef{Path: exe}, rpc.Spec{Path: exe}, info)
	if len(man.Plugins) != 2 {
		t.Fatalf("recorded %+v", man.Plugins)
	}
	if got := man.Plugins[0]; got.Path != "builtin:encoder/glove" || len(got.SHA256) != 64 {
		t.Errorf("built-in recorded as %+v", got)
	}
	if got := man.Plugins[1]; got.Path != exe {
		t.Errorf("plugin by path recorded as %+v", got)
	}
}
