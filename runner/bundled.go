package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// bundled are the Python plugins that ship in the repository, by path from its root.
// They are not built into the binary: an experiment names them by path, and `runner
// plugins` describes them by starting each (Info needs no configuration, so no weights).
var bundled = []struct{ kind, path string }{
	{plugin.KindEncoder, "plugins/encoder/cliptext/main.py"},
	{plugin.KindEvaluator, "plugins/evaluator/clip/main.py"},
}

// repoRoot finds the repository holding the bundled plugins: the working directory or
// the executable's folder, or one of their parents. "" when neither is in one.
func repoRoot() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, bundled[0].path)); err == nil {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

// listBundled describes the bundled Python plugins with their default parameters, or
// says why it cannot (no repository here, or no Python with the plugins' packages).
func listBundled(ctx context.Context, w io.Writer) {
	root := repoRoot()
	if root == "" {
		fmt.Fprintf(w, "\nPython plugins (%s, ...): not found; run `runner plugins` inside the sglab repository to list them\n", bundled[0].path)
		return
	}
	fmt.Fprintf(w, "\nPython plugins in %s (name them by path in an experiment, e.g. plugin = \"../%s\"):\n", root, bundled[len(bundled)-1].path)
	host := &rpc.Host{}
	defer host.KillAll()
	for _, b := range bundled {
		path := filepath.Join(root, b.path)
		info, err := bundledInfo(ctx, host, b.kind, path)
		if err != nil {
			fmt.Fprintf(w, "%s %s: cannot describe it: %s\n    (it needs /usr/bin/python3 with python3-torch, python3-numpy, python3-pil, "+
				"python3-grpcio, python3-protobuf and python3-cryptography)\n", b.kind, b.path, lastLine(err.Error()))
			continue
		}
		printInfo(w, b.kind+" "+b.path, info)
	}
}

func bundledInfo(ctx context.Context, host *rpc.Host, kind, path string) (plugin.Info, error) {
	c, err := host.Start(ctx, rpc.Spec{Kind: kind, Path: path, StartTimeout: time.Minute})
	if err != nil {
		return plugin.Info{}, err
	}
	defer c.Kill()
	if kind == plugin.KindEncoder {
		return c.Encoder().Info(ctx)
	}
	return c.Evaluator().Info(ctx)
}

// lastLine is the last line of a start error: the plugin's last stderr line (say, a
// Python ImportError) when there is one.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}
