r"""Dense float64 oracles for PPRGAT: the exact personalized PageRank matrix
and the PPRGAT / PPRGAT-v2 layers, written from the equations.

Like :mod:`reference.dense_gat` (whose graph encoding, masked softmax and
head combination are reused), this uses dense ``O(N^2)`` tensor algebra
only: no ``torch_geometric``, no scatter, no sparse tensors.

Conventions:

* ``edge_index[0]`` is the source :math:`j`, ``edge_index[1]`` the target
  :math:`i` (PyG). Random walks follow edges from source to target, so the
  adjacency is :math:`A_{st} = [\exists e: s \to t]` (duplicates count
  once, self-loops are edges of the walk).
* A PPR matrix :math:`\Pi` is indexed ``[s, t]``: row :math:`s` is the
  restart node, :math:`\Pi_{st}` the score of :math:`t`. The attention edge
  :math:`j \to i` reads :math:`\Pi_{ji}`.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from reference.dense_gat import (
    _check_edge_index,
    _check_shape,
    _f64,
    _finish,
    _leaky_relu,
    _masked_softmax,
    gat_params_from_module,
    gatv2_params_from_module,
    neighbourhood_counts,
)

__all__ = [
    'adjacency',
    'exact_ppr',
    'dense_pprgat',
    'dense_pprgatv2',
    'pprgat_params_from_module',
    'pprgatv2_params_from_module',
]

DTYPE = torch.float64


def adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""0/1 adjacency :math:`A_{st}` (row = source), ``[N, N]`` float64."""
    edge_index = _check_edge_index(edge_index, num_nodes, num_nodes)
    # neighbourhood_counts is [target, source]; transpose, then clip the
    # multiplicities to 0/1.
    counts = neighbourhood_counts(edge_index, num_nodes, num_nodes,
                                  add_self_loops=False)
    return (counts.t() > 0).to(DTYPE)


def exact_ppr(edge_index: Tensor, num_nodes: int, alpha: float,
              normalization: str = 'row') -> Tensor:
    r"""The exact PPR matrix by a matrix inverse,

    .. math::
        \Pi = \alpha\left(I - (1 - \alpha) D^{-1} A\right)^{-1},

    with :math:`D^{-1}_{ss} = 0` for a node without out-edges (its row of
    :math:`D^{-1}A` is zero: it absorbs what reaches it). Normalisations:
    ``'row'`` :math:`\Pi`, ``'sym'`` :math:`\tilde D^{1/2} \Pi
    \tilde D^{-1/2}`, ``'col'`` :math:`\tilde D \Pi \tilde D^{-1}` with
    :math:`\tilde d = \max(d, 1)`."""
    A = adjacency(edge_index, num_nodes)
    d = A.sum(dim=1)
    inv = torch.where(d > 0, 1.0 / d.clamp(min=1.0), torch.zeros_like(d))
    eye = torch.eye(num_nodes, dtype=DTYPE)
    Pi = alpha * torch.linalg.inv(eye - (1.0 - alpha) * inv.view(-1, 1) * A)
    scale = d.clamp(min=1.0)
    if normalization == 'sym':
        scale = scale.sqrt()
    elif normalization == 'row':
        return Pi
    elif normalization != 'col':
        raise ValueError(normalization)
    return scale.view(-1, 1) * Pi / scale.view(1, -1)


def _ppr_logit(ppr: Tensor, att_ppr: Tensor, n_src: int, n_dst: int,
               heads: int) -> Tensor:
    r""":math:`a_{ppr,h}\,\Pi_{ji}` laid out ``[n_dst, n_src, H]``; ``ppr``
    is indexed ``[source j, target i]`` and may be larger than
    ``n_src x n_dst`` (its leading block is used)."""
    ppr = _f64(ppr)
    if ppr.size(0) < n_src or ppr.size(1) < n_dst:
        raise ValueError(f"ppr must cover [{n_src}, {n_dst}] (got "
                         f"{tuple(ppr.shape)})")
    att_ppr = _f64(att_ppr)
    _check_shape('att_ppr', att_ppr, (1, heads, 1))
    return ppr[:n_src, :n_dst].t().unsqueeze(-1) * att_ppr.view(1, 1, heads)


