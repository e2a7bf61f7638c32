package reports

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sglab/sglab/framework/atomicfile"
	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/figures"
	"github.com/sglab/sglab/reports/stats"
)

// Options tunes Render. The zero value is a full report.
type Options struct {
	// Reference is the method every other is compared with; empty means DefaultReference
	// in the splits that have it. A name no split has is an error.
	Reference string
	// Title heads summary.md, the LaTeX caption and the figures; empty means the name of
	// the experiment folder.
	Title string
	// Formats are the figure formats, among figures.Formats; nil means png and svg, and
	// an empty non-nil slice means no figures.
	Formats []string
}

// Render reads dir/results.jsonl and writes summary.md, table.tex, results.csv and the
// figures (metrics, diversity, ablation_<param>, heatmap, one file per format) into dir.
// The journal's metrics are the ones the evaluator declared, which the manifest in dir
// records; a folder whose manifest does not (an older sglab's, or none) is read with
// results.LegacyMetrics, and summary.md says so.
func Render(dir string, opts Options) error {
	path := filepath.Join(dir, results.FileName)
	rows, err := results.Read(path)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("reports: %s has no rows", path)
	}
	formats := opts.Formats
	if formats == nil {
		formats = []string{"png", "svg"}
	}
	for _, f := range formats {
		if !slices.Contains(figures.Formats, f) {
			return fmt.Errorf("reports: unknown figure format %q (want one of %s)", f, strings.Join(figures.Formats, ", "))
		}
	}
	title := opts.Title
	if title == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		title = filepath.Base(abs)
	}
	ms, found, err := results.ReadMetrics(dir)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	order, err := results.ReadSplits(dir)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	rep, err := aggregate(rows, ms, order, opts.Reference, stats.DefaultBootstrap)
	if err != nil {
		return fmt.Errorf("%w (in %s)", err, path)
	}
	rep.Assumed = !found
	if opts.Reference != "" && !hasMethod(rep, opts.Reference) {
		return fmt.Errorf("reports: reference method %q is not in %s (methods: %s)", opts.Reference, path, strings.Join(methodNames(rep), ", "))
	}

	for _, out := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"summary.md", func(w io.Writer) error { return writeMarkdown(w, rep, title) }},
		{"table.tex", func(w io.Writer) error { return writeLaTeX(w, rep, title) }},
		{"results.csv", func(w io.Writer) error { return writeCSV(w, rows, rep.Metrics) }},
	} {
		if err := writeFile(filepath.Join(dir, out.name), out.write); err != nil {
			return err
		}
	}
	if len(formats) == 0 {
		return nil
	}
	figs, err := buildFigures(rep, title)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	for _, f := range figs {
		for _, format := range formats {
			file := filepath.Join(dir, f.name+"."+format)
			if err := writeFile(file, func(w io.Writer) error { return f.fig.Write(w, format) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile renders into memory first, so a failed rendering leaves no half file, and
// then writes atomically, so a failed write (a full disk) leaves neither a truncated
// file nor a temporary one.
func writeFile(path string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("reports: %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, buf.Bytes()); err != nil {
		return fmt.Errorf("reports: %s: %w", path, err)
	}
	return nil
}

func hasMethod(rep *report, name string) bool {
	for _, sp := range rep.Splits {
		if sp.method(name) != nil {
			return true
		}
	}
	return false
}

func methodNames(rep *report) []string {
	_, order := styles(rep)
	return order
}
