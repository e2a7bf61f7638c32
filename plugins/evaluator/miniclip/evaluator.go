package miniclip

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sglab/sglab/datasets"
	"github.com/sglab/sglab/datasets/domain"
	"github.com/sglab/sglab/framework/lora"
	"github.com/sglab/sglab/framework/metrics"
	"github.com/sglab/sglab/framework/params"
	"github.com/sglab/sglab/framework/plugin"
	"github.com/sglab/sglab/framework/task"
	"github.com/sglab/sglab/plugins/evaluator/miniclip/model"
)

// Name is the evaluator's name, in experiment files and in its Info.
const Name = "miniclip"

// Version is the evaluator's version; it changes whenever its numbers could.
const Version = "0.2.0"

// Config is the evaluator's TOML block. The defaults are sized so that one Train call
// (20 epochs) takes a few seconds on one core and one Evaluate well under 0.1 s.
type Config struct {
	TrainPerClass int     `param:"train_per_class" min:"1" doc:"training images per class of a task (10 classes per dataset)"`
	TestPerClass  int     `param:"test_per_class" min:"1" doc:"test images per class; the texts ranked are these images' captions"`
	BatchSize     int     `param:"batch_size" min:"2" doc:"image-caption pairs per LoRA training step; at least 2, since the loss contrasts pairs"`
	LR            float64 `param:"lr" above:"0" doc:"Adam learning rate of LoRA training. The default 3e-3 was measured with the shared init on 18 digit tasks of graded rotation, blur and noise (seed 1): an α-weighted merge of the 4 nearest other experts raised R@1 over zero-shot by 12.2 points on average with 3e-3 (both factors trained), 11.4 with 1e-2, 11.1 with 1e-3, 10.2 with 3e-3 and A frozen, 9.3 with 1e-2 and A frozen; the differences between learning rates are within noise, freezing A costs 1–2 points"`
	TrainA        bool    `param:"train_a" doc:"train both LoRA factors (the default: it merged 1–2 points better, see lr); false freezes A at the shared initialization and trains B only (as LoRA-FA), so every expert's ΔW = B·A_0 is linear in B and merging factors is exactly merging ΔW"`
	Rank          int     `param:"rank" min:"1" doc:"LoRA rank r of the adapters (the paper's 2); TrainOptions.Rank overrides it per run"`
	Alpha         float64 `param:"alpha" above:"0" doc:"lora_alpha; ΔW = (alpha/r)·B·A, so the default scale is 2"`
	DataDir       string  `param:"data_dir" doc:"folder with the original MNIST / Fashion-MNIST idx files (subfolders digits/ and fashion/); empty uses the shipped subsets (200 train, 50 test images per class)"`
	Checkpoint    string  `param:"checkpoint" doc:"backbone checkpoint file; empty uses the shipped one"`
}

// DefaultConfig is the configuration before Configure.
func DefaultConfig() Config {
	return Config{
		TrainPerClass: 50,
		TestPerClass:  10,
		BatchSize:     32,
		LR:            3e-3,
		TrainA:        true,
		Rank:          2,
		Alpha:         4,
		DataDir:       "",
		Checkpoint:    "",
	}
}

// validate reports what the tags cannot: the limits the data sets, and data_dir.
func (c Config) validate() error {
	var ps params.Problems
	// What the data can give: the shipped subsets (datasets package) or, from data_dir,
	// the original files, whose classes hold fewer than 7,000 images in either split.
	maxTrain, maxTest, from := 7000, 7000, "MNIST and Fashion-MNIST hold fewer than 7,000 images of a class"
	if c.DataDir == "" {
		maxTrain, maxTest, from = 200, 50, "the shipped subsets hold 200 training and 50 test images per class; set data_dir to the original files for more"
	}
	if c.TrainPerClass > maxTrain {
		ps.Add("train_per_class", "%d is more than there are: %s", c.TrainPerClass, from)
	}
	if c.TestPerClass > maxTest {
		ps.Add("test_per_class", "%d is more than there are: %s", c.TestPerClass, from)
	}
	if c.DataDir != "" {
		if st, err := os.Stat(c.DataDir); err != nil || !st.IsDir() {
			ps.Add("data_dir", "%q is not a readable folder", c.DataDir)
		}
	}
	return ps.Err()
}

