package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"flag"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/results"
	"github.com/sglab/sglab/reports/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// renderTestdata renders testdata/results.jsonl in a fresh folder and returns it.
func renderTestdata(t *testing.T, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{results.FileName, results.ManifestName} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Render(dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGolden(t *testing.T) {
	dir := renderTestdata(t, Options{Title: "Golden", Formats: []string{}})
	for _, c := range []struct{ out, golden string }{
		{"summary.md", "summary.golden.md"},
		{"table.tex", "table.golden.tex"},
	} {
		got, err := os.ReadFile(filepath.Join(dir, c.out))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", c.golden)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", c.out, path, firstDiff(string(got), string(want)))
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, gl, wl)
		}
	}
	return ""
}

// TestSummaryContent checks the golden file's key facts independently of its layout.
func TestSummaryContent(t *testing.T) {
	dir := renderTestdata(t, Options{Formats: []string{}})
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	s := string(md)
	for _, want := range []string{
		"# " + filepath.Base(dir), // default title: the folder name
		"## Split mnist", "## Split fashion",
		"### Paired comparison with SG-LoRA",
		"| SG-LoRA | **", // SG-LoRA is best (oracle excluded) in this data
		"| Oracle | 53.00 ± 1.65 |",
		"## Failed (1)",
		`Unavailable \| plugin exited`,
		"| Model Soup | 5 | 2 | 1 |", // 5 units left, 1 failed
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	if strings.Contains(s, "**53.00") {
		t.Error("oracle bolded")
	}
}

func TestCSV(t *testing.T) {
	dir := renderTestdata(t, Options{Formats: []string{}})
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := results.Read(filepath.Join("testdata", results.FileName))
	trials := 0
	for _, r := range rows {
		if r.Kind == results.KindTrial {
			trials++
		}
	}
	want := "split,task,method,seed,sample,i2t_r1,i2t_r5,i2t_r10,t2i_r1,t2i_r5,t2i_r10,seconds,error"
	if got := strings.Join(recs[0], ","); got != want {
		t.Fatalf("header %s\nwant   %s", got, want)
	}
	if len(recs)-1 != trials {
		t.Fatalf("%d csv rows, %d trials", len(recs)-1, trials)
	}
	first := recs[1]
	if strings.Join(first, ",") != "mnist,rotate 45,Zero-shot,1,0,29.5,49.5,59.5,21,42,53.5,0.558," {
		t.Errorf("first row %v", first)
	}
	nerr := 0
	for _, r := range recs[1:] {
		if r[12] != "" {
			nerr++
			if r[5] != "" {
				t.Errorf("failed trial with a metric: %v", r)
			}
		}
	}
	if nerr != 1 {
		t.Errorf("%d failed rows in csv, want 1", nerr)
	}
}

func TestLaTeX(t *testing.T) {
	dir := renderTestdata(t, Options{Title: "R&D 100%", Formats: []string{}})
	tex, _ := os.ReadFile(filepath.Join(dir, "table.tex"))
	s := string(tex)
	for _, want := range []string{`\toprule`, `\midrule`, `\bottomrule`, `\caption{R\&D 100\%.`,
		`SG-LoRA top\_k=2`, `\textbf{50.53 $\pm$ 0.27}`, `\multicolumn{7}{l}{\textit{fashion}}`} {
		if !strings.Contains(s, want) {
			t.Errorf("table.tex lacks %q", want)
		}
	}
	// Every data row has 7 cells.
	for _, line := range strings.Split(s, "\n") {
		if strings.HasSuffix(line, `\\`) && !strings.Contains(line, "multicolumn") {
			if n := strings.Count(line, "&") - strings.Count(line, `\&`); n != 6 {
				t.Errorf("row with %d separators: %s", n, line)
			}
		}
	}
}

func TestFigures(t *testing.T) {
	dir := renderTestdata(t, Options{Title: "Figures"})
	rows, _ := results.Read(filepath.Join(dir, results.FileName))
	rep, err := aggregate(rows, results.LegacyMetrics, nil, "", stats.DefaultBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	figs, err := buildFigures(rep, "Figures")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.name)
		w, h := f.fig.PixelSize()
		checkPNG(t, filepath.Join(dir, f.name+".png"), w, h)
		checkSVG(t, filepath.Join(dir, f.name+".svg"))
	}
	if got := strings.Join(names, " "); got != "metrics diversity ablation_top_k heatmap" {
		t.Fatalf("figures %q", got)
	}
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if format != "png" || b.Dx() != w || b.Dy() != h {
		t.Errorf("%s: %s %dx%d, want png %dx%d", path, format, b.Dx(), b.Dy(), w, h)
	}
	if w < 300 || h < 200 {
		t.Errorf("%s: %dx%d is too small to read", path, w, h)
	}
	// Not blank: some dark pixels (text, axes) on the white background.
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x4000 {
				dark++
			}
		}
	}
	if dark < 100 {
		t.Errorf("%s looks blank (%d dark pixels)", path, dark)
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q", path, root)
	}
}

