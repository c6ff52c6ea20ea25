r"""Dense float64 oracle for MAGNA's attention diffusion layer (Wang, Ying,
Huang, Leskovec, "Multi-hop Attention Graph Neural Network", IJCAI 2021),
written from the equations.

Like :mod:`reference.dense_pprgat`, this reuses the graph encoding and the
masked softmax of :mod:`reference.dense_gat` and uses dense ``O(N^2)``
tensor algebra only: no ``torch_geometric``, no scatter, no sparse tensors,
no recursion. The diffusion is computed from explicit matrix powers.

Conventions (those of :mod:`reference.dense_gat`):

* ``edge_index[0]`` is the source :math:`j`, ``edge_index[1]`` the target
  :math:`i`; :math:`C_{ij}` counts the edges :math:`j \to i`
  (:func:`~reference.dense_gat.neighbourhood_counts`). With
  ``add_self_loops=True`` existing self-loops are dropped and one per node
  added.
* Multi-edges count with their multiplicity: every copy of :math:`j \to i`
  gets the weight :math:`\alpha_{ij}`, contributes once to the softmax
  normaliser and once to the aggregation, so the attention matrix is
  :math:`A_{ij} = C_{ij}\alpha_{ij}` (rows of non-isolated targets sum to
  one).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from reference.dense_gat import (
    _check_edge_index,
    _check_shape,
    _f64,
    _leaky_relu,
    _masked_softmax,
    neighbourhood_counts,
)

__all__ = [
    'attention_matrix',
    'dense_magna',
    'diffusion_limit',
    'magna_params_from_module',
    'top_k_counts',
    'truncated_diffusion',
]

DTYPE = torch.float64


def truncated_diffusion(A: Tensor, alpha: float, num_hops: int) -> Tensor:
    r"""The matrix the :math:`K`-step recursion
    :math:`Z^{(k+1)} = (1-\alpha)AZ^{(k)} + \alpha Z^{(0)}` applies to
    :math:`Z^{(0)}`, from explicit powers:

    .. math::
        T_K = \sum_{k=0}^{K-1} \alpha(1-\alpha)^k A^k + (1-\alpha)^K A^K.

    ``A`` is ``[N, N]`` or ``[H, N, N]`` (one matrix per head)."""
    A = _f64(A)
    total = torch.zeros_like(A)
    for k in range(num_hops):  # matrix_power(A, 0) is the identity
        theta = alpha * (1.0 - alpha)**k
        total = total + theta * torch.linalg.matrix_power(A, k)
    return total + (1.0 - alpha)**num_hops * torch.linalg.matrix_power(
        A, num_hops)


def diffusion_limit(A: Tensor, alpha: float) -> Tensor:
    r"""The paper's infinite series
    :math:`\mathcal{A} = \sum_{k \ge 0}\alpha(1-\alpha)^k A^k
    = \alpha\,(I - (1-\alpha)A)^{-1}` (converges for a row-substochastic
    :math:`A` and :math:`\alpha > 0`)."""
    A = _f64(A)
    eye = torch.eye(A.size(-1), dtype=DTYPE).expand_as(A)
    return alpha * torch.linalg.inv(eye - (1.0 - alpha) * A)


def top_k_counts(e: Tensor, counts: Tensor, k: int) -> Tensor:
    r"""The counts :math:`C_{ij}` of the edges node :math:`i` keeps under
    top-:math:`k` selection of one head's scores ``e`` ``[n_dst, n_src]``:
    those whose score is at least the :math:`\min(k, d_i)`-th largest of
    the :math:`d_i` incoming edge scores (each copy of a multi-edge is one
    edge; ties at the threshold are kept), written as plain loops."""
    kept = torch.zeros_like(counts)
    for i in range(counts.size(0)):
        scores = []
        for j in range(counts.size(1)):
            scores += [float(e[i, j])] * int(counts[i, j])
        if not scores:
            continue
        scores.sort(reverse=True)
        threshold = scores[min(k, len(scores)) - 1]
        for j in range(counts.size(1)):
            if counts[i, j] > 0 and float(e[i, j]) >= threshold:
                kept[i, j] = counts[i, j]
    return kept


def attention_matrix(alpha_dense: Tensor, counts: Tensor) -> Tensor:
    r""":math:`A^{h}_{ij} = C_{ij}\alpha^{h}_{ij}` as ``[H, N, N]``."""
    return (counts.unsqueeze(-1) * alpha_dense).permute(2, 0, 1)


def dense_magna(
    x: Tensor,
    edge_index: Tensor,
    *,
    W: Tensor,
    W_head: Tensor,
    W_tail: Tensor,
    att_head: Tensor,
    att_tail: Tensor,
    heads: int,
    out_channels: int,
    alpha: float,
    num_hops: int,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    W_out: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    top_k: Optional[int] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense MAGNA attention diffusion layer.

    .. math::
        s^{h}_{ij} &= \mathrm{LeakyReLU}\big(\mathbf{v}_{h}^{\top}
        \tanh(W_{head}^{h} x_i) + \mathbf{v}_{t}^{\top}
        \tanh(W_{tail}^{h} x_j)\big), \\
        \alpha^{h}_{ij} &= \mathrm{softmax}_{j : C_{ij} > 0}(s^{h}_{ij})
        \ \text{(with multiplicities)}, \qquad
        A^{h} = C \odot \alpha^{h}, \\
        o^{h} &= T_K(A^{h})\, X W^{h\top}, \qquad
        out = \big(\Vert_h o^{h}\big) W_{out}^{\top} + b

    (heads averaged instead with ``concat=False``; ``W_head = W_tail = W``
    gives the official code's shared-projection score). With ``top_k``,
    each head's softmax and :math:`A^h` use the counts of
    :func:`top_k_counts` instead of :math:`C` (the official code's
    top-:math:`k` selection).

    Returns ``(out, alpha)``, ``alpha`` the one-hop coefficients
    ``[N, N, H]`` (read per edge with
    :func:`reference.dense_gat.edge_attention`)."""
    H, Cc = int(heads), int(out_channels)
    x = _f64(x)
    n = x.size(0)
    edge_index = _check_edge_index(edge_index, n, n)
    W, W_head, W_tail = _f64(W), _f64(W_head), _f64(W_tail)
    att_head, att_tail = _f64(att_head), _f64(att_tail)
    for name, t in (('W', W), ('W_head', W_head), ('W_tail', W_tail)):
        _check_shape(name, t, (H * Cc, x.size(1)))
    _check_shape('att_head', att_head, (1, H, Cc))
    _check_shape('att_tail', att_tail, (1, H, Cc))

    counts = neighbourhood_counts(edge_index, n, n, add_self_loops)
    f_head = (torch.tanh((x @ W_head.t()).view(n, H, Cc)) *
              att_head).sum(-1)                       # [N, H], target i
    f_tail = (torch.tanh((x @ W_tail.t()).view(n, H, Cc)) *
              att_tail).sum(-1)                       # [N, H], source j
    logits = f_head.unsqueeze(1) + f_tail.unsqueeze(0)  # [i, j, H]
    scores = _leaky_relu(logits, negative_slope)
    if top_k is None:
        alpha_dense = _masked_softmax(scores, counts)
        A = attention_matrix(alpha_dense, counts)        # [H, N, N]
    else:
        alphas, mats = [], []
        for h in range(H):
            kept = top_k_counts(scores[..., h].detach(), counts, int(top_k))
            alpha_h = _masked_softmax(scores[..., h:h + 1], kept)
            alphas.append(alpha_h)
            mats.append(attention_matrix(alpha_h, kept))
        alpha_dense = torch.cat(alphas, dim=-1)
        A = torch.cat(mats, dim=0)
    T = truncated_diffusion(A, alpha, num_hops)          # [H, N, N]
    Z0 = (x @ W.t()).view(n, H, Cc).permute(1, 0, 2)     # [H, N, C]
    out = (T @ Z0).permute(1, 0, 2)                      # [N, H, C]
    out = out.reshape(n, H * Cc) if concat else out.mean(dim=1)
    if W_out is not None:
        W_out = _f64(W_out)
        _check_shape('W_out', W_out, (out.size(1), out.size(1)))
        out = out @ W_out.t()
    if bias is not None:
        bias = _f64(bias)
        _check_shape('bias', bias, (out.size(1), ))
        out = out + bias
    return out, alpha_dense


def magna_params_from_module(module) -> Dict[str, object]:
    """Keyword arguments of :func:`dense_magna` read from a ``MAGNAConv``
    (its own parameters, so gradients of the oracle reach them)."""
    W = module.lin.weight
    shared = module.lin_head is None
    return dict(
        W=W,
        W_head=W if shared else module.lin_head.weight,
        W_tail=W if shared else module.lin_tail.weight,
        att_head=module.att_head,
        att_tail=module.att_tail,
        heads=int(module.heads),
        out_channels=int(module.out_channels),
        alpha=float(module.alpha),
        num_hops=int(module.num_hops),
        concat=bool(module.concat),
        negative_slope=float(module.negative_slope),
        add_self_loops=bool(module.add_self_loops),
        W_out=None if module.lin_out is None else module.lin_out.weight,
        bias=module.bias,
        top_k=module.top_k,
    )