// Evaluator is the miniclip evaluator plugin. It is safe for concurrent use: calls
// share the read-only backbone and a cache of prepared test sets.
type Evaluator struct {
	log hclog.Logger

	mu    sync.Mutex
	cfg   Config
	model *Model
	sets  map[string]*datasets.Set
	tests *lru // prepared test data by (config, task, seed)
}

// New returns an evaluator with the default configuration.
func New() *Evaluator {
	return &Evaluator{cfg: DefaultConfig(), sets: map[string]*datasets.Set{}, tests: newLRU(64), log: hclog.NewNullLogger()}
}

var _ plugin.Evaluator = (*Evaluator)(nil)

// SetLogger receives the plugin process's logger (rpc.Serve).
func (e *Evaluator) SetLogger(l hclog.Logger) { e.log = l }

// state returns the configuration and backbone for one call, loading the shipped
// backbone on first use.
func (e *Evaluator) state() (Config, *Model, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.model == nil {
		m, err := Default()
		if err != nil {
			return Config{}, nil, err
		}
		e.model = m
	}
	return e.cfg, e.model, nil
}

// Info describes the evaluator with its current configuration.
func (e *Evaluator) Info(ctx context.Context) (plugin.Info, error) {
	cfg, m, err := e.state()
	if err != nil {
		return plugin.Info{}, err
	}
	ps, err := params.Describe(&cfg)
	if err != nil {
		return plugin.Info{}, fmt.Errorf("miniclip: %w", err)
	}
	ms := metrics.RecallMetrics(nil)
	return plugin.Info{
		Kind:    plugin.KindEvaluator,
		Name:    Name,
		Version: Version,
		Description: "CLIP-like dual encoder pretrained in-project on MNIST and Fashion-MNIST with fine-grained captions; " +
			"LoRA on W_q, W_k, W_v of every image-tower block; image-text retrieval Recall@1/5/10",
		Params:     ps,
		Schema:     model.Schema(m.Config(), cfg.Rank, cfg.Alpha),
		Datasets:   datasets.Names(),
		Transforms: domain.Names(),
		Metrics:    ms.All,
		Headline:   ms.Headline,
		Backbone:   backboneName(cfg.Checkpoint),
	}, nil
}

// ShippedBackbone is how exported adapters name the shipped checkpoint in PEFT's
// base_model_name_or_path; another checkpoint is named by its path.
const ShippedBackbone = "sglab/miniclip"

func backboneName(checkpoint string) string {
	if checkpoint == "" {
		return ShippedBackbone
	}
	return checkpoint
}

