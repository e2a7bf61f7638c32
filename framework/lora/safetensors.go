package lora

// Safetensors is how adapters and expert libraries travel between the runner and its
// plugins, and how real PEFT banks come in. The layout is Hugging Face's:
//
//	8 bytes   N, little-endian uint64
//	N bytes   JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]},
//	          optional "__metadata__": {string: string}}
//	rest      the byte buffer; offsets are relative to its start
//
// Files come from other programs and other machines, so the reader trusts nothing:
// every malformed input is an error, never a panic, and no allocation exceeds what
// the input's own size justifies.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sglab/sglab/framework/atomicfile"
)

const (
	// maxHeaderLen bounds the JSON header, as the reference implementation does.
	maxHeaderLen = 100_000_000
	// MaxTensors bounds the tensors (and metadata entries) of one header: within the
	// header length a file could otherwise declare millions of empty tensors and cost
	// seconds and a gigabyte before any check failed. A paper-scale snapshots file
	// (100 snapshots × 72 tensors) holds 7,200.
	MaxTensors = 100_000
	// MaxKeyLen bounds a tensor name or metadata key, in bytes; PEFT names are ~100.
	MaxKeyLen   = 1024
	metadataKey = "__metadata__"
	// chunkBytes is the conversion buffer for tensor data; large enough that per-call
	// overhead vanishes, small enough to stay in cache.
	chunkBytes = 64 << 10
)

// Tensor is one named array of a safetensors file, converted to float32.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32 // row-major; len(Data) is the product of Shape
}

// dtypeSize is the element size of the dtypes the reader converts to float32.
func dtypeSize(dtype string) (int, bool) {
	switch dtype {
	case "F32":
		return 4, true
	case "F16", "BF16":
		return 2, true
	}
	return 0, false
}

// stEntry is one tensor as the header describes it.
type stEntry struct {
	name       string
	dtype      string
	elemSize   int
	shape      []int
	numel      int
	begin, end int64 // byte offsets into the buffer
}

// stHeader is a parsed, validated header: entries sorted by data offset and known to
// tile the buffer exactly, so the data can be read in one sequential pass.
type stHeader struct {
	entries []stEntry
	meta    map[string]string
}

