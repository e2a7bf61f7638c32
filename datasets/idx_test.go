package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idxBytes builds an idx file of unsigned bytes.
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	data := []byte{1, 2, 3, 4, 5, 6}
	good := idxBytes([]int{2, 3}, data)
	for _, tt := range []struct {
		name string
		in   []byte
	}{{"plain", good}, {"gzip", gzipBytes(t, good)}} {
		x, err := ReadIDX(bytes.NewReader(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(x.Dims, []int{2, 3}) || !bytes.Equal(x.Data, data) {
			t.Errorf("%s: got dims %v data %v", tt.name, x.Dims, x.Data)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	corruptGz := gzipBytes(t, good)
	corruptGz[len(corruptGz)-6] ^= 0xff // damage the CRC-32 in the trailer
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte{1, 0}, good[2:]...), "bad magic"},
		{"float type", append([]byte{0, 0, 0x0d}, good[3:]...), "not supported"},
		{"no dims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"zero dim", idxBytes([]int{2, 0}, nil), "dimension 2 is zero"},
		{"truncated header", good[:9], "dimension 2"},
		{"truncated data", good[:len(good)-1], "need 6 bytes"},
		{"trailing data", append(slices.Clone(good), 7), "unexpected bytes"},
		{"huge", idxBytes([]int{1 << 16, 1 << 16}, nil), "more than"},
		{"bad gzip checksum", corruptGz, "checksum"},
	}
	for _, tt := range tests {
		_, err := ReadIDX(bytes.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestReadIDXFileNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad-idx3-ubyte")
	if err := os.WriteFile(p, []byte{9, 9, 9, 9}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIDXFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v, want one naming %s", err, p)
	}
}
