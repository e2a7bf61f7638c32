"""What every loader returns: an image file with its captions."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    path: str  # the image file
    captions: list  # one or more strings
    key: str  # identifies the image across runs (dataset, set, id)