// readHeader reads and validates the length field and header of a file of fileSize
// bytes, leaving r at the start of the byte buffer.
func readHeader(r io.Reader, fileSize int64) (*stHeader, error) {
	if fileSize < 8 {
		return nil, fmt.Errorf("file has %d bytes, fewer than the 8-byte header length", fileSize)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeaderLen {
		return nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", n, maxHeaderLen)
	}
	if n > uint64(fileSize-8) {
		return nil, fmt.Errorf("header length %d exceeds the %d bytes that follow it", n, fileSize-8)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	return parseHeader(hdr, fileSize-8-int64(n))
}

// parseHeader parses the JSON header of a file whose byte buffer has bufLen bytes.
// It walks tokens rather than unmarshalling into maps so that duplicate keys, unknown
// fields and non-integer numbers are caught instead of silently resolved.
func parseHeader(hdr []byte, bufLen int64) (*stHeader, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, errors.New("header does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h := &stHeader{meta: map[string]string{}}
	seen := map[string]bool{}
	for dec.More() {
		if len(seen) >= MaxTensors {
			return nil, fmt.Errorf("header: more than %d tensors", MaxTensors)
		}
		key, err := boundedKey(dec)
		if err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("header: key %q appears twice", key)
		}
		seen[key] = true
		if key == "" {
			return nil, errors.New("header: a tensor has an empty name")
		}
		if key == metadataKey {
			if h.meta, err = parseMeta(dec); err != nil {
				return nil, fmt.Errorf("header: %s: %w", metadataKey, err)
			}
			continue
		}
		e, err := parseEntry(dec, key, bufLen)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		h.entries = append(h.entries, e)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("header: after the object: %w", err)
		}
		return nil, fmt.Errorf("header: unexpected %v after the object", tok)
	}

	// The buffer must be tiled exactly: sorted by offset, each tensor starts where the
	// previous ends and the last ends at the buffer's end (no overlaps, holes or tail).
	slices.SortFunc(h.entries, func(a, b stEntry) int {
		if c := cmpInt64(a.begin, b.begin); c != 0 {
			return c
		}
		if c := cmpInt64(a.end, b.end); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var pos int64
	for i, e := range h.entries {
		switch {
		case e.begin < pos:
			return nil, fmt.Errorf("tensor %q: data [%d, %d) overlaps tensor %q", e.name, e.begin, e.end, h.entries[i-1].name)
		case e.begin > pos:
			return nil, fmt.Errorf("tensor %q: data starts at %d, leaving a hole after byte %d of the buffer", e.name, e.begin, pos)
		}
		pos = e.end
	}
	if pos != bufLen {
		return nil, fmt.Errorf("tensors cover %d bytes but the buffer has %d", pos, bufLen)
	}
	return h, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("got %v, want %q", tok, want)
	}
	return nil
}

func stringToken(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("got %v, want a string", tok)
	}
	return s, nil
}

// boundedKey reads an object key of at most MaxKeyLen bytes.
func boundedKey(dec *json.Decoder) (string, error) {
	key, err := stringToken(dec)
	if err == nil && len(key) > MaxKeyLen {
		return "", fmt.Errorf("a key of %d bytes (%.40q…); at most %d", len(key), key, MaxKeyLen)
	}
	return key, err
}

// parseMeta reads the metadata object: string keys to string values, or null.
func parseMeta(dec *json.Decoder) (map[string]string, error) {
	meta := map[string]string{}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return meta, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("got %v, want an object", tok)
	}
	for dec.More() {
		if len(meta) >= MaxTensors {
			return nil, fmt.Errorf("more than %d entries", MaxTensors)
		}
		key, err := boundedKey(dec)
		if err != nil {
			return nil, err
		}
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		val, err := stringToken(dec)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		meta[key] = val
	}
	return meta, expectDelim(dec, '}')
}

// parseEntry reads one tensor's {"dtype", "shape", "data_offsets"} and checks it
// against the buffer length.
func parseEntry(dec *json.Decoder, name string, bufLen int64) (stEntry, error) {
	e := stEntry{name: name}
	if err := expectDelim(dec, '{'); err != nil {
		return e, err
	}
	var shape, offsets []int64
	var haveDtype, haveShape, haveOffsets bool
	for dec.More() {
		key, err := stringToken(dec)
		if err != nil {
			return e, err
		}
		switch key {
		case "dtype":
			if haveDtype {
				return e, errors.New("field dtype appears twice")
			}
			haveDtype = true
			if e.dtype, err = stringToken(dec); err != nil {
				return e, fmt.Errorf("dtype: %w", err)
			}
		case "shape":
			if haveShape {
				return e, errors.New("field shape appears twice")
			}
			haveShape = true
			if shape, err = intArray(dec); err != nil {
				return e, fmt.Errorf("shape: %w", err)
			}
		case "data_offsets":
			if haveOffsets {
				return e, errors.New("field data_offsets appears twice")
			}
			haveOffsets = true
			if offsets, err = intArray(dec); err != nil {
				return e, fmt.Errorf("data_offsets: %w", err)
			}
		default:
			return e, fmt.Errorf("unknown field %q", key)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return e, err
	}
	switch {
	case !haveDtype:
		return e, errors.New("missing dtype")
	case !haveShape:
		return e, errors.New("missing shape")
	case !haveOffsets:
		return e, errors.New("missing data_offsets")
	}

	var ok bool
	if e.elemSize, ok = dtypeSize(e.dtype); !ok {
		return e, fmt.Errorf("dtype %q is not supported (want F32, F16 or BF16)", e.dtype)
	}
	e.shape = make([]int, len(shape))
	numel := int64(1)
	for i, d := range shape {
		if d < 0 || d > math.MaxInt {
			return e, fmt.Errorf("shape %v: dimension %d is out of range", shape, i)
		}
		if d != 0 && numel > math.MaxInt64/d {
			return e, fmt.Errorf("shape %v: element count overflows", shape)
		}
		numel *= d
		e.shape[i] = int(d)
	}
	if numel > math.MaxInt64/int64(e.elemSize) || numel > math.MaxInt {
		return e, fmt.Errorf("shape %v: byte size overflows", shape)
	}
	e.numel = int(numel)
	if len(offsets) != 2 {
		return e, fmt.Errorf("data_offsets has %d values, want 2", len(offsets))
	}
	e.begin, e.end = offsets[0], offsets[1]
	switch {
	case e.begin < 0 || e.end < e.begin:
		return e, fmt.Errorf("data_offsets [%d, %d] are not an interval", e.begin, e.end)
	case e.end > bufLen:
		return e, fmt.Errorf("data_offsets [%d, %d] run past the %d-byte buffer", e.begin, e.end, bufLen)
	case e.end-e.begin != numel*int64(e.elemSize):
		return e, fmt.Errorf("data_offsets [%d, %d] span %d bytes but shape %v of %s needs %d",
			e.begin, e.end, e.end-e.begin, shape, e.dtype, numel*int64(e.elemSize))
	}
	return e, nil
}

// intArray reads a JSON array of integers; fractions and exponents are errors.
func intArray(dec *json.Decoder) ([]int64, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("got %v, want an integer", tok)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a 64-bit integer", num)
		}
		out = append(out, v)
	}
	return out, expectDelim(dec, ']')
}