func TestRenderErrors(t *testing.T) {
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, results.FileName), nil, 0o644)
	src, _ := os.ReadFile(filepath.Join("testdata", results.FileName))
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, results.FileName), src, 0o644)
	for _, c := range []struct {
		name, dir string
		opts      Options
		want      string
	}{
		{"missing", t.TempDir(), Options{}, "results.jsonl"},
		{"empty", empty, Options{}, "no rows"},
		{"reference", full, Options{Reference: "SG-LORA"}, `"SG-LORA" is not in`},
		{"format", full, Options{Formats: []string{"gif"}}, `"gif"`},
	} {
		err := Render(c.dir, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	rows, err := results.Read(filepath.Join("testdata", results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Table(&buf, rows, results.LegacyMetrics, nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Split mnist: 3 novel tasks, seeds 1, 2", "Split fashion",
		"i2t_r1", "t2i_r10", "div_cos", "Failed",
		"SG-LoRA top_k=2", "50.53 ± 0.27", "0.115 ± 0.011",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Model Soup's row ends with its one failure.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Model Soup") && strings.Contains(line, "37.20") {
			cells := strings.Split(strings.Trim(line, "│ "), "│")
			if got := strings.TrimSpace(cells[len(cells)-1]); got != "1" {
				t.Errorf("Model Soup failed = %q in %q", got, line)
			}
		}
	}
	if err := Table(&buf, []results.Row{{Kind: "bogus"}}, results.LegacyMetrics, nil); err == nil {
		t.Error("bad rows accepted")
	}
}

// TestRenderSparse renders journals with almost nothing in them: figures that have no
// data are skipped, the rest must still draw.
func TestRenderSparse(t *testing.T) {
	one := trialRow("SG-LoRA", "a", 1, 0, 42)
	failed := trialRow("G", "a", 1, 0, 0)
	failed.Metrics, failed.Error = map[string]float64{}, "boom"
	for _, c := range []struct {
		name string
		rows []results.Row
		figs string
	}{
		{"one trial", []results.Row{one}, "metrics diversity heatmap"},
		{"all failed", []results.Row{failed}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := results.Create(filepath.Join(dir, results.FileName))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.rows {
				w.Append(r)
			}
			w.Close()
			if err := Render(dir, Options{Title: "t"}); err != nil {
				t.Fatal(err)
			}
			rep, _ := aggregate(c.rows, results.LegacyMetrics, nil, "", stats.DefaultBootstrap)
			figs, err := buildFigures(rep, "t")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range figs {
				names = append(names, f.name)
				pw, ph := f.fig.PixelSize()
				checkPNG(t, filepath.Join(dir, f.name+".png"), pw, ph)
			}
			if got := strings.Join(names, " "); got != c.figs {
				t.Errorf("figures %q, want %q", got, c.figs)
			}
			if _, err := os.Stat(filepath.Join(dir, "summary.md")); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestLongNamesBoundedFigures: a 20,000-character method name renders into figures of
// ordinary size (labels are cut), and a render leaves no temporary file behind.
func TestLongNamesBoundedFigures(t *testing.T) {
	long := strings.Repeat("m", 20000)
	rows := []results.Row{trialRow(long, "a", 1, 0, 42), trialRow("SG-LoRA", "a", 1, 0, 40)}
	dir := t.TempDir()
	w, err := results.Create(filepath.Join(dir, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		w.Append(r)
	}
	w.Close()
	if err := Render(dir, Options{Title: long}); err != nil {
		t.Fatal(err)
	}
	rep, _ := aggregate(rows, results.LegacyMetrics, nil, "", stats.DefaultBootstrap)
	figs, err := buildFigures(rep, long)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		if pw, ph := f.fig.PixelSize(); pw > 4000 || ph > 4000 {
			t.Errorf("figure %s is %d×%d pixels", f.name, pw, ph)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestRenderMetricsFromManifest: the tables follow the metrics the manifest records, in
// their direction (the lowest loss is bold), and a manifest an older sglab wrote,
// without them, is read as the CLIP recalls with a note saying so.
func TestRenderMetricsFromManifest(t *testing.T) {
	rows := []results.Row{}
	for _, m := range []struct {
		name      string
		acc, loss float64
	}{{"A", 80, 0.5}, {"B", 70, 0.25}} {
		for seed := uint64(1); seed <= 2; seed++ {
			rows = append(rows, results.Row{Kind: results.KindTrial, Split: "s", Task: "t", Method: m.name, Seed: seed,
				Metrics: map[string]float64{"acc": m.acc + float64(seed), "loss": m.loss}})
		}
	}
	write := func(t *testing.T, manifest string) string {
		return renderSummary(t, rows, manifest, Options{Reference: "A", Formats: []string{}})
	}

	md := write(t, `{"invocations": [{"experiment": "old"}, {"experiment": "new", "evaluator_metrics": {
		"metrics": [{"name": "acc", "description": "accuracy, %"}, {"name": "loss", "description": "test loss", "lower_is_better": true}],
		"headline": ["loss", "acc"]}}]}`)
	for _, want := range []string{
		"| Method | acc | loss |",
		"| A | **81.50 ± 0.71** | 0.50 ± 0.00 |",
		"| B | 71.50 ± 0.71 | **0.25 ± 0.00** |",
		"- `loss`: test loss (lower is better)",
		"| Method | Units | Seeds | Failed | loss | Std | 95% CI | acc | Std | 95% CI |",
		// B's loss is lower on both units: it wins both.
		"| B | 2 | -0.25 | [-0.25, -0.25] | 100.0% | -10.00 | [-10.00, -10.00] | 0.0% |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Note:") || strings.Contains(md, "i2t") {
		t.Errorf("declared metrics, yet:\n%s", md)
	}

	md = write(t, `{"invocations": [{"experiment": "old"}]}`)
	if !strings.Contains(md, "Note: the manifest does not record the evaluator's metrics") || !strings.Contains(md, "| Method | i2t\\_r1 |") {
		t.Errorf("an old manifest should give the recalls with a note:\n%s", md)
	}
}

// TestSplitsInDeclaredOrder: concurrent blocks of trials append to the journal in the
// order they finish, so the report orders splits as the manifest's experiment declares
// them; a split it does not declare follows. The same rows in either order give the same
// summary.md and terminal table.
func TestSplitsInDeclaredOrder(t *testing.T) {
	block := func(split string) []results.Row {
		var rows []results.Row
		for _, m := range []string{"A", "B"} {
			for seed := uint64(1); seed <= 2; seed++ {
				rows = append(rows, results.Row{Kind: results.KindTrial, Split: split, Task: "t", Method: m, Seed: seed,
					Metrics: map[string]float64{"acc": 50 + float64(seed), "loss": 1}})
			}
		}
		return rows
	}
	manifest := `{"invocations": [{"evaluator_metrics": {"metrics": [{"name": "acc"}, {"name": "loss"}], "headline": ["acc"]},
		"config": {"Splits": [{"Name": "second"}, {"Name": "first"}]}}]}`
	render := func(t *testing.T, manifest string, rows []results.Row) string {
		return renderSummary(t, rows, manifest, Options{Title: "order", Formats: []string{}})
	}
	sections := func(md string) []string {
		var out []string
		for _, line := range strings.Split(md, "\n") {
			if name, ok := strings.CutPrefix(line, "## Split "); ok {
				out = append(out, name)
			}
		}
		return out
	}
	firstThen := slices.Concat(block("first"), block("undeclared"), block("second"))
	secondThen := slices.Concat(block("undeclared"), block("second"), block("first"))
	a, b := render(t, manifest, firstThen), render(t, manifest, secondThen)
	if got, want := sections(a), []string{"second", "first", "undeclared"}; !slices.Equal(got, want) {
		t.Errorf("splits %q, want %q", got, want)
	}
	if a != b {
		t.Errorf("the same rows in another order give another summary.md:\n%s\n---\n%s", a, b)
	}
	// Without a manifest there is no declared order: the rows' order it is.
	if got, want := sections(render(t, "", secondThen)), []string{"undeclared", "second", "first"}; !slices.Equal(got, want) {
		t.Errorf("without a manifest: splits %q, want %q", got, want)
	}

	table := func(rows []results.Row) string {
		var buf bytes.Buffer
		ms := results.Metrics{All: []results.Metric{{Name: "acc"}, {Name: "loss"}}, Headline: []string{"acc"}}
		if err := Table(&buf, rows, ms, []string{"second", "first"}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	ta := table(firstThen)
	if ta != table(secondThen) || strings.Index(ta, "Split second") > strings.Index(ta, "Split first") {
		t.Errorf("terminal tables differ or are out of order:\n%s", ta)
	}
}

// renderSummary writes rows (and manifest, unless empty) into a fresh output folder,
// renders it with opts and returns summary.md.
func renderSummary(t *testing.T, rows []results.Row, manifest string, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	w, err := results.Create(filepath.Join(dir, results.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(dir, results.ManifestName), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Render(dir, opts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
