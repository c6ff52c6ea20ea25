r"""Dense, masked, float64 reference implementation of GraphHAM.

A test oracle written from the equations in the docstrings of
:class:`gat_zoo.nn.conv.GraphHAMConv` and :class:`gat_zoo.nn.models.GraphHAM`
(this library's reconstruction of Lin, Blaser, Wang, "Graph Embedding with
Hierarchical Attentive Membership", arXiv:2111.00604), with nothing but
dense tensor algebra (no ``torch_geometric``, no scatter or segment
utilities):

* a dense multiplicity matrix :math:`C_{ij}` = number of edges
  :math:`j \to i` (every duplicate counts; self-loops replaced by exactly
  one per node when the layer adds them);
* the context :math:`S = D^{-1} C G` with :math:`G = XW^{\top}` and
  :math:`D = \mathrm{diag}(C\mathbf{1})` (rows without edges stay 0);
* memberships :math:`\pi = \mathrm{softmax}(S C_g^{\top}/\sqrt{F'})`, a
  Gumbel-softmax sample with *given* noise (or :math:`\pi` itself);
* logits for all ``(i, j)`` pairs, a masked softmax over ``j`` weighted by
  the multiplicities, and :math:`h'_i = \sum_j C_{ij}\alpha_{ij} g_j +
  u_i + b`.

:func:`dense_graphham_loss` evaluates the model's unsupervised objective
for given context pairs, negative pairs and noise.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

__all__ = ['dense_graphham', 'dense_graphham_loss', 'edge_values',
           'graphham_params_from_module', 'multiplicity']

DTYPE = torch.float64


def multiplicity(edge_index: Tensor, num_nodes: int,
                 add_self_loops: bool) -> Tensor:
    r"""``[N, N]`` with :math:`C_{ij}` = number of edges :math:`j \to i`."""
    counts = torch.zeros(num_nodes, num_nodes, dtype=DTYPE)
    for j, i in edge_index.t().tolist():
        if add_self_loops and i == j:
            continue
        counts[i, j] += 1.0
    if add_self_loops:
        counts = counts + torch.eye(num_nodes, dtype=DTYPE)
    return counts


def graphham_params_from_module(conv) -> Dict[str, Tensor]:
    """The layer's parameters under the oracle's names (nothing else is
    read from the module)."""
    return dict(weight=conv.lin.weight, groups=conv.groups,
                att_src=conv.att_src.view(-1), att_dst=conv.att_dst.view(-1),
                bias=conv.bias, add_self_loops=conv.add_self_loops,
                negative_slope=conv.negative_slope, tau=conv.tau,
                hard=conv.hard, group_residual=conv.group_residual)


def _masked_softmax(logits: Tensor, counts: Tensor) -> Tensor:
    mask = counts > 0
    big = torch.where(mask, logits, torch.full_like(logits, -math.inf))
    peak = big.max(dim=1, keepdim=True).values
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    weight = torch.where(mask, torch.exp(logits - peak),
                         torch.zeros_like(logits))
    denom = (counts * weight).sum(dim=1, keepdim=True)
    denom = torch.where(denom > 0, denom, torch.ones_like(denom))
    return weight / denom


def dense_graphham(x: Tensor, edge_index: Tensor, *, weight: Tensor,
                   groups: Tensor, att_src: Tensor, att_dst: Tensor,
                   bias: Optional[Tensor], add_self_loops: bool = True,
                   negative_slope: float = 0.2, tau: float = 1.0,
                   hard: bool = False, group_residual: bool = True,
                   gumbel_noise: Optional[Tensor] = None):
    r"""One GraphHAM layer, densely. Returns ``(out, alpha, group_alpha,
    individual_alpha, membership, membership_prob)``; the three attentions
    are ``[N, N]`` per *copy* of an edge (0 off the graph)."""
    n = x.size(0)
    counts = multiplicity(edge_index, n, add_self_loops)
    width = groups.size(1)
    scale = math.sqrt(width)
    g = x.to(DTYPE) @ weight.to(DTYPE).t()
    deg = counts.sum(dim=1, keepdim=True)
    context = (counts @ g) / torch.where(deg > 0, deg, torch.ones_like(deg))
    c = groups.to(DTYPE)
    logits = context @ c.t() / scale
    prob = torch.exp(logits - logits.logsumexp(dim=1, keepdim=True))
    if gumbel_noise is None:
        z = prob
    else:
        y = (torch.log(prob) + gumbel_noise.to(DTYPE)) / tau
        z = torch.exp(y - y.logsumexp(dim=1, keepdim=True))
        if hard:
            one_hot = torch.zeros_like(z)
            one_hot[torch.arange(n), z.argmax(dim=1)] = 1.0
            z = one_hot + z - z.detach()
    u = z @ c
    group_logits = u @ g.t() / scale  # [i, j]
    ind = (g @ att_dst.to(DTYPE)).view(-1, 1) + \
        (g @ att_src.to(DTYPE)).view(1, -1)
    ind = torch.where(ind > 0, ind, negative_slope * ind)
    alpha = _masked_softmax(group_logits + ind, counts)
    group_alpha = _masked_softmax(group_logits, counts)
    individual_alpha = _masked_softmax(ind, counts)
    out = (counts * alpha) @ g
    if group_residual:
        out = out + u
    if bias is not None:
        out = out + bias.to(DTYPE)
    return out, alpha, group_alpha, individual_alpha, z, prob


def edge_values(dense: Tensor, edge_index: Tensor) -> Tensor:
    """The ``[E]`` entries ``dense[dst, src]`` of the listed edges."""
    return dense[edge_index[1], edge_index[0]]


def _elu(t: Tensor) -> Tensor:
    return torch.where(t > 0, t, torch.expm1(torch.clamp(t, max=0.0)))


def _logsigmoid(t: Tensor) -> Tensor:
    return -torch.log1p(torch.exp(-t.abs())) + torch.clamp(t, max=0.0)


def dense_graphham_loss(model, x: Tensor, edge_index: Tensor,
                        positives: Sequence[Tensor],
                        negatives: Sequence[Tensor],
                        gumbel_noise: Optional[Sequence[Tensor]] = None):
    r"""``(total, ctx, inc)`` of a :class:`~gat_zoo.nn.models.GraphHAM`
    (read for its parameters only; no dropout), densely."""
    h = x.to(DTYPE)
    states, us, probs = [], [], []
    for layer, conv in enumerate(model.convs):
        noise = None if gumbel_noise is None else gumbel_noise[layer]
        out, _, _, _, z, prob = dense_graphham(
            h, edge_index, gumbel_noise=noise,
            **graphham_params_from_module(conv))
        states.append(out)
        us.append(z @ conv.groups.to(DTYPE))
        probs.append(prob)
        h = _elu(out)
    ctx = torch.zeros((), dtype=DTYPE)
    for layer in range(len(states)):
        hs, u = states[layer], us[layer]
        score = hs @ hs.t() + u @ u.t()
        pos, neg = positives[layer], negatives[layer]
        if pos.numel():
            ctx = ctx - _logsigmoid(score[pos[0], pos[1]]).mean()
        if neg.numel():
            ctx = ctx - _logsigmoid(-score[neg[0], neg[1]]).mean()
    inc = torch.zeros((), dtype=DTYPE)
    for layer in range(len(states) - 1):
        lower, upper = model.convs[layer], model.convs[layer + 1]
        placed = _elu(lower.groups.to(DTYPE)) @ upper.lin.weight.to(DTYPE).t()
        logits = placed @ upper.groups.to(DTYPE).t() / math.sqrt(
            upper.groups.size(1))
        parent = torch.exp(logits - logits.logsumexp(dim=1, keepdim=True))
        target = probs[layer] @ parent
        inc = inc - (target * torch.log(probs[layer + 1])).sum(1).mean()
    return ctx + model.constraint_weight * inc, ctx, inc
