package datasets

import (
	"bytes"
	"compress/gzip"
	"go/build"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sglab/sglab/datasets/caption"
	"github.com/sglab/sglab/datasets/glove"
)

// sourceDirs are where the original idx files live on a development machine: GoMNIST's
// data folder in the module cache and the Debian package dataset-fashion-mnist. Tests
// that need them skip when they are absent.
func sourceDir(t *testing.T, name string) string {
	t.Helper()
	var dir string
	switch name {
	case "digits":
		cache := os.Getenv("GOMODCACHE")
		if cache == "" {
			cache = filepath.Join(build.Default.GOPATH, "pkg", "mod")
		}
		dir = filepath.Join(cache, "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data")
	case "fashion":
		dir = "/usr/share/datasets/fashion-mnist"
	default:
		t.Fatalf("no source folder for %q", name)
	}
	if _, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("original %s files not here: %v", name, err)
	}
	return dir
}

func shippedBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := shipped.ReadFile(ShippedFile(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	loadMu  sync.Mutex
	loadMem = map[string]*Set{}
)

// loaded returns a shipped set shared between tests that only read it.
func loaded(t *testing.T, name string) *Set {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if s, ok := loadMem[name]; ok {
		return s
	}
	s, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	loadMem[name] = s
	return s
}

func TestNames(t *testing.T) {
	if got := Names(); !slices.Equal(got, []string{"digits", "fashion"}) {
		t.Errorf("Names() = %v", got)
	}
	for _, n := range Names() {
		if Doc(n) == "" {
			t.Errorf("dataset %q has no doc", n)
		}
	}
	if _, err := Load("cifar"); err == nil || !strings.Contains(err.Error(), `"cifar"`) {
		t.Errorf("Load(cifar): error %v, want one naming the dataset", err)
	}
}

func TestLoadShipped(t *testing.T) {
	for _, name := range Names() {
		s, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Classes) != 10 {
			t.Fatalf("%s: %d classes", name, len(s.Classes))
		}
		for _, part := range []struct {
			name     string
			ex       []Example
			perClass int
		}{{"train", s.Train, 200}, {"test", s.Test, 50}} {
			counts := make([]int, len(s.Classes))
			for i, e := range part.ex {
				counts[e.Label]++
				if i > 0 && e.Index <= part.ex[i-1].Index {
					t.Errorf("%s %s: source indices not increasing at %d", name, part.name, i)
				}
				words := strings.Fields(e.Caption)
				if len(words) < 6 || words[0] != "a" || !slices.Contains(words, s.Classes[e.Label]) {
					t.Errorf("%s %s: caption %q of a %s", name, part.name, e.Caption, s.Classes[e.Label])
				}
			}
			for c, n := range counts {
				if n != part.perClass {
					t.Errorf("%s %s: class %s has %d examples, want %d", name, part.name, s.Classes[c], n, part.perClass)
				}
			}
		}
		again, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Errorf("%s: two loads differ", name)
		}
	}
}

// TestCaptionWordsAreFrequent checks that the frozen per-class tertiles split every
// class's training images into reasonably even buckets, and that captions tell the
// test images of a class apart.
func TestCaptionWordsAreFrequent(t *testing.T) {
	for _, name := range Names() {
		s := loaded(t, name)
		for c, cls := range s.Classes {
			var counts [caption.NumAttrs][3]int
			n := 0
			for _, e := range s.Train {
				if e.Label != c {
					continue
				}
				n++
				m := caption.Measure(e.Image[:], Side, Side)
				for a := range caption.NumAttrs {
					counts[a][caption.Bucket(m[a], s.Thresholds[c][a])]++
				}
			}
			for a, cnt := range counts {
				for b, k := range cnt {
					if f := float64(k) / float64(n); f < 0.15 || f > 0.65 {
						t.Errorf("%s %s: %s bucket %d holds %.2f of the training images, want 0.15 to 0.65",
							name, cls, caption.Attr(a), b, f)
					}
				}
			}
			distinct := map[string]bool{}
			for _, e := range s.Test {
				if e.Label == c {
					distinct[e.Caption] = true
				}
			}
			if len(distinct) < 20 {
				t.Errorf("%s %s: only %d distinct captions among 50 test images", name, cls, len(distinct))
			}
		}
	}
}

func TestVocabularyCoversCaptions(t *testing.T) {
	vocab := Vocabulary()
	vecs, err := glove.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range vocab {
		if _, ok := vecs.Lookup(w); !ok && w != "a" { // the shipped GloVe subset drops "a"
			t.Errorf("caption word %q is not in the shipped GloVe vocabulary", w)
		}
	}
	if !slices.IsSorted(vocab) {
		t.Error("Vocabulary not sorted")
	}
	for _, name := range Names() {
		s := loaded(t, name)
		for _, e := range append(s.Train, s.Test...) {
			for _, w := range strings.Fields(e.Caption) {
				if _, ok := slices.BinarySearch(vocab, w); !ok {
					t.Fatalf("%s: caption word %q not in Vocabulary()", name, w)
				}
			}
		}
	}
}