def dense_pprgat(
    x_src: Tensor,
    x_dst: Tensor,
    edge_index: Tensor,
    ppr: Tensor,
    *,
    W_src: Tensor,
    W_dst: Tensor,
    att_src: Tensor,
    att_dst: Tensor,
    att_ppr: Tensor,
    heads: int,
    out_channels: int,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    W_res: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense PPRGAT layer (Choi, 2022; GAT-based version):

    .. math::
        e_{ij}^{h} = \mathrm{LeakyReLU}\big(\mathbf{a}_{s}^{h\top}
        W_{src}^{h} x_j + \mathbf{a}_{t}^{h\top} W_{dst}^{h} x_i
        + a_{ppr}^{h}\, \Pi_{ji}\big),

    masked softmax over :math:`\{j : C_{ij} > 0\}` (graph edges and
    self-loops only, with multiplicities) and
    :math:`o_i^h = \sum_j C_{ij}\alpha_{ij}^h W_{src}^h x_j`.

    Returns ``(out, alpha)`` as :func:`reference.dense_gat.dense_gat`."""
    H, Cc = int(heads), int(out_channels)
    x_src, x_dst = _f64(x_src), _f64(x_dst)
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    edge_index = _check_edge_index(edge_index, n_src, n_dst)
    W_src, W_dst = _f64(W_src), _f64(W_dst)
    att_src, att_dst = _f64(att_src), _f64(att_dst)
    _check_shape('W_src', W_src, (H * Cc, x_src.size(1)))
    _check_shape('W_dst', W_dst, (H * Cc, x_dst.size(1)))
    _check_shape('att_src', att_src, (1, H, Cc))
    _check_shape('att_dst', att_dst, (1, H, Cc))

    counts = neighbourhood_counts(edge_index, n_src, n_dst, add_self_loops)
    Wh_src = (x_src @ W_src.t()).view(n_src, H, Cc)
    Wh_dst = (x_dst @ W_dst.t()).view(n_dst, H, Cc)
    f_src = (Wh_src * att_src).sum(dim=-1)
    f_dst = (Wh_dst * att_dst).sum(dim=-1)
    logits = (f_dst.unsqueeze(1) + f_src.unsqueeze(0) +
              _ppr_logit(ppr, att_ppr, n_src, n_dst, H))
    alpha = _masked_softmax(_leaky_relu(logits, negative_slope), counts)
    out = torch.einsum('ij,ijh,jhc->ihc', counts, alpha, Wh_src)
    return _finish(out, x_dst, H, Cc, concat, W_res, bias), alpha


def dense_pprgatv2(
    x_src: Tensor,
    x_dst: Tensor,
    edge_index: Tensor,
    ppr: Tensor,
    *,
    W_l: Tensor,
    b_l: Optional[Tensor] = None,
    W_r: Tensor,
    b_r: Optional[Tensor] = None,
    att: Tensor,
    att_ppr: Tensor,
    heads: int,
    out_channels: int,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    W_res: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense PPRGAT layer, GATv2-based version (official
    ``GATv2ConvPPR``):

    .. math::
        e_{ij}^{h} = \mathbf{a}^{h\top}\mathrm{LeakyReLU}\big(
        W_l^{h} x_j + b_l^{h} + W_r^{h} x_i + b_r^{h}\big)
        + a_{ppr}^{h}\,\Pi_{ji},

    masked softmax and aggregation of :math:`W_l x_j + b_l` as
    :func:`reference.dense_gat.dense_gatv2`."""
    H, Cc = int(heads), int(out_channels)
    x_src, x_dst = _f64(x_src), _f64(x_dst)
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    edge_index = _check_edge_index(edge_index, n_src, n_dst)
    W_l, W_r, att = _f64(W_l), _f64(W_r), _f64(att)
    _check_shape('W_l', W_l, (H * Cc, x_src.size(1)))
    _check_shape('W_r', W_r, (H * Cc, x_dst.size(1)))
    _check_shape('att', att, (1, H, Cc))

    counts = neighbourhood_counts(edge_index, n_src, n_dst, add_self_loops)
    g_src = x_src @ W_l.t()
    if b_l is not None:
        g_src = g_src + _f64(b_l)
    g_dst = x_dst @ W_r.t()
    if b_r is not None:
        g_dst = g_dst + _f64(b_r)
    g_src, g_dst = g_src.view(n_src, H, Cc), g_dst.view(n_dst, H, Cc)
    z = g_dst.unsqueeze(1) + g_src.unsqueeze(0)
    e = (_leaky_relu(z, negative_slope) * att.view(1, 1, H, Cc)).sum(-1)
    e = e + _ppr_logit(ppr, att_ppr, n_src, n_dst, H)
    alpha = _masked_softmax(e, counts)
    out = torch.einsum('ij,ijh,jhc->ihc', counts, alpha, g_src)
    return _finish(out, x_dst, H, Cc, concat, W_res, bias), alpha


def _without_edge_features(kw: Dict[str, object]) -> Dict[str, object]:
    if kw.pop('W_edge', None) is not None:
        raise ValueError("edge features are not modelled by the PPRGAT "
                         "oracle")
    kw.pop('att_edge', None)
    kw.pop('fill_value', None)
    return kw


def pprgat_params_from_module(module) -> Dict[str, object]:
    """Keyword arguments of :func:`dense_pprgat` read from a
    ``PPRGATConv`` (its own parameters, so gradients reach them)."""
    kw = _without_edge_features(gat_params_from_module(module))
    kw['att_ppr'] = module.att_ppr
    return kw


def pprgatv2_params_from_module(module) -> Dict[str, object]:
    """Keyword arguments of :func:`dense_pprgatv2` read from a
    ``PPRGATv2Conv``."""
    kw = _without_edge_features(gatv2_params_from_module(module))
    kw['att_ppr'] = module.att_ppr
    return kw
