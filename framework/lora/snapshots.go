package lora

// Snapshot files hold an expert's last M epochs of adapters: what evaluators write
// after training and generators read to build prototypes and training sets. At paper
// scale (110,592 parameters, M = 100) a file is 44 MB, so both directions stream
// between the file and the flat vectors without an intermediate copy.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/sglab/sglab/framework/atomicfile"
)

// SnapshotsFormat is the "format" metadata value that marks a snapshots file.
const SnapshotsFormat = "sglab-snapshots"

// Tensor name suffixes, as PEFT names them.
const (
	suffixA = ".lora_A.weight"
	suffixB = ".lora_B.weight"
)

// schemaModule is a Module as stored in a file's metadata.
type schemaModule struct {
	Name  string  `json:"name"`
	In    int     `json:"in"`
	Out   int     `json:"out"`
	Rank  int     `json:"rank"`
	Alpha float64 `json:"alpha"`
}

// WriteSnapshots writes M snapshots of schema s atomically to path. snaps[m] is a
// flat canonical vector; per module the file holds <name>.lora_A.weight [M, r, in]
// and <name>.lora_B.weight [M, out, r]. meta is stored alongside "format" and
// "schema", which are reserved. Non-finite parameters are refused: they would poison
// every statistic a generator computes from the file.
func WriteSnapshots(path string, s Schema, snaps [][]float32, meta map[string]string) error {
	if err := writeSnapshots(path, s, snaps, meta); err != nil {
		return fmt.Errorf("lora: write snapshots %s: %w", path, err)
	}
	return nil
}

func writeSnapshots(path string, s Schema, snaps [][]float32, meta map[string]string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if len(snaps) == 0 {
		return fmt.Errorf("no snapshots")
	}
	n := s.NumParams()
	for m, v := range snaps {
		if len(v) != n {
			return fmt.Errorf("snapshot %d has %d values, schema needs %d", m, len(v), n)
		}
		if i, ok := firstNonFinite(v); !ok {
			return fmt.Errorf("snapshot %d: parameter %d is %v", m, i, v[i])
		}
	}
	all := make(map[string]string, len(meta)+2)
	for k, v := range meta {
		if k == "format" || k == "schema" {
			return fmt.Errorf("metadata key %q is reserved", k)
		}
		all[k] = v
	}
	mods := make([]schemaModule, len(s))
	for i, m := range s {
		mods[i] = schemaModule(m)
	}
	js, err := json.Marshal(mods)
	if err != nil {
		return err
	}
	all["format"] = SnapshotsFormat
	all["schema"] = string(js)

	M := len(snaps)
	ts := make([]tensorOut, 0, 2*len(s))
	off := 0
	for _, mod := range s {
		nb, na := mod.Out*mod.Rank, mod.Rank*mod.In
		a := tensorOut{name: mod.Name + suffixA, shape: []int{M, mod.Rank, mod.In}, parts: make([][]float32, M)}
		b := tensorOut{name: mod.Name + suffixB, shape: []int{M, mod.Out, mod.Rank}, parts: make([][]float32, M)}
		for m, v := range snaps {
			b.parts[m] = v[off : off+nb]
			a.parts[m] = v[off+nb : off+nb+na]
		}
		ts = append(ts, a, b)
		off += nb + na
	}
	return atomicfile.Write(path, func(w io.Writer) error { return encodeSafetensors(w, ts, all) })
}

// ReadSnapshots reads a file written by WriteSnapshots (or any safetensors file laid
// out the same way, F16/BF16 included) and returns its schema, its snapshots and the
// caller's metadata (without "format" and "schema"). Every structural inconsistency
// and every non-finite parameter is an error naming the path.
func ReadSnapshots(path string) (Schema, [][]float32, map[string]string, error) {
	s, snaps, meta, err := readSnapshots(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("lora: read snapshots %s: %w", path, err)
	}
	return s, snaps, meta, nil
}

func readSnapshots(path string) (Schema, [][]float32, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, nil, err
	}
	return decodeSnapshots(bufio.NewReaderSize(f, 1<<20), st.Size())
}

