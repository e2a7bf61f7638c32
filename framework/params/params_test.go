package params

import (
	"strings"
	"testing"
)

type cfg struct {
	TopK   int       `param:"top_k" doc:"experts kept"`
	Tau    float64   `param:"tau" doc:"temperature"`
	Mode   string    `param:"mode"`
	On     bool      `param:"on"`
	Widths []int     `param:"widths"`
	Scales []float64 `param:"scales"`
	hidden int
}

func TestDecode(t *testing.T) {
	c := cfg{TopK: 4, Tau: 0.1, Mode: "a"}
	err := Decode(map[string]any{
		"top_k": int64(2), "tau": float64(3), "on": true,
		"widths": []any{int64(1), float64(2)}, "scales": []any{int64(1), 0.5},
	}, &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.TopK != 2 || c.Tau != 3 || c.Mode != "a" || !c.On || len(c.Widths) != 2 || c.Widths[1] != 2 || c.Scales[1] != 0.5 {
		t.Fatalf("decoded %+v", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"topk": int64(1)}, `parameter "topk": unknown (known: mode, on, scales, tau, top_k, widths)`},
		{map[string]any{"top_k": 1.5}, `parameter "top_k": want an integer, got 1.5`},
		{map[string]any{"top_k": "4"}, `parameter "top_k": want an integer, got the string "4"`},
		{map[string]any{"tau": true}, `parameter "tau": want a number`},
		{map[string]any{"mode": int64(1)}, `parameter "mode": want a string`},
		{map[string]any{"on": "yes"}, `parameter "on": want a boolean`},
		{map[string]any{"widths": int64(3)}, `parameter "widths": want a list`},
		{map[string]any{"widths": []any{"x"}}, `parameter "widths": element 0: want an integer`},
		{map[string]any{"hidden": int64(1)}, `parameter "hidden": unknown`},
	}
	for _, tc := range cases {
		c := cfg{}
		err := Decode(tc.in, &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%v): %v, want %q", tc.in, err, tc.want)
		}
	}
	// Every problem is reported, not just the first.
	err := Decode(map[string]any{"a": 1, "b": 2}, &cfg{})
	if err == nil || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("want both keys named: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	ps, err := Describe(&cfg{TopK: 4, Tau: 0.1, Mode: "a", Widths: []int{8, 16}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 6 {
		t.Fatalf("%d params, want 6 (untagged fields skipped)", len(ps))
	}
	want := map[string][3]string{
		"top_k":  {"int", "4", "experts kept"},
		"tau":    {"float", "0.1", "temperature"},
		"mode":   {"string", `"a"`, ""},
		"on":     {"bool", "false", ""},
		"widths": {"[]int", "[8, 16]", ""},
	}
	for _, p := range ps {
		if w, ok := want[p.Name]; ok && (p.Type != w[0] || p.Default != w[1] || p.Doc != w[2]) {
			t.Errorf("%s: %+v, want %v", p.Name, p, w)
		}
	}
}

// TestProblemsOnePerLine: Decode's problems and a plugin's own checks render one per
// line as `parameter "key": ...`, the form the runner locates in the experiment file.
func TestProblemsOnePerLine(t *testing.T) {
	c := cfg{TopK: 4}
	err := Decode(map[string]any{"topk": int64(1), "tau": "x", "widths": []any{int64(1), "y"}, "top_k": int64(0)}, &c)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 3 {
		t.Fatalf("Decode: %#v", err)
	}
	if c.TopK != 0 || c.Tau != 0 || c.Widths != nil {
		t.Fatalf("good values are set and bad ones left alone: %+v", c)
	}
	if c.TopK < 1 {
		ps.Add("top_k", "must be at least 1, got %d", c.TopK)
	}
	lines := strings.Split(ps.Error(), "\n")
	want := []string{`parameter "tau": `, `parameter "topk": unknown`, `parameter "widths": element 1`, `parameter "top_k": must be at least 1`}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), ps.Error())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want the prefix %q", i, lines[i], w)
		}
	}
	if (Problems{}).Err() != nil {
		t.Error("no problem is no error")
	}
}
