r"""Dense float64 oracle of SiGAT (Huang et al., "Signed Graph Attention
Networks", ICANN 2019, arXiv:1906.10958).

Written from the paper's definitions with dense tensor algebra only (no
``torch_geometric``, no scipy, no sparse tensors, no ``gat_zoo``):

* :func:`dense_motif_adjacency`: the 38 motif adjacency matrices
  ``[38, N, N]`` (``M[m, i, j] = 1`` iff ``j`` is in motif ``m``'s
  neighbourhood of ``i``), from the dense signed adjacency ``A_s[u, v]`` by
  explicit logic. A triad motif checks the existence of a third node ``w``
  over an explicit ``[N, N, N]`` indicator with ``w`` different from both
  ends, so it is independent of the masked sparse product of
  :mod:`gat_zoo.ops.motifs`.
* :func:`dense_sigat`: per motif a masked GAT softmax over all ``(i, j)``
  pairs (``N_m(i) ∪ {i}``), ``X_m = alpha_m @ (W_m x + b_m)``, then
  ``z = W2 tanh(W1 [x || X_1 || ... || X_M] + b1) + b2``.

Conventions (shared with :mod:`gat_zoo.ops.motifs`): ``edge_index[0]`` is the
source ``u`` of ``u -> v``; signs are +1/-1; duplicates count once;
self-loops are ignored; motif order: 6 first-order (``pos``, ``pos_out``,
``pos_in``, ``neg``, ``neg_out``, ``neg_in``) then, for edge sign ``+`` and
``-``, direction pairs (out,in), (out,out), (in,out), (in,in), each with sign
pairs ++, +-, -+, --.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor

__all__ = ['dense_motif_adjacency', 'dense_sigat', 'sigat_params_from_module',
           'random_signed_graph']

DTYPE = torch.float64


def _signed_adjacency(edge_index: Tensor, sign: Tensor,
                      n: int) -> Dict[str, Tensor]:
    adj = {'+': torch.zeros(n, n, dtype=DTYPE),
           '-': torch.zeros(n, n, dtype=DTYPE)}
    for (u, v), s in zip(edge_index.t().tolist(), sign.tolist()):
        if u == v:
            continue
        adj['+' if s > 0 else '-'][u, v] = 1.0
    return adj


def dense_motif_adjacency(edge_index: Tensor, sign: Tensor,
                          n: int) -> Tensor:
    """``[38, n, n]`` 0/1 motif adjacency, centre-major (row = centre)."""
    A = _signed_adjacency(edge_index, sign, n)
    mats = []
    for s in '+-':
        mats.append(((A[s] + A[s].t()) > 0).to(DTYPE))  # either direction
        mats.append(A[s].clone())                       # i -s-> j
        mats.append(A[s].t().clone())                   # j -s-> i
    # rel[(d, s)][x, w] = 1 iff x relates to w as d with sign s
    #   i-side: 'out' i -> w, 'in' w -> i; j-side: 'in' w -> j, 'out' j -> w.
    rel = {('out', s): A[s] for s in '+-'}
    rel.update({('in', s): A[s].t() for s in '+-'})
    idx = torch.arange(n)
    third = ((idx.view(1, 1, n) != idx.view(n, 1, 1)) &
             (idx.view(1, 1, n) != idx.view(1, n, 1))).to(DTYPE)  # [i, j, w]
    for e in '+-':
        for d1, d2 in (('out', 'in'), ('out', 'out'), ('in', 'out'),
                       ('in', 'in')):
            for s1, s2 in (('+', '+'), ('+', '-'), ('-', '+'), ('-', '-')):
                left = rel[(d1, s1)]    # [i, w]
                right = rel[(d2, s2)]   # [j, w]
                exists = (left.view(n, 1, n) * right.view(1, n, n) *
                          third).amax(dim=-1) if n else torch.zeros(0, 0)
                mats.append(A[e] * exists.to(DTYPE))
    return torch.stack(mats) if n else torch.zeros(38, 0, 0, dtype=DTYPE)


def dense_sigat(x: Tensor, motif_adj: Tensor, weight: Tensor,
                bias: Tensor, att_dst: Tensor, att_src: Tensor, w1: Tensor,
                b1: Tensor, w2: Tensor, b2: Tensor,
                negative_slope: float = 0.1,
                add_self_loops: bool = True) -> Tuple[Tensor, Tensor]:
    """``(z, alpha)``: embeddings ``[N, D]`` and the attention ``[M, N, N]``
    (``alpha[m, i, j]``, zero outside ``N_m(i) ∪ {i}``).

    ``weight`` ``[M*C, F]`` / ``bias`` ``[M*C]`` stack the motif projections,
    ``att_dst`` / ``att_src`` ``[M, C]`` are the centre / neighbour halves of
    ``a_m``; ``w1, b1, w2, b2`` the MLP (``torch.nn.Linear`` layout)."""
    x = x.to(DTYPE)
    M, N = motif_adj.shape[0], x.shape[0]
    C = weight.shape[0] // M
    mask = motif_adj.to(DTYPE).clone()
    if add_self_loops:
        eye = torch.eye(N, dtype=DTYPE)
        mask = mask * (1 - eye) + eye
    outs, alphas = [], []
    for m in range(M):
        h = x @ weight[m * C:(m + 1) * C].to(DTYPE).t() + (
            0 if bias is None else bias[m * C:(m + 1) * C].to(DTYPE))
        e = (h @ att_dst[m].to(DTYPE)).view(N, 1) + \
            (h @ att_src[m].to(DTYPE)).view(1, N)
        e = torch.where(e > 0, e, negative_slope * e)
        e = e.masked_fill(mask[m] == 0, float('-inf'))
        has = (mask[m] > 0).any(dim=1, keepdim=True)
        a = torch.softmax(torch.where(has, e, torch.zeros_like(e)), dim=1)
        a = torch.where(has, a, torch.zeros_like(a)) * (mask[m] > 0)
        alphas.append(a)
        outs.append(a @ h)
    cat = torch.cat([x] + outs, dim=1)
    z = torch.tanh(cat @ w1.to(DTYPE).t() + b1.to(DTYPE)) @ \
        w2.to(DTYPE).t() + b2.to(DTYPE)
    return z, torch.stack(alphas)


def sigat_params_from_module(conv) -> Dict[str, Tensor]:
    """The parameters of a ``SiGATConv`` in :func:`dense_sigat`'s names."""
    M, C = conv.num_motifs, conv.motif_channels
    return dict(weight=conv.lin.weight, bias=conv.lin.bias,
                att_dst=conv.att_dst.view(M, C),
                att_src=conv.att_src.view(M, C),
                w1=conv.mlp_hidden.weight, b1=conv.mlp_hidden.bias,
                w2=conv.mlp_out.weight, b2=conv.mlp_out.bias,
                negative_slope=conv.negative_slope,
                add_self_loops=conv.add_self_loops)


def random_signed_graph(n: int, e: int, seed: int, isolated: int = 2,
                        p_neg: float = 0.35) -> Tuple[Tensor, Tensor]:
    """A random signed directed multigraph on nodes ``0..n-1-isolated``
    (the last ``isolated`` nodes have no edge), with self-loops, duplicated
    edges and a pair carrying both signs."""
    gen = torch.Generator().manual_seed(seed)
    m = max(n - isolated, 1)
    ei = torch.randint(0, m, (2, e), generator=gen)
    sign = torch.where(torch.rand(e, generator=gen) < p_neg, -1, 1)
    extra = torch.tensor([[0, 1, 1, 2], [0, 2, 2, 1]]) % m  # loop, duplicates
    ei = torch.cat([ei, extra], dim=1)
    sign = torch.cat([sign, torch.tensor([1, 1, -1, -1])])
    return ei, sign
