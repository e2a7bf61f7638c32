package lora

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawFile assembles a safetensors file by hand, independently of the encoder.
func rawFile(header string, buf []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, buf...)
}

func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func u16Bytes(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

func sampleTensors() []Tensor {
	return []Tensor{
		{Name: "z.matrix", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), float32(math.Copysign(0, -1))}},
		{Name: "a.scalar", Shape: []int{}, Data: []float32{42}},
		{Name: "m.empty", Shape: []int{0, 3}, Data: []float32{}},
		{Name: "b.cube", Shape: []int{2, 1, 2}, Data: []float32{math.Float32frombits(0x7fc00001), 1e-40, -1e30, 7}},
	}
}

func encode(t testing.TB, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameTensors compares names, shapes and bit patterns (NaN payloads and -0 included).
func sameTensors(t testing.TB, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || !reflect.DeepEqual(append([]int{}, g.Shape...), append([]int{}, w.Shape...)) || !equalF32(g.Data, w.Data) {
			t.Fatalf("tensor %d: got %s %v %v, want %s %v %v", i, g.Name, g.Shape, g.Data, w.Name, w.Shape, w.Data)
		}
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	ts := sampleTensors()
	meta := map[string]string{"format": "pt", "note": "<&> ünïcode"}
	data := encode(t, ts, meta)
	got, gotMeta, err := DecodeSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, ts) // data-offset order is the order written
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("metadata = %v, want %v", gotMeta, meta)
	}
	if !bytes.Equal(encode(t, ts, meta), data) {
		t.Error("encoding the same input twice gave different bytes")
	}

	_, noMeta, err := DecodeSafetensors(encode(t, ts, nil))
	if err != nil || noMeta == nil || len(noMeta) != 0 {
		t.Errorf("without metadata: meta = %v, err = %v; want an empty map", noMeta, err)
	}
}

// TestSafetensorsLayout checks the encoder's bytes against the format itself rather
// than against the decoder: length prefix, aligned header, sorted keys, F32 offsets
// and little-endian data in the given order.
func TestSafetensorsLayout(t *testing.T) {
	ts := []Tensor{
		{Name: "w", Shape: []int{2}, Data: []float32{1, -2}},
		{Name: "b", Shape: []int{1, 1}, Data: []float32{0.5}},
	}
	data := encode(t, ts, map[string]string{"k": "v"})
	n := binary.LittleEndian.Uint64(data)
	if (8+n)%8 != 0 {
		t.Errorf("buffer starts at %d, not 8-byte aligned", 8+n)
	}
	hdr := data[8 : 8+n]
	trimmed := bytes.TrimRight(hdr, " ")
	for _, want := range []string{`"__metadata__":{"k":"v"}`, `"b":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}`, `"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`} {
		if !bytes.Contains(trimmed, []byte(want)) {
			t.Errorf("header %s lacks %s", trimmed, want)
		}
	}
	if i, j, k := bytes.Index(hdr, []byte(`"__metadata__"`)), bytes.Index(hdr, []byte(`"b"`)), bytes.Index(hdr, []byte(`"w"`)); !(i < j && j < k) {
		t.Errorf("header keys not sorted: %s", hdr)
	}
	var parsed map[string]any
	if err := json.Unmarshal(hdr, &parsed); err != nil {
		t.Errorf("header is not JSON: %v", err)
	}
	if got, want := data[8+n:], f32Bytes(1, -2, 0.5); !bytes.Equal(got, want) {
		t.Errorf("buffer = %x, want %x", got, want)
	}
}

func TestSafetensorsHalfPrecision(t *testing.T) {
	f16 := u16Bytes(0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000)
	bf16 := u16Bytes(0x3F80, 0xC049)
	hdr := `{"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}}`
	ts, _, err := DecodeSafetensors(rawFile(hdr, append(f16, bf16...)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "h", Shape: []int{6}, Data: []float32{1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1)), float32(math.Copysign(0, -1))}},
		{Name: "b", Shape: []int{2}, Data: []float32{1, -3.140625}},
	}
	sameTensors(t, ts, want)
}

// TestF16Exhaustive compares every binary16 value with the closed form
// (-1)^s · 2^(e-15) · (1 + m/1024), subnormals 2^-14 · m/1024.
func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		got := f16ToF32(uint16(h))
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(1)
		case e == 0x1f:
			if !math.IsNaN(float64(got)) {
				t.Fatalf("f16 %#04x = %v, want NaN", h, got)
			}
			continue
		case e == 0:
			want = math.Ldexp(float64(m)/1024, -14)
		default:
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		if float64(got) != want || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("f16 %#04x = %v, want %v", h, got, want)
		}
	}
}

