package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
)

// A bank is a seen task's expert given as PEFT adapter folders (a [[task]]'s adapters),
// one folder per snapshot, in place of training: real LoRA banks, or what `runner
// generate` wrote. Each folder is checked against the evaluator's adapter schema and the
// snapshots go into the expert cache like a trained expert's, keyed by the files'
// sha256, which the manifest records.

// BankFile is one file of a bank, as the manifest records it.
type BankFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// digestBanks digests every file of the banks of the tasks the experiment uses, by
// task: for the manifest, the expert cache's keys and the rows' identities.
func digestBanks(exp *config.Experiment) (map[string][]BankFile, error) {
	used := map[string]bool{}
	for _, t := range usedTasks(exp) {
		used[t.ID] = true
	}
	ids := make([]string, 0, len(exp.Banks))
	for id := range exp.Banks {
		if used[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	banks := map[string][]BankFile{}
	for _, id := range ids {
		for _, dir := range exp.Banks[id] {
			for _, name := range []string{lora.PEFTConfigFile, lora.PEFTWeightsFile} {
				p := filepath.Join(dir, name)
				sum, err := plugin.FileSHA256(p)
				if err != nil {
					return nil, fmt.Errorf("task %s: adapters: %w", id, err)
				}
				banks[id] = append(banks[id], BankFile{Path: p, SHA256: sum})
			}
		}
	}
	return banks, nil
}

// bankKey hashes what determines a bank's snapshots: its files' digests and the schema.
func bankKey(files []BankFile, schema lora.Schema) string {
	b, _ := json.Marshal(struct {
		Files  []string
		Schema lora.Schema
	}{bankDigests(files), schema})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// bankDigests are the files' sha256, in order: what a bank's numbers depend on.
func bankDigests(files []BankFile) []string {
	var s []string
	for _, f := range files {
		s = append(s, f.SHA256)
	}
	return s
}

// buildBank writes the snapshots file of task t's bank at path (a cache entry with its
// sidecar), unless a sound entry is there.
func (s *expertStore) buildBank(t task.Task, path string) error {
	dirs := s.bankDirs[t.ID]
	if !s.fresh {
		if err := s.checkSized(path, len(dirs)); err == nil {
			return nil
		}
	}
	start := time.Now()
	snaps := make([][]float32, len(dirs))
	for i, dir := range dirs {
		a, err := bankAdapter(dir, s.schema)
		if err != nil {
			return fmt.Errorf("task %s: adapters: %w", t.ID, err)
		}
		snaps[i] = a.Params
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	defer os.Remove(tmp)
	if err := lora.WriteSnapshots(tmp, s.schema, snaps, map[string]string{"expert": t.ID, "source": "peft"}); err != nil {
		return fmt.Errorf("expert cache: %w", err)
	}
	if err := commitEntry(tmp, path); err != nil {
		return err
	}
	s.prog.done("experts", "", time.Since(start))
	s.log.Info("expert from PEFT adapters", "task", t.ID, "snapshots", len(dirs))
	return nil
}

// bankAdapter reads one PEFT folder and puts it in the evaluator's schema: the same
// modules (in any order in the file), ranks, shapes and alphas. Errors name the folder's
// file and the tensor or module.
func bankAdapter(dir string, schema lora.Schema) (*lora.Adapter, error) {
	a, err := lora.LoadPEFT(dir)
	if err != nil {
		return nil, err
	}
	weights := filepath.Join(dir, lora.PEFTWeightsFile)
	byName := map[string]int{}
	for i, m := range a.Schema {
		byName[m.Name] = i
	}
	out := lora.New(schema)
	for i, want := range schema {
		j, ok := byName[want.Name]
		if !ok {
			return nil, fmt.Errorf("%s: no tensor base_model.model.%s.lora_A.weight: the evaluator adapts module %s", weights, want.Name, want.Name)
		}
		delete(byName, want.Name)
		got := a.Schema[j]
		switch {
		case got.Rank != want.Rank || got.In != want.In:
			return nil, fmt.Errorf("%s: tensor base_model.model.%s.lora_A.weight has shape [%d, %d], the evaluator's module wants [%d, %d]", weights, want.Name, got.Rank, got.In, want.Rank, want.In)
		case got.Out != want.Out:
			return nil, fmt.Errorf("%s: tensor base_model.model.%s.lora_B.weight has shape [%d, %d], the evaluator's module wants [%d, %d]", weights, want.Name, got.Out, got.Rank, want.Out, want.Rank)
		case got.Alpha != want.Alpha:
			return nil, fmt.Errorf("%s: module %s has lora_alpha %g, the evaluator's has %g", filepath.Join(dir, lora.PEFTConfigFile), want.Name, got.Alpha, want.Alpha)
		}
		copy(out.A(i), a.A(j))
		copy(out.B(i), a.B(j))
	}
	if len(byName) > 0 {
		extra := make([]string, 0, len(byName))
		for n := range byName {
			extra = append(extra, n)
		}
		slices.Sort(extra)
		return nil, fmt.Errorf("%s: tensor base_model.model.%s.lora_A.weight is for a module the evaluator does not adapt", weights, extra[0])
	}
	return out, nil
}
