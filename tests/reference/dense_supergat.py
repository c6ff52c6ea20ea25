r"""Dense, masked, float64 reference implementation of SuperGAT.

A *test oracle* for the four attention forms (GO, DP, SD, MX) of Kim & Oh,
"How to Find Your Friendly Neighborhood: Graph Attention Design with
Self-Supervision", ICLR 2021 (arXiv:2204.04879), and for their
self-supervised link probabilities and edge loss.  It is written straight
from the paper's equations as ``O(N^2)`` dense algebra: the score
:math:`e_{ij}` and the link logit for **every** ``(i, j)`` pair, a masked
softmax over the neighbourhood, ``alpha @ Wh``.  Like
:mod:`reference.dense_gat` (whose helpers it reuses) it imports nothing from
``torch_geometric`` and uses no scatter, gather-by-edge or sparse operation.

Conventions are those of :mod:`reference.dense_gat` (``edge_index`` row 0 =
source :math:`j`, row 1 = target :math:`i`; duplicate edges counted with
their multiplicity; ``add_self_loops`` replaces the loops by one per node;
``W`` is ``[H*C, F]``; attention halves ``att_l`` (source) and ``att_r``
(target) are ``[1, H, C]``, i.e. :math:`\mathbf{a} = [\mathbf{a}_r \Vert
\mathbf{a}_l]`), so that it can check PyG-compatible ``SuperGATConv``
implementations.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from .dense_gat import (
    DTYPE,
    _check_edge_index,
    _check_shape,
    _finish,
    _leaky_relu,
    _masked_softmax,
    _warn_dropout,
    neighbourhood_counts,
)

__all__ = [
    'ATTENTION_TYPES',
    'dense_pair_scores',
    'dense_supergat',
    'dense_link_logits',
    'dense_edge_loss',
    'supergat_params_from_module',
]

ATTENTION_TYPES = ('GO', 'DP', 'SD', 'MX')


def _project(x: Tensor, W: Tensor, heads: int, out_channels: int) -> Tensor:
    r""":math:`W h` per head, ``[n, H, C]``."""
    x = x.to(DTYPE)
    W = W.to(DTYPE)
    _check_shape('W', W, (heads * out_channels, x.size(1)))
    return (x @ W.t()).view(x.size(0), heads, out_channels)


def dense_pair_scores(
    x_src: Tensor,
    x_dst: Tensor,
    *,
    W: Tensor,
    att_l: Optional[Tensor],
    att_r: Optional[Tensor],
    heads: int,
    out_channels: int,
    attention_type: str,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Scores of all ``(target i, source j)`` pairs, each
    ``[n_dst, n_src, H]``: ``(e, link_logit, Wh_src)``.

    With :math:`g_i = W x^{dst}_i`, :math:`s_j = W x^{src}_j` per head
    (:math:`F` = ``out_channels`` channels):

    .. math::
        e^{GO}_{ij} = \mathbf{a}_r^{\top} g_i + \mathbf{a}_l^{\top} s_j,
        \quad e^{DP}_{ij} = g_i^{\top} s_j,
        \quad e^{SD}_{ij} = e^{DP}_{ij} / \sqrt{F},
        \quad e^{MX}_{ij} = e^{GO}_{ij}\,\sigma(e^{DP}_{ij}),

    and the link logit (the argument of :math:`\phi_{ij} = \sigma(\cdot)`)
    is :math:`e_{ij}` for GO, DP and SD and :math:`e^{DP}_{ij}` for MX.
    """
    kind = attention_type.upper()
    if kind not in ATTENTION_TYPES:
        raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}")
    g = _project(x_dst, W, heads, out_channels)  # [n_dst, H, C]
    s = _project(x_src, W, heads, out_channels)  # [n_src, H, C]
    dp = torch.einsum('ihc,jhc->ijh', g, s)
    go = None
    if kind in ('GO', 'MX'):
        if att_l is None or att_r is None:
            raise ValueError(f"{kind} attention needs att_l and att_r")
        att_l, att_r = att_l.to(DTYPE), att_r.to(DTYPE)
        _check_shape('att_l', att_l, (1, heads, out_channels))
        _check_shape('att_r', att_r, (1, heads, out_channels))
        t = (g * att_r).sum(-1)  # [n_dst, H]
        u = (s * att_l).sum(-1)  # [n_src, H]
        go = t.unsqueeze(1) + u.unsqueeze(0)
    if kind == 'GO':
        return go, go, s
    if kind == 'DP':
        return dp, dp, s
    if kind == 'SD':
        sd = dp / math.sqrt(out_channels)
        return sd, sd, s
    sig = 1.0 / (1.0 + torch.exp(-dp))
    return go * sig, dp, s