// malformed are inputs every reader must reject, with part of the expected message.
var malformed = []struct {
	name string
	data []byte
	want string
}{
	{"empty", nil, "fewer than the 8-byte"},
	{"short", []byte{1, 2, 3}, "fewer than the 8-byte"},
	{"length past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "exceeds the 2 bytes"},
	{"length over limit", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the limit"},
	{"length max", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "exceeds the limit"},
	{"empty header", rawFile("", nil), "does not start with '{'"},
	{"array header", rawFile("[]", nil), "does not start with '{'"},
	{"leading space", rawFile(" {}", nil), "does not start with '{'"},
	{"truncated JSON", rawFile(`{"a":{`, nil), "tensor \"a\""},
	{"bad UTF-8", rawFile("{\"\xff\":1}", nil), "UTF-8"},
	{"trailing garbage", rawFile(`{} x`, nil), "after the object"},
	{"two objects", rawFile(`{} {}`, nil), "after the object"},
	{"duplicate tensor", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), `"a" appears twice`},
	{"empty name", rawFile(`{"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), "empty name"},
	{"entry not object", rawFile(`{"a":[1]}`, nil), `tensor "a"`},
	{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, f32Bytes(1)), `unknown field "x"`},
	{"case-folded field", rawFile(`{"a":{"DTYPE":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1)), `unknown field "DTYPE"`},
	{"repeated field", rawFile(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1)), "dtype appears twice"},
	{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1)), "missing dtype"},
	{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32Bytes(1)), "missing shape"},
	{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, f32Bytes(1)), "missing data_offsets"},
	{"dtype I64", rawFile(`{"w.x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), `tensor "w.x": dtype "I64" is not supported`},
	{"dtype number", rawFile(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1)), "want a string"},
	{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), "out of range"},
	{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32Bytes(1)), "not a 64-bit integer"},
	{"exponent dim", rawFile(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, f32Bytes(1)), "not a 64-bit integer"},
	{"huge dim", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, f32Bytes(1)), "not a 64-bit integer"},
	{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), "overflows"},
	{"byte overflow", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil), "overflows"},
	{"string dim", rawFile(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, f32Bytes(1)), "want an integer"},
	{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, f32Bytes(1, 2)), "has 3 values"},
	{"reversed offsets", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, f32Bytes(1)), "not an interval"},
	{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32Bytes(1)), "not an interval"},
	{"past buffer", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32Bytes(1)), "run past the 4-byte buffer"},
	{"span mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, f32Bytes(1)), "needs 8"},
	{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32Bytes(1, 2)), "overlaps"},
	{"hole", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32Bytes(1, 2)), "hole"},
	{"trailing buffer", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1, 2)), "cover 4 bytes but the buffer has 8"},
	{"metadata number", rawFile(`{"__metadata__":{"k":1}}`, nil), "want a string"},
	{"metadata array", rawFile(`{"__metadata__":["k"]}`, nil), "want an object"},
	{"metadata duplicate", rawFile(`{"__metadata__":{"k":"a","k":"b"}}`, nil), `"k" appears twice`},
	{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "appears twice"},
}

func TestDecodeMalformed(t *testing.T) {
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeSafetensors(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"no tensors", rawFile(`{}`, nil)},
		{"padded header", rawFile(`{}      `, nil)},
		{"null metadata", rawFile(`{"__metadata__":null}`, nil)},
		{"zero-size between", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F16","shape":[3,0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32Bytes(1, 2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := DecodeSafetensors(tt.data); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		ts   []Tensor
		meta map[string]string
		want string
	}{
		{"empty name", []Tensor{{Shape: []int{}, Data: []float32{1}}}, nil, "empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{}, Data: []float32{1}}}, nil, "reserved"},
		{"duplicate", []Tensor{{Name: "a", Shape: []int{}, Data: []float32{1}}, {Name: "a", Shape: []int{}, Data: []float32{1}}}, nil, `"a" appears twice`},
		{"short data", []Tensor{{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}}, nil, "needs 4 values, have 1"},
		{"negative dim", []Tensor{{Name: "a", Shape: []int{-1}}}, nil, "bad shape"},
		{"bad UTF-8 name", []Tensor{{Name: "a\xff", Shape: []int{}, Data: []float32{1}}}, nil, "UTF-8"},
		{"bad UTF-8 meta", nil, map[string]string{"k": "\xff"}, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := EncodeSafetensors(&bytes.Buffer{}, tt.ts, tt.meta)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSafetensorsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	ts := sampleTensors()
	if err := WriteSafetensors(path, ts, map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	// Overwrite: the rename must replace the old file.
	ts[0].Data[0] = 99
	if err := WriteSafetensors(path, ts, map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, got, ts)
	if meta["a"] != "b" {
		t.Errorf("metadata = %v", meta)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (temp files left behind?)", len(entries))
	}
	if err := WriteSafetensors(path, []Tensor{{Name: "", Shape: []int{}}}, nil); err == nil {
		t.Error("WriteSafetensors accepted a bad tensor")
	}
	if again, _, err := ReadSafetensors(path); err != nil || len(again) != len(ts) {
		t.Errorf("a failed write damaged the existing file: %v", err)
	}

	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes(1, 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadSafetensors(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error = %v, want one naming %s", err, bad)
	}
	missing := filepath.Join(dir, "missing.safetensors")
	if _, _, err := ReadSafetensors(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("error = %v, want one naming %s", err, missing)
	}
}

// FuzzDecodeSafetensors: no input panics, and whatever decodes re-encodes to a file
// that decodes to the same tensors (F16/BF16 widen exactly, so this holds for them too).
func FuzzDecodeSafetensors(f *testing.F) {
	f.Add(encode(f, sampleTensors(), map[string]string{"format": "pt"}))
	f.Add(encode(f, nil, nil))
	f.Add(rawFile(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]}}`, u16Bytes(0x3C00, 0x7E00, 0x3F80)))
	for _, tt := range malformed {
		f.Add(tt.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, meta, err := DecodeSafetensors(data)
		if err != nil {
			return
		}
		for _, tn := range ts {
			n := 1
			for _, d := range tn.Shape {
				n *= d
			}
			if n != len(tn.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", tn.Name, tn.Shape, len(tn.Data))
			}
		}
		var buf bytes.Buffer
		if err := EncodeSafetensors(&buf, ts, meta); err != nil {
			t.Fatalf("re-encoding a decoded file: %v", err)
		}
		ts2, meta2, err := DecodeSafetensors(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded file: %v", err)
		}
		sameTensors(t, ts2, ts)
		if !reflect.DeepEqual(meta2, meta) {
			t.Fatalf("metadata %v became %v", meta, meta2)
		}
	})
}
