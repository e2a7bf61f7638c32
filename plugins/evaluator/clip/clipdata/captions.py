"""Caption files for datasets that come without captions (Oxford-IIIT Pets, Flowers102;
the paper captioned them with a generator).

Format: JSON Lines, one object per image,

    {"image": "Abyssinian_1.jpg", "captions": ["a fluffy ginger cat lying on a sofa", "..."]}

where "image" is the file name inside the dataset's image folder (Pets: images/, Flowers:
jpg/) and "captions" holds one or more non-empty strings. Blank lines are skipped. Any
captioner can write it, one line per image; images absent from the file are left out of
their task (the evaluator logs how many)."""

import json


def read_captions(path):
    """{image file name: [captions]} of a caption file; errors name the file and line."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{n}: want an object with \"image\" and \"captions\"")
            image, caps = obj.get("image"), obj.get("captions")
            if not isinstance(image, str) or not image:
                raise ValueError(f"{path}:{n}: \"image\" must be a non-empty string")
            if not isinstance(caps, list) or not caps or not all(isinstance(c, str) and c.strip() for c in caps):
                raise ValueError(f"{path}:{n}: \"captions\" must be a non-empty list of non-empty strings")
            if image in out:
                raise ValueError(f"{path}:{n}: image {image} appears twice")
            out[image] = caps
    return out


def write_captions(path, captions):
    """Writes {image: [captions]} in the format read_captions reads, sorted by image."""
    with open(path, "w", encoding="utf-8") as f:
        for image in sorted(captions):
            f.write(json.dumps({"image": image, "captions": captions[image]}, ensure_ascii=False) + "\n")
