#!/usr/bin/python3
"""SG-LoRA's CVAE written in PyTorch: the reference the Go plugin is compared with.

The network is cvae.go's, layer for layer, in float32 and written the way a PyTorch
user would: nn.Linear layers (Go stores a dense layer's weight In×Out, nn.Linear
Out×In, so weights are transposed on loading), torch.optim.Adam with the Go
optimiser's β1 = 0.9, β2 = 0.999, ε = 1e-8 and update rule.

    cvae.py decode FIT.safetensors IN.json OUT.json [FIT IN OUT ...]
        the normalised samples (n×P) of a fit SaveFit wrote, for IN's condition c (2P
        numbers) and noise eps (n×L): projection, learned prior, z = m_p + s_p·eps,
        decoder, plus μ* with the residual decoder. TestTorchReferenceIsTheSameNetwork
        compares them with the Go sampler's.
    cvae.py step MODEL.safetensors IN.json OUT.json [MODEL IN OUT ...]
        one training step's loss (reconstruction and KL, means per snapshot) and the
        gradient of every weight and bias, for a model with every layer (the encoder
        too) and IN's batch; the Go test compares them with forward/backward.
    cvae.py bench [--scale paper|default] [--threads 2] [--runs 50] [--train-runs 10]
        milliseconds (median of --runs after warm-up) of generation at batch 1 and 10
        (top-K, condition, full network including the projection, denormalisation),
        of the decoder's last layer alone at batch 1, and of one training step (forward,
        backward, Adam) on 64 snapshots from 64 experts, as BenchmarkTrainBatchPaper.

decode and step take several triples of files, run in one process (torch imports once).

What the bench's work does not share with the Go benchmarks (BenchmarkGenerate,
BenchmarkTrainBatchPaper): generation runs the condition's projection (2P×C weights) on
every call, where Go's Generate reads tables built once per fit; it is timed warm only
(Go also reports cold); the z-score is one mean and std per element. The training step
does the same products as Go's: no input gradient for the snapshot's columns of the
encoder or for the projection, each distinct condition projected once; but
opt.zero_grad() clears the gradients that backward then accumulates into, where Go's
backward writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "framework", "plugin", "python"))
from sglab_plugin.safetensors import read_safetensors  # noqa: E402

# bench_test.go's scales: `paper` is rank-2 LoRA on q, k, v of ViT-B/16's 12 blocks,
# `default` the default world's library with the plugin's default widths.
SCALES = {
    "paper": dict(P=36 * 2 * 2 * 768, experts=100, dim=512, hidden=512, latent=64, cdim=64, batch=64, top_k=4, tau=0.1),
    "default": dict(P=12 * 2 * 2 * 32, experts=8, dim=50, hidden=256, latent=16, cdim=64, batch=16, top_k=4, tau=0.1),
}


class CVAE(nn.Module):
    """cvae.go's network. proj is None with concatenated conditions, pri1/pri2 None
    with the standard-normal prior. The encoder's first layer is split into the
    snapshot's columns (enc1, with the bias) and the condition's (enc1c, no bias):
    the same layer, written so that backward, like Go's, computes no gradient for the
    snapshot, which is data."""

    def __init__(self, P, L, cdim, enc_h, pri_h, dec_h, projection, learned, residual, encoder=True):
        super().__init__()
        self.P, self.L, self.residual = P, L, residual
        C = cdim if projection else 2 * P
        self.C = C
        self.proj = nn.Linear(2 * P, C) if projection else None
        if encoder:
            self.enc1 = nn.Linear(P, enc_h)
            self.enc1c = nn.Linear(C, enc_h, bias=False)
            self.enc2 = nn.Linear(enc_h, 2 * L)
        self.pri1 = nn.Linear(C, pri_h) if learned else None
        self.pri2 = nn.Linear(pri_h, 2 * L) if learned else None
        self.dec1 = nn.Linear(C + L, dec_h)
        self.dec2 = nn.Linear(dec_h, dec_h)
        self.dec3 = nn.Linear(dec_h, P)

    def features(self, c):
        return c if self.proj is None else self.proj(c)

    def prior(self, cf):
        """Prior mean and log-variance, each n×L."""
        if self.pri1 is None:
            zero = cf.new_zeros(cf.shape[0], self.L)
            return zero, zero
        out = self.pri2(torch.relu(self.pri1(cf)))
        return out[:, : self.L], out[:, self.L :]

    def decode(self, cf, z, mu):
        x = self.dec3(torch.relu(self.dec2(torch.relu(self.dec1(torch.cat([cf, z], 1))))))
        return x + mu if self.residual else x

    def sample(self, c, eps):
        """newSampler(features(c), c).decode(eps): n samples for one condition c (2P)."""
        cf = self.features(c[None, :])
        mp, lvp = self.prior(cf)
        z = mp + torch.exp(0.5 * lvp) * eps
        return self.decode(cf.expand(eps.shape[0], -1), z, c[None, : self.P])

    def loss(self, x, conds, slot, eps, kl_weight):
        """forward's mean reconstruction error and KL per snapshot of the batch x (n×P)
        whose snapshot i has the condition conds[slot[i]]; each distinct condition is
        projected once, as conditionFeatures does."""
        cf = self.features(conds)[slot]
        q = self.enc2(torch.relu(self.enc1(x) + self.enc1c(cf)))
        mq, lvq = q[:, : self.L], q[:, self.L :]
        mp, lvp = self.prior(cf)
        z = mq + torch.exp(0.5 * lvq) * eps
        xhat = self.decode(cf, z, conds[slot, : self.P])
        n = x.shape[0]
        recon = ((xhat - x) ** 2).sum() / n
        kl = 0.5 * (lvp - lvq + (torch.exp(lvq) + (mq - mp) ** 2) * torch.exp(-lvp) - 1).sum() / n
        return recon, kl, recon + kl_weight * kl

    def go_layers(self):
        """(Go layer name, weight In×Out, bias) for the layers this model has; the
        encoder's two halves are joined back into Go's encoder.1."""
        out = []
        if self.proj is not None:
            out.append(("projection", self.proj))
        if hasattr(self, "enc1"):
            out += [("encoder.1", (self.enc1, self.enc1c)), ("encoder.2", self.enc2)]
        if self.pri1 is not None:
            out += [("prior.1", self.pri1), ("prior.2", self.pri2)]
        return out + [("decoder.1", self.dec1), ("decoder.2", self.dec2), ("decoder.3", self.dec3)]

    @torch.no_grad()
    def load_go(self, tensors, path):
        """Copies Go's In×Out weights and biases into the layers."""
        for name, layer in self.go_layers():
            w, b = _tensor(tensors, name + ".weight", path), _tensor(tensors, name + ".bias", path)
            if isinstance(layer, tuple):
                x, c = layer
                _copy(x.weight, w[: self.P].T, name + ".weight[:P]", path)
                _copy(c.weight, w[self.P :].T, name + ".weight[P:]", path)
                _copy(x.bias, b, name + ".bias", path)
            else:
                _copy(layer.weight, w.T, name + ".weight", path)
                _copy(layer.bias, b, name + ".bias", path)

    def go_grads(self):
        """{Go name.weight/.bias: gradient in Go's layout}."""
        out = {}
        for name, layer in self.go_layers():
            if isinstance(layer, tuple):
                x, c = layer
                out[name + ".weight"] = torch.cat([x.weight.grad, c.weight.grad], 1).T
                out[name + ".bias"] = x.bias.grad
            else:
                out[name + ".weight"] = layer.weight.grad.T
                out[name + ".bias"] = layer.bias.grad
        return out


