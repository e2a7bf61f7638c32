package lora

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func randomSnapshots(s Schema, m int, seed uint64) [][]float32 {
	snaps := make([][]float32, m)
	for i := range snaps {
		snaps[i] = randomAdapter(s, seed+uint64(i)).Params
	}
	return snaps
}

// snapshotTensors lays out snapshots by hand, the way the file format describes:
// per module A [M, r, in] then B [M, out, r].
func snapshotTensors(s Schema, snaps [][]float32) []Tensor {
	var ts []Tensor
	for i, m := range s {
		a := Tensor{Name: m.Name + ".lora_A.weight", Shape: []int{len(snaps), m.Rank, m.In}}
		b := Tensor{Name: m.Name + ".lora_B.weight", Shape: []int{len(snaps), m.Out, m.Rank}}
		for _, v := range snaps {
			ad := &Adapter{Schema: s, Params: v}
			a.Data = append(a.Data, ad.A(i)...)
			b.Data = append(b.Data, ad.B(i)...)
		}
		ts = append(ts, a, b)
	}
	return ts
}

func schemaJSON(s Schema) string {
	var parts []string
	for _, m := range s {
		parts = append(parts, fmt.Sprintf(`{"name":%q,"in":%d,"out":%d,"rank":%d,"alpha":%v}`, m.Name, m.In, m.Out, m.Rank, m.Alpha))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestSnapshotsRoundTrip(t *testing.T) {
	s := testSchema()
	snaps := randomSnapshots(s, 5, 10)
	meta := map[string]string{"expert": "mnist/rot45", "seed": "7"}
	path := filepath.Join(t.TempDir(), "snaps.safetensors")
	if err := WriteSnapshots(path, s, snaps, meta); err != nil {
		t.Fatal(err)
	}
	gs, gsnaps, gmeta, err := ReadSnapshots(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gs, s) {
		t.Errorf("schema = %v, want %v", gs, s)
	}
	if len(gsnaps) != len(snaps) {
		t.Fatalf("%d snapshots, want %d", len(gsnaps), len(snaps))
	}
	for m := range snaps {
		if !equalF32(gsnaps[m], snaps[m]) {
			t.Errorf("snapshot %d differs", m)
		}
	}
	if !reflect.DeepEqual(gmeta, meta) {
		t.Errorf("metadata = %v, want %v", gmeta, meta)
	}
	// Snapshots share one backing array; appending to one must not touch the next.
	next := gsnaps[1][0]
	_ = append(gsnaps[0], -12345)
	if gsnaps[1][0] != next {
		t.Error("appending to snapshot 0 overwrote snapshot 1")
	}
}

// TestSnapshotsLayout reads a snapshots file as plain safetensors and compares it with
// the layout built by hand, so the format is pinned down independently of the reader.
func TestSnapshotsLayout(t *testing.T) {
	s := testSchema()
	snaps := randomSnapshots(s, 3, 20)
	path := filepath.Join(t.TempDir(), "snaps.safetensors")
	if err := WriteSnapshots(path, s, snaps, nil); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, ts, snapshotTensors(s, snaps))
	if meta["format"] != SnapshotsFormat || meta["schema"] != schemaJSON(s) {
		t.Errorf("metadata = %v", meta)
	}
}

func TestWriteSnapshotsErrors(t *testing.T) {
	s := testSchema()
	good := randomSnapshots(s, 2, 30)
	nan := randomSnapshots(s, 2, 30)
	nan[1][4] = float32(math.NaN())
	tests := []struct {
		name   string
		schema Schema
		snaps  [][]float32
		meta   map[string]string
		want   string
	}{
		{"bad schema", Schema{}, good, nil, "no modules"},
		{"no snapshots", s, nil, nil, "no snapshots"},
		{"short snapshot", s, [][]float32{good[0], good[1][1:]}, nil, "snapshot 1 has"},
		{"NaN", s, nan, nil, "snapshot 1: parameter 4 is NaN"},
		{"reserved format", s, good, map[string]string{"format": "x"}, `"format" is reserved`},
		{"reserved schema", s, good, map[string]string{"schema": "x"}, `"schema" is reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "s.safetensors")
			err := WriteSnapshots(path, tt.schema, tt.snaps, tt.meta)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error = %v, want one naming %s and containing %q", err, path, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("failed write left %d files", len(entries))
			}
		})
	}
}

func TestReadSnapshotsErrors(t *testing.T) {
	s := testSchema()
	snaps := randomSnapshots(s, 2, 40)
	good := snapshotTensors(s, snaps)
	meta := map[string]string{"format": SnapshotsFormat, "schema": schemaJSON(s)}
	with := func(k, v string) map[string]string {
		m := map[string]string{"format": meta["format"], "schema": meta["schema"]}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	edit := func(f func(ts []Tensor) []Tensor) []Tensor {
		ts := snapshotTensors(s, snaps)
		return f(ts)
	}
	tests := []struct {
		name string
		ts   []Tensor
		meta map[string]string
		want string
	}{
		{"no format", good, with("format", ""), `format is ""`},
		{"other format", good, with("format", "pt"), `format is "pt"`},
		{"no schema", good, with("schema", ""), "schema: missing"},
		{"schema not JSON", good, with("schema", "[{"), "schema"},
		{"schema unknown field", good, with("schema", `[{"name":"a","in":1,"out":1,"rank":1,"alpha":1,"bias":true}]`), `unknown field "bias"`},
		{"schema trailing", good, with("schema", schemaJSON(s)+"]"), "trailing data"},
		{"schema invalid", good, with("schema", `[{"name":"a","in":0,"out":1,"rank":1,"alpha":1}]`), "in=0"},
		{"missing tensor", edit(func(ts []Tensor) []Tensor { return ts[1:] }), meta, "has 5 tensors"},
		{"extra tensor", edit(func(ts []Tensor) []Tensor {
			return append(ts, Tensor{Name: "extra", Shape: []int{1}, Data: []float32{1}})
		}), meta, `tensor "extra" is not in the schema`},
		{"renamed tensor", edit(func(ts []Tensor) []Tensor { ts[2].Name = "other"; return ts }), meta, `tensor "other" is not in the schema`},
		{"2-D tensor", edit(func(ts []Tensor) []Tensor { ts[0].Shape = []int{2 * 2, 5}; return ts }), meta, "has shape [4 5], want [M 2 5]"},
		{"wrong rank dim", edit(func(ts []Tensor) []Tensor { ts[1].Shape = []int{2, 2, 4}; return ts }), meta, `"blocks.0.attn.q_proj.lora_B.weight" has shape [2 2 4], want [2 4 2]`},
		{"inconsistent M", edit(func(ts []Tensor) []Tensor {
			ts[3].Shape = []int{1, 6, 1}
			ts[3].Data = ts[3].Data[:6]
			return ts
		}), meta, "want [2 6 1]"},
		{"zero snapshots", snapshotTensors(s, nil), meta, "no snapshots"},
		{"NaN", edit(func(ts []Tensor) []Tensor { ts[5].Data[7] = float32(math.Inf(-1)); return ts }), meta, `"blocks.1.attn.v_proj.lora_B.weight", snapshot 1: value 1 is -Inf`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.safetensors")
			if err := WriteSafetensors(path, tt.ts, tt.meta); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := ReadSnapshots(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error = %v, want one naming %s and containing %q", err, path, tt.want)
			}
		})
	}

	t.Run("truncated", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.safetensors")
		if err := WriteSnapshots(path, s, snaps, nil); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if err := os.WriteFile(path, data[:len(data)-3], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := ReadSnapshots(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("error = %v, want one naming %s", err, path)
		}
	})
}

// paperSchema is the paper's setup: CLIP ViT-B/16, rank-2 LoRA on W_q, W_k, W_v of
// its 12 visual blocks (768×768), 110,592 parameters.
func paperSchema() Schema {
	var s Schema
	for blk := range 12 {
		for _, p := range []string{"q_proj", "k_proj", "v_proj"} {
			s = append(s, Module{Name: fmt.Sprintf("vision_model.encoder.layers.%d.self_attn.%s", blk, p), In: 768, Out: 768, Rank: 2, Alpha: 2})
		}
	}
	return s
}

func TestPaperSchemaSize(t *testing.T) {
	if got := paperSchema().NumParams(); got != 110592 {
		t.Errorf("paper schema has %d parameters, the paper says 110,592", got)
	}
}

const benchSnapshots = 100

func BenchmarkWriteSnapshots(b *testing.B) {
	s := paperSchema()
	snaps := randomSnapshots(s, benchSnapshots, 1)
	path := filepath.Join(b.TempDir(), "snaps.safetensors")
	b.SetBytes(int64(4 * s.NumParams() * benchSnapshots))
	b.ResetTimer()
	for b.Loop() {
		if err := WriteSnapshots(path, s, snaps, map[string]string{"expert": "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSnapshots(b *testing.B) {
	s := paperSchema()
	path := filepath.Join(b.TempDir(), "snaps.safetensors")
	if err := WriteSnapshots(path, s, randomSnapshots(s, benchSnapshots, 1), nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * s.NumParams() * benchSnapshots))
	b.ResetTimer()
	for b.Loop() {
		if _, _, _, err := ReadSnapshots(path); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeSnapshots: no input panics, and whatever reads as snapshots writes back
// to a file that reads the same.
func FuzzDecodeSnapshots(f *testing.F) {
	s := testSchema()
	snaps := randomSnapshots(s, 2, 60)
	meta := map[string]string{"format": SnapshotsFormat, "schema": schemaJSON(s)}
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, snapshotTensors(s, snaps), meta); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	one := Schema{{Name: "m", In: 2, Out: 1, Rank: 1, Alpha: 1}}
	buf.Reset()
	if err := EncodeSafetensors(&buf, snapshotTensors(one, [][]float32{{1, 2, 3}}), map[string]string{"format": SnapshotsFormat, "schema": schemaJSON(one)}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	for _, tt := range malformed {
		f.Add(tt.data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, snaps, meta, err := decodeSnapshots(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		path := filepath.Join(dir, "s.safetensors")
		if err := WriteSnapshots(path, s, snaps, meta); err != nil {
			t.Fatalf("writing what was read: %v", err)
		}
		s2, snaps2, meta2, err := ReadSnapshots(path)
		if err != nil {
			t.Fatalf("reading what was written: %v", err)
		}
		if !reflect.DeepEqual(s2, s) || !reflect.DeepEqual(meta2, meta) || len(snaps2) != len(snaps) {
			t.Fatalf("round trip changed schema, metadata or count")
		}
		for m := range snaps {
			if !equalF32(snaps2[m], snaps[m]) {
				t.Fatalf("round trip changed snapshot %d", m)
			}
		}
	})
}
