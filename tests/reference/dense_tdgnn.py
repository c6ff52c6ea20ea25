"""Dense float64 oracle of TDGNN's tree-decomposed propagation (Wang and
Derr, "Tree Decomposed Graph Neural Network", CIKM 2021, arXiv:2108.11022),
written from the paper's definitions with the official code's conventions:

* ``A[i, j] = 1`` for an edge ``j -> i`` (``edge_index[:, e] = (j, i)``),
  repeated edges once, the graph's self-loops dropped;
  ``Â = D̃^{-1/2} (A + I) D̃^{-1/2}`` with ``D̃`` the row sums of ``A + I``;
* shortest-path distances ``dist[i, j]`` (from ``j`` to ``i``) by
  Floyd–Warshall, independent of the powers of ``Â``;
* layer ``l`` of node ``i``: the ``j != i`` with ``dist[i, j] == l``, plus
  ``i`` itself in layer 1 (the official BFS puts the root in the first
  group); weight ``w_l(i, j) = sum_{k=l}^{K} (Â^k)[i, j]`` (dense powers);
* ``reverse_dependency``: the member's weight read at the transposed
  position, ``sum_k (Â^k)[j, i]``, as the official code does;
* output ``g_0 Z + sum_{l in layers} g_l W_l Z`` (``g`` all ones for
  TDGNN-s; the ``g_0 Z`` term only with ``include_self``).

Only dense tensor algebra; no torch_geometric, no sparse ops.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

__all__ = ['dense_adjacency', 'dense_distances', 'dense_layer_matrices',
           'dense_tdgnn']

INF = float('inf')


def dense_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """0/1 ``[N, N]`` float64, ``A[i, j] = 1`` for an edge ``j -> i``,
    without self-loops."""
    a = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    for j, i in edge_index.t().tolist():
        if i != j:
            a[i, j] = 1.0
    return a


def dense_distances(adjacency: Tensor) -> Tensor:
    """Floyd–Warshall: ``dist[i, j]``, the fewest edges on a path ``j -> ...
    -> i`` (``inf`` if none, 0 on the diagonal)."""
    n = adjacency.size(0)
    dist = torch.full((n, n), INF, dtype=torch.float64)
    dist[adjacency > 0] = 1.0
    dist.fill_diagonal_(0.0)
    for m in range(n):
        # i <- m <- j
        dist = torch.minimum(dist, dist[:, m:m + 1] + dist[m:m + 1, :])
    return dist


def dense_layer_matrices(edge_index: Tensor, num_nodes: int, num_hops: int,
                         layers: Sequence[int],
                         reverse_dependency: bool = False
                         ) -> Dict[int, Tensor]:
    """``{l: W_l}``, ``W_l[i, j] = w_l(i, j)`` on the members of layer
    ``l`` of node ``i`` and 0 elsewhere; with ``reverse_dependency`` the
    weight of a member is ``sum_{k=l}^{K} (Â^k)[j, i]`` (the official
    code's reading on directed graphs)."""
    a = dense_adjacency(edge_index, num_nodes)
    a_loop = a + torch.eye(num_nodes, dtype=torch.float64)
    deg = a_loop.sum(dim=1)
    a_hat = deg.pow(-0.5).view(-1, 1) * a_loop * deg.pow(-0.5).view(1, -1)
    powers = [torch.eye(num_nodes, dtype=torch.float64)]
    for _ in range(num_hops):
        powers.append(a_hat @ powers[-1])
    dist = dense_distances(a)
    eye = torch.eye(num_nodes, dtype=torch.bool)
    out = {}
    for layer in layers:
        member = (dist == layer) & ~eye
        if layer == 1:
            member = member | eye
        total = sum(powers[k] for k in range(layer, num_hops + 1))
        if reverse_dependency:
            total = total.t()
        out[layer] = torch.where(member, total, torch.zeros_like(total))
    return out


def dense_tdgnn(z: Tensor, edge_index: Tensor, num_hops: int,
                layers: Sequence[int], gamma: Optional[Tensor] = None,
                include_self: bool = True,
                reverse_dependency: bool = False) -> Tensor:
    """The propagated representations ``[N, F]`` (differentiable in ``z``
    and ``gamma``; ``gamma`` has ``int(include_self) + len(layers)``
    entries, :obj:`None` for TDGNN-s)."""
    n = z.size(0)
    mats = dense_layer_matrices(edge_index, n, num_hops, layers,
                                reverse_dependency)
    offset = int(include_self)
    out = torch.zeros_like(z)
    if include_self:
        out = out + (z if gamma is None else gamma[0] * z)
    for p, layer in enumerate(layers):
        h = mats[layer].to(z.dtype) @ z
        out = out + (h if gamma is None else gamma[offset + p] * h)
    return out