def _tensor(tensors, name, path):
    if name not in tensors:
        raise SystemExit(f"{path}: no tensor {name!r}")
    return torch.from_numpy(np.ascontiguousarray(tensors[name], dtype=np.float32))


def _copy(dst, src, name, path):
    if tuple(dst.shape) != tuple(src.shape):
        raise SystemExit(f"{path}: tensor {name} has shape {tuple(src.shape)}, the model wants {tuple(dst.shape)}")
    dst.copy_(src)


def _model(path, encoder):
    """The model saved at path (a fit SaveFit wrote, or with encoder the test's file of
    every layer), with the widths read from its metadata and tensor shapes."""
    tensors, meta = read_safetensors(path)
    if "fit" not in meta:
        raise SystemExit(f"{path}: no 'fit' metadata; not a file SaveFit wrote")
    fit = json.loads(meta["fit"])
    cfg = fit["config"]
    P = _tensor(tensors, "decoder.3.weight", path).shape[1]
    m = CVAE(P, fit["latent"], fit["condition_dim"], cfg["EncoderHidden"], cfg["PriorHidden"], cfg["DecoderHidden"],
             fit["projection"], fit["learned"], fit["residual"], encoder=encoder)
    m.load_go(tensors, path)
    return m, cfg


def _floats(obj, key, path, shape):
    if key not in obj:
        raise SystemExit(f"{path}: no key {key!r}")
    t = torch.tensor(obj[key], dtype=torch.float32)
    if tuple(t.shape) != shape:
        raise SystemExit(f"{path}: {key!r} has shape {tuple(t.shape)}, want {shape}")
    return t


def decode(fit, inp, out):
    m, _ = _model(fit, encoder=False)
    obj = _read_json(inp)
    c = _floats(obj, "condition", inp, (2 * m.P,))
    n = len(obj.get("eps", []))
    eps = _floats(obj, "eps", inp, (n, m.L))
    with torch.inference_mode():
        x = m.sample(c, eps)
    _write_json(out, {"samples": x.tolist()})


