"""Oxford-IIIT Pets as sglab tasks: a task is a breed (class), its images from the
official trainval list for training and the test list for testing, captioned from a
caption file (captions.py; the paper used generated captions).

The layout is the dataset's own:

    <root>/images/<Breed_N>.jpg
    <root>/annotations/trainval.txt, test.txt   "<image> <class id 1-37> <species 1 cat, 2 dog> <breed id>"
                                                  ('#' lines are comments, as in list.txt)

A class is named as in the file names (Abyssinian, american_bulldog; case and '_' versus
' ' do not matter) or by its class id."""

import os

from .captions import read_captions
from .items import Item

LISTS = {"train": "trainval.txt", "test": "test.txt"}


def read_list(path):
    """[(image, class id)] of an annotation list."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise ValueError(f"{path}:{n}: want \"<image> <class id> <species> <breed id>\", got {line.strip()!r}")
            out.append((parts[0], int(parts[1])))
    return out


def breed(image):
    """The class name in an image name: Abyssinian_12 -> Abyssinian."""
    return image.rsplit("_", 1)[0]


def _norm(name):
    return name.strip().lower().replace(" ", "_")


class Pets:
    def __init__(self, root, captions_path):
        self.root, self.captions_path = root, captions_path
        self.image_dir = os.path.join(root, "images")
        self.lists = {s: os.path.join(root, "annotations", f) for s, f in LISTS.items()}
        self._lists, self._captions = {}, None

    def missing(self):
        for p in list(self.lists.values()) + [self.captions_path]:
            if not os.path.isfile(p):
                return p
        if not os.path.isdir(self.image_dir):
            return self.image_dir
        return None

    def _list(self, split):
        if split not in self._lists:
            self._lists[split] = read_list(self.lists[split])
        return self._lists[split]

    def classes(self):
        """{class name: class id}."""
        out = {}
        for split in LISTS:
            for image, cid in self._list(split):
                out.setdefault(breed(image), cid)
        return out

    def class_id(self, value):
        classes = self.classes()
        if isinstance(value, int) and not isinstance(value, bool) and value in classes.values():
            return value
        if isinstance(value, str):
            for name, cid in classes.items():
                if _norm(name) == _norm(value):
                    return cid
        raise ValueError(f"Oxford-IIIT Pets has no class {value!r} (by name or id); classes: {', '.join(sorted(classes))}")

    def items(self, class_id, split):
        """(items with captions, how many images of the class had none)."""
        if self._captions is None:
            self._captions = read_captions(self.captions_path)
        out, uncaptioned = [], 0
        for image, cid in self._list(split):
            if cid != class_id:
                continue
            caps = self._captions.get(image + ".jpg")
            if caps is None:
                uncaptioned += 1
                continue
            out.append(Item(os.path.join(self.image_dir, image + ".jpg"), tuple(caps), f"pets:{image}"))
        return out, uncaptioned
