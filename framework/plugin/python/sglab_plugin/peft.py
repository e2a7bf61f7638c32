"""Hugging Face PEFT adapters: how real LoRA banks come in and generated adapters go out.

A PEFT adapter is a folder with adapter_model.safetensors and adapter_config.json, as
PeftModel.save_pretrained writes them. save_peft and load_peft follow framework/lora's
SavePEFT and LoadPEFT rule for rule, so an adapter saved by either side loads on the
other (and in PEFT itself) with the same modules, ranks, alphas and values.
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np

from .lora import Adapter, Module, num_params, validate_schema
from .safetensors import read_safetensors, write_atomic, write_safetensors
from .snapshots import SUFFIX_A, SUFFIX_B

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
# What PEFT puts before module names in its state dict; PEFT's loader needs it.
PREFIX = "base_model.model."


def _num(x: float):
    """Integral floats as integers, so the JSON reads like Go's encoding of float64."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 1e21 else x


def save_peft(folder: str, adapter: Adapter, base_model: str = "") -> None:
    """Writes adapter as a PEFT LoRA adapter in folder (created if missing).

    r and lora_alpha are the first module's; modules that differ appear in
    rank_pattern / alpha_pattern under their full name. target_modules lists the last
    component of each module name. base_model_name_or_path is base_model (null when
    empty).
    """
    try:
        _save(folder, adapter, base_model)
    except (ValueError, OSError) as e:
        raise ValueError(f"lora: save PEFT adapter {folder}: {e}") from None


def _save(folder, a, base_model):
    s = a.schema
    validate_schema(s)
    if a.params.size != num_params(s):
        raise ValueError(f"adapter has {a.params.size} parameters, schema needs {num_params(s)}")
    a.check_finite()
    cfg = {
        "alpha_pattern": {}, "base_model_name_or_path": base_model or None, "bias": "none", "fan_in_fan_out": False, "inference_mode": True,
        "init_lora_weights": True, "lora_alpha": _num(s[0].alpha), "lora_dropout": 0,
        "modules_to_save": None, "peft_type": "LORA", "r": s[0].rank, "rank_pattern": {},
        "target_modules": [], "task_type": None, "use_dora": False, "use_rslora": False,
    }
    tensors = []
    for i, m in enumerate(s):
        tensors.append((PREFIX + m.name + SUFFIX_A, a.A(i)))
        tensors.append((PREFIX + m.name + SUFFIX_B, a.B(i)))
        if m.rank != s[0].rank:
            cfg["rank_pattern"][m.name] = m.rank
        if m.alpha != s[0].alpha:
            cfg["alpha_pattern"][m.name] = _num(m.alpha)
        target = m.name.rsplit(".", 1)[-1]
        if target not in cfg["target_modules"]:
            cfg["target_modules"].append(target)
    cfg["target_modules"].sort()
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, WEIGHTS_FILE), tensors, {"format": "pt"})
    text = json.dumps(cfg, indent=2, ensure_ascii=False) + "\n"
    write_atomic(os.path.join(folder, CONFIG_FILE), [text.encode("utf-8")])


def load_peft(folder: str) -> Adapter:
    """Reads a PEFT LoRA adapter folder.

    Module order is the order of the tensors' data in the file; a "base_model.model."
    prefix is stripped. Every tensor must be a lora_A or lora_B weight, each module
    needs both, and their shapes must agree with each other and with r / rank_pattern.
    With use_rslora (scale alpha/sqrt(r)) the stored alpha is lora_alpha*sqrt(r), so
    Module.scale stays exact. DoRA adapters are refused.
    """
    cpath = os.path.join(folder, CONFIG_FILE)
    try:
        with open(cpath, encoding="utf-8") as f:
            cfg = _check_config(json.load(f))
    except (ValueError, OSError) as e:
        raise ValueError(f"lora: {cpath}: {e}") from None
    wpath = os.path.join(folder, WEIGHTS_FILE)
    tensors, _ = read_safetensors(wpath)
    try:
        return _build(cfg, tensors)
    except ValueError as e:
        raise ValueError(f"lora: {wpath}: {e}") from None


def _check_config(cfg) -> dict:
    if not isinstance(cfg, dict):
        raise ValueError("want a JSON object")
    if cfg.get("peft_type") is None:
        raise ValueError("missing peft_type")
    if cfg["peft_type"] != "LORA":
        raise ValueError(f'peft_type is {json.dumps(cfg["peft_type"])}, want "LORA"')
    if cfg.get("use_dora"):
        raise ValueError("use_dora is set; DoRA adapters are not supported")
    r = cfg.get("r")
    if r is None:
        raise ValueError("missing r")
    if type(r) is not int or r <= 0:
        raise ValueError(f"r is {r}, want a positive rank")
    if cfg.get("lora_alpha") is None:
        raise ValueError("missing lora_alpha")
    for k, v in (cfg.get("rank_pattern") or {}).items():
        if type(v) is not int or v <= 0:
            raise ValueError(f"rank_pattern[{k!r}] is {v}, want a positive rank")
    return cfg