// Configure applies the TOML block: unknown keys and bad values are errors naming the
// key. A checkpoint is loaded and validated here, so a bad path fails early.
func (e *Evaluator) Configure(ctx context.Context, p plugin.Params) error {
	cfg := DefaultConfig()
	bad := errors.Join(params.Decode(p, &cfg), cfg.validate())
	var m *Model
	var err error
	if cfg.Checkpoint == "" {
		m, err = Default()
	} else {
		m, err = Load(cfg.Checkpoint)
	}
	if err != nil {
		bad = errors.Join(bad, params.Problem{Key: "checkpoint", Msg: err.Error()})
	}
	if bad != nil {
		return fmt.Errorf("miniclip: %w", bad)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg, e.model = cfg, m
	e.sets = map[string]*datasets.Set{}
	e.tests = newLRU(64)
	e.log.Info("configured", "checkpoint", orShipped(cfg.Checkpoint), "sha256", m.Digest, "train_per_class", cfg.TrainPerClass,
		"test_per_class", cfg.TestPerClass, "rank", cfg.Rank, "alpha", cfg.Alpha)
	return nil
}

func orShipped(path string) string {
	if path == "" {
		return "shipped"
	}
	return path
}

// dataset returns a dataset, loading it once.
func (e *Evaluator) dataset(name string) (*datasets.Set, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.sets[name]; ok {
		return s, nil
	}
	s, err := loadSet(name, e.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	e.sets[name] = s
	return s, nil
}

// CheckTask reports whether the evaluator can serve t.
func (e *Evaluator) CheckTask(ctx context.Context, t task.Task) error {
	_, err := e.check(t)
	return err
}

// check validates t and returns its compiled domain (nil for the clean domain).
func (e *Evaluator) check(t task.Task) (*domain.Pipeline, error) {
	var errs []error // every problem of the task at once
	if !slices.Contains(datasets.Names(), t.Dataset) {
		errs = append(errs, fmt.Errorf("unknown dataset %q (known: %v)", t.Dataset, datasets.Names()))
	}
	if len(t.Params) > 0 {
		errs = append(errs, fmt.Errorf("parameters %v are not supported (miniclip takes none per task)", slices.Sorted(maps.Keys(t.Params))))
	}
	var p *domain.Pipeline
	if len(t.Domain) > 0 {
		var err error
		if p, err = domain.Compile(t.Domain); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("miniclip: task %q: %w", t.ID, errors.Join(errs...))
	}
	return p, nil
}

// Train fine-tunes a LoRA on t's training images and writes its last opts.Snapshots
// epochs' adapters to outPath.
func (e *Evaluator) Train(ctx context.Context, t task.Task, seed uint64, opts plugin.TrainOptions, outPath string) (plugin.TrainResult, error) {
	start := time.Now()
	cfg, m, err := e.state()
	if err != nil {
		return plugin.TrainResult{}, err
	}
	pipe, err := e.check(t)
	if err != nil {
		return plugin.TrainResult{}, err
	}
	rank := cfg.Rank
	if opts.Rank != 0 {
		rank = opts.Rank
	}
	if rank < 1 {
		return plugin.TrainResult{}, fmt.Errorf("miniclip: task %q: rank %d must be positive", t.ID, rank)
	}
	set, err := e.dataset(t.Dataset)
	if err != nil {
		return plugin.TrainResult{}, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	p, err := m.taskPairs(set, t, pipe, seed, splitTrain, cfg.TrainPerClass)
	if err != nil {
		return plugin.TrainResult{}, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	schema := model.Schema(m.Config(), rank, cfg.Alpha)
	lo := LoRAOptions{Schema: schema, LR: cfg.LR, BatchSize: cfg.BatchSize, Epochs: opts.Epochs, Snapshots: opts.Snapshots,
		FreezeA: !cfg.TrainA, InitSeed: initSeed(m, opts.InitSeed)}
	res, err := m.trainLoRA(ctx, m.encode(p), lo, derive(taskKey(t), seed, "lora"))
	if err != nil {
		return plugin.TrainResult{}, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	last := res.losses[len(res.losses)-1]
	meta := map[string]string{
		"evaluator":         "miniclip " + Version,
		"task":              t.ID,
		"dataset":           t.Dataset,
		"domain":            taskKey(t),
		"seed":              strconv.FormatUint(seed, 10),
		"epochs":            strconv.Itoa(opts.Epochs),
		"train_per_class":   strconv.Itoa(cfg.TrainPerClass),
		"batch_size":        strconv.Itoa(cfg.BatchSize),
		"lr":                strconv.FormatFloat(cfg.LR, 'g', -1, 64),
		"train_a":           strconv.FormatBool(cfg.TrainA),
		"init_seed":         strconv.FormatUint(opts.InitSeed, 10),
		"init":              "shared: A ~ U(±1/sqrt(in)) from init_seed and checkpoint_sha256, B = 0",
		"checkpoint":        orShipped(cfg.Checkpoint),
		"checkpoint_sha256": m.Digest,
		"final_loss":        strconv.FormatFloat(last, 'g', -1, 64),
	}
	if err := lora.WriteSnapshots(outPath, schema, res.snaps, meta); err != nil {
		return plugin.TrainResult{}, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	secs := time.Since(start).Seconds()
	// The seed as a string: the host re-reads plugin logs as JSON, where a uint64 would lose digits.
	e.log.Info("trained", "task", t.ID, "seed", strconv.FormatUint(seed, 10), "pairs", p.n, "epochs", opts.Epochs,
		"first_loss", res.losses[0], "final_loss", last, "seconds", secs)
	return plugin.TrainResult{
		Snapshots: len(res.snaps),
		Metrics:   map[string]float64{"first_loss": res.losses[0], "final_loss": last, "train_pairs": float64(p.n)},
	}, nil
}

// initSeed is the seed of a LoRA's initialization: the runner's init seed mixed with the
// backbone's digest, never the task, so every adapter trained on one backbone for one
// experiment seed starts from the same point.
func initSeed(m *Model, seed uint64) uint64 {
	return derive(m.Digest, seed, "lora-init")
}

// Evaluate scores adapter a (nil for the bare backbone) on t's test data: Recall@1/5/10
// image→text and text→image, where the texts are the test images' captions and images
// with identical captions are relevant to each other's texts.
func (e *Evaluator) Evaluate(ctx context.Context, t task.Task, a *lora.Adapter, seed uint64) (map[string]float64, error) {
	cfg, m, err := e.state()
	if err != nil {
		return nil, err
	}
	var ad *model.LoRA[float32]
	if a != nil {
		if err := a.CheckFinite(); err != nil {
			return nil, fmt.Errorf("miniclip: task %q: adapter: %w", t.ID, err)
		}
		if ad, err = model.BindLoRA(m.Config(), a.Schema, a.Params); err != nil {
			return nil, fmt.Errorf("miniclip: task %q: adapter: %w", t.ID, err)
		}
	}
	test, err := e.testData(cfg, m, t, seed)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e2 := m.Config().Embed
	out, err := metrics.EmbeddingRetrieval(rows(m.embedImages(test, ad), test.n, e2), rows(test.text, test.n, e2), test.groups, test.groups, metrics.DefaultKs)
	if err != nil {
		return nil, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	return out, nil
}

// testData returns t's encoded test pairs for seed, from the cache when possible.
func (e *Evaluator) testData(cfg Config, m *Model, t task.Task, seed uint64) (*encoded, error) {
	key := fmt.Sprintf("%p\x00%s\x00%d\x00%d", m, taskKey(t), seed, cfg.TestPerClass)
	e.mu.Lock()
	v, ok := e.tests.get(key)
	e.mu.Unlock()
	if ok {
		return v.(*encoded), nil
	}
	pipe, err := e.check(t)
	if err != nil {
		return nil, err
	}
	set, err := e.dataset(t.Dataset)
	if err != nil {
		return nil, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	p, err := m.taskPairs(set, t, pipe, seed, splitTest, cfg.TestPerClass)
	if err != nil {
		return nil, fmt.Errorf("miniclip: task %q: %w", t.ID, err)
	}
	enc := m.encode(p)
	e.mu.Lock()
	e.tests.put(key, enc)
	e.mu.Unlock()
	return enc, nil
}

// lru is a small least-recently-used cache.
type lru struct {
	max   int
	order *list.List // front = most recent; values are *lruEntry
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	val any
}

func newLRU(size int) *lru {
	return &lru{max: size, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) (any, bool) {
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).val, true
}

func (c *lru) put(key string, val any) {
	if el, ok := c.items[key]; ok {
		el.Value.(*lruEntry).val = val
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key, val})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
}
