"""Rank-r LoRA on W_q, W_k and W_v of every image-tower block, as SG-LoRA adapts CLIP.

Module names are PEFT's names for a CLIP whose packed attention is split into q_proj,
k_proj and v_proj (as CLIP-LoRA does): visual.transformer.resblocks.N.attn.q_proj. The
adapter lives in sglab's canonical flat vector (per module, in schema order: B (out×r)
then A (r×in), row-major), so what the evaluator trains is what generators read and
write, with no conversion."""

import math

import torch

PROJECTIONS = ("q_proj", "k_proj", "v_proj")


def module_name(block, j):
    return f"visual.transformer.resblocks.{block}.attn.{PROJECTIONS[j]}"


def schema_shapes(arch):
    """(name, in, out) of every adapted projection, block by block, q, k, v."""
    return [(module_name(b, j), arch.width, arch.width) for b in range(arch.layers) for j in range(3)]


def check_schema(arch, modules):
    """Raises ValueError unless modules (name, in, out, rank, alpha tuples or objects with
    those attributes) adapt exactly this architecture's projections, in order; ranks and
    alphas may vary."""
    want = schema_shapes(arch)
    if len(modules) != len(want):
        raise ValueError(f"adapter has {len(modules)} modules, the backbone adapts {len(want)} "
                         f"({want[0][0]} … {want[-1][0]})")
    for i, (m, (name, fan_in, fan_out)) in enumerate(zip(modules, want)):
        if (m.name, m.in_features, m.out_features) != (name, fan_in, fan_out):
            raise ValueError(f"adapter module {i} is {m.name}[out={m.out_features} in={m.in_features}]; "
                             f"the backbone expects {name}[out={fan_out} in={fan_in}]")
        if m.rank < 1:
            raise ValueError(f"adapter module {m.name} has rank {m.rank}")


def num_params(arch, rank):
    return sum(fan_out * rank + rank * fan_in for _, fan_in, fan_out in schema_shapes(arch))


class LoRA:
    """Views of a flat adapter tensor as per-block q/k/v updates. Gradients of the views
    reach the flat tensor, so training optimises the canonical vector itself.

    modules: a schema (objects with name, in_features, out_features, rank, alpha)."""

    def __init__(self, modules, flat: torch.Tensor):
        total = sum(m.out_features * m.rank + m.rank * m.in_features for m in modules)
        if flat.dim() != 1 or flat.numel() != total:
            raise ValueError(f"adapter has {flat.numel()} values, its schema needs {total}")
        if len(modules) % 3:
            raise ValueError("adapter modules must come in q, k, v triples")
        self.flat = flat
        self.mods = []
        off = 0
        for m in modules:
            nb, na = m.out_features * m.rank, m.rank * m.in_features
            b = flat[off:off + nb].view(m.out_features, m.rank)
            a = flat[off + nb:off + nb + na].view(m.rank, m.in_features)
            self.mods.append((b, a, m.alpha / m.rank))
            off += nb + na

    def delta(self, block):
        q, k, v = self.mods[3 * block:3 * block + 3]

        def f(x):
            # (x Aᵀ) Bᵀ: O(tokens · width · r) instead of forming ΔW.
            return torch.cat([s * ((x @ a.t()) @ b.t()) for b, a, s in (q, k, v)], dim=-1)

        return f


def init_flat(modules, generator: torch.Generator):
    """A fresh adapter as PEFT initialises one: A ~ U(−1/√in, 1/√in) (Kaiming-uniform with
    a = √5), B = 0, so it leaves the backbone unchanged but has a gradient. Drawn on the
    CPU from generator, so the same seed gives the same bits on every device."""
    parts = []
    for m in modules:
        parts.append(torch.zeros(m.out_features * m.rank))
        bound = 1 / math.sqrt(m.in_features)
        parts.append((torch.rand(m.rank * m.in_features, generator=generator, dtype=torch.float64) * 2 - 1)
                     .mul_(bound).float())
    return torch.cat(parts)


def b_mask(modules):
    """1 on every B entry of the flat vector and 0 on every A entry: multiplying the
    gradient by it trains B only (LoRA-FA)."""
    parts = []
    for m in modules:
        parts.append(torch.ones(m.out_features * m.rank))
        parts.append(torch.zeros(m.rank * m.in_features))
    return torch.cat(parts)
