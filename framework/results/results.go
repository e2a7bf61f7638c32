// Package results is the journal of an experiment: results.jsonl, one JSON object per
// finished trial, appended at once. Reports and outside tools read only this file. It
// also holds what the transfer diagnostic measures (Transfer), which reports renders.
package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sglab/sglab/framework/atomicfile"
)

// FileName is the journal's name inside an experiment's output folder.
const FileName = "results.jsonl"

// SupersededFile, beside the journal, keeps the rows a rerun took out of it because
// the configuration that computed them changed (their Identity differs from the new
// one): reports never show them, and nothing is lost.
const SupersededFile = "superseded.jsonl"

// Kinds of row.
const (
	KindTrial     = "trial"     // one adapter (or none) scored on one task
	KindDiversity = "diversity" // parameter diversity over one method's samples for a task and seed
)

// Row is one line of results.jsonl.
type Row struct {
	Kind    string             `json:"kind"`
	Split   string             `json:"split"`
	Task    string             `json:"task"`
	Method  string             `json:"method"`
	Seed    uint64             `json:"seed"`
	Sample  int                `json:"sample"` // sample index; 0 for single-sample methods and diversity rows
	Metrics map[string]float64 `json:"metrics"`
	Seconds float64            `json:"seconds"`
	Error   string             `json:"error,omitempty"` // present only when the trial failed

	// Set for methods expanded from a sweep: the method swept and the swept values.
	Base  string         `json:"base,omitempty"`
	Sweep map[string]any `json:"sweep,omitempty"`
	// Reference is "zero-shot" or "oracle" for the reference methods.
	Reference string `json:"reference,omitempty"`
	// Identity is what determined the numbers, one short digest per part (the task, the
	// evaluator and its parameters, the training options, and for generated adapters
	// the library, the encoder, the generator and its parameters, the samples). A rerun
	// whose configuration gives a trial another identity runs it again.
	Identity map[string]string `json:"identity,omitempty"`
}

// Key identifies a row for resuming: the same key is never run twice.
func (r Row) Key() string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d\x00%d", r.Kind, r.Split, r.Task, r.Method, r.Seed, r.Sample)
}

// Writer appends rows to a journal. Each row is written with a single write call so a
// crash leaves at most one torn final line, which Read ignores.
type Writer struct {
	mu sync.Mutex
	f  *os.File
}

// Create opens path for appending, creating it when absent.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return &Writer{f: f}, nil
}

// Append writes r as one line and syncs it to disk.
func (w *Writer) Append(r Row) error {
	if r.Kind == "" {
		r.Kind = KindTrial
	}
	if r.Metrics == nil {
		r.Metrics = map[string]float64{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("results: row for %s/%s/%s: %w", r.Split, r.Task, r.Method, err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("results: append to %s: %w", w.f.Name(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("results: append to %s: %w", w.f.Name(), err)
	}
	return nil
}

// Close closes the journal.
func (w *Writer) Close() error { return w.f.Close() }

// Rewrite replaces the journal at path by rows, atomically: a crash leaves either the
// old journal or the new one.
func Rewrite(path string, rows []Row) error {
	err := atomicfile.Write(path, func(w io.Writer) error {
		for _, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := w.Write(append(b, '\n')); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("results: rewrite %s: %w", path, err)
	}
	return nil
}

// Read returns every complete row of the journal at path. A final line without its
// newline (a write cut short by a crash) is ignored; any other bad line is an error
// naming the line.
func Read(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	return Decode(f, path)
}

// Decode parses a journal; name is used in errors.
func Decode(r io.Reader, name string) ([]Row, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("results: %s: %w", name, err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		data = data[:i+1] // drop a torn final line
	}
	var rows []Row
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row Row
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&row); err != nil {
			return nil, fmt.Errorf("results: %s:%d: %w", name, line, err)
		}
		if row.Kind == "" {
			row.Kind = KindTrial
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("results: %s: %w", name, err)
	}
	return rows, nil
}
