r"""Dense float64 oracle for DySAT (Sankar et al., "DySAT: Deep Neural
Representation Learning on Dynamic Graphs via Self-Attention Networks",
WSDM 2020), written from the paper's equations in masked ``O(N^2)`` form.

Structural attention (Eq. 1), one snapshot, :math:`H` heads concatenated:

.. math::
    A &= \text{(summed weights of the edges } u \to v)
    \;[+\, I],\qquad \hat A = D^{-1/2} A D^{-1/2}\ \text{(optional)}

    e_{vu} &= \mathrm{LeakyReLU}\big(\hat A_{vu}\,(a_s^\top W x_u +
    a_t^\top W x_v)\big), \quad \alpha_{vu} = \frac{\exp e_{vu}\,
    [\hat A_{vu} \ne 0]}{\sum_w \exp e_{vw}\,[\hat A_{vw} \ne 0]}

    h_v &= \mathrm{ELU}\Big(\sum_u \alpha_{vu} W x_u\Big)

Temporal attention (Eq. 3) per node, causal, with position embeddings:
:math:`X = x + P`, :math:`\beta = \mathrm{softmax}(Q K^\top/\sqrt{d} + M)`,
:math:`Z = \beta V`, then :math:`\mathrm{ReLU}(Z W_f + b_f) + Z`.
No torch_geometric, no scatter, no sparse tensors: explicit loops over
nodes and time steps.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['dense_dysat_structural', 'dense_temporal', 'dense_weights']

DTYPE = torch.float64


def dense_weights(edge_index: Tensor, n: int,
                  edge_weight: Optional[Tensor] = None, *,
                  add_self_loops: bool = True,
                  normalize: bool = True) -> Tuple[Tensor, Tensor]:
    """``(weights [n, n], mask [n, n])``, row = target, column = source."""
    A = torch.zeros(n, n, dtype=DTYPE)
    mask = torch.zeros(n, n, dtype=torch.bool)
    w = (torch.ones(edge_index.size(1), dtype=DTYPE) if edge_weight is None
         else edge_weight.to(DTYPE))
    for e in range(edge_index.size(1)):
        u, v = int(edge_index[0, e]), int(edge_index[1, e])
        A[v, u] = A[v, u] + w[e]
        mask[v, u] = True
    if add_self_loops:
        A = A + torch.eye(n, dtype=DTYPE)
        mask = mask | torch.eye(n, dtype=torch.bool)
    if normalize:
        d = A.sum(dim=1)
        inv = torch.where(d > 0, d.clamp_min(1e-300).rsqrt(),
                          torch.zeros_like(d))
        A = inv[:, None] * A * inv[None, :]
    return A, mask


def dense_dysat_structural(x: Tensor, edge_index: Tensor, W: Tensor,
                           att_src: Tensor, att_dst: Tensor, *,
                           edge_weight: Optional[Tensor] = None,
                           add_self_loops: bool = True,
                           normalize: bool = True,
                           negative_slope: float = 0.2,
                           res_weight: Optional[Tensor] = None,
                           act: bool = True) -> Tuple[Tensor, Tensor]:
    """``(out [N, H * C], alpha [N, N, H])`` with ``alpha[v, u, h]``;
    ``W`` is ``[H * C, F]``, ``att_*`` ``[1, H, C]``."""
    x = x.to(DTYPE)
    n = x.size(0)
    H, C = att_src.shape[-2], att_src.shape[-1]
    A, mask = dense_weights(edge_index, n, edge_weight,
                            add_self_loops=add_self_loops,
                            normalize=normalize)
    h = (x @ W.to(DTYPE).t()).view(n, H, C)
    s = (h * att_src.to(DTYPE)).sum(-1)            # [n, H], source part
    t = (h * att_dst.to(DTYPE)).sum(-1)            # [n, H], target part
    logits = A[:, :, None] * (t[:, None, :] + s[None, :, :])  # [v, u, H]
    logits = torch.where(logits >= 0, logits, negative_slope * logits)
    logits = logits.masked_fill(~mask[:, :, None], float('-inf'))
    has = mask.any(dim=1)
    alpha = torch.zeros(n, n, H, dtype=DTYPE)
    alpha[has] = torch.softmax(logits[has], dim=1)
    out = torch.einsum('vuh,uhc->vhc', alpha, h).reshape(n, H * C)
    if res_weight is not None:
        out = out + x @ res_weight.to(DTYPE).t()
    if act:
        out = torch.where(out > 0, out, torch.expm1(out))
    return out, alpha


def dense_temporal(x: Tensor, position: Tensor, Wq: Tensor, Wk: Tensor,
                   Wv: Tensor, heads: int, ffn_weight: Optional[Tensor],
                   ffn_bias: Optional[Tensor], residual: bool = False
                   ) -> Tuple[Tensor, Tensor]:
    """``(out [N, T, F], beta [N, H, T, T])``, one node and one head at a
    time; ``W*`` are ``[F, F]`` in ``nn.Linear`` layout (out, in)."""
    x = x.to(DTYPE)
    N, T, F = x.shape
    d = F // heads
    out = torch.zeros(N, T, F, dtype=DTYPE)
    beta = torch.zeros(N, heads, T, T, dtype=DTYPE)
    for v in range(N):
        X = x[v] + position[:T].to(DTYPE)
        Q, K, V = X @ Wq.to(DTYPE).t(), X @ Wk.to(DTYPE).t(), \
            X @ Wv.to(DTYPE).t()
        parts = []
        for h in range(heads):
            sl = slice(h * d, (h + 1) * d)
            e = Q[:, sl] @ K[:, sl].t() / math.sqrt(d)
            M = torch.full((T, T), float('-inf'), dtype=DTYPE).triu(1)
            b = torch.softmax(e + M, dim=1)
            beta[v, h] = b
            parts.append(b @ V[:, sl])
        Z = torch.cat(parts, dim=1)
        if ffn_weight is not None:
            Z = torch.relu(Z @ ffn_weight.to(DTYPE).t()
                           + ffn_bias.to(DTYPE)) + Z
        if residual:
            Z = Z + X
        out[v] = Z
    return out, beta