def dense_supergat(
    x_src: Tensor,
    x_dst: Tensor,
    edge_index: Tensor,
    *,
    W: Tensor,
    att_l: Optional[Tensor],
    att_r: Optional[Tensor],
    heads: int,
    out_channels: int,
    attention_type: str,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense SuperGAT layer (eval mode): ``(out, alpha_dense)``.

    .. math::
        \alpha^{k}_{ij} = \frac{C_{ij} > 0 \;\cdot\;
            \exp(\mathrm{LeakyReLU}(e^{k}_{ij}))}
            {\sum_l C_{il} \exp(\mathrm{LeakyReLU}(e^{k}_{il}))}, \qquad
        o^{k}_i = \sum_j C_{ij}\,\alpha^{k}_{ij}\, W^{k} x_j,

    heads concatenated or averaged, plus ``bias``; :math:`C` is the
    multiplicity matrix of :func:`reference.neighbourhood_counts`.
    ``alpha_dense`` is ``[n_dst, n_src, H]``.
    """
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    C = neighbourhood_counts(edge_index, n_src, n_dst, add_self_loops)
    e, _, s = dense_pair_scores(x_src, x_dst, W=W, att_l=att_l, att_r=att_r,
                                heads=heads, out_channels=out_channels,
                                attention_type=attention_type)
    alpha = _masked_softmax(_leaky_relu(e, negative_slope), C)
    out = torch.einsum('ij,ijh,jhc->ihc', C, alpha, s)
    return _finish(out, x_dst, heads, out_channels, concat, None,
                   bias), alpha


def dense_link_logits(
    x_src: Tensor,
    x_dst: Tensor,
    pairs: Tensor,
    *,
    W: Tensor,
    att_l: Optional[Tensor],
    att_r: Optional[Tensor],
    heads: int,
    out_channels: int,
    attention_type: str,
    **_: object,
) -> Tensor:
    r"""Link logits ``[P, H]`` of ``pairs`` ``[2, P]`` (row 0 sources
    :math:`j`, row 1 targets :math:`i`), read from the dense matrix of
    :func:`dense_pair_scores` by one-hot products (no indexing by edge).
    Extra keyword arguments (from :func:`supergat_params_from_module`) are
    ignored."""
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    pairs = _check_edge_index(pairs, n_src, n_dst)
    _, logit, _ = dense_pair_scores(x_src, x_dst, W=W, att_l=att_l,
                                    att_r=att_r, heads=heads,
                                    out_channels=out_channels,
                                    attention_type=attention_type)
    O_dst = (pairs[1].view(-1, 1) == torch.arange(n_dst).view(1, -1)).to(
        DTYPE)
    O_src = (pairs[0].view(-1, 1) == torch.arange(n_src).view(1, -1)).to(
        DTYPE)
    return torch.einsum('pi,ijh,pj->ph', O_dst, logit, O_src)


def dense_edge_loss(logits: Tensor, labels: Tensor) -> Tensor:
    r"""The paper's self-supervised loss on head-averaged logits
    :math:`z_p = \frac{1}{H}\sum_k \mathrm{logit}^k_p`:

    .. math::
        \mathcal{L}_E = -\frac{1}{P}\sum_p \big(y_p \log\sigma(z_p)
        + (1 - y_p)\log(1 - \sigma(z_p))\big),

    with :math:`\log\sigma(z) = -\log(1 + e^{-z})` and
    :math:`\log(1 - \sigma(z)) = -\log(1 + e^{z})`."""
    z = logits.to(DTYPE).mean(dim=-1)
    y = labels.to(DTYPE)
    log_p = -torch.logaddexp(torch.zeros_like(z), -z)
    log_not_p = -torch.logaddexp(torch.zeros_like(z), z)
    return -(y * log_p + (1 - y) * log_not_p).mean()


def supergat_params_from_module(module) -> Dict[str, object]:
    r"""Keyword arguments for :func:`dense_supergat` /
    :func:`dense_link_logits` from a module with PyG ``SuperGATConv``'s
    attribute names (``lin``, ``att_l``, ``att_r``, ``bias``, ``heads``,
    ``out_channels``, ``concat``, ``negative_slope``, ``add_self_loops``,
    ``attention_type``).  The tensors are the module's own parameters."""
    _warn_dropout(module)
    W = module.lin.weight
    if isinstance(W, torch.nn.parameter.UninitializedParameter):
        raise ValueError("lin is lazily initialised; run a forward pass "
                         "first")
    return dict(
        W=W,
        att_l=getattr(module, 'att_l', None),
        att_r=getattr(module, 'att_r', None),
        heads=int(module.heads),
        out_channels=int(module.out_channels),
        attention_type=str(module.attention_type),
        concat=bool(module.concat),
        negative_slope=float(module.negative_slope),
        add_self_loops=bool(module.add_self_loops),
        bias=getattr(module, 'bias', None),
    )
