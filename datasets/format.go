package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/sglab/sglab/datasets/caption"
)

// The shipped format ("sgds", version 1) is gzip over this little-endian layout:
//
//	"SGDS" version:u8
//	name:str side:u8 nclasses:u8 class:str × nclasses
//	seed:u64 nattrs:u8 threshold:f64 × (nclasses × nattrs × 2)
//	ntrain:u32 ntest:u32
//	example × (ntrain + ntest): index:u32 label:u8 pixels:u8 × side²
//
// where str is a u8 length and that many bytes. Captions are not stored: they are
// measured from the pixels with the stored thresholds at load time. The gzip header
// holds no name and no time, so Encode is a pure function of the Set.
const (
	formatMagic   = "SGDS"
	formatVersion = 1
	maxExamples   = 1 << 20
)

// Encode writes s in the shipped format. Captions are not written.
func Encode(w io.Writer, s *Set) error {
	if err := checkSet(s); err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	le := binary.LittleEndian
	bw.WriteString(formatMagic)
	bw.WriteByte(formatVersion)
	writeStr(bw, s.Name)
	bw.WriteByte(Side)
	bw.WriteByte(byte(len(s.Classes)))
	for _, c := range s.Classes {
		writeStr(bw, c)
	}
	var b8 [8]byte
	bw.Write(le.AppendUint64(b8[:0], s.Seed))
	bw.WriteByte(caption.NumAttrs)
	for _, cls := range s.Thresholds {
		for _, cuts := range cls {
			for _, v := range cuts {
				bw.Write(le.AppendUint64(b8[:0], math.Float64bits(v)))
			}
		}
	}
	bw.Write(le.AppendUint32(b8[:0], uint32(len(s.Train))))
	bw.Write(le.AppendUint32(b8[:0], uint32(len(s.Test))))
	for _, part := range [][]Example{s.Train, s.Test} {
		for i := range part {
			e := &part[i]
			bw.Write(le.AppendUint32(b8[:0], uint32(e.Index)))
			bw.WriteByte(byte(e.Label))
			bw.Write(e.Image[:])
		}
	}
	if err := bw.Flush(); err != nil { // bufio keeps the first write error
		return err
	}
	return zw.Close()
}

// checkSet rejects what the format cannot hold.
func checkSet(s *Set) error {
	switch {
	case len(s.Name) == 0 || len(s.Name) > 255:
		return fmt.Errorf("encode: name %q must have 1 to 255 bytes", s.Name)
	case len(s.Classes) == 0 || len(s.Classes) > 255:
		return fmt.Errorf("encode %q: %d classes, want 1 to 255", s.Name, len(s.Classes))
	case len(s.Thresholds) != len(s.Classes):
		return fmt.Errorf("encode %q: thresholds for %d classes, want %d", s.Name, len(s.Thresholds), len(s.Classes))
	case len(s.Train) > maxExamples || len(s.Test) > maxExamples:
		return fmt.Errorf("encode %q: %d+%d examples, at most %d each", s.Name, len(s.Train), len(s.Test), maxExamples)
	}
	for _, c := range s.Classes {
		if len(c) == 0 || len(c) > 255 {
			return fmt.Errorf("encode %q: class name %q must have 1 to 255 bytes", s.Name, c)
		}
	}
	for _, part := range [][]Example{s.Train, s.Test} {
		for i := range part {
			e := &part[i]
			if e.Label < 0 || e.Label >= len(s.Classes) {
				return fmt.Errorf("encode %q: example with index %d has label %d, want 0 to %d", s.Name, e.Index, e.Label, len(s.Classes)-1)
			}
			if e.Index < 0 || e.Index > math.MaxUint32 {
				return fmt.Errorf("encode %q: source index %d out of range", s.Name, e.Index)
			}
		}
	}
	return nil
}

func writeStr(w *bufio.Writer, s string) {
	w.WriteByte(byte(len(s)))
	w.WriteString(s)
}

// Decode reads a set in the shipped format and captions it.
func Decode(r io.Reader) (*Set, error) {
	s, err := decode(r)
	if err != nil {
		return nil, err
	}
	s.attachCaptions()
	return s, nil
}

