"""What the CLIP evaluator and the cliptext encoder share when they are configured:
paths relative to the experiment file, the device of this process, and the checks that
name a missing weights or vocabulary file with where to get it. Problems are ValueErrors
whose message names the parameter."""

import os

import torch

from .weights import HOW_TO_GET, RANDOM, VOCAB_URL

# The environment variable by which the runner tells each evaluator process of a run its
# worker index (0 … jobs-1); devices are handed out round-robin by it.
WORKER_ENV = "SGLAB_WORKER_INDEX"
# The folder of the experiment file; relative paths in parameters are taken from there.
EXPERIMENT_DIR_ENV = "SGLAB_EXPERIMENT_DIR"


def resolve(path):
    """A parameter's path: ~ expanded, and a relative path taken from the experiment
    file's folder when the runner says where that is (else the working directory)."""
    if not path or path == RANDOM:
        return path
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(os.environ.get(EXPERIMENT_DIR_ENV, os.getcwd()), path))


def pick_device(device, devices=()):
    """The torch device of this process: devices[worker index mod len] when devices is
    set, else device."""
    key, name = "device", device
    if devices:
        try:
            worker = int(os.environ.get(WORKER_ENV, "0"))
        except ValueError:
            worker = 0
        key, name = "devices", devices[worker % len(devices)]
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ValueError(f"parameter \"{key}\": {name!r} asked for, but this torch sees no CUDA device "
                             f"(torch {torch.__version__}; Debian's python3-torch is CPU-only)")
        d = torch.device(name)
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ValueError(f"parameter \"{key}\": {name!r}, but only {torch.cuda.device_count()} CUDA devices exist")
        return d
    raise ValueError(f"parameter \"{key}\": {name!r} is not a device; use cpu, cuda or cuda:N")


def missing_model_files(model, weights, vocab):
    """A line per missing weights or vocabulary file, saying where to get it."""
    out = []
    get = f"; OpenAI's {model} weights: {HOW_TO_GET[model]}" if model in HOW_TO_GET else ""
    if not weights:
        out.append(f"parameter \"weights\" is empty: give the {model} weights file{get} "
                   "(or \"random\" for random weights, for tests only)")
    elif weights != RANDOM and not os.path.isfile(resolve(weights)):
        out.append(f"parameter \"weights\": {resolve(weights)} does not exist{get}")
    if not vocab:
        out.append(f"parameter \"vocab\" is empty: give CLIP's BPE vocabulary bpe_simple_vocab_16e6.txt.gz; get it from {VOCAB_URL}")
    elif not os.path.isfile(resolve(vocab)):
        out.append(f"parameter \"vocab\": {resolve(vocab)} does not exist; get bpe_simple_vocab_16e6.txt.gz from {VOCAB_URL}")
    return out
