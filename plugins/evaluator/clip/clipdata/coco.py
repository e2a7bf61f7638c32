"""MS-COCO captions as sglab tasks: a task is a category, as in the paper (the images
containing at least one instance of it, each with its captions).

The layout is COCO's own, for a set such as train2017 or val2017:

    <root>/annotations/captions_<set>.json    {"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}
    <root>/annotations/instances_<set>.json   {"annotations": [{"image_id", "category_id"}], "categories": [{"id", "name"}]}
    <root>/<set>/<file_name>

instances_train2017.json is 448 MB; reading it takes tens of seconds and gigabytes, so
the compact index a set reduces to (categories; per image its file, captions and
categories) is kept in a cache folder, keyed by the paths, sizes and modification times
of the two files."""

import hashlib
import json
import os

from .items import Item

INDEX_VERSION = "1"


class Coco:
    def __init__(self, root, set_name, cache_dir=None):
        self.root, self.set_name, self.cache_dir = root, set_name, cache_dir
        ann = os.path.join(root, "annotations")
        self.captions_path = os.path.join(ann, f"captions_{set_name}.json")
        self.instances_path = os.path.join(ann, f"instances_{set_name}.json")
        self.image_dir = os.path.join(root, set_name)
        self._index = None

    def missing(self):
        """The first required file or folder that is absent, or None."""
        for p in (self.captions_path, self.instances_path):
            if not os.path.isfile(p):
                return p
        if not os.path.isdir(self.image_dir):
            return self.image_dir
        return None

    def index(self):
        if self._index is None:
            self._index = self._cached_index()
        return self._index

    def _cached_index(self):
        path = None
        if self.cache_dir:
            key = hashlib.sha256(INDEX_VERSION.encode())
            for p in (self.captions_path, self.instances_path):
                st = os.stat(p)
                key.update(f"\0{os.path.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
            path = os.path.join(self.cache_dir, f"coco-{self.set_name}-{key.hexdigest()[:16]}.json")
            try:
                with open(path, encoding="utf-8") as f:
                    return json.load(f)
            except (OSError, ValueError):
                pass
        idx = build_index(self.captions_path, self.instances_path)
        if path:
            try:
                os.makedirs(self.cache_dir, exist_ok=True)
                tmp = f"{path}.{os.getpid()}.tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(idx, f)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only cache only costs time
        return idx

    def categories(self):
        """{name: id} of the set's categories."""
        return {name: int(cid) for cid, name in self.index()["categories"].items()}

    def category_id(self, value):
        """The id of a category given by name (case-insensitive) or id; ValueError naming the
        choices otherwise."""
        cats = self.categories()
        if isinstance(value, bool):
            value = None
        if isinstance(value, int) and value in cats.values():
            return value
        if isinstance(value, str):
            for name, cid in cats.items():
                if name.lower() == value.strip().lower():
                    return cid
        raise ValueError(f"COCO {self.set_name} has no category {value!r} (by name or id); "
                         f"categories: {', '.join(sorted(cats))}")

    def items(self, category_id):
        """(the images of the set containing category_id, by image id, with their captions;
        how many such images had no caption)."""
        out, uncaptioned = [], 0
        for image_id, (file_name, cats, caps) in sorted(self.index()["images"].items(), key=lambda kv: int(kv[0])):
            if category_id not in cats:
                continue
            if not caps:
                uncaptioned += 1
                continue
            out.append(Item(os.path.join(self.image_dir, file_name), tuple(caps), f"coco:{self.set_name}:{image_id}"))
        return out, uncaptioned


def build_index(captions_path, instances_path):
    with open(captions_path, encoding="utf-8") as f:
        caps = json.load(f)
    images = {}
    for im in caps.get("images", []):
        images[str(im["id"])] = [im["file_name"], [], []]
    for a in caps.get("annotations", []):
        key = str(a["image_id"])
        if key not in images:
            raise ValueError(f"{captions_path}: caption {a.get('id')} names image {key}, which is not listed")
        images[key][2].append(a["caption"].strip())
    with open(instances_path, encoding="utf-8") as f:
        inst = json.load(f)
    categories = {str(c["id"]): c["name"] for c in inst.get("categories", [])}
    for a in inst.get("annotations", []):
        key = str(a["image_id"])
        cid = a["category_id"]
        if key in images and cid not in images[key][1]:
            images[key][1].append(cid)
    return {"categories": categories, "images": images}