// readData reads e's bytes from r (positioned at them) into parts, whose lengths sum
// to e.numel, converting to float32 in bulk.
func readData(r io.Reader, e *stEntry, parts [][]float32, scratch []byte) error {
	per := len(scratch) / e.elemSize
	for _, p := range parts {
		for len(p) > 0 {
			k := min(len(p), per)
			b := scratch[:k*e.elemSize]
			if _, err := io.ReadFull(r, b); err != nil {
				return fmt.Errorf("tensor %q: reading data: %w", e.name, err)
			}
			switch e.dtype {
			case "F32":
				for i := range p[:k] {
					p[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
			case "F16":
				for i := range p[:k] {
					p[i] = f16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
				}
			case "BF16":
				for i := range p[:k] {
					p[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
				}
			default:
				return fmt.Errorf("tensor %q: dtype %q is not supported", e.name, e.dtype)
			}
			p = p[k:]
		}
	}
	return nil
}

// f16ToF32 widens an IEEE 754 binary16 value exactly (subnormals, infinities and NaN
// payloads included).
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		// Zero or subnormal: mant·2⁻²⁴, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// readTensors reads the header and every tensor of a file of fileSize bytes from r.
func readTensors(r io.Reader, fileSize int64) ([]Tensor, map[string]string, error) {
	h, err := readHeader(r, fileSize)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Tensor, len(h.entries))
	scratch := make([]byte, chunkBytes)
	for i := range h.entries {
		e := &h.entries[i]
		data := make([]float32, e.numel)
		if err := readData(r, e, [][]float32{data}, scratch); err != nil {
			return nil, nil, err
		}
		out[i] = Tensor{Name: e.name, Shape: e.shape, Data: data}
	}
	return out, h.meta, nil
}

// DecodeSafetensors parses a safetensors file held in memory. Tensors come back in
// data-offset order (the order they were written), converted to float32; the metadata
// map is never nil.
func DecodeSafetensors(data []byte) ([]Tensor, map[string]string, error) {
	ts, meta, err := readTensors(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, fmt.Errorf("lora: safetensors: %w", err)
	}
	return ts, meta, nil
}

// ReadSafetensors reads a safetensors file; see DecodeSafetensors.
func ReadSafetensors(path string) ([]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("lora: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("lora: %w", err)
	}
	ts, meta, err := readTensors(bufio.NewReaderSize(f, 1<<20), st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("lora: %s: %w", path, err)
	}
	return ts, meta, nil
}

// tensorOut is a tensor to write whose data is the concatenation of parts, so callers
// can lay out a tensor from pieces of other slices without copying them first.
type tensorOut struct {
	name  string
	shape []int
	parts [][]float32
}

// headerInfo is one tensor's header entry as written.
type headerInfo struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// encodeSafetensors writes F32 tensors in the given order. Header keys are sorted
// (encoding/json sorts map keys), so the same input gives the same bytes.
func encodeSafetensors(w io.Writer, ts []tensorOut, meta map[string]string) error {
	if len(ts) > MaxTensors || len(meta) > MaxTensors {
		return fmt.Errorf("%d tensors and %d metadata entries; a readable file holds at most %d of each", len(ts), len(meta), MaxTensors)
	}
	for k := range meta {
		if len(k) > MaxKeyLen {
			return fmt.Errorf("metadata key of %d bytes; at most %d", len(k), MaxKeyLen)
		}
	}
	header := make(map[string]any, len(ts)+1)
	var off int64
	for _, t := range ts {
		switch {
		case t.name == "":
			return errors.New("a tensor has an empty name")
		case len(t.name) > MaxKeyLen:
			return fmt.Errorf("tensor name of %d bytes (%.40q…); at most %d", len(t.name), t.name, MaxKeyLen)
		case t.name == metadataKey:
			return fmt.Errorf("tensor name %q is reserved", t.name)
		case !utf8.ValidString(t.name):
			return fmt.Errorf("tensor name %q is not valid UTF-8", t.name)
		}
		if _, dup := header[t.name]; dup {
			return fmt.Errorf("tensor %q appears twice", t.name)
		}
		numel := 1
		for _, d := range t.shape {
			if d < 0 || (d != 0 && numel > math.MaxInt/4/d) {
				return fmt.Errorf("tensor %q: bad shape %v", t.name, t.shape)
			}
			numel *= d
		}
		have := 0
		for _, p := range t.parts {
			have += len(p)
		}
		if have != numel {
			return fmt.Errorf("tensor %q: shape %v needs %d values, have %d", t.name, t.shape, numel, have)
		}
		shape := append([]int{}, t.shape...) // never nil: a scalar's shape is [], not null
		header[t.name] = headerInfo{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*int64(numel)}}
		off += 4 * int64(numel)
	}
	if len(meta) > 0 {
		for k, v := range meta {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return fmt.Errorf("metadata %q is not valid UTF-8", k)
			}
		}
		header[metadataKey] = meta
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fmt.Errorf("encoding header: %w", err)
	}
	hdr := bytes.TrimSuffix(js.Bytes(), []byte("\n"))
	// Pad with spaces so the buffer starts 8-byte aligned, as the reference writer does.
	for (8+len(hdr))%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	scratch := make([]byte, chunkBytes)
	for _, t := range ts {
		for _, p := range t.parts {
			for len(p) > 0 {
				k := min(len(p), len(scratch)/4)
				for i, v := range p[:k] {
					binary.LittleEndian.PutUint32(scratch[4*i:], math.Float32bits(v))
				}
				if _, err := w.Write(scratch[:4*k]); err != nil {
					return err
				}
				p = p[k:]
			}
		}
	}
	return nil
}

func outTensors(tensors []Tensor) []tensorOut {
	out := make([]tensorOut, len(tensors))
	for i, t := range tensors {
		out[i] = tensorOut{name: t.Name, shape: t.Shape, parts: [][]float32{t.Data}}
	}
	return out
}

// EncodeSafetensors writes tensors as F32 in the given order, with meta as
// __metadata__ (omitted when empty).
func EncodeSafetensors(w io.Writer, tensors []Tensor, meta map[string]string) error {
	if err := encodeSafetensors(w, outTensors(tensors), meta); err != nil {
		return fmt.Errorf("lora: safetensors: %w", err)
	}
	return nil
}

// WriteSafetensors writes a safetensors file atomically; see EncodeSafetensors.
func WriteSafetensors(path string, tensors []Tensor, meta map[string]string) error {
	ts := outTensors(tensors)
	if err := atomicfile.Write(path, func(w io.Writer) error { return encodeSafetensors(w, ts, meta) }); err != nil {
		return fmt.Errorf("lora: %s: %w", path, err)
	}
	return nil
}
