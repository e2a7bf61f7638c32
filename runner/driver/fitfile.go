package driver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sglab/sglab/framework/atomicfile"
	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// A fit file (`runner fit`) is a fitted generator saved with the library it was fitted
// on: the magic FitMagic, the length of a JSON FitHeader as a little-endian uint64, the
// header, then the bytes the generator plugin's SaveFit wrote (its own format). The
// header's Library digest covers everything that determines the fit; `generate --fit`
// and `serve --fit` recompute it for the experiment and refuse a file whose digest
// differs, naming what differs.
const (
	FitMagic       = "SGLABFIT"
	FitFormatVer   = 1
	maxFitHeaderSz = 64 << 20
)

// FitHeader describes a saved fit.
type FitHeader struct {
	Format  int    `json:"format"`  // FitFormatVer
	Library string `json:"library"` // digest of Generator, FitSeed, Schema and Experts
	// For information: where the fit comes from. The fit seed derives from them.
	File    string `json:"file"`
	Method  string `json:"method"`
	Split   string `json:"split"`
	Seed    uint64 `json:"seed"` // the experiment seed whose experts form the library
	FitSeed uint64 `json:"fit_seed"`

	Generator FitGenerator `json:"generator"`
	Schema    lora.Schema  `json:"schema"`
	Experts   []FitExpert  `json:"experts"`

	PayloadSize   int64  `json:"payload_size"`
	PayloadSHA256 string `json:"payload_sha256"`
}

// FitGenerator identifies the generator plugin's code and its resolved parameters.
type FitGenerator struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	SHA256  string            `json:"sha256"` // of its executable
	Params  map[string]string `json:"params"`
}

// FitExpert is one expert of the library: its task, the embedding of its description
// and its snapshots file, by digest.
type FitExpert struct {
	ID              string `json:"id"`
	Description     string `json:"description"`
	Embedding       string `json:"embedding_sha256"` // of the float32 little-endian bytes
	SnapshotsSHA256 string `json:"snapshots_sha256"`
}

func (h *FitHeader) libraryDigest() string {
	return digest(struct {
		Generator FitGenerator
		FitSeed   uint64
		Schema    lora.Schema
		Experts   []FitExpert
	}{h.Generator, h.FitSeed, h.Schema, h.Experts})
}

