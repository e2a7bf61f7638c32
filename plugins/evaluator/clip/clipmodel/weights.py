"""Loading CLIP weights from local files.

Accepted: OpenAI's released checkpoints (TorchScript archives such as ViT-B-16.pt, or a
plain state dict saved with torch.save) and open_clip's (a .pt/.bin state dict, possibly a
training checkpoint {"state_dict": ..., "epoch": ...} with DistributedDataParallel's
"module." prefix). Both use the same key names (visual.conv1.weight,
visual.transformer.resblocks.N.attn.in_proj_weight, token_embedding.weight, ...). Weights
are loaded as float32; every shape is checked against the chosen preset, so a file of
another architecture is an error naming the key, never a silent partial load."""

import hashlib
import zipfile

import torch

from .model import CLIP, PRESETS, random_init

RANDOM = "random"

# Keys that archives carry beside the parameters: OpenAI's model facts, and the causal
# mask that open_clip (and TorchScript archives of either) keep as a buffer.
_METADATA_KEYS = {"input_resolution", "context_length", "vocab_size", "attn_mask"}

# Where to get the files, for error messages.
HOW_TO_GET = {
    "ViT-B/16": "https://openaipublic.azureedge.net/clip/models/"
                "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt",
    "ViT-B/32": "https://openaipublic.azureedge.net/clip/models/"
                "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    "ViT-L/14": "https://openaipublic.azureedge.net/clip/models/"
                "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
}
VOCAB_URL = "https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz"


def is_torchscript(path):
    """TorchScript archives are zip files with a code/ folder; torch.save's zip files
    have none."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/")[1:2] == ["code"] for n in z.namelist())


def read_state_dict(path):
    """The tensors of a weights file, keys as OpenAI names them."""
    if is_torchscript(path):
        sd = torch.jit.load(path, map_location="cpu").state_dict()
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a plain state dict"
            raise ValueError(f"{path} is neither a TorchScript archive nor a state dict torch.load can "
                             f"read safely: {e}") from None
        if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
            sd = sd["state_dict"]
        if not isinstance(sd, dict):
            raise ValueError(f"{path} holds a {type(sd).__name__}, not a state dict")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        k = k[len("module."):] if k.startswith("module.") else k
        if k.rsplit(".", 1)[-1] not in _METADATA_KEYS:
            out[k] = v
    return out


def load_weights(model: CLIP, sd, source, preset):
    """Copies sd into model; every parameter must be present with its shape."""
    own = model.state_dict()
    unexpected = sorted(set(sd) - set(own))
    missing = sorted(set(own) - set(sd))
    if missing:
        raise ValueError(f"{source} lacks {len(missing)} of the {preset} weights, first {missing[:3]} "
                         "(is it a CLIP ViT checkpoint in OpenAI's or open_clip's layout?)")
    if unexpected:
        raise ValueError(f"{source} has weights the {preset} architecture does not, first {unexpected[:3]} "
                         "(another architecture?)")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(f"{source}: {k} has shape {list(v.shape)}, the {preset} preset expects "
                             f"{list(own[k].shape)}; pick the preset that matches the file")
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    return model


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build(preset, weights, activation="quick_gelu", seed=0):
    """The model of preset with weights from a file, or random weights from seed when
    weights is "random". Returns (model, digest): the digest identifies the backbone (the
    file's sha256, or one derived from the preset and seed)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown model {preset!r}; known: {', '.join(PRESETS)}")
    model = CLIP(PRESETS[preset], activation)
    if weights == RANDOM:
        random_init(model, seed)
        digest = hashlib.sha256(f"random:{preset}:{activation}:{seed}".encode()).hexdigest()
    else:
        load_weights(model, read_state_dict(weights), weights, preset)
        digest = file_sha256(weights)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, digest
