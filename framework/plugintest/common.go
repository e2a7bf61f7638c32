package plugintest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/plugin/rpc"
)

// Common is what every suite needs to know of the plugin.
type Common struct {
	// Name, when set, is the name the plugin's Info must give (a registry's name).
	Name string
	// Params configure the plugin for the checks that use it: small and fast.
	Params plugin.Params
	// Bad are values Configure must refuse, each with an error naming its key, that
	// only the plugin's own checks know of (parameters checked together, a file that
	// must exist); the suite adds a value of the wrong type for every documented
	// parameter and an unknown key, and sends them all in one call. Constraints Info
	// declares are checked without this.
	Bad plugin.Params
	// Placeholders are values for parameters whose documented default cannot configure
	// the plugin where the suite runs: an empty path the user must fill in, a preset
	// whose files only the user has. documented_defaults_accepted then checks that the
	// bare defaults are refused naming placeholder keys only, and that the defaults with
	// these values put in are accepted. Leave it empty when the defaults configure.
	Placeholders plugin.Params
}

// check is one conformance check on a fresh plugin of type P; it returns the first
// way the plugin breaks the contract.
type check[P plugin.Base] struct {
	name string
	run  func(t testing.TB, newPlugin func(testing.TB) P) error
}

// runChecks runs each check as a subtest.
func runChecks[P plugin.Base](t *testing.T, checks []check[P], newPlugin func(testing.TB) P) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(t, newPlugin); err != nil {
				t.Error(err)
			}
		})
	}
}

var ctx = context.Background()

// baseChecks are the checks of Info and Configure every kind shares; info checks
// what is particular to the kind.
func baseChecks[P plugin.Base](kind string, o Common, info func(plugin.Info) error) []check[P] {
	return []check[P]{
		{"info", func(t testing.TB, newPlugin func(testing.TB) P) error {
			in, err := newPlugin(t).Info(ctx)
			if err != nil {
				return fmt.Errorf("Info: %v", err)
			}
			return checkInfo(in, kind, o.Name, info)
		}},
		{"unknown_parameter_refused_by_name", func(t testing.TB, newPlugin func(testing.TB) P) error {
			const key = "no_such_parameter"
			err := newPlugin(t).Configure(ctx, plugin.Params{key: int64(1)})
			return namesEvery(err, "Configure with an unknown parameter", []string{key})
		}},
		{"every_bad_parameter_reported_at_once", func(t testing.TB, newPlugin func(testing.TB) P) error {
			p := newPlugin(t)
			in, err := p.Info(ctx)
			if err != nil {
				return fmt.Errorf("Info: %v", err)
			}
			bad := plugin.Params{"no_such_parameter": int64(1)}
			for _, d := range in.Params {
				// A table is the wrong type for every parameter type there is.
				bad[d.Name] = map[string]any{"wrong": "type"}
			}
			for k, v := range o.Bad {
				bad[k] = v
			}
			return namesEvery(p.Configure(ctx, bad), "Configure with a bad value for every parameter", sortedKeys(bad))
		}},
		{"declared_constraints_enforced", func(t testing.TB, newPlugin func(testing.TB) P) error {
			p := newPlugin(t)
			in, err := p.Info(ctx)
			if err != nil {
				return fmt.Errorf("Info: %v", err)
			}
			bad := plugin.Params{}
			for _, d := range in.Params {
				v, ok, err := breaking(d)
				if err != nil {
					return err
				}
				if ok {
					bad[d.Name] = v
				}
			}
			if len(bad) == 0 {
				t.Skip("Info declares no constraint")
			}
			return namesEvery(p.Configure(ctx, bad), "Configure with a value breaking each declared constraint "+fmt.Sprint(bad), sortedKeys(bad))
		}},
		{"documented_defaults_accepted", func(t testing.TB, newPlugin func(testing.TB) P) error {
			p := newPlugin(t)
			in, err := p.Info(ctx)
			if err != nil {
				return fmt.Errorf("Info: %v", err)
			}
			defaults, err := documentedDefaults(in.Params)
			if err != nil {
				return err
			}
			what := "the defaults Info documents"
			if len(o.Placeholders) > 0 {
				if err := placeholdersRefused(p.Configure(ctx, defaults), defaults, o.Placeholders); err != nil {
					return err
				}
				maps.Copy(defaults, o.Placeholders)
				what += ", placeholders put in"
			}
			if err := p.Configure(ctx, defaults); err != nil {
				return fmt.Errorf("Configure with %s (%v): %v", what, defaults, err)
			}
			if err := p.Configure(ctx, o.Params); err != nil {
				return fmt.Errorf("Configure with the suite's parameters %v: %v", o.Params, err)
			}
			return nil
		}},
	}
}

