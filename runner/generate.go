package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sglab/sglab/framework/config"
	"github.com/sglab/sglab/framework/plugin/rpc"
	"github.com/sglab/sglab/runner/driver"
	"github.com/sglab/sglab/runner/service"
)

// fitFlags are the flags of the commands that fit one method: generate and serve.
type fitFlags struct {
	driverFlags
	method, split *string
	load          *string // --fit; nil for `runner fit`
}

func addFitFlags(fs *flag.FlagSet) fitFlags {
	return fitFlags{driverFlags: addPluginFlags(fs),
		method: fs.String("method", "", "the experiment's generator method `NAME` to fit (required)"),
		split:  fs.String("split", "", "the split `NAME` whose seen tasks form the library (default: the first)")}
}

// addLoadFlag adds --fit, a saved fit to load instead of fitting.
func (f *fitFlags) addLoadFlag(fs *flag.FlagSet) {
	f.load = fs.String("fit", "", "a fit `FILE` written by runner fit, to load instead of fitting (refused when fitted on another library)")
}

// fit loads the experiment and fits the method, with plugins that a signal kills. On
// failure it has written the error and returns the exit code.
func (f fitFlags) fit(cmd string, exp *config.Experiment, stderr io.Writer) (*driver.Fitted, context.Context, func(), int) {
	if *f.method == "" {
		fmt.Fprintf(stderr, "runner %s: --method is required\n", cmd)
		return nil, nil, nil, 2
	}
	host := &rpc.Host{}
	opt := f.options(stderr, host)
	ctx, stop := interruptible(host, opt.Log)
	done := func() { stop(); host.KillAll() }
	fo := driver.FitOptions{Options: opt, Method: *f.method, Split: *f.split}
	if f.load != nil {
		fo.Load = *f.load
	}
	fitted, err := driver.Fit(ctx, exp, fo)
	if ctx.Err() != nil {
		done()
		fmt.Fprintf(stderr, "runner %s: interrupted; trained experts are in the cache and a rerun reuses them\n", cmd)
		return nil, nil, nil, exitCode(ctx)
	}
	if err != nil {
		done()
		fmt.Fprintf(stderr, "runner %s: %v\n", cmd, err)
		return nil, nil, nil, 1
	}
	return fitted, ctx, done, 0
}

// cmdGenerate fits a method on the experiment's library and writes the LoRAs it
// generates for one description as PEFT folders.
func cmdGenerate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("generate")
	flags := addFitFlags(fs)
	flags.addLoadFlag(fs)
	description := fs.String("description", "", "the novel task's description `TEXT` (required)")
	samples := fs.Int("samples", 1, "adapters to generate")
	seed := fs.Uint64("seed", 1, "generation seed; the same seed gives the same adapters")
	out := fs.String("out", "", "`DIR` to write sample-<i>/ PEFT folders into (required)")
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	switch {
	case *description == "":
		fmt.Fprintln(stderr, "runner generate: --description is required")
		return 2
	case *out == "":
		fmt.Fprintln(stderr, "runner generate: --out is required")
		return 2
	case *samples < 1 || *samples > config.MaxSamples:
		fmt.Fprintf(stderr, "runner generate: --samples is %d, want 1 to %d\n", *samples, config.MaxSamples)
		return 2
	}
	fitted, ctx, done, code := flags.fit("generate", exp, stderr)
	if fitted == nil {
		return code
	}
	defer done()
	defer fitted.Close()
	target, err := fitted.Embed(ctx, *description)
	if err != nil {
		fmt.Fprintln(stderr, "runner generate:", err)
		return 1
	}
	start := time.Now()
	adapters, err := fitted.Generate(ctx, target, *samples, *seed)
	if err != nil {
		fmt.Fprintln(stderr, "runner generate:", err)
		return 1
	}
	elapsed := time.Since(start)
	dirs, err := driver.WritePEFT(*out, adapters, fitted.Backbone)
	if err != nil {
		fmt.Fprintln(stderr, "runner generate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s on split %s (seed %d, %d experts, %s): %d adapters for %q in %.0f ms, base model %q\n",
		fitted.Method, fitted.Split, fitted.Seed, fitted.Experts, fitHow(fitted), len(adapters), *description, float64(elapsed.Microseconds())/1000, fitted.Backbone)
	for _, d := range dirs {
		fmt.Fprintln(stdout, d)
	}
	return 0
}

// cmdServe fits a method once and serves generated LoRAs over HTTP until a signal.
func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve")
	flags := addFitFlags(fs)
	flags.addLoadFlag(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on, `HOST:PORT` (port 0 picks a free one)")
	maxSamples := fs.Int("max-samples", service.DefaultMaxSamples, "most samples one request may ask for")
	parallel := fs.Int("parallel", 0, "requests generating at once (0: the cores); others wait")
	timeout := fs.Duration("timeout", service.DefaultTimeout, "how long one request may take, waiting included")
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	if *maxSamples < 1 || *maxSamples > config.MaxSamples {
		fmt.Fprintf(stderr, "runner serve: --max-samples is %d, want 1 to %d\n", *maxSamples, config.MaxSamples)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "runner serve:", err)
		return 1
	}
	defer ln.Close()
	fitted, ctx, done, code := flags.fit("serve", exp, stderr)
	if fitted == nil {
		return code
	}
	defer done()
	defer fitted.Close()
	log := newLogger(stderr, *flags.quiet)
	srv := &http.Server{
		Handler: service.New(service.Config{Gen: fitted, Backbone: fitted.Backbone, Alive: fitted.Alive,
			Refused:    func(err error) bool { var d *driver.DescriptionError; return errors.As(err, &d) },
			MaxSamples: *maxSamples, Parallel: *parallel, Timeout: *timeout, Log: log.Named("serve")}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// The address line is for scripts and tests: it names the port when --addr asked for 0.
	fmt.Fprintf(stdout, "serving %s (split %s, %d experts, %s) on http://%s\n", fitted.Method, fitted.Split, fitted.Experts, fitHow(fitted), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "runner serve:", err)
		return 1
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shut)
	fmt.Fprintln(stderr, "runner serve: stopped")
	return exitCode(ctx)
}

// fitHow says whether the generator was fitted or loaded from a fit file.
func fitHow(f *driver.Fitted) string {
	if f.Loaded {
		return "fit loaded, library " + f.Library
	}
	return "fitted, library " + f.Library
}

// cmdFit fits a method on the experiment's library, as generate and serve do, and saves
// the fit with the hash of that library for `generate --fit` and `serve --fit`.
func cmdFit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fit")
	flags := addFitFlags(fs)
	out := fs.String("out", "", "the fit `FILE` to write (required)")
	exp, code := loadExperiment(fs, args, stdout, stderr)
	if exp == nil {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "runner fit: --out is required")
		return 2
	}
	start := time.Now()
	fitted, ctx, done, code := flags.fit("fit", exp, stderr)
	if fitted == nil {
		return code
	}
	defer done()
	defer fitted.Close()
	if err := fitted.SaveFit(ctx, *out); err != nil {
		fmt.Fprintln(stderr, "runner fit:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s on split %s (seed %d, %d experts) fitted in %.1f s; saved to %s (library %s)\n",
		fitted.Method, fitted.Split, fitted.Seed, fitted.Experts, time.Since(start).Seconds(), *out, fitted.Library)
	return 0
}