def _pattern_value(pat: dict, name: str, default):
    """A module's value from a PEFT rank_pattern / alpha_pattern: an exact key wins;
    otherwise keys are regular expressions matched against the end of the name at a dot
    boundary, as PEFT matches them; matches that disagree are an error, not a guess."""
    if not pat:
        return default
    if name in pat:
        return pat[name]
    found, val = None, default
    for k in sorted(pat):
        try:
            ok = re.fullmatch(r"(?:.*\.)?(?:" + k + ")", name)
        except re.error as e:
            raise ValueError(f"key {k!r} is not a regular expression: {e}") from None
        if not ok:
            continue
        if found is not None and pat[k] != val:
            raise ValueError(f"keys {found!r} and {k!r} both match module {name!r} with different values")
        found, val = k, pat[k]
    return val


def _target_matcher(raw):
    if raw is None or raw == "all-linear":
        return None
    if isinstance(raw, str):
        try:
            rx = re.compile(raw)
        except re.error:
            return None
        return lambda name: rx.fullmatch(name) is not None
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ValueError(f"{CONFIG_FILE}: target_modules: want a list of strings or a string")
    return lambda name: any(name == t or name.endswith("." + t) for t in raw)


def _build(cfg: dict, tensors: dict[str, np.ndarray]) -> Adapter:
    order, mods = [], {}
    for tname, t in tensors.items():
        name = tname[len(PREFIX):] if tname.startswith(PREFIX) else tname
        if name.endswith(SUFFIX_A):
            module, slot = name[:-len(SUFFIX_A)], "a"
        elif name.endswith(SUFFIX_B):
            module, slot = name[:-len(SUFFIX_B)], "b"
        else:
            raise ValueError(f"tensor {tname!r} is not a LoRA weight (want <module>{SUFFIX_A} or <module>{SUFFIX_B})")
        if not module:
            raise ValueError(f"tensor {tname!r} has no module name")
        pair = mods.setdefault(module, {})
        if not pair:
            order.append(module)
        if slot in pair:
            raise ValueError(f"tensor {tname!r} duplicates tensor {pair[slot][0]!r}")
        pair[slot] = (tname, t)
    if not order:
        raise ValueError("no LoRA tensors")
    match = _target_matcher(cfg.get("target_modules"))
    schema = []
    for name in order:
        p = mods[name]
        if "a" not in p:
            raise ValueError(f"tensor {p['b'][0]!r} has no matching {SUFFIX_A[1:]}")
        if "b" not in p:
            raise ValueError(f"tensor {p['a'][0]!r} has no matching {SUFFIX_B[1:]}")
        (an, a), (bn, b) = p["a"], p["b"]
        if a.ndim != 2:
            raise ValueError(f"tensor {an!r} has shape {list(a.shape)}, want [r, in]")
        if b.ndim != 2:
            raise ValueError(f"tensor {bn!r} has shape {list(b.shape)}, want [out, r]")
        if a.shape[0] != b.shape[1]:
            raise ValueError(f"tensor {an!r} has rank {a.shape[0]} but tensor {bn!r} has rank {b.shape[1]}")
        if 0 in a.shape or b.shape[0] == 0:
            raise ValueError(f"tensors {an!r} and {bn!r} have an empty dimension ({list(a.shape)}, {list(b.shape)})")
        if match is not None and not match(name):
            raise ValueError(f"module {name!r} (tensor {an!r}) is not covered by {CONFIG_FILE} "
                             f"target_modules {cfg['target_modules']}")
        try:
            rank = _pattern_value(cfg.get("rank_pattern"), name, cfg["r"])
        except ValueError as e:
            raise ValueError(f"{CONFIG_FILE}: rank_pattern: {e}") from None
        if a.shape[0] != rank:
            raise ValueError(f"tensor {an!r} has rank {a.shape[0]} but {CONFIG_FILE} gives module {name!r} rank {rank}")
        try:
            alpha = float(_pattern_value(cfg.get("alpha_pattern"), name, cfg["lora_alpha"]))
        except ValueError as e:
            raise ValueError(f"{CONFIG_FILE}: alpha_pattern: {e}") from None
        if cfg.get("use_rslora"):
            alpha *= math.sqrt(rank)
        schema.append(Module(name, int(a.shape[1]), int(b.shape[0]), int(rank), alpha))
    validate_schema(schema)
    out = Adapter.zeros(schema)
    for i, name in enumerate(order):
        for tname, t in mods[name].values():
            bad = np.flatnonzero(~np.isfinite(t))
            if bad.size:
                raise ValueError(f"tensor {tname!r}: value {bad[0]} is {t.reshape(-1)[bad[0]]}")
        out.A(i)[...] = mods[name]["a"][1]
        out.B(i)[...] = mods[name]["b"][1]
    return out
