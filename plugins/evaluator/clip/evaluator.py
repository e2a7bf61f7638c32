"""The CLIP evaluator: OpenAI's CLIP (a named preset, weights from a local file) with
rank-r LoRA on W_q, W_k, W_v of every image-tower block, trained on a task's image–caption
pairs with CLIP's symmetric contrastive loss and scored by image–text retrieval
(Recall@1/5/10 both ways, retrieval.py).

It follows the rules of the Go evaluator miniclip: every adapter of an experiment seed
starts from one shared initialization (TrainOptions.init_seed mixed with the backbone's
digest, never the task), the training seed fixes only the data and the batch order, a
task's test data depends only on (task, seed), and the last M epochs' adapters are the
snapshots."""

import concurrent.futures
import logging
import os
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

from clipdata import Coco, Flowers, Pets
from clipmodel import PRESETS, RANDOM, Tokenizer, build
from clipmodel.images import normalise, to_uint8
from clipmodel.lora import LoRA, b_mask, check_schema, init_flat, schema_shapes
from clipmodel.seeds import derive
from clipmodel.setup import missing_model_files, pick_device, resolve
from retrieval import DEFAULT_KS, recall
from sglab_plugin import Evaluator, Metric, Module, Param, PluginError, TrainResult
from sglab_plugin.snapshots import write_snapshots

VERSION = "0.1.0"

# Each dataset's task parameter: the category or class a task is made of.
TASK_PARAM = {"coco": "category", "pets": "class", "flowers": "class"}

HOW_TO_GET_DATA = {
    "coco_dir": "download the 2017 Train and Val images and the 2017 Train/Val annotations from "
                "https://cocodataset.org/#download and unpack them into one folder "
                "(annotations/, train2017/, val2017/)",
    "pets_dir": "download images.tar.gz and annotations.tar.gz from "
                "https://www.robots.ox.ac.uk/~vgg/data/pets/ and unpack both into one folder (images/, annotations/)",
    "flowers_dir": "download 102flowers.tgz, imagelabels.mat and setid.mat from "
                   "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ into one folder (jpg/, imagelabels.mat, setid.mat)",
    "captions": "write one JSON line per image, {\"image\": \"<file name>\", \"captions\": [\"...\"]}, "
                "with any captioner (see plugins/evaluator/clip/clipdata/captions.py)",
}

log = logging.getLogger("clip")


def task_key(task):
    """What identifies a task's data: its dataset and parameters."""
    return task.dataset + "|" + ",".join(f"{k}={task.params[k]}" for k in sorted(task.params))


def cache_folder():
    base = os.environ.get("SGLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sglab")
    return os.path.join(base, "clip")