// decodeSnapshots reads a snapshots file of size bytes from r.
func decodeSnapshots(r io.Reader, size int64) (Schema, [][]float32, map[string]string, error) {
	h, err := readHeader(r, size)
	if err != nil {
		return nil, nil, nil, err
	}
	if got := h.meta["format"]; got != SnapshotsFormat {
		return nil, nil, nil, fmt.Errorf("metadata format is %q, want %q", got, SnapshotsFormat)
	}
	s, err := parseSchemaMeta(h.meta["schema"])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("metadata schema: %w", err)
	}

	// Match the tensors to the schema and find M.
	type role struct {
		module int
		isA    bool
	}
	want := make(map[string]role, 2*len(s))
	for i, m := range s {
		want[m.Name+suffixA] = role{i, true}
		want[m.Name+suffixB] = role{i, false}
	}
	if len(h.entries) != len(want) {
		for _, e := range h.entries {
			if _, ok := want[e.name]; !ok {
				return nil, nil, nil, fmt.Errorf("tensor %q is not in the schema", e.name)
			}
		}
		return nil, nil, nil, fmt.Errorf("file has %d tensors, schema of %d modules needs %d", len(h.entries), len(s), len(want))
	}
	M := -1
	for _, e := range h.entries {
		ro, ok := want[e.name]
		if !ok {
			return nil, nil, nil, fmt.Errorf("tensor %q is not in the schema", e.name)
		}
		if M < 0 && len(e.shape) == 3 {
			M = e.shape[0] // every tensor must agree with the first
		}
		mod := s[ro.module]
		d1, d2 := mod.Out, mod.Rank
		if ro.isA {
			d1, d2 = mod.Rank, mod.In
		}
		if len(e.shape) != 3 || e.shape[0] != M || e.shape[1] != d1 || e.shape[2] != d2 {
			mstr := "M"
			if M >= 0 {
				mstr = fmt.Sprint(M)
			}
			return nil, nil, nil, fmt.Errorf("tensor %q has shape %v, want [%s %d %d]", e.name, e.shape, mstr, d1, d2)
		}
	}
	if M == 0 {
		return nil, nil, nil, fmt.Errorf("file holds no snapshots")
	}

	// One backing array; each snapshot is capped so appending to one cannot clobber the next.
	n := s.NumParams()
	backing := make([]float32, M*n)
	snaps := make([][]float32, M)
	for m := range snaps {
		snaps[m] = backing[m*n : (m+1)*n : (m+1)*n]
	}
	offs := make([]int, len(s))
	for i := range s {
		offs[i] = s.Offset(i)
	}
	parts := make([][]float32, M)
	scratch := make([]byte, chunkBytes)
	for i := range h.entries {
		e := &h.entries[i]
		ro := want[e.name]
		mod, off := s[ro.module], offs[ro.module]
		lo, hi := off, off+mod.Out*mod.Rank
		if ro.isA {
			lo, hi = hi, hi+mod.Rank*mod.In
		}
		for m := range parts {
			parts[m] = snaps[m][lo:hi]
		}
		if err := readData(r, e, parts, scratch); err != nil {
			return nil, nil, nil, err
		}
		for m, p := range parts {
			if j, ok := firstNonFinite(p); !ok {
				return nil, nil, nil, fmt.Errorf("tensor %q, snapshot %d: value %d is %v", e.name, m, j, p[j])
			}
		}
	}
	meta := make(map[string]string, len(h.meta))
	for k, v := range h.meta {
		if k != "format" && k != "schema" {
			meta[k] = v
		}
	}
	return s, snaps, meta, nil
}

// parseSchemaMeta decodes the "schema" metadata strictly and validates it.
func parseSchemaMeta(js string) (Schema, error) {
	if js == "" {
		return nil, fmt.Errorf("missing")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.DisallowUnknownFields()
	var mods []schemaModule
	if err := dec.Decode(&mods); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the module list")
	}
	s := make(Schema, len(mods))
	for i, m := range mods {
		s[i] = Module(m)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// firstNonFinite returns the index of the first NaN or infinity and false, or -1 and
// true when every value is finite.
func firstNonFinite(v []float32) (int, bool) {
	for i, x := range v {
		// x-x is 0 for finite x and NaN for ±Inf and NaN.
		if x-x != 0 {
			return i, false
		}
	}
	return -1, true
}