// checkInfo checks what every plugin's Info says, then what info checks of its kind.
func checkInfo(in plugin.Info, kind, name string, info func(plugin.Info) error) error {
	var bad []string
	if in.Kind != kind {
		bad = append(bad, fmt.Sprintf("kind %q, want %q", in.Kind, kind))
	}
	if in.Name == "" || strings.TrimSpace(in.Name) != in.Name || strings.ContainsAny(in.Name, " \t\n/") {
		bad = append(bad, fmt.Sprintf("name %q: want a non-empty name without spaces or slashes", in.Name))
	}
	if name != "" && in.Name != name {
		bad = append(bad, fmt.Sprintf("name %q, registered as %q", in.Name, name))
	}
	if in.Version == "" {
		bad = append(bad, "no version")
	}
	seen := map[string]bool{}
	for i, p := range in.Params {
		switch {
		case p.Name == "":
			bad = append(bad, fmt.Sprintf("parameter %d has no name", i))
		case seen[p.Name]:
			bad = append(bad, fmt.Sprintf("parameter %q documented twice", p.Name))
		case p.Type == "" || p.Default == "" || p.Doc == "":
			bad = append(bad, fmt.Sprintf("parameter %q lacks its type, default or doc (%+v)", p.Name, p))
		}
		seen[p.Name] = true
	}
	if kind != plugin.KindEvaluator && (len(in.Schema) > 0 || len(in.Datasets) > 0 || len(in.Transforms) > 0 || len(in.Metrics) > 0) {
		bad = append(bad, "sets the fields of an evaluator's Info (schema, datasets, transforms, metrics)")
	}
	if info != nil {
		if err := info(in); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("Info %s/%s: %s", in.Kind, in.Name, strings.Join(bad, "; "))
	}
	return nil
}

// namesEvery checks that err is a refusal naming every key as `parameter "key"`, the
// form the runner places at the key's line of the experiment.
func namesEvery(err error, what string, keys []string) error {
	if err == nil {
		return fmt.Errorf("%s was accepted", what)
	}
	var missing []string
	for _, k := range keys {
		if !strings.Contains(err.Error(), "parameter "+strconv.Quote(k)) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the error does not name %s as `parameter %q: ...`:\n%v", what, strings.Join(missing, ", "), missing[0], err)
	}
	return nil
}

// placeholdersRefused checks that err, the answer to Configure with the documented
// defaults, refuses them by name for placeholder keys and for nothing else: a default
// of the wrong type or out of its bounds must still fail the check.
func placeholdersRefused(err error, documented, placeholders plugin.Params) error {
	keys := sortedKeys(placeholders)
	for _, k := range keys {
		if _, ok := documented[k]; !ok {
			return fmt.Errorf("placeholder %q: Info documents no such parameter", k)
		}
	}
	if err == nil {
		return fmt.Errorf("Configure with the documented defaults (%v) was accepted: no placeholder is needed for %s", documented, strings.Join(keys, ", "))
	}
	named, others := 0, []string(nil)
	for _, k := range sortedKeys(documented) {
		if !strings.Contains(err.Error(), "parameter "+strconv.Quote(k)) {
			continue
		}
		if _, ok := placeholders[k]; ok {
			named++
		} else {
			others = append(others, k)
		}
	}
	if named == 0 || len(others) > 0 {
		return fmt.Errorf("Configure with the documented defaults (%v): want a refusal naming only placeholders (%s) as `parameter \"key\": ...`, got:\n%v", documented, strings.Join(keys, ", "), err)
	}
	return nil
}

// documentedDefaults reads every parameter's documented default as the TOML value it
// is written as.
func documentedDefaults(ps []plugin.Param) (plugin.Params, error) {
	out := plugin.Params{}
	for _, p := range ps {
		var v map[string]any
		if _, err := toml.Decode("v = "+p.Default, &v); err != nil {
			return nil, fmt.Errorf("parameter %q: its documented default %s is not a TOML value: %v", p.Name, p.Default, err)
		}
		out[p.Name] = v["v"]
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// configured is a fresh plugin configured with the suite's parameters.
func configured[P plugin.Base](t testing.TB, newPlugin func(testing.TB) P, o Common) (P, error) {
	p := newPlugin(t)
	if err := p.Configure(ctx, o.Params); err != nil {
		return p, fmt.Errorf("Configure(%v): %v", o.Params, err)
	}
	return p, nil
}

// pluginRefused checks that err, a failed call, is the plugin's own refusal: over
// the protocol a plugin's error arrives as an rpc.RemoteError, while a CallError
// without one is the client's finding (bad data, a crash, a timeout).
func pluginRefused(err error) error {
	var ce *rpc.CallError
	var re *rpc.RemoteError
	if errors.As(err, &ce) && !errors.As(err, &re) {
		return fmt.Errorf("the plugin did not refuse; the call failed: %v", err)
	}
	return nil
}

// breaking is a value of p's type that breaks its first declared constraint; ok is
// false when it declares none.
func breaking(p plugin.Param) (v any, ok bool, err error) {
	elem := strings.TrimPrefix(p.Type, "[]")
	bound := func(s string, delta float64) (any, bool, error) {
		g, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false, fmt.Errorf("parameter %q: declared bound %q is not a number", p.Name, s)
		}
		if elem == "int" {
			return int64(g + delta), true, nil
		}
		return g + delta, true, nil
	}
	switch {
	case p.Min != "":
		v, ok, err = bound(p.Min, -1)
	case p.Above != "":
		v, ok, err = bound(p.Above, 0)
	case p.Max != "":
		v, ok, err = bound(p.Max, 1)
	case p.Below != "":
		v, ok, err = bound(p.Below, 0)
	case len(p.OneOf) > 0:
		v, ok = "none of "+strings.Join(p.OneOf, ", "), true
	}
	if ok && elem != p.Type {
		v = []any{v}
	}
	return v, ok, err
}