// TestShippedRoundTrip: decoding a shipped file and encoding it again gives the same
// bytes, compressed and uncompressed.
func TestShippedRoundTrip(t *testing.T) {
	for _, name := range Names() {
		raw := shippedBytes(t, name)
		s, err := Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gunzip(t, buf.Bytes()), gunzip(t, raw)) {
			t.Errorf("%s: re-encoded payload differs from the shipped one", name)
		}
		if !bytes.Equal(buf.Bytes(), raw) {
			t.Errorf("%s: re-encoded file differs from the shipped one (%d vs %d bytes): has compress/flate changed?",
				name, buf.Len(), len(raw))
		}
	}
}

// TestRebuildReproducesShipped is what `go run ./datasets/cmd/mkdata` does with its
// default flags: it must give the shipped bytes.
func TestRebuildReproducesShipped(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			dir := sourceDir(t, name)
			ref := loaded(t, name)
			s, err := Build(name, dir, 200, 50, ref.Seed)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Encode(&buf, s); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), shippedBytes(t, name)) {
				t.Errorf("rebuilt %s differs from the shipped file", name)
			}
			if !reflect.DeepEqual(s, ref) {
				t.Errorf("Build and Load of %s differ", name)
			}
		})
	}
}

// TestLoadDirMatchesShipped: the full files with the shipped counts give the shipped
// subset, and the full test set keeps the shipped captions for the shipped images.
func TestLoadDirMatchesShipped(t *testing.T) {
	dir := sourceDir(t, "digits")
	ref := loaded(t, "digits")
	s, err := LoadDir("digits", dir, 200, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, ref) {
		t.Error("LoadDir(digits, 200, 50) differs from Load(digits)")
	}
	full, err := LoadDir("digits", dir, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Train) != 30 || len(full.Test) != 10000 {
		t.Fatalf("digits with 3 per class and the full test set: %d train, %d test; want 30 and 10000", len(full.Train), len(full.Test))
	}
	for _, e := range ref.Test {
		if f := full.Test[e.Index]; f.Image != e.Image || f.Caption != e.Caption || f.Label != e.Label {
			t.Fatalf("shipped test example %d differs in the full set", e.Index)
		}
	}
}

// writeIDXDir writes a tiny dataset in idx form: n images per class for 10 classes,
// image i filled with value i+1 so tests can tell which one they got.
func writeIDXDir(t *testing.T, n int, gz bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, prefix := range []string{"train", "t10k"} {
		var imgs, labels []byte
		for i := range 10 * n {
			img := make([]byte, Pixels)
			for p := 5 * Side; p < 20*Side; p++ { // a block of ink
				if p%Side >= 8 && p%Side < 8+i%12+2 {
					img[p] = byte(i + 1)
				}
			}
			imgs = append(imgs, img...)
			labels = append(labels, byte(i%10))
		}
		write := func(base string, b []byte) {
			if gz {
				b, base = gzipBytes(t, b), base+".gz"
			}
			if err := os.WriteFile(filepath.Join(dir, base), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(prefix+"-images-idx3-ubyte", idxBytes([]int{10 * n, Side, Side}, imgs))
		write(prefix+"-labels-idx1-ubyte", idxBytes([]int{10 * n}, labels))
	}
	return dir
}

func TestLoadDirSynthetic(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := writeIDXDir(t, 4, gz)
		s, err := LoadDir("fashion", dir, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Train) != 30 || len(s.Test) != 20 {
			t.Fatalf("gz=%v: %d train %d test, want 30 and 20", gz, len(s.Train), len(s.Test))
		}
		for _, e := range s.Train {
			if e.Label != e.Index%10 || e.Image[10*Side+8] != byte(e.Index+1) {
				t.Errorf("gz=%v: example with index %d has label %d and pixel %d", gz, e.Index, e.Label, e.Image[10*Side+8])
			}
			if !slices.Contains(strings.Fields(e.Caption), s.Classes[e.Label]) {
				t.Errorf("caption %q of a %s", e.Caption, s.Classes[e.Label])
			}
		}
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"missing labels", func(dir string) {
			os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte"))
		}, "t10k-labels-idx1-ubyte"},
		{"label count", func(dir string) {
			os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]int{3}, []byte{0, 1, 2}), 0o644)
		}, "holds 3 labels but"},
		{"label too big", func(dir string) {
			l := make([]byte, 40)
			l[7] = 10
			os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]int{40}, l), 0o644)
		}, "label 10 of item 7"},
		{"image size", func(dir string) {
			os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), idxBytes([]int{40, 14, 56}, make([]byte, 40*784)), 0o644)
		}, "dimensions [40 14 56]"},
		{"corrupt", func(dir string) {
			os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte"), []byte("not idx"), 0o644)
		}, "train-images-idx3-ubyte: idx: bad magic"},
	}
	for _, tt := range tests {
		dir := writeIDXDir(t, 4, false)
		tt.damage(dir)
		_, err := LoadDir("digits", dir, 3, 2)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := LoadDir("digits", writeIDXDir(t, 4, false), 5, 2); err == nil || !strings.Contains(err.Error(), "fewer than the 5") {
		t.Errorf("asking 5 of 4 per class: error %v", err)
	}
}

