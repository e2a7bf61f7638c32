// Package task defines what an experiment is made of: tasks (a dataset seen through a
// domain, described in free text) and zero-shot splits into seen and novel tasks.
package task

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Task is one (dataset, domain) pair. The generator only ever sees its Description;
// the evaluator uses Dataset, Domain and Params to build its data.
type Task struct {
	ID          string
	Description string
	Dataset     string
	Domain      []Transform
	Params      map[string]any
}

// Transform is one named image transform with numeric arguments, written
// "rotate(45)" or "flip_h" in TOML.
type Transform struct {
	Name string
	Args []float64
}

func (t Transform) String() string {
	if len(t.Args) == 0 {
		return t.Name
	}
	parts := make([]string, len(t.Args))
	for i, a := range t.Args {
		parts[i] = strconv.FormatFloat(a, 'g', -1, 64)
	}
	return t.Name + "(" + strings.Join(parts, ", ") + ")"
}

// ParseTransform parses "name", "name()" or "name(a, b, ...)" with numeric arguments.
func ParseTransform(s string) (Transform, error) {
	s = strings.TrimSpace(s)
	name, rest, hasArgs := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	if name == "" {
		return Transform{}, fmt.Errorf("transform %q has no name", s)
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return Transform{}, fmt.Errorf("transform %q: name %q may hold only letters, digits and _", s, name)
		}
	}
	t := Transform{Name: name}
	if !hasArgs {
		return t, nil
	}
	body, ok := strings.CutSuffix(strings.TrimSpace(rest), ")")
	if !ok {
		return Transform{}, fmt.Errorf("transform %q: missing closing parenthesis", s)
	}
	if strings.TrimSpace(body) == "" {
		return t, nil
	}
	for _, f := range strings.Split(body, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			err = fmt.Errorf("not finite")
		}
		if err != nil {
			return Transform{}, fmt.Errorf("transform %q: argument %q is not a number", s, strings.TrimSpace(f))
		}
		t.Args = append(t.Args, v)
	}
	return t, nil
}

// Split is one zero-shot split: experts are trained on Seen, LoRAs are generated for Novel.
type Split struct {
	Name  string
	Seen  []string
	Novel []string
}
