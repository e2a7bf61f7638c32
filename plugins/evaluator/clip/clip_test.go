// Package clip_test runs the CLIP evaluator's Python tests under go test, and checks its
// recall against framework/metrics on the same similarity matrices. The evaluator itself
// is Python (main.py); experiments/tiny-clip.toml runs it through the runner.
package clip_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"testing"

	"github.com/sglab/sglab/framework/metrics"
	"github.com/sglab/sglab/internal/pythontest"
)

// needTorch skips or fails the test when Debian's interpreter lacks what the plugin imports.
func needTorch(t *testing.T) {
	t.Helper()
	pythontest.Require(t, "the CLIP plugin", pythontest.Torch)
}

func TestPythonUnitTests(t *testing.T) {
	needTorch(t)
	cmd := exec.Command(pythontest.Interpreter, "-m", "unittest", "discover", "-s", "tests", "-t", ".")
	cmd.Env = append(os.Environ(), "SGLAB_CACHE="+t.TempDir(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// recallCase is one similarity matrix with its relevance groups.
type recallCase struct {
	Sim      [][]float64 `json:"sim"`
	ImgGroup []int       `json:"img"`
	TxtGroup []int       `json:"txt"`
}

// TestRecallMatchesGo scores matrices full of ties (scores on a coarse grid), images with
// several texts, groups shared by several images, and queries with no relevant item
// both with retrieval.py and with metrics.Retrieval: the numbers must be equal.
func TestRecallMatchesGo(t *testing.T) {
	needTorch(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []recallCase
	for k := 0; k < 20; k++ {
		n, m := 3+rng.IntN(10), 3+rng.IntN(25)
		c := recallCase{ImgGroup: make([]int, n), TxtGroup: make([]int, m)}
		for i := range c.ImgGroup {
			c.ImgGroup[i] = rng.IntN(n) // some groups repeat, some are empty
		}
		for j := range c.TxtGroup {
			c.TxtGroup[j] = c.ImgGroup[rng.IntN(n)]
			if rng.IntN(8) == 0 {
				c.TxtGroup[j] = 100 + j // a text no image is relevant to
			}
		}
		grid := float64(2 + rng.IntN(6)) // few distinct values: many ties
		for i := 0; i < n; i++ {
			row := make([]float64, m)
			for j := range row {
				row[j] = math.Round(rng.Float64()*grid) / grid
			}
			c.Sim = append(c.Sim, row)
		}
		cases = append(cases, c)
	}
	// The degenerate case: a constant matrix earns nothing but what K covers.
	cases = append(cases, recallCase{Sim: [][]float64{{1, 1, 1}, {1, 1, 1}}, ImgGroup: []int{0, 1}, TxtGroup: []int{0, 1, 1}})
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	script := `import json, sys
from retrieval import recall
print(json.dumps([recall(c["sim"], c["img"], c["txt"]) for c in json.load(sys.stdin)]))`
	cmd := exec.Command(pythontest.Interpreter, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = append(os.Environ(), "PYTHONPATH=.", "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []map[string]float64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for k, c := range cases {
		want, err := metrics.Retrieval(c.Sim, c.ImgGroup, c.TxtGroup, metrics.DefaultKs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("case %d: python %v, Go %v\n%+v", k, got[k], want, c)
		}
	}
}
