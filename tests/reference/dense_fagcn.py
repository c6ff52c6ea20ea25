r"""Dense float64 oracle for FAGCN's layer (Bo, Wang, Shi, Shen, "Beyond
Low-frequency Information in Graph Convolutional Networks", AAAI 2021),
written from the equations as an ``O(N^2)`` masked computation:

.. math::
    G_{ij} = \tanh(\mathbf{g}_i^{\top}\mathbf{h}_i + \mathbf{g}_j^{\top}
    \mathbf{h}_j + b) \ \text{for every pair},\qquad
    \mathbf{h}'_i = \epsilon\,\mathbf{h}^{(0)}_i + \sum_j
    \frac{A_{ij}\,G_{ij}}{\sqrt{d_i d_j}}\,\mathbf{h}_j,

where :math:`A_{ij}` counts the edges :math:`j \to i` (parallel edges
with their multiplicity, or summed weights) and :math:`d_i = \sum_j
A_{ij}` is the in-degree (a node of degree 0 contributes nothing). With
``add_self_loops`` the diagonal of :math:`A` is set to one (PyG's default;
the paper adds none). No torch_geometric, no scatter, no sparse tensors.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from reference.dense_gat import _f64, _one_hot

__all__ = ['dense_fagcn', 'dense_fagcn_adjacency']


def dense_fagcn_adjacency(edge_index: Tensor, n: int, *,
                          add_self_loops: bool = False,
                          edge_weight: Optional[Tensor] = None) -> Tensor:
    """:math:`A` ``[n, n]`` (row = target, column = source), float64."""
    src, dst = edge_index[0], edge_index[1]
    w = (torch.ones(src.numel(), dtype=torch.float64) if edge_weight is None
         else _f64(edge_weight))
    A = _one_hot(dst, n).t() @ (w[:, None] * _one_hot(src, n))
    if add_self_loops:
        eye = torch.eye(n, dtype=A.dtype)
        A = A * (1 - eye) + eye
    return A


def dense_fagcn(x: Tensor, x0: Optional[Tensor], edge_index: Tensor,
                att_src: Tensor, att_dst: Tensor, bias: Optional[Tensor],
                eps: float, *, add_self_loops: bool = False,
                edge_weight: Optional[Tensor] = None,
                normalize: bool = True) -> Tuple[Tensor, Tensor]:
    """``(out [N, C], G [N, N])``: the layer's output and the signed gate
    of every (target, source) pair. ``att_src`` is the neighbour half of
    :math:`\\mathbf{g}` (``[C]`` or ``[1, C]``), ``att_dst`` the target
    half. With ``normalize=False`` :math:`A` (the edge weights) is used
    as the normalised operator itself."""
    x = _f64(x)
    n = x.size(0)
    A = dense_fagcn_adjacency(edge_index, n, add_self_loops=add_self_loops,
                              edge_weight=edge_weight)
    s_dst = x @ _f64(att_dst).view(-1)                      # [N]
    s_src = x @ _f64(att_src).view(-1)                      # [N]
    logits = s_dst[:, None] + s_src[None, :]
    if bias is not None:
        logits = logits + _f64(bias).view(())
    G = torch.tanh(logits)
    if normalize:
        d = A.sum(dim=1)
        d_inv_sqrt = torch.where(d > 0, d.clamp_min(1e-300).rsqrt(),
                                 torch.zeros_like(d))
        T = d_inv_sqrt[:, None] * A * d_inv_sqrt[None, :]
    else:
        T = A
    out = (T * G) @ x
    if x0 is not None and eps != 0:
        out = out + eps * _f64(x0)
    return out, G
