"""Oxford Flowers102 as sglab tasks: a task is a class (its label 1-102 in
imagelabels.mat), trained on the official training and validation ids and tested on the
test ids, captioned from a caption file (captions.py; the paper used generated captions).

The layout is the dataset's own:

    <root>/jpg/image_00001.jpg ...
    <root>/imagelabels.mat   labels: 1 × 8189, the class of image k at column k
    <root>/setid.mat         trnid, valid, tstid: 1-based image numbers"""

import os

from .captions import read_captions
from .items import Item
from .matfile import loadmat

SETS = {"train": ("trnid", "valid"), "test": ("tstid",)}


def image_name(k):
    return f"image_{k:05d}.jpg"


class Flowers:
    def __init__(self, root, captions_path):
        self.root, self.captions_path = root, captions_path
        self.image_dir = os.path.join(root, "jpg")
        self.labels_path = os.path.join(root, "imagelabels.mat")
        self.setid_path = os.path.join(root, "setid.mat")
        self._labels = self._sets = self._captions = None

    def missing(self):
        for p in (self.labels_path, self.setid_path, self.captions_path):
            if not os.path.isfile(p):
                return p
        if not os.path.isdir(self.image_dir):
            return self.image_dir
        return None

    def _load(self):
        if self._labels is not None:
            return
        labels = loadmat(self.labels_path).get("labels")
        if labels is None:
            raise ValueError(f"{self.labels_path} has no variable 'labels'")
        sets = loadmat(self.setid_path)
        for name in ("trnid", "valid", "tstid"):
            if name not in sets:
                raise ValueError(f"{self.setid_path} has no variable {name!r}")
        self._labels = [int(v) for v in labels.ravel()]
        self._sets = {s: sorted(int(v) for name in names for v in sets[name].ravel()) for s, names in SETS.items()}

    def classes(self):
        self._load()
        return sorted(set(self._labels))

    def class_id(self, value):
        classes = self.classes()
        if isinstance(value, int) and not isinstance(value, bool) and value in classes:
            return value
        raise ValueError(f"Flowers102 class {value!r}: give the label number of imagelabels.mat, "
                         f"{classes[0]}–{classes[-1]}")

    def items(self, class_id, split):
        """(items with captions, how many images of the class had none)."""
        self._load()
        if self._captions is None:
            self._captions = read_captions(self.captions_path)
        out, uncaptioned = [], 0
        for k in self._sets[split]:
            if not 1 <= k <= len(self._labels):
                raise ValueError(f"{self.setid_path}: image number {k} is outside imagelabels' 1–{len(self._labels)}")
            if self._labels[k - 1] != class_id:
                continue
            caps = self._captions.get(image_name(k))
            if caps is None:
                uncaptioned += 1
                continue
            out.append(Item(os.path.join(self.image_dir, image_name(k)), tuple(caps), f"flowers:{k}"))
        return out, uncaptioned
