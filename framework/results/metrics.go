package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Metric describes one metric an evaluator returns: the evaluator declares it in its
// Info, the runner records it in the manifest, and reports read it from there, so that
// a metric's name is written once, by the evaluator.
type Metric struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// LowerIsBetter is false for the common case, so that an evaluator that says
	// nothing ranks by the highest value.
	LowerIsBetter bool `json:"lower_is_better,omitempty"`
}

// Metrics is what an evaluator's trial metrics are: every metric, in the order the
// tables show them, and the headline metrics the statistics and comparisons use, the
// primary first.
type Metrics struct {
	All      []Metric `json:"metrics"`
	Headline []string `json:"headline"`
}

// Primary is the first headline metric: the one that picks the best adapter and that
// the transfer diagnostic compares by default.
func (m Metrics) Primary() Metric {
	if len(m.Headline) == 0 {
		return Metric{}
	}
	return m.Lookup(m.Headline[0])
}

// Lookup returns the metric named name, or a Metric with only that name when m does
// not describe it.
func (m Metrics) Lookup(name string) Metric {
	for _, x := range m.All {
		if x.Name == name {
			return x
		}
	}
	return Metric{Name: name}
}

// Names lists the metrics' names in order.
func (m Metrics) Names() []string {
	out := make([]string, len(m.All))
	for i, x := range m.All {
		out[i] = x.Name
	}
	return out
}

// Check reports what makes m unusable: no metric, an empty or repeated name, or a
// headline metric that is not among the metrics. what names the declarer in errors.
func (m Metrics) Check(what string) error {
	var errs []error
	if len(m.All) == 0 {
		errs = append(errs, fmt.Errorf("%s declares no metrics", what))
	}
	seen := map[string]bool{}
	for i, x := range m.All {
		switch {
		case x.Name == "":
			errs = append(errs, fmt.Errorf("%s: metric %d has no name", what, i+1))
		case seen[x.Name]:
			errs = append(errs, fmt.Errorf("%s: metric %q is declared twice", what, x.Name))
		}
		seen[x.Name] = true
	}
	if len(m.Headline) == 0 && len(m.All) > 0 {
		errs = append(errs, fmt.Errorf("%s declares no headline metric (one of %s)", what, strings.Join(m.Names(), ", ")))
	}
	for _, h := range m.Headline {
		if !seen[h] {
			errs = append(errs, fmt.Errorf("%s: headline metric %q is not among its metrics (%s)", what, h, strings.Join(m.Names(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// LegacyMetrics are the CLIP retrieval metrics every evaluator returned before
// evaluators declared theirs: what an output folder whose manifest does not name its
// metrics is read as.
var LegacyMetrics = Metrics{
	All: []Metric{
		{Name: "i2t_r1", Description: "image→text Recall@1, %"},
		{Name: "i2t_r5", Description: "image→text Recall@5, %"},
		{Name: "i2t_r10", Description: "image→text Recall@10, %"},
		{Name: "t2i_r1", Description: "text→image Recall@1, %"},
		{Name: "t2i_r5", Description: "text→image Recall@5, %"},
		{Name: "t2i_r10", Description: "text→image Recall@10, %"},
	},
	Headline: []string{"i2t_r1", "t2i_r1"},
}

// ReadMetrics returns the evaluator metrics the manifest in dir records, from its most
// recent invocation that records them, or else those a shard's manifest records (a run
// made of shards only has no manifest of its own). found is false, with LegacyMetrics,
// when no manifest records them (none, or an older sglab wrote them); callers say so.
func ReadMetrics(dir string) (m Metrics, found bool, err error) {
	found, err = fromManifests(dir, func(path string, raw json.RawMessage) (bool, error) {
		var inv struct {
			Metrics *Metrics `json:"evaluator_metrics"`
		}
		if err := json.Unmarshal(raw, &inv); err != nil {
			return false, fmt.Errorf("results: manifest %s: %w", path, err)
		}
		if inv.Metrics == nil {
			return false, nil
		}
		if err := inv.Metrics.Check("manifest " + path); err != nil {
			return false, fmt.Errorf("results: %w", err)
		}
		m = *inv.Metrics
		return true, nil
	})
	if err != nil || !found {
		return LegacyMetrics, false, err
	}
	return m, true, nil
}
