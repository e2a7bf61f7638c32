"""The cliptext encoder: task descriptions ("a photo of a <class>") embedded by CLIP's
text tower, unit-normalised, as SG-LoRA embeds them. It reads the same weights and BPE
vocabulary files as the CLIP evaluator (plugins/evaluator/clip), so the semantic space is
the backbone's own."""

import logging

import numpy as np
import torch
import torch.nn.functional as F

from clipmodel import PRESETS, Tokenizer, build
from clipmodel.setup import missing_model_files, pick_device, resolve
from sglab_plugin import Encoder, Param, PluginError

log = logging.getLogger("cliptext")


class ClipText(Encoder):
    name = "cliptext"
    version = "0.1.0"
    description = ("CLIP's text tower (OpenAI's architecture; weights and BPE vocabulary from local files in "
                   "OpenAI's or open_clip's layout): a description's unit embedding in the joint image-text space")
    params = [
        Param("model", "ViT-B/16", "architecture preset (use the evaluator's)", one_of=list(PRESETS)),
        Param("weights", "", "the weights file, as the CLIP evaluator's weights (OpenAI's ViT-B-16.pt, or an "
              "open_clip state dict); \"random\" for random weights (tests only)"),
        Param("activation", "quick_gelu", "MLP activation: quick_gelu (OpenAI) or gelu (open_clip's own models)",
              one_of=["quick_gelu", "gelu"]),
        Param("vocab", "", "CLIP's BPE merges file, bpe_simple_vocab_16e6.txt.gz"),
        Param("device", "cpu", "torch device: cpu, cuda or cuda:N"),
    ]

    def __init__(self):
        self.model = self.tokenizer = None
        self.device = torch.device("cpu")

    def check(self, values):
        """The device and the model's files (bounds and choices are the Params'
        constraints, checked by decode())."""
        problems = []
        try:
            pick_device(values["device"])
        except ValueError as e:
            problems.append(str(e))
        return problems + missing_model_files(values["model"], values["weights"], values["vocab"])

    def configure(self, values):
        v = values
        problems = self.check(v)
        if problems:
            raise PluginError("\n".join(problems))
        device = pick_device(v["device"])
        try:
            tokenizer = Tokenizer(resolve(v["vocab"]), PRESETS[v["model"]].vocab)
        except (OSError, ValueError) as e:
            raise PluginError(f"cliptext: parameter \"vocab\": {e}") from None
        try:
            model, digest = build(v["model"], resolve(v["weights"]), v["activation"])
        except (OSError, ValueError, RuntimeError) as e:
            raise PluginError(f"cliptext: parameter \"weights\": {e}") from None
        del model.visual  # only the text tower is used
        self.model, self.tokenizer, self.device = model.to(device), tokenizer, device
        log.info("configured model=%s weights=%s sha256=%s", v["model"], v["weights"], digest)

    @torch.no_grad()
    def embed(self, texts):
        """One description per forward pass: an optimised BLAS (OpenBLAS, MKL) computes a
        row of a batched product differently with other rows beside it, and a description
        must get the same vector whatever it is embedded with (the runner embeds the seen
        and the novel tasks in separate calls). Descriptions are few; batching bought
        nothing that matters."""
        if self.model is None:
            raise PluginError("cliptext: not configured (the runner calls Configure first)")
        out = []
        context = self.model.arch.context
        for text in texts:
            tokens = torch.tensor(self.tokenizer.tokenize([text], context), device=self.device)
            emb = F.normalize(self.model.encode_text(tokens), dim=-1)
            out.append(np.asarray(emb.cpu().numpy()[0], dtype=np.float32))
        return out
