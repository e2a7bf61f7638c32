package miniclip

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"github.com/sglab/sglab/datasets"
	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/framework/task"
)

// Which part of a dataset a task's pairs come from.
const (
	splitTrain = "train"
	splitTest  = "test"
)

// taskKey identifies what a task's images are: its dataset and its domain chain. Two
// tasks that differ only in id or description see the same images.
func taskKey(t task.Task) string {
	parts := []string{t.Dataset}
	for _, tr := range t.Domain {
		parts = append(parts, tr.String())
	}
	return strings.Join(parts, "|")
}

// derive mixes a task key, a seed and a purpose into one 64-bit seed, so every random
// choice of a run has its own stream and depends only on what it is for.
func derive(key string, seed uint64, purpose string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return splitmix64(h.Sum64() ^ splitmix64(seed))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// taskPairs builds the pairs of split for a task: perClass examples of each class
// chosen by (task, seed, split), each image seen through the task's domain with an rng
// seeded by (task, seed, split, the image's index in its source file), captioned with
// its clean caption.
func (m *Model) taskPairs(set *datasets.Set, t task.Task, pipe *domain.Pipeline, seed uint64, split string, perClass int) (*pairs, error) {
	ex := set.Train
	if split == splitTest {
		ex = set.Test
	}
	key := taskKey(t)
	idx, err := selectPerClass(ex, len(set.Classes), perClass, derive(key, seed, split+"/select"))
	if err != nil {
		return nil, fmt.Errorf("dataset %q %s split (%s_per_class = %d): %w", set.Name, split, split, perClass, err)
	}
	imgSeed := derive(key, seed, split+"/domain")
	ci := newCaptionIndex(m)
	p := &pairs{}
	pix := make([]float32, datasets.Pixels)
	for _, i := range idx {
		e := &ex[i]
		e.Image.Float32(pix)
		if pipe != nil {
			pipe.Apply(pix, pix, rand.New(rand.NewPCG(imgSeed, uint64(e.Index))))
		}
		if err := p.add(ci, pix, e.Caption); err != nil {
			return nil, fmt.Errorf("dataset %q %s image %d: %w", set.Name, split, e.Index, err)
		}
	}
	p.group()
	return p, nil
}
