// Package service is the HTTP face of a fitted generator (`runner serve`): it turns a
// description into LoRAs and answers with a zip of PEFT folders, so a device can fetch an
// adapter for a task it has only a sentence for (DESIGN.md §5). It knows nothing of
// plugins: Generator is any fitted generator with an encoder, so tests use fakes.
package service

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/framework/lora"
)

// Generator embeds descriptions and generates adapters for them; driver.Fitted is one.
type Generator interface {
	// Embed returns the description's vector; an error the caller caused (say, no
	// known word) is one for which Refused reports true.
	Embed(ctx context.Context, description string) ([]float32, error)
	Generate(ctx context.Context, target []float32, n int, seed uint64) ([]*lora.Adapter, error)
}

// Defaults of Config.
const (
	DefaultMaxSamples     = 16
	DefaultMaxDescription = 1000 // bytes
	DefaultTimeout        = 30 * time.Second
	maxBody               = 64 << 10
)

// Config is a service's set-up.
type Config struct {
	Gen      Generator
	Backbone string // base_model_name_or_path of the adapters
	// Refused tells a description the encoder refused from a failure of the service.
	Refused func(error) bool
	// Alive reports whether the plugins behind Gen still run (GET /healthz); nil: always.
	Alive          func() bool
	MaxSamples     int           // samples per request; DefaultMaxSamples when 0
	MaxDescription int           // bytes; DefaultMaxDescription when 0
	Parallel       int           // requests generating at once; the cores when 0
	Timeout        time.Duration // per request, waiting included; DefaultTimeout when 0
	Log            hclog.Logger
}

// Request is the JSON body of POST /v1/adapters.
type Request struct {
	Description string  `json:"description"`
	Samples     *int    `json:"samples"` // 1 when absent
	Seed        *uint64 `json:"seed"`    // 0 when absent
}

type server struct {
	cfg  Config
	slot chan struct{}
}

// New returns the service's handler: POST /v1/adapters and GET /healthz.
func New(cfg Config) http.Handler {
	if cfg.MaxSamples <= 0 {
		cfg.MaxSamples = DefaultMaxSamples
	}
	if cfg.MaxDescription <= 0 {
		cfg.MaxDescription = DefaultMaxDescription
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.NumCPU()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Refused == nil {
		cfg.Refused = func(error) bool { return false }
	}
	s := &server{cfg: cfg, slot: make(chan struct{}, cfg.Parallel)}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/adapters", s.adapters)
	mux.HandleFunc("/healthz", s.healthz)
	return recovering(mux, cfg.Log)
}

// recovering turns a panic in a handler into a 500, so no request takes the process
// (or the connection) down.
func recovering(h http.Handler, log hclog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("request panicked", "path", r.URL.Path, "panic", fmt.Sprint(p))
				fail(w, http.StatusInternalServerError, "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	if s.cfg.Alive != nil && !s.cfg.Alive() {
		fail(w, http.StatusServiceUnavailable, "the generator's plugins are not running")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *server) adapters(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		fail(w, http.StatusMethodNotAllowed, "use POST with a JSON body {\"description\": ..., \"samples\": n, \"seed\": s}")
		return
	}
	req, n, seed, status, msg := s.parse(w, r)
	if status != 0 {
		fail(w, status, msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	select {
	case s.slot <- struct{}{}:
		defer func() { <-s.slot }()
	case <-ctx.Done():
		fail(w, http.StatusServiceUnavailable, "busy: no generation slot came free in time; retry later")
		return
	}
	target, err := s.cfg.Gen.Embed(ctx, req.Description)
	if err != nil {
		if s.cfg.Refused(err) {
			fail(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		s.internal(w, "embedding the description", err)
		return
	}
	adapters, err := s.cfg.Gen.Generate(ctx, target, n, seed)
	if err != nil {
		s.internal(w, "generating", err)
		return
	}
	body, err := Zip(adapters, s.cfg.Backbone)
	if err != nil {
		s.internal(w, "writing the adapters", err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="adapters.zip"`)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	s.cfg.Log.Debug("served", "samples", n, "seed", seed, "bytes", len(body), "seconds", time.Since(start).Seconds())
}

// parse reads and checks a request; a non-zero status comes with the message for the
// client.
func (s *server) parse(w http.ResponseWriter, r *http.Request) (req Request, n int, seed uint64, status int, msg string) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return req, 0, 0, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type is %q; send application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return req, 0, 0, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxBody)
		}
		return req, 0, 0, http.StatusBadRequest, "body is not the JSON object {\"description\": string, \"samples\": int, \"seed\": int}: " + err.Error()
	}
	if dec.More() {
		return req, 0, 0, http.StatusBadRequest, "body has data after the JSON object"
	}
	n = 1
	if req.Samples != nil {
		n = *req.Samples
	}
	if req.Seed != nil {
		seed = *req.Seed
	}
	d := strings.TrimSpace(req.Description)
	switch {
	case d == "":
		return req, 0, 0, http.StatusBadRequest, "description is empty"
	case len(req.Description) > s.cfg.MaxDescription:
		return req, 0, 0, http.StatusBadRequest, fmt.Sprintf("description is %d bytes, at most %d", len(req.Description), s.cfg.MaxDescription)
	case n < 1 || n > s.cfg.MaxSamples:
		return req, 0, 0, http.StatusBadRequest, fmt.Sprintf("samples is %d, want 1 to %d", n, s.cfg.MaxSamples)
	}
	return req, n, seed, 0, ""
}

func (s *server) internal(w http.ResponseWriter, what string, err error) {
	s.cfg.Log.Error("request failed", "stage", what, "error", err)
	status := http.StatusInternalServerError
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusServiceUnavailable
	}
	fail(w, status, what+": "+err.Error())
}

// fail answers with a JSON {"error": msg}.
func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// Zip packs adapters as PEFT folders sample-<i>/ (adapter_model.safetensors,
// adapter_config.json) in a zip archive.
func Zip(adapters []*lora.Adapter, backbone string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	now := time.Now()
	for i, a := range adapters {
		weights, config, err := lora.EncodePEFT(a, backbone)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
		// Float weights hardly compress; storing them keeps latency down.
		for _, f := range []struct {
			name   string
			data   []byte
			method uint16
		}{{lora.PEFTWeightsFile, weights, zip.Store}, {lora.PEFTConfigFile, config, zip.Deflate}} {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: lora.PEFTSampleDir(i) + "/" + f.name, Method: f.method, Modified: now})
			if err != nil {
				return nil, err
			}
			if _, err := fw.Write(f.data); err != nil {
				return nil, err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
