package results

import (
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
