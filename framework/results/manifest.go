package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// ManifestName is the manifest's file name inside an output folder, beside the journal
// (the driver writes it).
const ManifestName = "manifest.json"

// ShardDir, inside an output folder, holds what the shards of a run split over several
// machines write (runner run --shard): their journals and their manifests.
const ShardDir = "shards"

// ShardManifest is the manifest of shard index of the output folder dir.
func ShardManifest(dir string, index int) string {
	return filepath.Join(dir, ShardDir, fmt.Sprintf(shardManifest, strconv.Itoa(index)))
}

// shardManifest is the name of a shard's manifest, from the shard's index.
const shardManifest = "manifest-%s.json"

// fromManifests hands read the invocations recorded in dir's manifest, newest first,
// then those of the shards' manifests (a run made of shards only has no manifest of
// its own), until read finds what it looks for. A missing manifest is skipped; an
// unreadable one is an error naming it.
func fromManifests(dir string, read func(path string, invocation json.RawMessage) (found bool, err error)) (bool, error) {
	shards, _ := filepath.Glob(filepath.Join(dir, ShardDir, fmt.Sprintf(shardManifest, "*")))
	slices.Sort(shards)
	for _, path := range append([]string{filepath.Join(dir, ManifestName)}, shards...) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("results: %w", err)
		}
		var log struct {
			Invocations []json.RawMessage `json:"invocations"`
		}
		if err := json.Unmarshal(b, &log); err != nil {
			return false, fmt.Errorf("results: manifest %s: %w", path, err)
		}
		if log.Invocations == nil { // one invocation, as older runs wrote it
			log.Invocations = []json.RawMessage{b}
		}
		for _, raw := range slices.Backward(log.Invocations) {
			if found, err := read(path, raw); err != nil || found {
				return found, err
			}
		}
	}
	return false, nil
}

// ReadSplits returns the names of the experiment's splits in the order it declares
// them, from the newest invocation that records the configuration; nil when no
// manifest does. Reports order their sections by it: the journal's order is the order
// in which concurrent blocks of trials happened to finish.
func ReadSplits(dir string) ([]string, error) {
	var names []string
	_, err := fromManifests(dir, func(path string, raw json.RawMessage) (bool, error) {
		var inv struct {
			Config *struct {
				Splits []struct{ Name string }
			} `json:"config"`
		}
		if err := json.Unmarshal(raw, &inv); err != nil {
			return false, fmt.Errorf("results: manifest %s: %w", path, err)
		}
		if inv.Config == nil || len(inv.Config.Splits) == 0 {
			return false, nil
		}
		for _, s := range inv.Config.Splits {
			names = append(names, s.Name)
		}
		return true, nil
	})
	return names, err
}
