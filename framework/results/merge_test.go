package results

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	id := map[string]string{"task": "aa", "evaluator": "bb"}
	other := map[string]string{"task": "aa", "evaluator": "cc"}
	row := func(task string, sample int, r1 float64, id map[string]string, err string) Row {
		return Row{Kind: KindTrial, Split: "s", Task: task, Method: "m", Seed: 1, Sample: sample, Metrics: map[string]float64{"i2t_r1": r1}, Identity: id, Error: err}
	}
	cases := []struct {
		name   string
		files  [][]Row
		want   []string // Task/Sample/r1 of the merged rows, in order
		errHas []string
	}{
		{"disjoint shards", [][]Row{{row("a", 0, 1, id, "")}, {row("b", 0, 2, id, ""), row("a", 1, 3, id, "")}}, []string{"a/0/1", "a/1/3", "b/0/2"}, nil},
		{"same trial twice agreeing", [][]Row{{row("a", 0, 1, id, "")}, {row("a", 0, 1, id, "")}}, []string{"a/0/1"}, nil},
		{"a failure then a success", [][]Row{{row("a", 0, 0, id, "boom")}, {row("a", 0, 5, id, "")}}, []string{"a/0/5"}, nil},
		{"only failures", [][]Row{{row("a", 0, 0, id, "boom")}, {row("a", 0, 0, id, "boom again")}}, []string{"a/0/0"}, nil},
		{"conflicting numbers", [][]Row{{row("a", 0, 1, id, "")}, {row("a", 0, 1.5, id, "")}}, nil,
			[]string{"task a, method m, seed 1, sample 0", "conflicting numbers", "{i2t_r1=1}", "{i2t_r1=1.5}", "shard-0.jsonl", "shard-1.jsonl", "evaluator=bb,task=aa"}},
		{"two configurations", [][]Row{{row("a", 0, 1, id, "")}, {row("a", 0, 1, other, "")}}, nil,
			[]string{"rows of two configurations", "evaluator=bb", "evaluator=cc", SupersededFile}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := []string{filepath.Join(dir, "missing.jsonl")}
			for i, rows := range c.files {
				p := filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
				if err := Rewrite(p, rows); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			got, err := Merge(paths)
			if c.errHas != nil {
				if err == nil {
					t.Fatalf("merged %v, want an error", got)
				}
				for _, s := range c.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q:\n%v", s, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, fmt.Sprintf("%s/%d/%g", r.Task, r.Sample, r.Metrics["i2t_r1"]))
			}
			if strings.Join(names, " ") != strings.Join(c.want, " ") {
				t.Errorf("merged %v, want %v", names, c.want)
			}
		})
	}
}
