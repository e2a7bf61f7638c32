// Package atomicfile writes files whole or not at all. Every file a run leaves behind
// (the journal's rewrites, the manifest, cached experts, adapters, reports, figures)
// goes through it, so a reader (another process, a rerun after a crash, a full disk)
// sees either the old file or the complete new one, and a failed write leaves no
// temporary file behind.
package atomicfile

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
)

// Write writes path through a temporary file in the same folder that is synced and
// renamed into place. The temporary file is removed on every failure.
func Write(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Persist the rename itself; not every platform can sync a folder, so a failure
	// here is not an error of the write.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// WriteBytes writes data to path as Write does.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(data))
		return err
	})
}
