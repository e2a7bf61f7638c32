"""Recall@K for image–text retrieval by the rules of sglab's framework/metrics
(Retrieval): image i and text j are relevant when their groups are equal; a query's rank
is 1 + the number of irrelevant items scoring at least as high as its best relevant item
(ties pessimistic, relevant ties harmless); a hit is a rank within K; recall is the mean
over queries that have a relevant item, in percent. A Go test checks this module against
metrics.Retrieval on one matrix."""

import numpy as np

DEFAULT_KS = (1, 5, 10)


def ranks(sim, img_groups, txt_groups):
    """The 1-based rank of the best relevant item of every image query (rows of sim) and
    every text query (columns); 0 for a query with no relevant item."""
    sim = np.asarray(sim)
    img_groups = np.asarray(img_groups)
    txt_groups = np.asarray(txt_groups)
    n, m = len(img_groups), len(txt_groups)
    if n == 0 or m == 0:
        raise ValueError(f"retrieval needs images and texts, got {n} and {m}")
    if sim.shape != (n, m):
        raise ValueError(f"similarity matrix is {sim.shape}, groups say ({n}, {m})")
    if np.isnan(sim).any():
        i, j = np.argwhere(np.isnan(sim))[0]
        raise ValueError(f"similarity [{i}][{j}] is NaN")
    rel = img_groups[:, None] == txt_groups[None, :]
    return _ranks(sim, rel), _ranks(sim.T, rel.T)


def _ranks(scores, rel):
    best = np.where(rel, scores, -np.inf).max(axis=1)
    above = ((~rel) & (scores >= best[:, None])).sum(axis=1)
    return np.where(rel.any(axis=1), 1 + above, 0)


def recall(sim, img_groups, txt_groups, ks=DEFAULT_KS):
    """{"i2t_r<K>": ..., "t2i_r<K>": ...} in percent."""
    for k in ks:
        if k < 1:
            raise ValueError(f"recall cut-off K = {k}; must be at least 1")
    i2t, t2i = ranks(sim, img_groups, txt_groups)
    out = {}
    for name, r in (("i2t", i2t), ("t2i", t2i)):
        queries = int((r > 0).sum())
        if queries == 0:
            raise ValueError(f"no {name} query has a relevant item; check the image and text groups")
        for k in ks:
            hits = int(((r > 0) & (r <= k)).sum())
            out[f"{name}_r{k}"] = 100 * hits / queries
    return out
