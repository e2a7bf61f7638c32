package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// file is one TOML file being checked; every error found in it goes through it, so it
// carries the file's name and line for each key.
type file struct {
	name string // as shown in errors
	dir  string // absolute folder, against which relative paths in the file resolve
	pos  positions
	l    *loader
}

func (f *file) errorf(p keyPath, format string, args ...any) {
	f.l.errs = append(f.l.errs, Error{File: f.name, Line: f.pos.line(p), Key: string(p), Msg: fmt.Sprintf(format, args...)})
}

// tbl is a decoded TOML table together with where it is.
type tbl struct {
	f *file
	p keyPath
	m map[string]any
}

func (t tbl) at(k string) keyPath { return t.p.key(k) }

func (t tbl) has(k string) bool {
	_, ok := t.m[k]
	return ok
}

// empty reports whether k is absent or an empty array.
func (t tbl) empty(k string) bool {
	switch v := t.m[k].(type) {
	case nil:
		return true
	case []any:
		return len(v) == 0
	case []map[string]any:
		return len(v) == 0
	}
	return false
}

// allow reports every key of t not in allowed.
func (t tbl) allow(allowed ...string) {
	for _, k := range sortedKeys(t.m) {
		if !slices.Contains(allowed, k) {
			msg := "unknown key"
			if s := suggest(k, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += "; allowed here: " + strings.Join(allowed, ", ")
			}
			t.f.errorf(t.at(k), "%s", msg)
		}
	}
}

func (t tbl) missing(k string) { t.f.errorf(t.at(k), "required key is missing") }

func (t tbl) wrongType(p keyPath, want string, v any) {
	t.f.errorf(p, "must be %s, not %s", want, typeName(v))
}

// str returns the string at k; ok is false when it is absent or not a string, which is an
// error if required or if it has another type.
func (t tbl) str(k string, required bool) (string, bool) {
	v, present := t.m[k]
	if !present {
		if required {
			t.missing(k)
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(t.at(k), "a string", v)
	}
	return s, ok
}

// integer returns the integer at k; ok is false when it is absent or of another type (an
// error).
func (t tbl) integer(k string) (int64, bool) {
	v, present := t.m[k]
	if !present {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.wrongType(t.at(k), "an integer", v)
	}
	return n, ok
}

// sub returns the table at k.
func (t tbl) sub(k string, required bool) (tbl, bool) {
	v, present := t.m[k]
	if !present {
		if required {
			t.f.errorf(t.at(k), "required table [%s] is missing", t.at(k))
		}
		return tbl{}, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(t.at(k), "a table", v)
		return tbl{}, false
	}
	return tbl{f: t.f, p: t.at(k), m: m}, true
}

// tables returns the array of tables at k ([[k]] sections or an array of inline tables).
func (t tbl) tables(k string) []tbl {
	v, present := t.m[k]
	if !present {
		return nil
	}
	p := t.at(k)
	var out []tbl
	switch a := v.(type) {
	case []map[string]any:
		for i, m := range a {
			out = append(out, tbl{f: t.f, p: p.index(i), m: m})
		}
	case []any:
		for i, e := range a {
			m, ok := e.(map[string]any)
			if !ok {
				t.wrongType(p.index(i), "a table", e)
				continue
			}
			out = append(out, tbl{f: t.f, p: p.index(i), m: m})
		}
	default:
		t.f.errorf(p, "must be an array of tables (write [[%s]]), not %s", k, typeName(v))
	}
	return out
}

// item is one element of an array, with where it is.
type item struct {
	v any
	p keyPath
}

// array returns the elements of the array at k; ok is false when it is absent or not an
// array (an error).
func (t tbl) array(k string, required bool) ([]item, bool) {
	v, present := t.m[k]
	if !present {
		if required {
			t.missing(k)
		}
		return nil, false
	}
	p := t.at(k)
	var out []item
	switch a := v.(type) {
	case []any:
		for i, e := range a {
			out = append(out, item{e, p.index(i)})
		}
	case []map[string]any:
		for i, e := range a {
			out = append(out, item{e, p.index(i)})
		}
	default:
		t.wrongType(p, "an array", v)
		return nil, false
	}
	return out, true
}

// strings returns the strings of the array at k, reporting elements of other types.
func (t tbl) strings(k string, required bool) ([]string, []keyPath, bool) {
	items, ok := t.array(k, required)
	if !ok {
		return nil, nil, false
	}
	var (
		vals  []string
		paths []keyPath
	)
	for _, it := range items {
		s, isStr := it.v.(string)
		if !isStr {
			t.wrongType(it.p, "a string", it.v)
			ok = false
			continue
		}
		vals = append(vals, s)
		paths = append(paths, it.p)
	}
	return vals, paths, ok
}

// plain copies a decoded TOML value into the plain Go values plugins receive (string,
// bool, int64, float64, []any, map[string]any). Date-times have no place there.
func (f *file) plain(p keyPath, v any) (any, bool) {
	switch x := v.(type) {
	case string, bool, int64, float64:
		return x, true
	case map[string]any:
		out := make(map[string]any, len(x))
		ok := true
		for _, k := range sortedKeys(x) {
			e, eok := f.plain(p.key(k), x[k])
			out[k] = e
			ok = ok && eok
		}
		return out, ok
	case []any:
		out := make([]any, len(x))
		ok := true
		for i, e := range x {
			c, eok := f.plain(p.index(i), e)
			out[i] = c
			ok = ok && eok
		}
		return out, ok
	case []map[string]any:
		out := make([]any, len(x))
		ok := true
		for i, e := range x {
			c, eok := f.plain(p.index(i), e)
			out[i] = c
			ok = ok && eok
		}
		return out, ok
	case time.Time:
		f.errorf(p, "date-times are not supported in parameters; write a string")
		return nil, false
	}
	f.errorf(p, "unsupported value of type %T", v)
	return nil, false
}

// params returns the free-form table at k as plain values; an absent table gives an
// empty map.
func (t tbl) params(k string) (map[string]any, bool) {
	sub, ok := t.sub(k, false)
	if !ok {
		return map[string]any{}, !t.has(k)
	}
	v, ok := t.f.plain(sub.p, sub.m)
	if !ok {
		return map[string]any{}, false
	}
	return v.(map[string]any), true
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
