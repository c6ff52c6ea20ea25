"""Contextual stochastic block model (CSBM) graphs with a homophily knob."""

from __future__ import annotations

import math
from typing import Callable, Tuple

import numpy as np
import torch
from torch_geometric.data import Data


def csbm(
    num_nodes: int = 2000,
    num_classes: int = 5,
    num_features: int = 64,
    avg_degree: float = 10.0,
    homophily: float = 0.7,
    feature_snr: float = 1.0,
    train_per_class: int = 20,
    num_val: int = 500,
    seed: int = 0,
) -> Data:
    r"""Samples a graph from a contextual stochastic block model (CSBM).

    Labels are class-balanced (class sizes differ by at most one). Node
    features are :math:`\mathbf{x}_i = \boldsymbol{\mu}_{y_i} +
    \boldsymbol{\varepsilon}_i` with :math:`\boldsymbol{\varepsilon}_i \sim
    \mathcal{N}(\mathbf{0}, \mathbf{I})` and class means
    :math:`\boldsymbol{\mu}_c = \mathrm{snr} \cdot \mathbf{z}_c / \sqrt{F}`,
    :math:`\mathbf{z}_c \sim \mathcal{N}(\mathbf{0}, \mathbf{I})`, so that
    :math:`\|\boldsymbol{\mu}_c\| \approx \mathrm{snr}` independently of the
    feature dimension :math:`F`.

    Edges follow a stochastic block model with one probability :math:`p` for
    every intra-class pair and one probability :math:`q` for every
    inter-class pair, chosen such that the expected number of undirected
    edges is :math:`N \cdot \mathrm{avg\_degree} / 2` and the expected edge
    homophily (fraction of edges joining two nodes of the same class) is
    :obj:`homophily`. Sampling is exact and :math:`\mathcal{O}(E)`: the
    number of edges of each kind is drawn from its binomial distribution
    and that many distinct pairs are then drawn uniformly, which is the
    same distribution as flipping a coin for every pair.

    Args:
        num_nodes (int, optional): Number of nodes :math:`N`.
            (default: :obj:`2000`)
        num_classes (int, optional): Number of classes. (default: :obj:`5`)
        num_features (int, optional): Feature dimension :math:`F`.
            (default: :obj:`64`)
        avg_degree (float, optional): Expected average node degree.
            (default: :obj:`10.0`)
        homophily (float, optional): Expected edge homophily in
            :math:`[0, 1]`. (default: :obj:`0.7`)
        feature_snr (float, optional): Norm of the class means relative to
            the unit noise. :obj:`0.0` makes features uninformative.
            (default: :obj:`1.0`)
        train_per_class (int, optional): Training nodes per class.
            (default: :obj:`20`)
        num_val (int, optional): Number of validation nodes; all remaining
            nodes are test nodes. (default: :obj:`500`)
        seed (int, optional): Random seed; equal seeds give identical
            graphs. (default: :obj:`0`)

    Returns:
        torch_geometric.data.Data: A graph with :obj:`x` (float32
        :obj:`[N, F]`), coalesced undirected :obj:`edge_index` without
        self-loops, :obj:`y`, boolean :obj:`train_mask`, :obj:`val_mask`,
        :obj:`test_mask` of shape :obj:`[N]`, :obj:`name='csbm'` and
        :obj:`num_classes`.

    Raises:
        ValueError: If the requested degree/homophily combination needs
            edge probabilities above one, or the split does not fit.
    """
    _check_args(num_nodes, num_classes, num_features, avg_degree, homophily,
                feature_snr, train_per_class, num_val)
    rng = np.random.default_rng(seed)
    N, C = num_nodes, num_classes

    # Balanced labels in random order: class `c` gets `N // C` or one more.
    y = rng.permutation(np.arange(N) % C)
    sizes = np.bincount(y, minlength=C).astype(np.int64)
    # Nodes grouped by class: members of class c are
    # by_class[offsets[c]:offsets[c] + sizes[c]].
    by_class = np.argsort(y, kind='stable')
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    num_intra_pairs = int((sizes * (sizes - 1) // 2).sum())
    num_inter_pairs = N * (N - 1) // 2 - num_intra_pairs
    num_edges = N * avg_degree / 2.0
    p_intra = homophily * num_edges / max(num_intra_pairs, 1)
    p_inter = (1.0 - homophily) * num_edges / max(num_inter_pairs, 1)
    if p_intra > 1.0 or p_inter > 1.0 or (num_inter_pairs == 0
                                          and homophily < 1.0):
        raise ValueError(
            f"csbm: avg_degree={avg_degree} with homophily={homophily} is "
            f"infeasible for {N} nodes in {C} classes (it needs intra-class "
            f"edge probability {p_intra:.3g} and inter-class probability "
            f"{p_inter:.3g}, both must be <= 1)")

    k_intra = int(rng.binomial(num_intra_pairs, p_intra))
    k_inter = int(rng.binomial(num_inter_pairs, p_inter))

    def draw_intra(n: int) -> Tuple[np.ndarray, np.ndarray]:
        # Pick a class proportionally to its number of pairs, then two
        # distinct members of it; this is uniform over intra-class pairs.
        weights = sizes * (sizes - 1) / 2.0
        cls = rng.choice(C, size=n, p=weights / weights.sum())
        size = sizes[cls]
        i = np.floor(rng.random(n) * size).astype(np.int64)
        j = np.floor(rng.random(n) * (size - 1)).astype(np.int64)
        j += j >= i  # skip `i` itself: no self-loops
        return by_class[offsets[cls] + i], by_class[offsets[cls] + j]

    def draw_inter(n: int) -> Tuple[np.ndarray, np.ndarray]:
        # Uniform ordered pairs, rejecting same-class ones, are uniform over
        # inter-class pairs. Acceptance is 1 - sum(n_c^2)/N^2 ~ 1 - 1/C.
        accept = max(1.0 - float((sizes**2).sum()) / N**2, 1e-3)
        m = int(math.ceil(n / accept * 1.1)) + 16
        u = rng.integers(0, N, size=m)
        v = rng.integers(0, N, size=m)
        keep = y[u] != y[v]
        return u[keep], v[keep]

    intra = _distinct_pairs(draw_intra, k_intra, N, rng)
    inter = _distinct_pairs(draw_inter, k_inter, N, rng)
    keys = np.concatenate([intra, inter])  # disjoint: different pair types
    row, col = keys // N, keys % N
    # Both directions, sorted by (row, col): this is the coalesced form.
    both = np.concatenate([row * N + col, col * N + row])
    both.sort()
    edge_index = torch.from_numpy(np.stack([both // N, both % N]))

    means = rng.standard_normal((C, num_features)) * (feature_snr /
                                                      math.sqrt(num_features))
    x = means[y] + rng.standard_normal((N, num_features))

    train_mask = np.zeros(N, dtype=bool)
    for c in range(C):
        members = by_class[offsets[c]:offsets[c] + sizes[c]]
        train_mask[rng.choice(members, size=train_per_class,
                              replace=False)] = True
    rest = rng.permutation(np.flatnonzero(~train_mask))
    val_mask = np.zeros(N, dtype=bool)
    val_mask[rest[:num_val]] = True
    test_mask = ~(train_mask | val_mask)

    data = Data(
        x=torch.from_numpy(x.astype(np.float32)),
        edge_index=edge_index.to(torch.long),
        y=torch.from_numpy(y.astype(np.int64)),
        train_mask=torch.from_numpy(train_mask),
        val_mask=torch.from_numpy(val_mask),
        test_mask=torch.from_numpy(test_mask),
    )
    data.name = 'csbm'
    data.num_classes = C
    return data


def _distinct_pairs(draw: Callable[[int], Tuple[np.ndarray, np.ndarray]],
                    k: int, num_nodes: int,
                    rng: np.random.Generator) -> np.ndarray:
    r"""Draws :obj:`k` distinct unordered pairs from :obj:`draw`, encoded as
    :obj:`min * N + max`, uniformly among the pairs :obj:`draw` can
    produce."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.zeros(0, dtype=np.int64)
    while keys.size < k:
        # Graphs are sparse, so duplicates are rare and a little
        # over-sampling almost always finishes in one round.
        need = k - keys.size
        u, v = draw(int(need * 1.05) + 16)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        keys = np.concatenate([keys, lo.astype(np.int64) * num_nodes + hi])
        # Sort-based dedup: much faster than `np.unique`'s hashing here.
        keys.sort()
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    # Subsample uniformly: `keys` is sorted, so truncating would be biased.
    return np.sort(rng.choice(keys, size=k, replace=False))


def _check_args(num_nodes, num_classes, num_features, avg_degree, homophily,
                feature_snr, train_per_class, num_val) -> None:
    if num_nodes < 2 or num_classes < 1 or num_features < 1:
        raise ValueError("csbm: need num_nodes >= 2, num_classes >= 1 and "
                         "num_features >= 1")
    if num_classes > num_nodes:
        raise ValueError("csbm: num_classes must not exceed num_nodes")
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"csbm: homophily must lie in [0, 1] "
                         f"(got {homophily})")
    if avg_degree < 0 or feature_snr < 0:
        raise ValueError("csbm: avg_degree and feature_snr must be >= 0")
    if train_per_class < 0 or num_val < 0:
        raise ValueError("csbm: train_per_class and num_val must be >= 0")
    if train_per_class > num_nodes // num_classes:
        raise ValueError(f"csbm: train_per_class={train_per_class} exceeds "
                         f"the smallest class ({num_nodes // num_classes})")
    if train_per_class * num_classes + num_val > num_nodes:
        raise ValueError("csbm: train_per_class * num_classes + num_val "
                         "exceeds num_nodes")