def step(model, inp, out):
    m, cfg = _model(model, encoder=True)
    obj = _read_json(inp)
    if "slot" not in obj or "conditions" not in obj:
        raise SystemExit(f"{inp}: want keys 'slot' and 'conditions'")
    slot = torch.tensor(obj["slot"], dtype=torch.long)
    n = slot.shape[0]
    conds = _floats(obj, "conditions", inp, (len(obj["conditions"]), 2 * m.P))
    if n and not 0 <= int(slot.min()) <= int(slot.max()) < conds.shape[0]:
        raise SystemExit(f"{inp}: 'slot' indexes outside the {conds.shape[0]} conditions")
    x = _floats(obj, "x", inp, (n, m.P))
    eps = _floats(obj, "eps", inp, (n, m.L))
    recon, kl, loss = m.loss(x, conds, slot, eps, cfg["KLWeight"])
    loss.backward()
    grads = {k: v.reshape(-1).tolist() for k, v in m.go_grads().items()}
    _write_json(out, {"recon": recon.item(), "kl": kl.item(), "grads": grads})


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def _median_ms(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(1000 * (time.perf_counter() - t))
    return statistics.median(ts), min(ts), max(ts)


def _blas():
    """The BLAS library this process loaded: Debian's torch calls whatever libblas.so.3
    resolves to (the reference BLAS unless an alternative such as OpenBLAS is installed
    or put first on LD_LIBRARY_PATH), and it sets the figures."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "none"


def cmd_bench(args):
    s = SCALES[args.scale]
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(2)
    P, E, L, H = s["P"], s["experts"], s["latent"], s["hidden"]
    m = CVAE(P, L, s["cdim"], H, H, H, projection=True, learned=True, residual=False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, P={P}, experts={E}, hidden={H}, "
          f"latent={L}, condition projection {2 * P}->{s['cdim']}, {sum(p.numel() for p in m.parameters())} parameters")
    print(f"BLAS: {_blas()}")

    # The fit's ingredients: experts' embeddings, normalised means and variances, the
    # z-score (one mean and std per element, as a PyTorch user would expand Go's per
    # tensor segments).
    embs = torch.randn(E, s["dim"], generator=g)
    means = torch.randn(E, P, generator=g)
    vars_ = torch.rand(E, P, generator=g)
    zmean, zstd = torch.randn(P, generator=g), torch.rand(P, generator=g) + 0.5
    target = (torch.arange(s["dim"]) % 7 - 3).float()

    def generate(n):
        # top-K by cosine similarity, α = softmax(sim/τ), c = [μ*; σ*²] by the law of
        # total variance, the network, denormalisation: Generate's work.
        sim = torch.nn.functional.cosine_similarity(embs, target[None, :])
        top, idx = sim.topk(s["top_k"])
        a = torch.softmax(top / s["tau"], 0)[:, None]
        mk = means[idx]
        mu = (a * mk).sum(0)
        var = (a * (vars_[idx] + (mk - mu) ** 2)).sum(0)
        eps = torch.randn(n, L, generator=g)
        return m.sample(torch.cat([mu, var]), eps) * zstd + zmean

    h2 = torch.relu(torch.randn(1, H, generator=g))
    with torch.inference_mode():
        for n in (1, 10):
            med, lo, hi = _median_ms(lambda: generate(n), args.runs)
            print(f"generate batch={n}: {med:.2f} ms/call ({med / n:.2f} ms/sample; min {lo:.2f}, max {hi:.2f})")
        med, lo, hi = _median_ms(lambda: m.dec3(h2), args.runs)
        print(f"decoder.3 alone batch=1: {med:.2f} ms (min {lo:.2f}, max {hi:.2f})")

    # One Adam step on a batch of snapshots from as many distinct experts as there are
    # (at paper scale 64 from 64, BenchmarkTrainBatchPaper's batch).
    B, U = s["batch"], min(s["batch"], E)
    conds = torch.randn(U, 2 * P, generator=g)
    slot = torch.arange(B) % U
    x = torch.randn(B, P, generator=g)
    eps = torch.randn(B, L, generator=g)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def train_step():
        opt.zero_grad()
        _, _, loss = m.loss(x, conds, slot, eps, 1.0)
        loss.backward()
        opt.step()

    med, lo, hi = _median_ms(train_step, args.train_runs, warmup=2)
    print(f"train step batch={B} experts={U}: {med:.1f} ms (min {lo:.1f}, max {hi:.1f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, what in (("decode", "FIT"), ("step", "MODEL")):
        sub.add_parser(name, parents=[common]).add_argument(
            "files", nargs="+", metavar=f"{what} IN OUT", help="one or more triples, run in one process")
    b = sub.add_parser("bench", parents=[common])
    b.add_argument("--scale", choices=sorted(SCALES), default="paper", help="bench_test.go's scale (default paper)")
    b.add_argument("--runs", type=int, default=50, help="timed generations per figure (default 50)")
    b.add_argument("--train-runs", type=int, default=10, help="timed training steps (default 10)")
    args = p.parse_args(argv)
    if args.threads < 1:
        raise SystemExit(f"--threads {args.threads}: must be at least 1")
    torch.set_num_threads(args.threads)
    if args.cmd == "bench":
        cmd_bench(args)
        return
    if len(args.files) % 3:
        p.error(f"{args.cmd} takes triples of files, got {len(args.files)} names")
    for i in range(0, len(args.files), 3):
        {"decode": decode, "step": step}[args.cmd](*args.files[i : i + 3])


if __name__ == "__main__":
    main()