func embeddingDigest(v []float32) string {
	h := sha256.New()
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fitHeader describes the fit of method m on lib with fitSeed; the generator has been
// started (so its identity is known).
func fitHeader(file string, gen *pluginIdentity, m config.Method, split string, seed, fitSeed uint64, lib plugin.Library) (*FitHeader, error) {
	if gen.err != nil {
		return nil, gen.err
	}
	h := &FitHeader{Format: FitFormatVer, File: file, Method: m.Name, Split: split, Seed: seed, FitSeed: fitSeed,
		Generator: FitGenerator{Name: gen.Name, Version: gen.Version, SHA256: gen.SHA256, Params: gen.resolved(m.Params)},
		Schema:    lib.Schema}
	for _, e := range lib.Experts {
		sum, err := plugin.FileSHA256(e.SnapshotPath)
		if err != nil {
			return nil, fmt.Errorf("expert %s: %w", e.ID, err)
		}
		h.Experts = append(h.Experts, FitExpert{ID: e.ID, Description: e.Description, Embedding: embeddingDigest(e.Embedding), SnapshotsSHA256: sum})
	}
	h.Library = h.libraryDigest()
	return h, nil
}

// FitMismatchError is a fit file made on another library than the experiment's.
type FitMismatchError struct {
	Path        string
	Saved, Here string // library digests
	Diffs       []string
}

func (e *FitMismatchError) Error() string {
	return fmt.Sprintf("fit file %s was fitted on another library (hash %s; this experiment's is %s): %s; fit again with `runner fit`",
		e.Path, e.Saved, e.Here, strings.Join(e.Diffs, "; "))
}

// fitDiffs names what differs between a saved header and the current one, the saved
// value first.
func fitDiffs(saved, here *FitHeader) []string {
	var d []string
	add := func(format string, a ...any) { d = append(d, fmt.Sprintf(format, a...)) }
	sg, hg := saved.Generator, here.Generator
	if sg.Name != hg.Name {
		add("generator %q there, %q here", sg.Name, hg.Name)
	}
	if sg.Version != hg.Version {
		add("generator version %s there, %s here", sg.Version, hg.Version)
	}
	if sg.SHA256 != hg.SHA256 {
		add("generator executable sha256 %.12s… there, %.12s… here", sg.SHA256, hg.SHA256)
	}
	keys := map[string]bool{}
	for k := range sg.Params {
		keys[k] = true
	}
	for k := range hg.Params {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		a, aok := sg.Params[k]
		b, bok := hg.Params[k]
		switch {
		case !aok:
			add("generator parameter %s absent there, %s here", k, b)
		case !bok:
			add("generator parameter %s %s there, absent here", k, a)
		case a != b:
			add("generator parameter %s %s there, %s here", k, a, b)
		}
	}
	if saved.FitSeed != here.FitSeed {
		add("fit seed %d there (method %q, split %q, seed %d), %d here (method %q, split %q, seed %d)",
			saved.FitSeed, saved.Method, saved.Split, saved.Seed, here.FitSeed, here.Method, here.Split, here.Seed)
	}
	if err := here.Schema.Compatible(saved.Schema); err != nil || len(here.Schema) != len(saved.Schema) {
		add("adapter schema differs (%d modules there, %d here)", len(saved.Schema), len(here.Schema))
	}
	se, he := saved.Experts, here.Experts
	if len(se) != len(he) {
		add("%d experts there, %d here", len(se), len(he))
	}
	ids := func(es []FitExpert) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if si, hi := ids(se), ids(he); !slices.Equal(si, hi) {
		var gone, added []string
		for _, id := range si {
			if !slices.Contains(hi, id) {
				gone = append(gone, id)
			}
		}
		for _, id := range hi {
			if !slices.Contains(si, id) {
				added = append(added, id)
			}
		}
		switch {
		case len(gone) > 0 || len(added) > 0:
			add("seen tasks only there: [%s], only here: [%s]", strings.Join(gone, " "), strings.Join(added, " "))
		default:
			add("seen tasks in another order")
		}
	}
	byID := map[string]FitExpert{}
	for _, e := range se {
		byID[e.ID] = e
	}
	for _, e := range he {
		s, ok := byID[e.ID]
		if !ok {
			continue
		}
		if s.Description != e.Description {
			add("expert %s: description %q there, %q here", e.ID, s.Description, e.Description)
		}
		if s.Embedding != e.Embedding {
			add("expert %s: the description's embedding differs", e.ID)
		}
		if s.SnapshotsSHA256 != e.SnapshotsSHA256 {
			add("expert %s: snapshots differ (sha256 %.12s… there, %.12s… here)", e.ID, s.SnapshotsSHA256, e.SnapshotsSHA256)
		}
	}
	const most = 12
	if len(d) > most {
		d = append(d[:most], fmt.Sprintf("and %d more differences", len(d)-most))
	}
	if len(d) == 0 {
		d = []string{"the library digest differs"}
	}
	return d
}

// readFitHeader reads a fit file's header and leaves f at the plugin's bytes.
func readFitHeader(f io.Reader, path string) (*FitHeader, error) {
	var pre [len(FitMagic) + 8]byte
	if _, err := io.ReadFull(f, pre[:]); err != nil || string(pre[:len(FitMagic)]) != FitMagic {
		return nil, fmt.Errorf("%s is not a fit file written by `runner fit`", path)
	}
	n := binary.LittleEndian.Uint64(pre[len(FitMagic):])
	if n > maxFitHeaderSz {
		return nil, fmt.Errorf("%s: fit header of %d bytes; at most %d", path, n, maxFitHeaderSz)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%s: fit header: %w", path, err)
	}
	var h FitHeader
	if err := json.Unmarshal(buf, &h); err != nil {
		return nil, fmt.Errorf("%s: fit header: %w", path, err)
	}
	if h.Format != FitFormatVer {
		return nil, fmt.Errorf("%s: fit file format %d; this runner reads format %d", path, h.Format, FitFormatVer)
	}
	return &h, nil
}

// loadFit checks the fit file at path against here and has the generator load it,
// through a temporary copy of the plugin's bytes.
func loadFit(ctx context.Context, gen *rpc.Client, path string, here *FitHeader, lib plugin.Library) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	saved, err := readFitHeader(br, path)
	if err != nil {
		return err
	}
	if saved.Library != here.Library || saved.libraryDigest() != here.Library {
		return &FitMismatchError{Path: path, Saved: saved.Library, Here: here.Library, Diffs: fitDiffs(saved, here)}
	}
	dir, err := os.MkdirTemp("", "sglab-fit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "generator.fit")
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), br)
	if err := errors.Join(err, out.Close()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if n != saved.PayloadSize || hex.EncodeToString(h.Sum(nil)) != saved.PayloadSHA256 {
		return fmt.Errorf("%s: the generator's part is damaged (%d bytes, sha256 %x; the header says %d bytes, sha256 %s)", path, n, h.Sum(nil), saved.PayloadSize, saved.PayloadSHA256)
	}
	if err := gen.FitSaver().LoadFit(ctx, tmp, lib); err != nil {
		return cannotSave(gen, err)
	}
	return nil
}

// cannotSave turns a generator's UNIMPLEMENTED SaveFit or LoadFit into a plain message.
func cannotSave(gen *rpc.Client, err error) error {
	if errors.Is(err, plugin.ErrCannotSaveFit) {
		return fmt.Errorf("generator plugin %s cannot save its fit (it does not implement the optional SaveFit and LoadFit calls); use it without a fit file", gen.Label())
	}
	return err
}

// SaveFit writes the fit to path as a fit file: the header naming the library, then
// what the generator's SaveFit writes.
func (f *Fitted) SaveFit(ctx context.Context, path string) error {
	if f.header == nil {
		return errors.New("no library header")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".sglab-fit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "generator.fit")
	if err := f.gen.FitSaver().SaveFit(ctx, tmp); err != nil {
		return cannotSave(f.gen, err)
	}
	sum, err := plugin.FileSHA256(tmp)
	if err != nil {
		return fmt.Errorf("generator plugin %s SaveFit wrote no readable file: %w", f.gen.Label(), err)
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return err
	}
	h := *f.header
	h.PayloadSize, h.PayloadSHA256 = st.Size(), sum
	hdr, err := json.MarshalIndent(&h, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		var pre [len(FitMagic) + 8]byte
		copy(pre[:], FitMagic)
		binary.LittleEndian.PutUint64(pre[len(FitMagic):], uint64(len(hdr)))
		if _, err := w.Write(pre[:]); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		in, err := os.Open(tmp)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(w, in)
		return err
	})
}
