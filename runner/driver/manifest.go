package driver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sglab/sglab/framework/atomicfile"
	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/internal/buildinfo"
)

// ManifestFile sits beside results.jsonl and says what produced it: every invocation
// that wrote into the folder, appended, never overwritten.
const ManifestFile = results.ManifestName

// Manifest records the resolved configuration and the environment of a run, so every
// number in the journal can be traced to what computed it.
type Manifest struct {
	Experiment string             `json:"experiment"`
	File       string             `json:"file"`
	ConfigHash string             `json:"config_hash"`
	Config     *config.Experiment `json:"config"`
	// Runner is the runner's module version; GitCommit the commit it was built from,
	// CommitSource where that comes from (buildinfo.Info.Source) and CommitNote why it
	// is unknown when it is.
	Runner       string         `json:"runner"`
	GitCommit    string         `json:"git_commit,omitempty"`
	GitDirty     bool           `json:"git_dirty,omitempty"`
	CommitSource string         `json:"commit_source,omitempty"`
	CommitNote   string         `json:"commit_note,omitempty"`
	GoVersion    string         `json:"go_version"`
	OS           string         `json:"os"`
	Arch         string         `json:"arch"`
	CPU          string         `json:"cpu,omitempty"`
	NumCPU       int            `json:"num_cpu"`
	Jobs         int            `json:"jobs"`
	Plugins      []PluginRecord `json:"plugins"`
	Start        time.Time      `json:"start"`
	End          *time.Time     `json:"end,omitempty"`
	// Phases are summed wall seconds per phase across parallel work.
	Phases map[string]float64 `json:"phases"`
	// Banks are the files of the experts taken from PEFT folders, by task.
	Banks map[string][]BankFile `json:"banks,omitempty"`
	// EvaluatorMetrics are the metrics the evaluator declared, which reports read to
	// know the journal's metric keys (results.ReadMetrics).
	EvaluatorMetrics *results.Metrics `json:"evaluator_metrics,omitempty"`

	mu      sync.Mutex
	earlier []json.RawMessage // invocations recorded before this one
}

// PluginRecord identifies one plugin used by the run.
type PluginRecord struct {
	Kind    string `json:"kind"`
	Ref     string `json:"ref"` // the built-in name or path in the experiment
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"` // the executable, or builtin:KIND/NAME for one the runner carries
	SHA256  string `json:"sha256"`
}

// newManifest starts the manifest of a run of exp by the build given; a zero build is
// read from the binary, with git asked about the experiment's folder.
func newManifest(exp *config.Experiment, jobs int, build buildinfo.Info) *Manifest {
	if build == (buildinfo.Info{}) {
		build = buildinfo.Read(filepath.Dir(exp.File))
	}
	return &Manifest{Experiment: exp.Name, File: exp.File, ConfigHash: exp.Hash(), Config: exp,
		Runner: build.Version, GitCommit: build.Commit, GitDirty: build.Modified, CommitSource: build.Source, CommitNote: build.Note,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(),
		NumCPU: runtime.NumCPU(), Jobs: jobs, Start: time.Now().UTC(), Phases: map[string]float64{}}
}

// addPhase adds d to a phase's total (of no manifest: nothing).
func (m *Manifest) addPhase(phase string, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.Phases[phase] += d.Seconds()
	m.mu.Unlock()
}

// addPlugin records a plugin the run started (once per kind and reference; the caller
// sees to that).
func (m *Manifest) addPlugin(rec PluginRecord) {
	m.mu.Lock()
	m.Plugins = append(m.Plugins, rec)
	m.mu.Unlock()
}

// manifestLog is the manifest file: every invocation that wrote into the folder, the
// oldest first, so that the journal's rows of earlier runs stay traceable.
type manifestLog struct {
	Invocations []json.RawMessage `json:"invocations"`
}

// ReadManifest returns every invocation recorded in a manifest file, the oldest first.
// A manifest of an sglab that kept only the last invocation reads as one.
func ReadManifest(path string) ([]*Manifest, error) {
	raws, err := readInvocations(path)
	if err != nil {
		return nil, err
	}
	out := make([]*Manifest, len(raws))
	for i, raw := range raws {
		out[i] = &Manifest{}
		if err := json.Unmarshal(raw, out[i]); err != nil {
			return nil, fmt.Errorf("manifest %s: invocation %d: %w", path, i, err)
		}
	}
	return out, nil
}

func readInvocations(path string) ([]json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var log manifestLog
	if err := json.Unmarshal(b, &log); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if log.Invocations == nil { // one invocation, as older runs wrote it
		return []json.RawMessage{b}, nil
	}
	return log.Invocations, nil
}

// write saves the manifest atomically at path, after the invocations recorded there
// before this one. A manifest file that cannot be read is an error rather than
// overwritten.
func (m *Manifest) write(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.earlier == nil {
		earlier, err := readInvocations(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			earlier = []json.RawMessage{}
		case err != nil:
			return fmt.Errorf("%w (move it away to start a new one)", err)
		}
		m.earlier = earlier
	}
	self, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	b, err := json.MarshalIndent(manifestLog{Invocations: append(slices.Clip(m.earlier), self)}, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := atomicfile.WriteBytes(path, append(b, '\n')); err != nil {
		return fmt.Errorf("manifest: %s: %w", path, err)
	}
	return nil
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

func (m *Manifest) setMetrics(ms results.Metrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.EvaluatorMetrics = &ms
}

func (m *Manifest) setBanks(b map[string][]BankFile) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(b) > 0 {
		m.Banks = b
	}
}
