package plugintest

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/plugin"
)

// GeneratorOptions fit the generator suite to a generator.
type GeneratorOptions struct {
	Common
	Library LibraryOptions // what it fits on
	Samples int            // n asked of Generate; default 3
}

// Generator runs the conformance suite of generators, each check on a fresh plugin
// from newGen:
//
//   - info: kind, name, version, every parameter with its type, default and doc;
//   - unknown_parameter_refused_by_name, every_bad_parameter_reported_at_once (one
//     Configure with a wrong value for every parameter, and Common.Bad, names them
//     all), declared_constraints_enforced (one Configure with a value breaking each
//     constraint Info declares names them all), documented_defaults_accepted (with
//     Common.Placeholders, the bare defaults refused for those keys only);
//   - generate_before_fit_refused: the plugin's own error, saying Fit is missing
//     (over the protocol the client asks the plugin and calls adapters before Fit
//     bad data, so a plugin that answers fails here too);
//   - n_samples_of_the_library_schema: Generate(n) returns n adapters of the
//     library's schema, finite; Generate(1) returns one;
//   - same_seed_same_output: the same fit and generate seeds give the same adapters bit
//     for bit, from the same plugin and from a fresh one.
func Generator(t *testing.T, newGen func(testing.TB) plugin.Generator, o GeneratorOptions) {
	t.Helper()
	runChecks(t, generatorChecks(o), newGen)
}

func generatorChecks(o GeneratorOptions) []check[plugin.Generator] {
	if o.Samples == 0 {
		o.Samples = 3
	}
	lo := o.Library.withDefaults()
	target := Target(lo.Dim, 99)
	const fitSeed, genSeed = 5, 7
	fitted := func(t testing.TB, newGen func(testing.TB) plugin.Generator, lib plugin.Library) (plugin.Generator, error) {
		g, err := configured(t, newGen, o.Common)
		if err != nil {
			return g, err
		}
		if err := g.Fit(ctx, lib, fitSeed); err != nil {
			return g, fmt.Errorf("Fit on a library of %d experts × %d snapshots: %v", lo.Experts, lo.Snapshots, err)
		}
		return g, nil
	}
	return append(baseChecks[plugin.Generator](plugin.KindGenerator, o.Common, nil),
		check[plugin.Generator]{"generate_before_fit_refused", func(t testing.TB, newGen func(testing.TB) plugin.Generator) error {
			g, err := configured(t, newGen, o.Common)
			if err != nil {
				return err
			}
			as, err := g.Generate(ctx, target, 1, genSeed)
			if err == nil {
				return fmt.Errorf("Generate before Fit returned %d adapters, want an error", len(as))
			}
			if err := pluginRefused(err); err != nil {
				return fmt.Errorf("Generate before Fit: %v", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), "fit") {
				return fmt.Errorf("Generate before Fit: the error does not say that Fit is missing: %v", err)
			}
			return nil
		}},
		check[plugin.Generator]{"n_samples_of_the_library_schema", func(t testing.TB, newGen func(testing.TB) plugin.Generator) error {
			lib := Library(t, lo)
			g, err := fitted(t, newGen, lib)
			if err != nil {
				return err
			}
			for _, n := range []int{o.Samples, 1} {
				as, err := g.Generate(ctx, target, n, genSeed)
				if err != nil {
					return fmt.Errorf("Generate(n = %d): %v", n, err)
				}
				if len(as) != n {
					return fmt.Errorf("Generate(n = %d) returned %d adapters", n, len(as))
				}
				for i, a := range as {
					if err := checkAdapter(a, lib.Schema); err != nil {
						return fmt.Errorf("Generate(n = %d): sample %d: %v", n, i, err)
					}
				}
			}
			return nil
		}},
		check[plugin.Generator]{"same_seed_same_output", func(t testing.TB, newGen func(testing.TB) plugin.Generator) error {
			lib := Library(t, lo)
			var runs [][]*lora.Adapter
			for i := range 2 { // a fresh plugin each time, its second Generate too
				g, err := fitted(t, newGen, lib)
				if err != nil {
					return err
				}
				for range 2 - i {
					as, err := g.Generate(ctx, target, o.Samples, genSeed)
					if err != nil {
						return fmt.Errorf("Generate: %v", err)
					}
					runs = append(runs, as)
				}
			}
			for r, what := range []string{"a second Generate with the same seed", "a fresh plugin fitted and asked with the same seeds"} {
				if err := sameAdapters(runs[0], runs[r+1]); err != nil {
					return fmt.Errorf("%s gave other adapters: %v", what, err)
				}
			}
			return nil
		}},
	)
}

// checkAdapter checks that a has schema s (module for module) and finite parameters.
func checkAdapter(a *lora.Adapter, s lora.Schema) error {
	if a == nil {
		return fmt.Errorf("nil adapter")
	}
	if err := s.Compatible(a.Schema); err != nil {
		return fmt.Errorf("not of the library's schema: %v", err)
	}
	if len(a.Params) != s.NumParams() {
		return fmt.Errorf("%d parameters, the schema has %d", len(a.Params), s.NumParams())
	}
	return a.CheckFinite()
}

func sameAdapters(a, b []*lora.Adapter) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d adapters, then %d", len(a), len(b))
	}
	for i := range a {
		if err := sameBits(a[i].Params, b[i].Params); err != nil {
			return fmt.Errorf("sample %d: %v", i, err)
		}
	}
	return nil
}

// sameBits reports the first difference between two vectors, bit for bit.
func sameBits(a, b []float32) error {
	if len(a) != len(b) {
		return fmt.Errorf("lengths %d and %d", len(a), len(b))
	}
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			return fmt.Errorf("element %d: %v, then %v", j, a[j], b[j])
		}
	}
	return nil
}
