r"""Dense float64 oracle for DAGNN's adaptive adjustment (Liu, Gao, Ji,
"Towards Deeper Graph Neural Networks", KDD 2020, Eq. 9), written from the
equations with explicit matrix powers:

.. math::
    \hat A = \tilde D^{-1/2}\tilde A\tilde D^{-1/2},\quad
    H_\ell = \hat A^{\ell} Z,\quad
    S_{i\ell} = \sigma(H_{\ell,i}\,s + b),\quad
    X'_i = \sum_{\ell=0}^{K} S_{i\ell} H_{\ell,i}.

:math:`\tilde A_{ij}` counts the edges :math:`j \to i` (multi-edges with
their multiplicity, or summed weights); with ``add_self_loops`` the graph's
own loops are dropped and one loop of weight 1 per node is added (PyG's
``gcn_norm``, which the official code uses). :math:`\tilde d_i` is row
:math:`i`'s sum (the in-degree). No torch_geometric, no scatter, no sparse
tensors.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from reference.dense_gat import _f64, _one_hot, neighbourhood_counts

__all__ = ['dense_dagnn', 'dense_gcn_operator']


def dense_gcn_operator(edge_index: Tensor, n: int, *,
                       add_self_loops: bool = True,
                       edge_weight: Optional[Tensor] = None) -> Tensor:
    r""":math:`\tilde D^{-1/2}\tilde A\tilde D^{-1/2}` as a dense
    ``[n, n]`` float64 matrix (zero rows/columns for zero degree)."""
    if edge_weight is None:
        A = neighbourhood_counts(edge_index, n, n, add_self_loops)
    else:
        src, dst = edge_index[0], edge_index[1]
        A = _one_hot(dst, n).t() @ (_f64(edge_weight)[:, None]
                                    * _one_hot(src, n))
        if add_self_loops:
            eye = torch.eye(n, dtype=A.dtype)
            A = A * (1 - eye) + eye
    d = A.sum(dim=1)
    d_inv_sqrt = torch.where(d > 0, d.clamp_min(1e-300).rsqrt(),
                             torch.zeros_like(d))
    return d_inv_sqrt[:, None] * A * d_inv_sqrt[None, :]


def dense_dagnn(z: Tensor, edge_index: Tensor, proj_weight: Tensor,
                proj_bias: Optional[Tensor], K: int, *,
                add_self_loops: bool = True,
                edge_weight: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
    """``(out [N, C], retention scores [N, K + 1])``; ``proj_weight`` is
    ``[1, C]`` (the paper's :math:`s^\\top`), ``proj_bias`` ``[1]``."""
    z = _f64(z)
    n = z.size(0)
    A_hat = dense_gcn_operator(edge_index, n, add_self_loops=add_self_loops,
                               edge_weight=edge_weight)
    hops = torch.stack([torch.linalg.matrix_power(A_hat, k) @ z
                        for k in range(K + 1)])          # [K + 1, N, C]
    logits = hops @ _f64(proj_weight).view(-1)            # [K + 1, N]
    if proj_bias is not None:
        logits = logits + _f64(proj_bias)
    scores = torch.sigmoid(logits)
    out = (scores[:, :, None] * hops).sum(dim=0)
    return out, scores.t()
