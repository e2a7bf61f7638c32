"""CLIP for sglab: the architecture (model), its LoRA on the image tower's q/k/v (lora),
the BPE tokenizer (tokenizer), weight files (weights) and image preprocessing (images).
Shared by the CLIP evaluator and the cliptext encoder, so both read the same files the
same way."""

from .model import CLIP, PRESETS, Arch
from .tokenizer import Tokenizer
from .weights import RANDOM, build

__all__ = ["CLIP", "PRESETS", "Arch", "Tokenizer", "RANDOM", "build"]