func TestSelect(t *testing.T) {
	labels := make([]byte, 1000)
	for i := range labels {
		labels[i] = byte(i * 7 % 10)
	}
	a, err := Select(labels, 10, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Select(labels, 10, 20, 1)
	c, _ := Select(labels, 10, 20, 2)
	if !slices.Equal(a, b) {
		t.Error("same seed, different selections")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 1 and 2 gave the same selection")
	}
	if !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != len(a) {
		t.Error("selection not in file order without repeats")
	}
	counts := make([]int, 10)
	for _, i := range a {
		counts[labels[i]]++
	}
	for cl, n := range counts {
		if n != 20 {
			t.Errorf("class %d selected %d times, want 20", cl, n)
		}
	}
	// Not simply the first 20 of each class.
	if a[len(a)-1] < 500 {
		t.Errorf("selection ends at index %d: looks like a prefix, not a seeded choice", a[len(a)-1])
	}
	all, _ := Select(labels, 10, 0, 1)
	if len(all) != 1000 || all[999] != 999 {
		t.Error("perClass 0 must keep every example in order")
	}
	if _, err := Select([]byte{0, 11}, 10, 1, 1); err == nil {
		t.Error("label 11 of 10 classes accepted")
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func regzip(t *testing.T, b []byte) []byte { return gzipBytes(t, b) }

func TestDecodeErrors(t *testing.T) {
	raw := shippedBytes(t, "digits")
	payload := gunzip(t, raw)
	patch := func(off int, v ...byte) []byte {
		p := slices.Clone(payload)
		copy(p[off:], v)
		return regzip(t, p)
	}
	// Offsets: "SGDS"=0..3, version=4, name len=5, "digits"=6..11, side=12, classes from 13.
	s, err := Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	header := 14
	for _, c := range s.Classes {
		header += 1 + len(c)
	}
	header += 8 + 1 + len(s.Classes)*caption.NumAttrs*2*8 + 4 + 4
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"not gzip", payload, "gzip"},
		{"truncated gzip", raw[:len(raw)/2], "unexpected EOF"},
		{"bad magic", patch(0, 'X'), "bad magic"},
		{"version", patch(4, 9), "format version 9"},
		{"side", patch(12, 32), "side 32"},
		{"label", patch(header+4, 10), "label 10"},
		{"trailing", regzip(t, append(slices.Clone(payload), 0)), "unexpected bytes"},
		{"short", regzip(t, payload[:len(payload)-1]), "unexpected EOF"},
	}
	for _, tt := range tests {
		_, err := Decode(bytes.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	// Every truncation of the payload fails cleanly, never panics.
	for n := 0; n < 2000; n += 7 {
		if _, err := Decode(bytes.NewReader(regzip(t, payload[:n]))); err == nil {
			t.Fatalf("payload cut at %d bytes decoded", n)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	s := loaded(t, "digits")
	bad := *s
	bad.Train = slices.Clone(s.Train)
	bad.Train[3].Label = 10
	if err := Encode(io.Discard, &bad); err == nil || !strings.Contains(err.Error(), "label 10") {
		t.Errorf("label 10: error %v", err)
	}
	bad = *s
	bad.Thresholds = s.Thresholds[:9]
	if err := Encode(io.Discard, &bad); err == nil || !strings.Contains(err.Error(), "thresholds for 9 classes") {
		t.Errorf("9 thresholds: error %v", err)
	}
}

func TestFloat32(t *testing.T) {
	var im Image
	im[0], im[1], im[Pixels-1] = 255, 51, 1
	dst := make([]float32, Pixels)
	im.Float32(dst)
	if dst[0] != 1 || dst[1] != 0.2 || dst[2] != 0 || dst[Pixels-1] != float32(1)/255 {
		t.Errorf("Float32 gave %v %v %v %v", dst[0], dst[1], dst[2], dst[Pixels-1])
	}
}
