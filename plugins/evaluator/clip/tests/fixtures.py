"""Small datasets written in their real formats, for the loader and evaluator tests."""

import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

from clipdata import write_captions


def image(path, colour, size=(40, 36)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def coco(root, set_name, images, categories):
    """images: [(id, file_name, [captions], [category ids])]; categories: {id: name}."""
    ann = os.path.join(root, "annotations")
    os.makedirs(ann, exist_ok=True)
    ims = [{"id": i, "file_name": f, "width": 40, "height": 36} for i, f, _, _ in images]
    caps, insts = [], []
    for i, f, cs, cats in images:
        image(os.path.join(root, set_name, f), ((i * 40) % 256, 90, 200))
        caps += [{"id": len(caps) + 1, "image_id": i, "caption": c} for c in cs]
        insts += [{"id": len(insts) + 1, "image_id": i, "category_id": c, "bbox": [0, 0, 5, 5], "area": 25,
                   "iscrowd": 0} for c in cats + cats[:1]]  # an image may hold several instances of one category
    cat = [{"id": k, "name": v, "supercategory": "thing"} for k, v in categories.items()]
    with open(os.path.join(ann, f"captions_{set_name}.json"), "w") as f:
        json.dump({"info": {}, "licenses": [], "images": ims, "annotations": caps}, f)
    with open(os.path.join(ann, f"instances_{set_name}.json"), "w") as f:
        json.dump({"info": {}, "licenses": [], "images": ims, "annotations": insts, "categories": cat}, f)


def pets(root, trainval, test, captions):
    """trainval, test: [(image name without .jpg, class id)]; captions: {file: [captions]}."""
    ann = os.path.join(root, "annotations")
    os.makedirs(ann, exist_ok=True)
    for name, rows in (("trainval.txt", trainval), ("test.txt", test)):
        with open(os.path.join(ann, name), "w") as f:
            for img, cid in rows:
                species = 1 if img[0].isupper() else 2  # cats are capitalised in the real lists
                f.write(f"{img} {cid} {species} {cid}\n")
    with open(os.path.join(ann, "list.txt"), "w") as f:
        f.write("#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n")
        for img, cid in trainval + test:
            f.write(f"{img} {cid} 1 {cid}\n")
    for img, cid in trainval + test:
        image(os.path.join(root, "images", img + ".jpg"), (cid * 30 % 256, 120, 60))
    write_captions(os.path.join(root, "captions.jsonl"), captions)


def _element(kind, data):
    if len(data) <= 4:  # MAT's small data element
        return struct.pack("<HH", kind, len(data)) + data.ljust(4, b"\0")
    return struct.pack("<II", kind, len(data)) + data + b"\0" * (-len(data) % 8)


def mat5(path, variables):
    """A level-5 MAT-file as MATLAB writes one with save(): each variable a double matrix
    stored in the narrowest unsigned type that holds it, in a compressed element.
    variables: {name: 2-D array of non-negative integers}."""
    text = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Feb 19 14:00:00 2009"
    out = text.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    for name, arr in variables.items():
        arr = np.asarray(arr)
        kind, dtype = (2, "<u1") if arr.max() < 256 else (4, "<u2")
        body = (_element(6, struct.pack("<II", 6, 0))  # miUINT32 flags: mxDOUBLE_CLASS
                + _element(5, struct.pack("<" + "i" * arr.ndim, *arr.shape))
                + _element(1, name.encode())
                + _element(kind, arr.ravel(order="F").astype(dtype).tobytes()))
        matrix = struct.pack("<II", 14, len(body)) + body
        packed = zlib.compress(matrix)
        out += struct.pack("<II", 15, len(packed)) + packed
    with open(path, "wb") as f:
        f.write(out)


def flowers(root, labels, trnid, valid, tstid, captions, writer=mat5):
    """labels: the class of image k at position k-1; *id: 1-based image numbers."""
    os.makedirs(root, exist_ok=True)
    writer(os.path.join(root, "imagelabels.mat"), {"labels": np.array([labels])})
    writer(os.path.join(root, "setid.mat"), {"trnid": np.array([trnid]), "valid": np.array([valid]),
                                            "tstid": np.array([tstid])})
    for k, c in enumerate(labels, start=1):
        image(os.path.join(root, "jpg", f"image_{k:05d}.jpg"), (c * 50 % 256, 200, 30), size=(50, 40))
    write_captions(os.path.join(root, "captions.jsonl"), captions)
