"""CLIP's image preprocessing: RGB, the shorter side resized to the model's resolution
(bicubic), a centred square crop, then per-channel normalisation with the statistics
CLIP was trained with. Preparation stops at uint8 (to_uint8) so decoded images can be
cached at a quarter of the memory; normalise runs per batch."""

import numpy as np
import torch
from PIL import Image

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def to_uint8(path_or_image, size):
    """(3, size, size) uint8 array of an image file or PIL image."""
    img = path_or_image if isinstance(path_or_image, Image.Image) else Image.open(path_or_image)
    img = img.convert("RGB")
    w, h = img.size
    if w <= h:
        nw, nh = size, max(size, int(size * h / w))
    else:
        nw, nh = max(size, int(size * w / h)), size
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.BICUBIC)
    left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()


def normalise(batch: torch.Tensor):
    """Float input of a (n, 3, S, S) uint8 batch, on the batch's device."""
    x = batch.float().div_(255)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
