package datasets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxIDXBytes bounds the payload a header may announce, so a corrupt or hostile header
// cannot make ReadIDX allocate gigabytes. The largest file we read (Fashion-MNIST train
// images) holds 47 MB.
const maxIDXBytes = 1 << 30

// IDX is the content of one idx file (LeCun's format for MNIST and Fashion-MNIST):
// an n-dimensional array of unsigned bytes, row-major.
type IDX struct {
	Dims []int
	Data []byte
}

// ReadIDX reads an idx file of unsigned bytes (type code 0x08), gzip-compressed or not.
// It checks the magic number, that every dimension is positive, and that the payload
// holds exactly the announced number of bytes.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: reading magic number: %w", noEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic number % x (want 00 00 <type> <ndims>)", magic)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x not supported (only unsigned bytes, 0x08)", magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, errors.New("idx: zero dimensions")
	}
	dims := make([]int, nd)
	total := int64(1)
	for i := range dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("idx: reading dimension %d of %d: %w", i+1, nd, noEOF(err))
		}
		if d == 0 {
			return nil, fmt.Errorf("idx: dimension %d is zero", i+1)
		}
		dims[i] = int(d)
		total *= int64(d)
		if total > maxIDXBytes {
			return nil, fmt.Errorf("idx: dimensions %v announce more than %d bytes", dims[:i+1], maxIDXBytes)
		}
	}
	data := make([]byte, total)
	if n, err := io.ReadFull(br, data); err != nil {
		return nil, fmt.Errorf("idx: dimensions %v need %d bytes of data, file has %d", dims, total, n)
	}
	n, err := io.Copy(io.Discard, br) // also makes gzip verify its checksum
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	if n > 0 {
		return nil, fmt.Errorf("idx: %d unexpected bytes after the %d announced by dimensions %v", n, total, dims)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// ReadIDXFile reads an idx file from disk; errors name the file.
func ReadIDXFile(path string) (*IDX, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	x, err := ReadIDX(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
