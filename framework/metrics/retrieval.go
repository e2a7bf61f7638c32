// Package metrics scores what evaluators and generators produce: image-text retrieval
// recall (the paper's Recall@1/5/10, I2T and T2I) and the diversity of a set of
// generated adapters. Evaluators call Retrieval on their similarity matrices, or
// EmbeddingRetrieval on the embeddings (the same numbers without the matrix); the
// runner calls Diversity on the samples one method generated for one task.
package metrics

import (
	"fmt"
	"math"
	"slices"

	"github.com/sglab/sglab/framework/results"
)

// DefaultKs are the cut-offs the paper reports.
var DefaultKs = []int{1, 5, 10}

// GroupCaptions gives each caption the id of its exact string (ids count from 0 in
// order of first appearance), so identical captions are relevant to each other's
// images.
func GroupCaptions(captions []string) []int {
	ids := make(map[string]int, len(captions))
	out := make([]int, len(captions))
	for i, c := range captions {
		id, ok := ids[c]
		if !ok {
			id = len(ids)
			ids[c] = id
		}
		out[i] = id
	}
	return out
}

// Similarity returns the n×m matrix of dot products img[i]·txt[j], accumulated in
// float64 (cosines when the embeddings are unit vectors).
func Similarity(img, txt [][]float32) ([][]float64, error) {
	if err := checkEmbeddings(img, txt); err != nil {
		return nil, err
	}
	sim := make([][]float64, len(img))
	for i, a := range img {
		row := make([]float64, len(txt))
		for j, b := range txt {
			row[j] = dot64(a, b)
		}
		sim[i] = row
	}
	return sim, nil
}

// Ranks returns the 1-based rank of the best relevant item for every query: i2t[i] for
// image i against all texts (row i of sim), t2i[j] for text j against all images
// (column j). Image i and text j are relevant when imgGroup[i] == txtGroup[j].
//
// Ties are broken pessimistically: with s the highest score of a relevant item, the
// rank is 1 + the number of irrelevant items scoring ≥ s. Every item ranked above the
// best relevant one is irrelevant by definition, and an irrelevant item tied with it
// counts as ranked above it, so a constant similarity matrix earns no credit. Relevant
// items tied with it do not push it down: any of them would be a hit.
//
// A query with no relevant item gets rank 0.
func Ranks[F float32 | float64](sim [][]F, imgGroup, txtGroup []int) (i2t, t2i []int, err error) {
	n, m := len(imgGroup), len(txtGroup)
	if n == 0 || m == 0 {
		return nil, nil, fmt.Errorf("metrics: retrieval needs images and texts, got %d and %d", n, m)
	}
	if len(sim) != n {
		return nil, nil, fmt.Errorf("metrics: similarity matrix has %d rows, %d image groups", len(sim), n)
	}
	for i, row := range sim {
		if len(row) != m {
			return nil, nil, fmt.Errorf("metrics: similarity row %d has %d columns, %d text groups", i, len(row), m)
		}
		for j, s := range row {
			if math.IsNaN(float64(s)) {
				return nil, nil, fmt.Errorf("metrics: similarity [%d][%d] is NaN", i, j)
			}
		}
	}

	i2t = make([]int, n)
	for i, row := range sim {
		i2t[i] = rank(m, func(j int) (F, bool) { return row[j], txtGroup[j] == imgGroup[i] })
	}
	t2i = make([]int, m)
	for j := range t2i {
		t2i[j] = rank(n, func(i int) (F, bool) { return sim[i][j], imgGroup[i] == txtGroup[j] })
	}
	return i2t, t2i, nil
}

// rank applies the pessimistic rule to items 0..count-1 of one query.
func rank[F float32 | float64](count int, item func(int) (score F, relevant bool)) int {
	best, found := F(0), false
	for k := range count {
		if s, rel := item(k); rel && (!found || s > best) {
			best, found = s, true
		}
	}
	if !found {
		return 0
	}
	r := 1
	for k := range count {
		if s, rel := item(k); !rel && s >= best {
			r++
		}
	}
	return r
}

// Retrieval returns Recall@K in percent for K in ks (DefaultKs when empty), both ways,
// under the keys "i2t_r<K>" and "t2i_r<K>": the share of queries whose best relevant
// item is within the top K (multi-positive rule, ties pessimistic; see Ranks).
//
// Queries with no relevant item are left out of the average, since no ranking could
// score them; it is an error when that leaves a direction with no query at all.
func Retrieval[F float32 | float64](sim [][]F, imgGroup, txtGroup []int, ks []int) (map[string]float64, error) {
	if err := checkKs(ks); err != nil {
		return nil, err
	}
	i2t, t2i, err := Ranks(sim, imgGroup, txtGroup)
	if err != nil {
		return nil, err
	}
	return recall(i2t, t2i, ks)
}

func recallKey(dir string, k int) string { return fmt.Sprintf("%s_r%d", dir, k) }

// RecallMetrics describes what Retrieval returns for ks (DefaultKs when empty), for an
// evaluator's Info: image→text then text→image, and R@1 both ways as the headline
// (image→text first) when 1 is among ks, else the smallest K.
func RecallMetrics(ks []int) results.Metrics {
	if len(ks) == 0 {
		ks = DefaultKs
	}
	var out results.Metrics
	for _, dir := range []struct{ key, text string }{{"i2t", "image→text"}, {"t2i", "text→image"}} {
		for _, k := range ks {
			out.All = append(out.All, results.Metric{Name: recallKey(dir.key, k),
				Description: fmt.Sprintf("%s Recall@%d, %%: share of queries whose best match ranks in the top %d", dir.text, k, k)})
		}
		out.Headline = append(out.Headline, recallKey(dir.key, slices.Min(ks)))
	}
	return out
}

func checkKs(ks []int) error {
	for _, k := range ks {
		if k < 1 {
			return fmt.Errorf("metrics: recall cut-off K = %d; must be at least 1", k)
		}
	}
	return nil
}

// recall turns ranks into Recall@K for K in ks (DefaultKs when empty).
func recall(i2t, t2i []int, ks []int) (map[string]float64, error) {
	if len(ks) == 0 {
		ks = DefaultKs
	}
	out := make(map[string]float64, 2*len(ks))
	for _, dir := range []struct {
		name  string
		ranks []int
	}{{"i2t", i2t}, {"t2i", t2i}} {
		queries := 0
		for _, r := range dir.ranks {
			if r > 0 {
				queries++
			}
		}
		if queries == 0 {
			return nil, fmt.Errorf("metrics: no %s query has a relevant item; check the image and text groups", dir.name)
		}
		for _, k := range ks {
			hits := 0
			for _, r := range dir.ranks {
				if r > 0 && r <= k {
					hits++
				}
			}
			out[recallKey(dir.name, k)] = 100 * float64(hits) / float64(queries)
		}
	}
	return out, nil
}
