package config

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// tricky holds what a line scanner gets wrong: headers and keys inside strings and
// comments, dotted and quoted keys, inline tables and arrays over several lines, date-times
// with spaces, and nested arrays of tables.
var tricky = strings.Join([]string{
	`# comment [not.a.table]`,              // 1
	`title = "x # not a comment [t]"  # c`, // 2
	`multi = """`,                          // 3
	`[fake]`,                               // 4
	`fake = 1 \"""`,                        // 5
	`"""`,                                  // 6
	`after = 1`,                            // 7
	`lit = '''a ''b'' '''`,                 // 8
	`"quoted.key" = 1`,                     // 9
	`a.b . c = 2`,                          // 10
	`when = 1979-05-27 07:32:00Z`,          // 11
	`inline = { x = 1, y = { z = [1,`,      // 12
	`  2] } }`,                             // 13
	`arr = [`,                              // 14
	`  { name = "p" },`,                    // 15
	`  { name = "q",`,                      // 16
	`    deep.er = true },`,                // 17
	`]`,                                    // 18
	`[[t]]`,                                // 19
	`id = 1`,                               // 20
	`[t.sub]`,                              // 21
	`k = 1`,                                // 22
	`[[t.list]]`,                           // 23
	`v = 1`,                                // 24
	`[[t.list]]`,                           // 25
	`v = 2`,                                // 26
	`[[t]]`,                                // 27
	`id = 2`,                               // 28
	`  [[ t.list ]]  # indented`,           // 29
	`  v = 3`,                              // 30
	`['lit key'."esc\u0041"]`,              // 31
	`y = 1`,                                // 32
	`s = "a\"b" # t2 = 0`,                  // 33
}, "\n")

func TestScanPositions(t *testing.T) {
	src := tricky
	if _, err := toml.Decode(src, new(map[string]any)); err != nil {
		t.Fatalf("test document is not TOML: %v", err)
	}
	pos := scanPositions(src)
	want := map[keyPath]int{
		"title": 2, "multi": 3, "after": 7, "lit": 8, `"quoted.key"`: 9,
		"a": 10, "a.b": 10, "a.b.c": 10, "when": 11,
		"inline": 12, "inline.x": 12, "inline.y": 12, "inline.y.z": 12, "inline.y.z[0]": 12, "inline.y.z[1]": 13,
		"arr": 14, "arr[0]": 15, "arr[0].name": 15, "arr[1]": 16, "arr[1].name": 16, "arr[1].deep": 17, "arr[1].deep.er": 17,
		"t": 19, "t[0]": 19, "t[0].id": 20, "t[0].sub": 21, "t[0].sub.k": 22,
		"t[0].list": 23, "t[0].list[0]": 23, "t[0].list[0].v": 24, "t[0].list[1]": 25, "t[0].list[1].v": 26,
		"t[1]": 27, "t[1].id": 28, "t[1].list": 29, "t[1].list[0]": 29, "t[1].list[0].v": 30,
		`"lit key"`: 31, `"lit key".escA`: 31, `"lit key".escA.y`: 32, `"lit key".escA.s`: 33,
	}
	for p, line := range want {
		if got, ok := pos[p]; !ok || got != line {
			t.Errorf("%s: line %d (recorded %v), want %d", p, got, ok, line)
		}
	}
	for p := range pos {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected path %s at line %d", p, pos[p])
		}
	}
}

// TestScanAgreesWithDecoder checks, on the test fixtures, that every key the toml package
// reports was located, and nothing that is not a key or a parent of one.
func TestScanAgreesWithDecoder(t *testing.T) {
	index := regexp.MustCompile(`\[\d+\]`)
	for _, name := range []string{"testdata/full.toml", "testdata/tasks/catalog.toml"} {
		md, err := toml.DecodeFile(name, new(map[string]any))
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fromDecoder := map[string]bool{}
		for _, k := range md.Keys() {
			fromDecoder[k.String()] = true
		}
		fromScan := map[string]bool{}
		for p := range scanPositions(string(src)) {
			fromScan[index.ReplaceAllString(string(p), "")] = true
		}
		for k := range fromDecoder {
			if !fromScan[k] {
				t.Errorf("%s: key %s was not located", name, k)
			}
		}
		for k := range fromScan {
			if !fromDecoder[k] && !isPrefixOfAny(k, fromDecoder) { // dotted keys name their parents implicitly
				t.Errorf("%s: located %s, which the decoder does not have", name, k)
			}
		}
	}
}

func isPrefixOfAny(k string, keys map[string]bool) bool {
	for other := range keys {
		if strings.HasPrefix(other, k+".") {
			return true
		}
	}
	return false
}

func TestParentPath(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a", ""}, {"a.b", "a"}, {"a[2]", "a"}, {"a[2].b", "a[2]"}, {`a."x.y"`, "a"},
		{`"p[1]".q`, `"p[1]"`}, {`a."x\"y".z`, `a."x\"y"`},
	}
	for _, c := range cases {
		got, ok := parentPath(keyPath(c.in))
		if !ok || string(got) != c.want {
			t.Errorf("parentPath(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if _, ok := parentPath(""); ok {
		t.Error("the root has a parent")
	}
	ps := positions{"a": 3, "a[1]": 5}
	lines := map[keyPath]int{"a[1].b.c": 5, "a[0].b": 3, "z": 0, "a": 3}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got := ps.line(keyPath(k)); got != lines[keyPath(k)] {
			t.Errorf("line(%s) = %d, want %d", k, got, lines[keyPath(k)])
		}
	}
}

// FuzzScanPositions checks that on any document the toml package accepts, the scanner
// ends and locates every key the decoder reports.
func FuzzScanPositions(f *testing.F) {
	for _, name := range []string{"testdata/full.toml", "testdata/tasks/catalog.toml", "testdata/five-mistakes.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(tricky)
	f.Fuzz(func(t *testing.T, src string) {
		md, err := toml.Decode(src, new(map[string]any))
		if err != nil {
			return
		}
		index := regexp.MustCompile(`\[\d+\]`)
		found := map[string]bool{}
		for p := range scanPositions(src) {
			found[index.ReplaceAllString(string(p), "")] = true
		}
		for _, k := range md.Keys() {
			if isBareKeyPath(k) && !found[k.String()] {
				t.Errorf("key %s was not located", k)
			}
		}
	})
}

// isBareKeyPath reports whether every part of k is a bare key, so that toml's and our
// spelling of it agree.
func isBareKeyPath(k toml.Key) bool {
	for _, part := range k {
		if !isBareKey(part) {
			return false
		}
	}
	return true
}
