package service

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sglab/sglab/framework/lora"
)

var errUnknown = errors.New("no known word")

// fake embeds "crash" by panicking and "zzz" by refusing, and generates adapters whose
// parameters are the seed plus the sample index; block, when set, holds Generate.
type fake struct {
	schema  lora.Schema
	block   chan struct{}
	running atomic.Int32
	most    atomic.Int32
}

func (f *fake) Embed(_ context.Context, d string) ([]float32, error) {
	switch d {
	case "crash":
		panic("boom")
	case "zzz":
		return nil, errUnknown
	}
	return []float32{1, 2}, nil
}

func (f *fake) Generate(ctx context.Context, _ []float32, n int, seed uint64) ([]*lora.Adapter, error) {
	now := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		most := f.most.Load()
		if now <= most || f.most.CompareAndSwap(most, now) {
			break
		}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]*lora.Adapter, n)
	for i := range out {
		a := lora.New(f.schema)
		for j := range a.Params {
			a.Params[j] = float32(seed) + float32(i) + float32(j)/100
		}
		out[i] = a
	}
	return out, nil
}

var testSchema = lora.Schema{
	{Name: "visual.blocks.0.attn.q_proj", In: 4, Out: 4, Rank: 2, Alpha: 4},
	{Name: "visual.blocks.0.attn.v_proj", In: 4, Out: 4, Rank: 2, Alpha: 4},
}

func newTestServer(t *testing.T, f *fake, cfg Config) *httptest.Server {
	t.Helper()
	cfg.Gen = f
	cfg.Backbone = "org/backbone"
	cfg.Refused = func(err error) bool { return errors.Is(err, errUnknown) }
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/adapters", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// unzip writes a zip's files under dir.
func unzip(t *testing.T, data []byte, dir string) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestAdaptersZip(t *testing.T) {
	f := &fake{schema: testSchema}
	srv := newTestServer(t, f, Config{})
	resp, data := post(t, srv.URL, `{"description": "digits rotated", "samples": 3, "seed": 7}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	dir := t.TempDir()
	names := unzip(t, data, dir)
	if len(names) != 6 {
		t.Fatalf("zip holds %v, want 3 PEFT folders", names)
	}
	want, _ := f.Generate(context.Background(), nil, 3, 7)
	for i := range 3 {
		got, base, err := lora.LoadPEFTBase(filepath.Join(dir, lora.PEFTSampleDir(i)))
		if err != nil {
			t.Fatal(err)
		}
		if base != "org/backbone" {
			t.Errorf("sample %d: base model %q", i, base)
		}
		if !bytes.Equal(f32bytes(got.Params), f32bytes(want[i].Params)) {
			t.Errorf("sample %d: parameters differ from the generator's", i)
		}
	}
	// Defaults: one sample, seed 0.
	resp, data = post(t, srv.URL, `{"description": "digits"}`)
	if resp.StatusCode != 200 || len(unzip(t, data, t.TempDir())) != 2 {
		t.Fatalf("default request: status %d", resp.StatusCode)
	}
}

// f32bytes is v's bits, so that comparing them is comparing bit for bit.
func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestBadRequests(t *testing.T) {
	srv := newTestServer(t, &fake{schema: testSchema}, Config{MaxSamples: 4, MaxDescription: 20})
	for _, tt := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"not JSON", `{"description": `, 400, "not the JSON object"},
		{"wrong type", `{"description": 3}`, 400, "not the JSON object"},
		{"unknown field", `{"description": "a", "sample": 2}`, 400, "unknown field"},
		{"trailing", `{"description": "a"} {}`, 400, "after the JSON object"},
		{"empty", `{"description": "  "}`, 400, "description is empty"},
		{"too long", `{"description": "` + strings.Repeat("a", 21) + `"}`, 400, "at most 20"},
		{"too many samples", `{"description": "a", "samples": 5}`, 400, "want 1 to 4"},
		{"no samples", `{"description": "a", "samples": 0}`, 400, "want 1 to 4"},
		{"negative seed", `{"description": "a", "seed": -1}`, 400, "not the JSON object"},
		{"unknown words", `{"description": "zzz"}`, 422, "no known word"},
		{"panic", `{"description": "crash"}`, 500, "internal error"},
		{"huge body", `{"description": "` + strings.Repeat("a", maxBody) + `"}`, 413, "body over"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := post(t, srv.URL, tt.body)
			var e struct{ Error string }
			if resp.StatusCode != tt.status || json.Unmarshal(data, &e) != nil || !strings.Contains(e.Error, tt.msg) {
				t.Errorf("status %d body %s; want %d with %q", resp.StatusCode, data, tt.status, tt.msg)
			}
		})
	}
	// Still up.
	if resp, _ := post(t, srv.URL, `{"description": "a"}`); resp.StatusCode != 200 {
		t.Fatalf("after the bad requests: status %d", resp.StatusCode)
	}
	resp, err := http.Get(srv.URL + "/v1/adapters")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET /v1/adapters: %v %v", err, resp.Status)
	}
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /healthz: %v %v", err, resp.Status)
	}
}

func TestHealthzReportsDeadPlugins(t *testing.T) {
	srv := newTestServer(t, &fake{schema: testSchema}, Config{Alive: func() bool { return false }})
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("GET /healthz: %v %v", err, resp.Status)
	}
}

// TestParallelBound: at most Parallel requests generate at once; the others wait their
// turn and are served, and one that waits past the timeout gets 503.
func TestParallelBound(t *testing.T) {
	f := &fake{schema: testSchema, block: make(chan struct{})}
	srv := newTestServer(t, f, Config{Parallel: 2, Timeout: 5 * time.Second})
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := post(t, srv.URL, `{"description": "a"}`)
			codes[i] = resp.StatusCode
		}()
	}
	for end := time.Now().Add(5 * time.Second); f.running.Load() < 2 && time.Now().Before(end); time.Sleep(time.Millisecond) {
	}
	time.Sleep(50 * time.Millisecond) // let the others queue
	close(f.block)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if most := f.most.Load(); most != 2 {
		t.Errorf("%d requests generated at once, want the bound 2", most)
	}

	slow := &fake{schema: testSchema, block: make(chan struct{})}
	defer close(slow.block)
	srv = newTestServer(t, slow, Config{Parallel: 1, Timeout: 200 * time.Millisecond})
	done := make(chan int)
	go func() { resp, _ := post(t, srv.URL, `{"description": "a"}`); done <- resp.StatusCode }()
	for slow.running.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	// It waits for the slot, or gets it when the first times out, then times out itself.
	if resp, data := post(t, srv.URL, `{"description": "a"}`); resp.StatusCode != 503 {
		t.Errorf("waiting request: status %d %s, want 503", resp.StatusCode, data)
	}
	if c := <-done; c != 503 {
		t.Errorf("timed-out request: status %d, want 503", c)
	}
}
