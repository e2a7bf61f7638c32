package results

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMetricsCheck(t *testing.T) {
	a, b := Metric{Name: "acc"}, Metric{Name: "loss", LowerIsBetter: true}
	cases := []struct {
		m    Metrics
		want string // "" for none
	}{
		{Metrics{All: []Metric{a, b}, Headline: []string{"loss"}}, ""},
		{LegacyMetrics, ""},
		{Metrics{}, "declares no metrics"},
		{Metrics{All: []Metric{a}}, "declares no headline metric (one of acc)"},
		{Metrics{All: []Metric{a, a}, Headline: []string{"acc"}}, `metric "acc" is declared twice`},
		{Metrics{All: []Metric{{}}, Headline: []string{"acc"}}, "metric 1 has no name"},
		{Metrics{All: []Metric{a}, Headline: []string{"f1"}}, `headline metric "f1" is not among its metrics (acc)`},
	}
	for _, tc := range cases {
		err := tc.m.Check("evaluator x")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.m, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "evaluator x")):
			t.Errorf("%+v: %v, want %q", tc.m, err, tc.want)
		}
	}
	m := Metrics{All: []Metric{a, b}, Headline: []string{"loss", "acc"}}
	if p := m.Primary(); p != b {
		t.Errorf("primary %+v, want %+v", p, b)
	}
	if got := m.Lookup("f1"); got != (Metric{Name: "f1"}) {
		t.Errorf("Lookup of an undeclared metric: %+v", got)
	}
}

// TestReadMetrics: the folder's manifest first (its latest invocation that records
// metrics), else a shard's, else the legacy recalls, not found.
func TestReadMetrics(t *testing.T) {
	acc := `{"metrics":[{"name":"acc"}],"headline":["acc"]}`
	loss := `{"metrics":[{"name":"loss","lower_is_better":true}],"headline":["loss"]}`
	inv := func(ms string) string { return `{"invocations":[{"evaluator_metrics":` + ms + `},{"jobs":1}]}` }
	cases := []struct {
		name          string
		folder, shard string // manifests; "" for none
		want          string // the primary metric; "" for not found
		wantErr       string
	}{
		{"no manifest", "", "", "", ""},
		{"the folder's", inv(acc), inv(loss), "acc", ""},
		{"a run of shards only", "", inv(loss), "loss", ""},
		{"a folder manifest without metrics", `{"invocations":[{"jobs":1}]}`, inv(loss), "loss", ""},
		{"an older single-invocation manifest", `{"jobs":1}`, "", "", ""},
		{"an unreadable manifest", `{"invocations":`, "", "", "manifest.json"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		writeManifests(t, dir, tc.folder, tc.shard)
		m, found, err := ReadMetrics(dir)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (found || m.Primary().Name != LegacyMetrics.Primary().Name):
			t.Errorf("%s: found %v, primary %q; want the legacy metrics, not found", tc.name, found, m.Primary().Name)
		case tc.want != "" && (!found || m.Primary().Name != tc.want):
			t.Errorf("%s: found %v, primary %q; want %q", tc.name, found, m.Primary().Name, tc.want)
		}
	}
}

func TestReadSplits(t *testing.T) {
	cfg := func(names ...string) string {
		var s []string
		for _, n := range names {
			s = append(s, `{"Name":"`+n+`","Seen":["x"],"Novel":["y"]}`)
		}
		return `{"config":{"Name":"e","Splits":[` + strings.Join(s, ",") + `]}}`
	}
	cases := []struct {
		name          string
		folder, shard string // manifests; "" for none
		want          []string
		wantErr       string
	}{
		{"no manifest", "", "", nil, ""},
		{"the newest invocation's", `{"invocations":[` + cfg("a", "b") + `,` + cfg("val-b", "val-a") + `]}`, "", []string{"val-b", "val-a"}, ""},
		{"a run of shards only", "", `{"invocations":[` + cfg("z", "y") + `]}`, []string{"z", "y"}, ""},
		{"an invocation without a configuration", `{"invocations":[` + cfg("a", "b") + `,{"jobs":1}]}`, "", []string{"a", "b"}, ""},
		{"an older manifest without one", `{"jobs":1}`, "", nil, ""},
		{"an unreadable manifest", `{"invocations":`, "", nil, "manifest.json"},
		{"an unreadable configuration", `{"invocations":[{"config":{"Splits":3}}]}`, "", nil, "manifest.json"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		writeManifests(t, dir, tc.folder, tc.shard)
		got, err := ReadSplits(dir)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !slices.Equal(got, tc.want):
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// writeManifests writes the output folder dir's manifest and shard 3's; "" writes none.
func writeManifests(t *testing.T, dir, folder, shard string) {
	t.Helper()
	for path, text := range map[string]string{filepath.Join(dir, ManifestName): folder, ShardManifest(dir, 3): shard} {
		if text == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