class LRU(OrderedDict):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def get(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class ClipEvaluator(Evaluator):
    name = "clip"
    version = VERSION
    description = ("OpenAI's CLIP (ViT presets; weights and BPE vocabulary from local files in OpenAI's or "
                   "open_clip's layout) with rank-r LoRA on W_q, W_k, W_v of every image-tower block, as SG-LoRA "
                   "adapts it; tasks are COCO categories, Oxford-IIIT Pets breeds or Flowers102 classes; "
                   "image-text retrieval Recall@1/5/10")
    params = [
        Param("model", "ViT-B/16", "architecture preset (tiny is a random-weight model for tests)",
              one_of=list(PRESETS)),
        Param("weights", "", "the weights file: OpenAI's checkpoint (e.g. ViT-B-16.pt, a TorchScript archive) or a "
              "state dict in OpenAI's or open_clip's key layout (.pt, .bin); \"random\" for random weights (tests "
              "only). Relative paths are taken from the experiment file's folder"),
        Param("activation", "quick_gelu", "MLP activation: quick_gelu for OpenAI's weights and open_clip's "
              "-quickgelu models, gelu for open_clip's own (e.g. LAION) models", one_of=["quick_gelu", "gelu"]),
        Param("vocab", "", "CLIP's BPE merges file, bpe_simple_vocab_16e6.txt.gz (or a tiny one for the tiny preset)"),
        Param("rank", 2, "LoRA rank r (the paper's 2); TrainOptions.Rank overrides it per run", min=1),
        Param("alpha", 1.0, "lora_alpha; ΔW = (alpha/r)·B·A. The paper does not state it; 1 is CLIP-LoRA's "
              "(Zanella & Ben Ayed, 2024) for rank-2 LoRA on CLIP", above=0),
        Param("lr", 2e-4, "Adam learning rate of LoRA training; not stated in the paper, 2e-4 is CLIP-LoRA's",
              above=0),
        Param("batch_size", 32, "image-caption pairs per LoRA training step (the loss contrasts pairs)", min=2),
        Param("train_a", True, "train both LoRA factors; false freezes A at the shared initialization and trains "
              "B only (as LoRA-FA), so merging factors is exactly merging ΔW"),
        Param("train_images", 1000, "at most this many training images per task, drawn by (task, seed); each "
              "epoch pairs every image with one of its captions", min=2),
        Param("test_images", 1000, "at most this many test images per task, drawn by (task, seed); the texts "
              "ranked are all their captions", min=1),
        Param("coco_dir", "", "MS-COCO folder: annotations/captions_<set>.json, annotations/instances_<set>.json "
              "and <set>/ image folders"),
        Param("coco_train", "train2017", "the COCO set training images come from"),
        Param("coco_test", "val2017", "the COCO set test images come from"),
        Param("pets_dir", "", "Oxford-IIIT Pets folder: images/ and annotations/{trainval,test}.txt"),
        Param("pets_captions", "", "caption file of the Pets images (JSON lines); empty: <pets_dir>/captions.jsonl"),
        Param("flowers_dir", "", "Flowers102 folder: jpg/, imagelabels.mat and setid.mat"),
        Param("flowers_captions", "", "caption file of the Flowers images (JSON lines); empty: "
              "<flowers_dir>/captions.jsonl"),
        Param("device", "cpu", "torch device: cpu, cuda or cuda:N"),
        Param("devices", [], "devices handed out round-robin to the evaluator processes of a run by their worker "
              "index (runner --jobs N), e.g. [\"cuda:0\", \"cuda:1\"]; overrides device when set", type="[]string"),
        Param("threads", 0, "torch CPU threads per process; 0 leaves torch's default (set 1 when --jobs fills "
              "the cores)", min=0),
        Param("eval_batch_size", 128, "images or captions per forward pass when embedding", min=1),
    ]

    def __init__(self):
        self.cfg = {p.name: p.default for p in self.params}
        self.model = self.tokenizer = self.digest = None
        self.device = torch.device("cpu")
        self.sources = {}
        self.tests = LRU(4)

    # Info ----------------------------------------------------------------------------

    def schema(self, rank=None):
        arch = PRESETS[self.cfg["model"]]
        r = rank or self.cfg["rank"]
        return [Module(name, fan_in, fan_out, r, float(self.cfg["alpha"])) for name, fan_in, fan_out in schema_shapes(arch)]

    def datasets(self):
        return sorted(TASK_PARAM)

    def backbone(self):
        return self.cfg["model"]

    def metrics(self):
        return [Metric(f"{d}_r{k}", f"{text} Recall@{k}, %: share of queries whose best match ranks in the top {k}")
                for d, text in (("i2t", "image→text"), ("t2i", "text→image")) for k in DEFAULT_KS]

    def headline(self):
        return [f"{d}_r{min(DEFAULT_KS)}" for d in ("i2t", "t2i")]

    # Configure -----------------------------------------------------------------------

    def check(self, values):
        """The device and every file or folder the configuration names (bounds and
        choices are the Params' constraints, checked by decode())."""
        problems = []
        try:
            pick_device(values["device"], values["devices"])
        except ValueError as e:
            problems.append(str(e))
        return problems + self._missing_files(values)

    def configure(self, values):
        v = dict(values)
        problems = self.check(v)
        if problems:
            raise PluginError("\n".join(problems))
        device = pick_device(v["device"], v["devices"])
        if v["threads"]:
            torch.set_num_threads(v["threads"])
        arch = PRESETS[v["model"]]
        start = time.time()
        try:
            tokenizer = Tokenizer(resolve(v["vocab"]), arch.vocab)
        except (OSError, ValueError) as e:
            raise PluginError(f"parameter \"vocab\": {e}") from None
        try:
            model, digest = build(v["model"], resolve(v["weights"]), v["activation"])
        except (OSError, ValueError, RuntimeError) as e:
            raise PluginError(f"parameter \"weights\": {e}") from None
        self.cfg, self.model, self.tokenizer, self.digest, self.device = v, model.to(device), tokenizer, digest, device
        self.sources = self._sources(v)
        self.tests = LRU(4)
        log.info("configured model=%s weights=%s sha256=%s device=%s seconds=%.1f", v["model"],
                 v["weights"], digest, device, time.time() - start)

    def _missing_files(self, v):
        """Every file or folder the configuration names that is not there, each with how
        to get it."""
        out = missing_model_files(v["model"], v["weights"], v["vocab"])
        for key, src in self._sources(v).items():
            missing = src.missing()
            if missing:
                if missing == getattr(src, "captions_path", None):
                    out.append(f"parameter \"{key}_captions\": {missing} is missing; {HOW_TO_GET_DATA['captions']}")
                else:
                    out.append(f"parameter \"{key}_dir\": {missing} is missing; {HOW_TO_GET_DATA[key + '_dir']}")
        return out

    def _sources(self, v):
        """The datasets whose folders are configured."""
        out = {}
        if v["coco_dir"]:
            root = resolve(v["coco_dir"])
            out["coco"] = CocoSource(Coco(root, v["coco_train"], cache_folder()), Coco(root, v["coco_test"], cache_folder()))
        if v["pets_dir"]:
            root = resolve(v["pets_dir"])
            out["pets"] = Pets(root, resolve(v["pets_captions"]) or os.path.join(root, "captions.jsonl"))
        if v["flowers_dir"]:
            root = resolve(v["flowers_dir"])
            out["flowers"] = Flowers(root, resolve(v["flowers_captions"]) or os.path.join(root, "captions.jsonl"))
        return out

    def _ready(self):
        if self.model is None:
            raise PluginError("clip: not configured (the runner calls Configure first)")

    # Tasks ---------------------------------------------------------------------------

    def check_task(self, task):
        self._task_class(task)

    def _task_class(self, task):
        """The category or class id of task in its dataset; PluginError naming the task
        and the offending part otherwise."""
        self._ready()
        where = f"clip: task {task.id!r}"
        if task.dataset not in TASK_PARAM:
            raise PluginError(f"{where}: unknown dataset {task.dataset!r} (known: {', '.join(sorted(TASK_PARAM))})")
        if task.domain:
            raise PluginError(f"{where}: transforms {[t.name for t in task.domain]} are not supported "
                              "(the CLIP evaluator's tasks are categories and classes, with no image transforms)")
        want = TASK_PARAM[task.dataset]
        extra = sorted(set(task.params) - {want})
        if extra:
            raise PluginError(f"{where}: unknown parameter \"{extra[0]}\"; a {task.dataset} task takes only \"{want}\"")
        if want not in task.params:
            raise PluginError(f"{where}: a {task.dataset} task needs the parameter \"{want}\" in [task.params]")
        src = self.sources.get(task.dataset)
        if src is None:
            raise PluginError(f"{where}: dataset {task.dataset!r}, but the evaluator parameter "
                              f"\"{task.dataset}_dir\" is empty")
        try:
            return src.class_id(task.params[want])
        except (OSError, ValueError) as e:
            raise PluginError(f"{where}: parameter \"{want}\": {e}") from None

    def _items(self, task, split, seed, limit):
        """The task's items of split: all, or `limit` of them drawn by (task, seed)."""
        cid = self._task_class(task)
        try:
            items, uncaptioned = self.sources[task.dataset].items(cid, split)
        except (OSError, ValueError) as e:
            raise PluginError(f"clip: task {task.id!r}: {e}") from None
        if uncaptioned:
            log.warning("task %s: %d %s images have no caption and are left out", task.id, uncaptioned, split)
        if len(items) < 2:
            raise PluginError(f"clip: task {task.id!r}: {len(items)} captioned {split} images; "
                              "retrieval and the contrastive loss need at least 2")
        if len(items) > limit:
            rng = np.random.Generator(np.random.PCG64(derive(task_key(task), seed, split + "-images")))
            items = [items[i] for i in sorted(rng.choice(len(items), limit, replace=False))]
        return items

    def _load_images(self, items):
        size = PRESETS[self.cfg["model"]].image
        workers = min(8, os.cpu_count() or 1)
        try:
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                arrays = list(pool.map(lambda it: to_uint8(it.path, size), items))
        except OSError as e:
            raise PluginError(f"clip: reading images: {e}") from None
        return torch.from_numpy(np.stack(arrays))

    @torch.no_grad()
    def _embed_texts(self, texts):
        """Unit text embeddings (len(texts), E) on the device."""
        arch = PRESETS[self.cfg["model"]]
        out = []
        bs = self.cfg["eval_batch_size"]
        for lo in range(0, len(texts), bs):
            tokens = torch.tensor(self.tokenizer.tokenize(texts[lo:lo + bs], arch.context), device=self.device)
            out.append(F.normalize(self.model.encode_text(tokens), dim=-1))
        return torch.cat(out)

    def _embed_images(self, images, lora):
        """Unit image embeddings of uint8 images with lora (None: the bare backbone)."""
        out = []
        bs = self.cfg["eval_batch_size"]
        with torch.no_grad():
            for lo in range(0, len(images), bs):
                x = normalise(images[lo:lo + bs].to(self.device))
                out.append(F.normalize(self.model.encode_image(x, lora), dim=-1))
        return torch.cat(out)

    # Train ---------------------------------------------------------------------------

    def train(self, task, seed, opts, out_path):
        start = time.time()
        self._ready()
        cfg = self.cfg
        rank = opts.rank or cfg["rank"]
        if rank < 1:
            raise PluginError(f"clip: task {task.id!r}: rank {rank} must be positive")
        if not 0 < opts.snapshots <= opts.epochs:
            raise PluginError(f"clip: task {task.id!r}: epochs {opts.epochs} and snapshots {opts.snapshots}: "
                              "need 0 < snapshots ≤ epochs")
        key = task_key(task)
        items = self._items(task, "train", seed, cfg["train_images"])
        images = self._load_images(items)
        texts, owner = [], []
        for i, it in enumerate(items):
            texts.extend(it.captions)
            owner.extend([i] * len(it.captions))
        text_emb = self._embed_texts(texts)
        first_caption = np.cumsum([0] + [len(it.captions) for it in items])

        schema = self.schema(rank)
        init = torch.Generator().manual_seed(self.init_seed(opts.init_seed))
        flat = init_flat(schema, init).to(self.device).requires_grad_(True)
        lora = LoRA(schema, flat)
        frozen_a = None if cfg["train_a"] else b_mask(schema).to(self.device)
        optimiser = torch.optim.Adam([flat], lr=cfg["lr"])
        scale = self.model.logit_scale.exp()
        rng = np.random.Generator(np.random.PCG64(derive(key, seed, "lora")))
        n = len(items)
        bounds = batch_bounds(n, cfg["batch_size"])
        losses, snaps = [], []
        for epoch in range(opts.epochs):
            perm = rng.permutation(n)
            choice = first_caption[:-1] + (rng.random(n) * np.diff(first_caption)).astype(np.int64)
            total = 0.0
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                if self.cancelled():
                    raise PluginError(f"clip: task {task.id!r}: training cancelled")
                idx = perm[lo:hi]
                img = normalise(images[torch.from_numpy(idx)].to(self.device))
                emb = F.normalize(self.model.encode_image(img, lora), dim=-1)
                txt = text_emb[torch.from_numpy(choice[idx]).to(self.device)]
                logits = scale * emb @ txt.t()
                target = torch.arange(len(idx), device=self.device)
                loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
                optimiser.zero_grad(set_to_none=False)
                loss.backward()
                if frozen_a is not None:
                    flat.grad.mul_(frozen_a)
                optimiser.step()
                total += loss.item() * len(idx)
            mean = total / n
            if not np.isfinite(mean):
                raise PluginError(f"clip: task {task.id!r}: training loss diverged in epoch {epoch + 1} (try a lower lr)")
            losses.append(mean)
            if epoch >= opts.epochs - opts.snapshots:
                snaps.append(flat.detach().cpu().numpy().copy())
        meta = {
            "evaluator": f"clip {VERSION}",
            "task": task.id,
            "dataset": task.dataset,
            "task_key": key,
            "seed": str(seed),
            "epochs": str(opts.epochs),
            "train_images": str(n),
            "batch_size": str(cfg["batch_size"]),
            "lr": repr(cfg["lr"]),
            "train_a": "true" if cfg["train_a"] else "false",
            "init_seed": str(opts.init_seed),
            "init": "shared: A ~ U(±1/sqrt(in)) from init_seed and weights_sha256, B = 0",
            "model": cfg["model"],
            "weights": cfg["weights"],
            "weights_sha256": self.digest,
            "final_loss": repr(losses[-1]),
        }
        write_snapshots(out_path, schema, snaps, meta)
        log.info("trained task=%s seed=%d images=%d epochs=%d first_loss=%.4f final_loss=%.4f seconds=%.1f",
                 task.id, seed, n, opts.epochs, losses[0], losses[-1], time.time() - start)
        return TrainResult(len(snaps), {"first_loss": losses[0], "final_loss": losses[-1], "train_images": float(n)})

    def init_seed(self, seed):
        """The seed of a LoRA's initialization: the runner's init seed mixed with the
        backbone's digest, never the task, so every adapter trained on one backbone for
        one experiment seed starts from the same point."""
        return derive(self.digest, seed, "lora-init")

    # Evaluate ------------------------------------------------------------------------

    def evaluate(self, task, adapter, seed):
        self._ready()
        lora = None
        if adapter is not None:
            try:
                check_schema(PRESETS[self.cfg["model"]], adapter.schema)
                adapter.check_finite()
            except ValueError as e:
                raise PluginError(f"clip: task {task.id!r}: adapter: {e}") from None
            lora = LoRA(adapter.schema, torch.from_numpy(np.array(adapter.params, dtype=np.float32)).to(self.device))
        images, text_emb, img_groups, txt_groups = self._test_data(task, seed)
        img_emb = self._embed_images(images, lora)
        sim = (img_emb.double() @ text_emb.double().t()).cpu().numpy()
        try:
            return recall(sim, img_groups, txt_groups)
        except ValueError as e:
            raise PluginError(f"clip: task {task.id!r}: {e}") from None

    def _test_data(self, task, seed):
        """Test images (uint8), unit caption embeddings and relevance groups (caption j
        belongs to image txt_groups[j]) of (task, seed), cached."""
        key = (task_key(task), seed, self.cfg["test_images"])
        hit = self.tests.get(key)
        if hit is not None:
            return hit
        items = self._items(task, "test", seed, self.cfg["test_images"])
        images = self._load_images(items)
        texts, owner = [], []
        for i, it in enumerate(items):
            texts.extend(it.captions)
            owner.extend([i] * len(it.captions))
        data = (images, self._embed_texts(texts), np.arange(len(items)), np.array(owner))
        self.tests.put(key, data)
        return data


def batch_bounds(n, size):
    """Batch boundaries covering 0..n: every pair is used each epoch, and a last batch too
    small to contrast (fewer than 2, or under half a batch) joins the one before."""
    size = min(size, n)
    bounds = list(range(0, n, size))
    last = n - bounds[-1]
    if last < 2 or (len(bounds) > 1 and last < size // 2):
        bounds.pop()
    return bounds + [n]


class CocoSource:
    """COCO as a task source: training items from one set, test items from another."""

    def __init__(self, train, test):
        self.sets = {"train": train, "test": test}

    def missing(self):
        for s in self.sets.values():
            m = s.missing()
            if m:
                return m
        return None

    def class_id(self, value):
        return self.sets["train"].category_id(value)

    def items(self, cid, split):
        return self.sets[split].items(cid)