// decReader reads the fields of the format, keeping the first error.
type decReader struct {
	r   *bufio.Reader
	err error
}

func (d *decReader) bytes(n int) []byte {
	if d.err != nil {
		return make([]byte, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.err = noEOF(err)
	}
	return b
}

func (d *decReader) u8() int     { return int(d.bytes(1)[0]) }
func (d *decReader) u32() int    { return int(binary.LittleEndian.Uint32(d.bytes(4))) }
func (d *decReader) u64() uint64 { return binary.LittleEndian.Uint64(d.bytes(8)) }
func (d *decReader) str() string { return string(d.bytes(d.u8())) }

// decode reads a set without captioning it.
func decode(r io.Reader) (*Set, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("sgds: %w", err)
	}
	defer zr.Close()
	zr.Multistream(false)
	d := &decReader{r: bufio.NewReader(zr)}
	if m := string(d.bytes(len(formatMagic))); d.err == nil && m != formatMagic {
		return nil, fmt.Errorf("sgds: bad magic %q, want %q", m, formatMagic)
	}
	if v := d.u8(); d.err == nil && v != formatVersion {
		return nil, fmt.Errorf("sgds: format version %d, this build reads %d", v, formatVersion)
	}
	s := &Set{Name: d.str()}
	if side := d.u8(); d.err == nil && side != Side {
		return nil, fmt.Errorf("sgds: images of side %d, want %d", side, Side)
	}
	nc := d.u8()
	if d.err == nil && nc == 0 {
		return nil, errors.New("sgds: no classes")
	}
	for range nc {
		s.Classes = append(s.Classes, d.str())
	}
	s.Seed = d.u64()
	if na := d.u8(); d.err == nil && na != caption.NumAttrs {
		return nil, fmt.Errorf("sgds: %d caption attributes, this build measures %d", na, caption.NumAttrs)
	}
	if d.err != nil {
		return nil, fmt.Errorf("sgds: header: %w", d.err)
	}
	s.Thresholds = make(caption.Thresholds, nc)
	for c := range s.Thresholds {
		for a := range caption.NumAttrs {
			for k := range 2 {
				v := math.Float64frombits(d.u64())
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("sgds: threshold %d of attribute %s of class %d is %v", k, caption.Attr(a), c, v)
				}
				s.Thresholds[c][a][k] = v
			}
		}
	}
	ntrain, ntest := d.u32(), d.u32()
	if d.err != nil {
		return nil, fmt.Errorf("sgds: header: %w", d.err)
	}
	if ntrain > maxExamples || ntest > maxExamples {
		return nil, fmt.Errorf("sgds: %d+%d examples, at most %d each", ntrain, ntest, maxExamples)
	}
	// Grow as examples arrive rather than trusting the header's counts up front.
	for _, part := range []struct {
		n   int
		dst *[]Example
	}{{ntrain, &s.Train}, {ntest, &s.Test}} {
		*part.dst = make([]Example, 0, min(part.n, 4096))
		for i := range part.n {
			*part.dst = append(*part.dst, Example{})
			e := &(*part.dst)[i]
			e.Index = d.u32()
			e.Label = d.u8()
			if d.err == nil {
				_, d.err = io.ReadFull(d.r, e.Image[:])
				d.err = noEOF(d.err)
			}
			if d.err != nil {
				return nil, fmt.Errorf("sgds: example %d of %d+%d: %w", i, ntrain, ntest, d.err)
			}
			if e.Label >= nc {
				return nil, fmt.Errorf("sgds: example %d (source index %d) has label %d, want below %d", i, e.Index, e.Label, nc)
			}
		}
	}
	n, err := io.Copy(io.Discard, d.r) // also makes gzip verify its checksum
	if err != nil {
		return nil, fmt.Errorf("sgds: %w", err)
	}
	if n > 0 {
		return nil, fmt.Errorf("sgds: %d unexpected bytes after the examples", n)
	}
	return s, nil
}
