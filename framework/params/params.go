// Package params decodes a plugin's TOML parameter block into a Go struct, strictly:
// an unknown key or a value of the wrong type is an error that names the key. The same
// struct, with its defaults filled in, documents the parameters for Info.
//
// Fields are bound by a `param:"name"` tag, documented by a `doc:"..."` tag and
// constrained by min, max, above, below and oneof tags (see constraints.go):
//
//	type Config struct {
//		TopK int     `param:"top_k" min:"1" doc:"experts kept; the paper's default"`
//		Tau  float64 `param:"tau" above:"0" doc:"softmax temperature"`
//	}
//
// A check that involves several parameters stays in the plugin's code and reports
// through Problems, beside Decode's.
package params

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/sglab/sglab/framework/plugin"
)

// Problem is one bad parameter.
type Problem struct {
	Key string // the parameter, as in the TOML
	Msg string
}

func (p Problem) Error() string { return fmt.Sprintf("parameter %q: %s", p.Key, p.Msg) }

// Problems collects every bad parameter of a block, so that a plugin reports them all
// at once rather than the first. Its message puts each on a line of its own,
//
//	parameter "top_k": must be at least 1, got 0
//
// which is the form the runner reads to point at the line of that key in the
// experiment file; plugins in other languages do well to write theirs alike.
type Problems []Problem

// Add records a problem of key.
func (ps *Problems) Add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Err is ps as an error, nil when there is no problem.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Decode sets the fields of *dst named by p's keys. Fields whose key is absent keep
// their current value, which is how defaults are given. Every unknown key, bad value
// and broken constraint is reported, as Problems in key order; the fields of bad values
// (and values that break their constraint) keep their current value, so that a check of
// the decoded struct can go on and report its own problems alongside. The current
// values of the keys p does not give (the defaults) are checked against the
// constraints too.
func Decode(p map[string]any, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic("params: Decode needs a pointer to a struct")
	}
	fields := fieldsOf(v.Elem())
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs Problems
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			errs.Add(k, "unknown (known: %s)", strings.Join(sortedKeys(fields), ", "))
		}
	}
	for _, k := range sortedKeys(fields) {
		f := fields[k]
		c, err := parseConstraint(f.field)
		if err != nil {
			errs.Add(k, "%v", err)
			continue
		}
		x, given := p[k]
		if !given {
			if msg := c.check(f.value); msg != "" {
				errs.Add(k, "%s", msg)
			}
			continue
		}
		tmp := reflect.New(f.value.Type()).Elem()
		if err := set(tmp, x); err != nil {
			errs.Add(k, "%v", err)
			continue
		}
		if msg := c.check(tmp); msg != "" {
			errs.Add(k, "%s", msg)
			continue
		}
		f.value.Set(tmp)
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return errs.Err()
}

// Describe lists the parameters of the struct *src, with its current values as
// defaults and its constraints. A malformed constraint tag is an error naming the field.
func Describe(src any) ([]plugin.Param, error) {
	v := reflect.ValueOf(src)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	var out []plugin.Param
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("param")
		if name == "" {
			continue
		}
		c, err := parseConstraint(f)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
		out = append(out, plugin.Param{
			Name:    name,
			Type:    typeName(f.Type),
			Default: format(v.Field(i)),
			Doc:     f.Tag.Get("doc"),
			Min:     c.text[iMin],
			Max:     c.text[iMax],
			Above:   c.text[iAbove],
			Below:   c.text[iBelow],
			OneOf:   c.oneOf,
		})
	}
	return out, nil
}

// field is one parameter of a struct: its declaration and its value.
type field struct {
	field reflect.StructField
	value reflect.Value
}

func fieldsOf(v reflect.Value) map[string]field {
	out := map[string]field{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("param"); name != "" {
			out[name] = field{t.Field(i), v.Field(i)}
		}
	}
	return out
}

func sortedKeys(m map[string]field) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func set(f reflect.Value, x any) error {
	switch f.Kind() {
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			return fmt.Errorf("want a boolean, got %s", describe(x))
		}
		f.SetBool(b)
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("want a string, got %s", describe(x))
		}
		f.SetString(s)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := toInt(x)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Float32, reflect.Float64:
		g, err := toFloat(x)
		if err != nil {
			return err
		}
		f.SetFloat(g)
	case reflect.Slice:
		xs, ok := x.([]any)
		if !ok {
			return fmt.Errorf("want a list, got %s", describe(x))
		}
		s := reflect.MakeSlice(f.Type(), len(xs), len(xs))
		for i, e := range xs {
			if err := set(s.Index(i), e); err != nil {
				return fmt.Errorf("element %d: %v", i, err)
			}
		}
		f.Set(s)
	default:
		panic("params: unsupported field kind " + f.Kind().String())
	}
	return nil
}

func toInt(x any) (int64, error) {
	switch n := x.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64: // JSON carries every number as float64
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), nil
		}
		return 0, fmt.Errorf("want an integer, got %v", n)
	}
	return 0, fmt.Errorf("want an integer, got %s", describe(x))
}

func toFloat(x any) (float64, error) {
	var g float64
	switch n := x.(type) {
	case float64:
		g = n
	case int64:
		g = float64(n)
	case int:
		g = float64(n)
	default:
		return 0, fmt.Errorf("want a number, got %s", describe(x))
	}
	if math.IsNaN(g) || math.IsInf(g, 0) {
		return 0, fmt.Errorf("want a finite number, got %v", g)
	}
	return g, nil
}

func describe(x any) string {
	switch x.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case nil:
		return "nothing"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%v (%T)", x, x)
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice:
		return "[]" + typeName(t.Elem())
	}
	return t.Kind().String()
}

// Format writes a plain parameter value (a string, bool, integer, float or list of them)
// the way Describe writes defaults, so that a value and the default it equals format
// alike.
func Format(v any) string { return format(reflect.ValueOf(v)) }

func format(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Invalid:
		return "nothing"
	case reflect.Interface:
		return format(v.Elem())
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = format(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}
