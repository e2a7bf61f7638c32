package driver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin"
)

// ManifestFile sits beside results.jsonl and says what produced it.
const ManifestFile = "manifest.json"

// Manifest records the resolved configuration and the environment of a run, so every
// number in the journal can be traced to what computed it.
type Manifest struct {
	Experiment string             `json:"experiment"`
	File       string             `json:"file"`
	ConfigHash string             `json:"config_hash"`
	Config     *config.Experiment `json:"config"`
	GitCommit  string             `json:"git_commit,omitempty"`
	GitDirty   bool               `json:"git_dirty,omitempty"`
	GoVersion  string             `json:"go_version"`
	OS         string             `json:"os"`
	Arch       string             `json:"arch"`
	CPU        string             `json:"cpu,omitempty"`
	NumCPU     int                `json:"num_cpu"`
	Jobs       int                `json:"jobs"`
	Plugins    []PluginRecord     `json:"plugins"`
	Start      time.Time          `json:"start"`
	End        *time.Time         `json:"end,omitempty"`
	// Phases are summed wall seconds per phase across parallel work.
	Phases map[string]float64 `json:"phases"`

	mu   sync.Mutex
	seen map[string]bool
}

// PluginRecord identifies one plugin used by the run.
type PluginRecord struct {
	Kind    string `json:"kind"`
	Ref     string `json:"ref"` // the built-in name or path in the experiment
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
}

func newManifest(exp *config.Experiment, jobs int) *Manifest {
	m := &Manifest{Experiment: exp.Name, File: exp.File, ConfigHash: exp.Hash(), Config: exp,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(),
		NumCPU: runtime.NumCPU(), Jobs: jobs, Start: time.Now().UTC(), Phases: map[string]float64{}, seen: map[string]bool{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.GitCommit = s.Value
			case "vcs.modified":
				m.GitDirty = s.Value == "true"
			}
		}
	}
	if m.GitCommit == "" {
		// Built without VCS stamps (-buildvcs=false): ask git about the experiment's folder.
		m.GitCommit, m.GitDirty = gitState(filepath.Dir(exp.File))
	}
	return m
}

// gitState returns the commit checked out in dir and whether the work tree has changes,
// or "" when dir is not in a git work tree or git is missing.
func gitState(dir string) (string, bool) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
	return strings.TrimSpace(string(out)), err == nil && len(bytes.TrimSpace(status)) > 0
}

// addPhase adds d to a phase's total.
func (m *Manifest) addPhase(phase string, d time.Duration) {
	m.mu.Lock()
	m.Phases[phase] += d.Seconds()
	m.mu.Unlock()
}

// addPlugin records a started plugin once per kind and reference.
func (m *Manifest) addPlugin(ctx context.Context, kind string, ref config.PluginRef, spec plugin.Spec, b plugin.Base) {
	key := kind + "\x00" + ref.String()
	m.mu.Lock()
	done := m.seen[key]
	m.seen[key] = true
	m.mu.Unlock()
	if done {
		return
	}
	rec := PluginRecord{Kind: kind, Ref: ref.String(), Path: spec.Path}
	if info, err := b.Info(ctx); err == nil {
		rec.Name, rec.Version = info.Name, info.Version
	}
	if sum, err := plugin.FileSHA256(spec.Path); err == nil {
		rec.SHA256 = sum
	}
	m.mu.Lock()
	m.Plugins = append(m.Plugins, rec)
	m.mu.Unlock()
}

// write saves the manifest atomically at path.
func (m *Manifest) write(path string) error {
	m.mu.Lock()
	b, err := json.MarshalIndent(m, "", "  ")
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return os.Rename(tmp, path)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
