"""The CLIP architecture of OpenAI's release (ViT image tower, causal text transformer),
with parameter names that match OpenAI's and open_clip's state dicts, so their weights
load as they are. LoRA enters only through the image tower's attention: the packed q/k/v
projection of every block takes an optional low-rank update (see lora.py)."""

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Arch:
    """The shape of a CLIP model. Heads of the image tower are width / 64 in every
    OpenAI ViT; the tiny preset sets them explicitly."""

    embed: int  # joint embedding size
    image: int  # input resolution
    patch: int
    width: int  # image tower width
    layers: int
    heads: int
    context: int  # text context length
    vocab: int
    text_width: int
    text_layers: int
    text_heads: int

    @property
    def grid(self):
        return self.image // self.patch


# Named presets. The OpenAI ones are the shapes of the released ViT checkpoints; "tiny" is a
# random-weight model for tests and CI (its vocabulary is the 614 entries of the fixture's BPE, datasets/fixtures/tiny-clip).
PRESETS = {
    "ViT-B/32": Arch(512, 224, 32, 768, 12, 12, 77, 49408, 512, 12, 8),
    "ViT-B/16": Arch(512, 224, 16, 768, 12, 12, 77, 49408, 512, 12, 8),
    "ViT-L/14": Arch(768, 224, 14, 1024, 24, 16, 77, 49408, 768, 12, 12),
    "ViT-L/14@336px": Arch(768, 336, 14, 1024, 24, 16, 77, 49408, 768, 12, 12),
    "tiny": Arch(32, 32, 8, 32, 2, 2, 24, 614, 32, 2, 2),
}


class QuickGELU(nn.Module):
    """x·σ(1.702x): the activation OpenAI's CLIP was trained with."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"quick_gelu": QuickGELU, "gelu": nn.GELU}


class Attention(nn.Module):
    """Multi-head self-attention with nn.MultiheadAttention's parameter layout
    (in_proj_weight holds W_q, W_k, W_v stacked; out_proj), batch first. delta, when
    given, maps the block input x (n, l, d) to an update of the packed q/k/v (n, l, 3d)."""

    def __init__(self, width, heads):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask=None, delta=None):
        n, l, d = x.shape
        h = self.heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        if delta is not None:
            qkv = qkv + delta(x)
        q, k, v = (t.reshape(n, l, h, d // h).transpose(1, 2) for t in qkv.split(d, dim=-1))
        att = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)
        if mask is not None:
            att = att + mask
        out = att.softmax(dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(n, l, d))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, act):
        super().__init__()
        self.attn = Attention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, 4 * width)),
            ("gelu", act()),
            ("c_proj", nn.Linear(4 * width, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x, mask=None, delta=None):
        x = x + self.attn(self.ln_1(x), mask, delta)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, act):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, act) for _ in range(layers)])

    def forward(self, x, mask=None, lora=None):
        for b, block in enumerate(self.resblocks):
            x = block(x, mask, None if lora is None else lora.delta(b))
        return x


class VisionTransformer(nn.Module):
    def __init__(self, a: Arch, act):
        super().__init__()
        self.conv1 = nn.Conv2d(3, a.width, kernel_size=a.patch, stride=a.patch, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(a.width))
        self.positional_embedding = nn.Parameter(torch.empty(a.grid ** 2 + 1, a.width))
        self.ln_pre = nn.LayerNorm(a.width)
        self.transformer = Transformer(a.width, a.layers, a.heads, act)
        self.ln_post = nn.LayerNorm(a.width)
        self.proj = nn.Parameter(torch.empty(a.width, a.embed))

    def forward(self, images, lora=None):
        x = self.conv1(images)  # n, width, grid, grid
        x = x.flatten(2).transpose(1, 2)  # n, grid², width
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x), lora=lora)
        return self.ln_post(x[:, 0]) @ self.proj


class CLIP(nn.Module):
    """OpenAI's CLIP (ViT variant). State-dict keys: visual.*, token_embedding.weight,
    positional_embedding, transformer.resblocks.N.*, ln_final.*, text_projection,
    logit_scale."""

    def __init__(self, a: Arch, activation="quick_gelu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
        act = ACTIVATIONS[activation]
        self.arch = a
        self.visual = VisionTransformer(a, act)
        self.token_embedding = nn.Embedding(a.vocab, a.text_width)
        self.positional_embedding = nn.Parameter(torch.empty(a.context, a.text_width))
        self.transformer = Transformer(a.text_width, a.text_layers, a.text_heads, act)
        self.ln_final = nn.LayerNorm(a.text_width)
        self.text_projection = nn.Parameter(torch.empty(a.text_width, a.embed))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        mask = torch.full((a.context, a.context), float("-inf")).triu(1)
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, images, tokens):
        """CLIP's logits: scaled cosine similarities of every image with every text
        (logits per image, logits per text)."""
        img = self.encode_image(images)
        txt = self.encode_text(tokens)
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        logits = self.logit_scale.exp() * img @ txt.t()
        return logits, logits.t()

    def encode_image(self, images, lora=None):
        """Image embeddings (not normalised) of preprocessed images (n, 3, S, S)."""
        return self.visual(images, lora)

    def encode_text(self, tokens):
        """Text embeddings (not normalised) of token ids (n, context); a row's features
        are read at its end-of-text token, the highest id in the vocabulary."""
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.ln_final(self.transformer(x, mask=self.attn_mask))
        return x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)] @ self.text_projection


def random_init(model: CLIP, seed: int):
    """Fills model with random weights from seed, at the scales OpenAI's code starts
    training from (embeddings 0.02 and 0.01; attention and MLP ~ width^-1/2 scaled by
    depth); only for tests and the tiny preset."""
    g = torch.Generator().manual_seed(seed)

    def normal(t, std):
        with torch.no_grad():
            t.copy_(torch.randn(t.shape, generator=g) * std)

    a = model.arch
    for tower, width, layers in ((model.visual.transformer, a.width, a.layers),
                                 (model.transformer, a.text_width, a.text_layers)):
        proj_std = width ** -0.5 * (2 * layers) ** -0.5
        for blk in tower.resblocks:
            normal(blk.attn.in_proj_weight, width ** -0.5)
            normal(blk.attn.out_proj.weight, proj_std)
            normal(blk.mlp.c_fc.weight, (2 * width) ** -0.5)
            normal(blk.mlp.c_proj.weight, proj_std)
            for p in (blk.attn.in_proj_bias, blk.attn.out_proj.bias, blk.mlp.c_fc.bias, blk.mlp.c_proj.bias):
                nn.init.zeros_(p)
    v = model.visual
    normal(v.conv1.weight, (3 * a.patch ** 2) ** -0.5)
    normal(v.class_embedding, a.width ** -0.5)
    normal(v.positional_embedding, a.width ** -0.5)
    normal(v.proj, a.width ** -0.5)
    normal(model.token_embedding.weight, 0.02)
    normal(model.positional_embedding, 0.01)
    normal(model.text_projection, a.text_width ** -0.5)
    return model
