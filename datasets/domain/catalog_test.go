package domain_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/sglab/sglab/datasets"
	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/datasets/glove"
	"github.com/sglab/sglab/framework/task"
)

const catalogPath = "../../experiments/tasks/catalog.toml"

// catalogFile mirrors the [[task]] tables of the catalog; the real loader lives in
// framework/config.
type catalogFile struct {
	Task []struct {
		ID          string   `toml:"id"`
		Description string   `toml:"description"`
		Dataset     string   `toml:"dataset"`
		Transforms  []string `toml:"transforms"`
	} `toml:"task"`
}

func TestTaskCatalog(t *testing.T) {
	var cat catalogFile
	md, err := toml.DecodeFile(catalogPath, &cat)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("%s: unknown keys %v", catalogPath, und)
	}
	vecs, err := glove.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Family ids end in the transform's argument, which may be a decimal.
	idPattern := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*(-[0-9]+\.[0-9]+)?$`)
	family := regexp.MustCompile(`^(digits|fashion)-(rotate-left|rotate-right|blur|noise)-([0-9.]+)$`)
	familyChain := map[string]string{"rotate-left": "rotate(%s)", "rotate-right": "rotate(-%s)", "blur": "gaussian_blur(%s)", "noise": "gaussian_noise(%s)"}
	number := regexp.MustCompile(`^[0-9]+$`)
	ids, descs := map[string]bool{}, map[string]bool{}
	perDataset := map[string]int{}
	used := map[string]bool{}
	src := make([]float32, domain.Pixels)
	for i := range src {
		src[i] = float32(i%29) / 28
	}
	dst := make([]float32, domain.Pixels)
	for i, tk := range cat.Task {
		where := fmt.Sprintf("%s: task %d (%q)", catalogPath, i+1, tk.ID)
		if !idPattern.MatchString(tk.ID) {
			t.Errorf("%s: id must be lowercase words joined by hyphens", where)
		}
		if ids[tk.ID] {
			t.Errorf("%s: duplicate id", where)
		}
		ids[tk.ID] = true
		if tk.Description == "" || descs[tk.Description] {
			t.Errorf("%s: description empty or repeated", where)
		}
		descs[tk.Description] = true
		if m := family.FindStringSubmatch(tk.ID); m != nil {
			// The catalog's convention: a family task's id, chain and description carry
			// the same number.
			if want := fmt.Sprintf(familyChain[m[2]], m[3]); !slices.Equal(tk.Transforms, []string{want}) {
				t.Errorf("%s: family task's transforms %q, want [%q]", where, tk.Transforms, want)
			}
			if !regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(m[3]) + `([^0-9.]|$)`).MatchString(tk.Description) {
				t.Errorf("%s: description %q does not give the severity %s", where, tk.Description, m[3])
			}
		}
		for _, w := range glove.Tokenize(tk.Description) {
			// Numbers go to the encoder's numeric channel; the shipped GloVe subset drops "a".
			if _, ok := vecs.Lookup(w); !ok && w != "a" && !number.MatchString(w) {
				t.Errorf("%s: description word %q is not in the shipped GloVe vocabulary", where, w)
			}
		}
		if !slices.Contains(datasets.Names(), tk.Dataset) {
			t.Errorf("%s: unknown dataset %q (known: %v)", where, tk.Dataset, datasets.Names())
		}
		perDataset[tk.Dataset]++
		var chain []task.Transform
		for _, s := range tk.Transforms {
			tr, err := task.ParseTransform(s)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			chain = append(chain, tr)
			used[tr.Name] = true
		}
		p, err := domain.Compile(chain)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		p.Apply(dst, src, rand.New(rand.NewPCG(uint64(i), 1)))
	}
	if len(cat.Task) < 44 {
		t.Errorf("%d tasks, want at least 44", len(cat.Task))
	}
	for _, name := range datasets.Names() {
		if perDataset[name] < 22 {
			t.Errorf("dataset %s has %d tasks, want at least 22", name, perDataset[name])
		}
	}
	for _, name := range domain.Names() {
		if !used[name] && name != "identity" {
			t.Errorf("no task uses transform %q", name)
		}
	}
}
