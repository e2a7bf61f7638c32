package params

import (
	"slices"
	"strings"
	"testing"
)

type bounded struct {
	TopK    int       `param:"top_k" min:"1"`
	Tau     float64   `param:"tau" above:"0"`
	Density float64   `param:"density" above:"0" max:"1"`
	Rate    float64   `param:"rate" min:"0" below:"1"`
	Size    int       `param:"size" min:"1" max:"1024"`
	Shift   float64   `param:"shift" max:"-0.5"`
	Mode    string    `param:"mode" oneof:"none|best|all"`
	Widths  []int     `param:"widths" min:"2"`
	Probs   []float64 `param:"probs" min:"0" max:"1"`
	Free    float64   `param:"free"`
}

func validBounded() bounded {
	return bounded{TopK: 1, Tau: 0.1, Density: 1, Rate: 0, Size: 1024, Shift: -0.5, Mode: "best", Widths: []int{2, 8}, Probs: []float64{0, 1}}
}

// TestConstraints checks each tag at and across its bound, one key at a time.
func TestConstraints(t *testing.T) {
	cases := []struct {
		key  string
		val  any
		want string // "" when the value is accepted
	}{
		{"top_k", int64(1), ""},
		{"top_k", int64(0), `parameter "top_k": must be at least 1, got 0`},
		{"tau", 1e-9, ""},
		{"tau", 0.0, `parameter "tau": must be greater than 0, got 0`},
		{"tau", int64(-2), `parameter "tau": must be greater than 0, got -2`},
		{"density", 1.0, ""},
		{"density", 0.0, `parameter "density": must be in (0, 1], got 0`},
		{"density", 1.5, `parameter "density": must be in (0, 1], got 1.5`},
		{"rate", 0.0, ""},
		{"rate", 1.0, `parameter "rate": must be in [0, 1), got 1`},
		{"size", int64(1024), ""},
		{"size", int64(1025), `parameter "size": must be in [1, 1024], got 1025`},
		{"shift", -0.5, ""},
		{"shift", -0.4, `parameter "shift": must be at most -0.5, got -0.4`},
		{"mode", "all", ""},
		{"mode", "some", `parameter "mode": must be one of "none", "best", "all", got "some"`},
		{"widths", []any{int64(2), int64(3)}, ""},
		{"widths", []any{int64(2), int64(1)}, `parameter "widths": element 1: must be at least 2, got 1`},
		{"probs", []any{0.5, 2.0}, `parameter "probs": element 1: must be in [0, 1], got 2`},
		{"free", -1e9, ""},
	}
	for _, tc := range cases {
		c := validBounded()
		err := Decode(map[string]any{tc.key: tc.val}, &c)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s = %v: got %q, want %q", tc.key, tc.val, got, tc.want)
		}
	}
}

// TestConstraintsAllAtOnce: every broken constraint is reported, each at its key, in
// key order, beside the type problems; a value that failed to decode is not checked
// again (its field kept the default).
func TestConstraintsAllAtOnce(t *testing.T) {
	c := validBounded()
	err := Decode(map[string]any{"top_k": int64(0), "tau": -1.0, "mode": "x", "size": "big", "bogus": true}, &c)
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("Decode: %#v", err)
	}
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	if want := []string{"bogus", "mode", "size", "tau", "top_k"}; !slices.Equal(keys, want) {
		t.Fatalf("problems at %v, want %v:\n%v", keys, want, err)
	}
	if c.Size != 1024 || c.TopK != 1 || c.Tau != 0.1 || c.Mode != "best" {
		t.Errorf("bad values and values out of bounds keep the defaults: %+v", c)
	}
}

// TestConstraintsOfDefaults: defaults are checked too, so a plugin cannot ship a
// default its own constraint refuses.
func TestConstraintsOfDefaults(t *testing.T) {
	c := validBounded()
	c.Density = 0
	if err := Decode(nil, &c); err == nil || !strings.Contains(err.Error(), `parameter "density": must be in (0, 1]`) {
		t.Fatalf("Decode: %v", err)
	}
}

func TestDescribeConstraints(t *testing.T) {
	ps, err := Describe(validBounded())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Name] = p.Constraint()
	}
	want := map[string]string{
		"top_k": "≥ 1", "tau": "> 0", "density": "(0, 1]", "rate": "[0, 1)", "size": "[1, 1024]",
		"shift": "≤ -0.5", "mode": "one of none, best, all", "widths": "≥ 2", "probs": "[0, 1]", "free": "",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: constraint %q, want %q", k, got[k], w)
		}
	}
}

// TestMalformedTags: a malformed tag is reported by Decode (at its key) and Describe,
// naming the field, and never panics.
func TestMalformedTags(t *testing.T) {
	cases := []struct {
		name string
		dst  any
		want string
	}{
		{"not an integer", &struct {
			N int `param:"n" min:"0.5"`
		}{}, `field N (a bug of the plugin): tag min:"0.5" is not an integer`},
		{"not a number", &struct {
			X float64 `param:"x" max:"one"`
		}{}, `tag max:"one" is not a finite number`},
		{"infinite", &struct {
			X float64 `param:"x" below:"Inf"`
		}{}, `tag below:"Inf" is not a finite number`},
		{"bound on a string", &struct {
			S string `param:"s" min:"1"`
		}{}, `tag min:"1" on a string field`},
		{"oneof on a number", &struct {
			X float64 `param:"x" oneof:"1|2"`
		}{}, `tag oneof:"1|2" on a float field`},
		{"empty choice", &struct {
			S string `param:"s" oneof:"a||b"`
		}{S: "a"}, `empty or repeated choice`},
		{"repeated choice", &struct {
			S string `param:"s" oneof:"a|a"`
		}{S: "a"}, `empty or repeated choice`},
		{"min and above", &struct {
			X float64 `param:"x" min:"0" above:"0"`
		}{X: 1}, `tags min and above both bound it from below`},
		{"max and below", &struct {
			X float64 `param:"x" max:"1" below:"1"`
		}{}, `tags max and below both bound it from above`},
		{"empty range", &struct {
			N int `param:"n" min:"5" max:"4"`
		}{}, `no value satisfies in [5, 4]`},
		{"empty open range", &struct {
			X float64 `param:"x" above:"1" max:"1"`
		}{}, `no value satisfies in (1, 1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Decode(nil, tc.dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "parameter ") {
				t.Errorf("Decode: %v, want %q", err, tc.want)
			}
			if _, err := Describe(tc.dst); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Describe: %v, want %q", err, tc.want)
			}
		})
	}
}
