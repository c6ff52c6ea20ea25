r"""Dense, float64 reference implementations of PaGNN (Yang et al., ECML-PKDD
2021): the attentive broadcast / aggregation step and the whole pair scorer.

A *test oracle* in the style of :mod:`.dense_gat`: ``O(N^2)`` dense algebra
on the whole graph, no ``torch_geometric``, no scatter, no sparse tensors,
and -- for the pair scorer -- no computation trees: every hop and layer is
run on all ``N`` nodes with dense masks, one pair at a time, so that it
checks the batched, tree-restricted sparse implementation independently.

Conventions (those of :class:`gat_zoo.nn.conv.PaGNNConv`):

* ``edge_index`` is ``[2, E]``, row 0 the source :math:`j`, row 1 the target
  :math:`i`; duplicates count with their multiplicity (dense counts
  :math:`C_{ij}`).
* ``frontier`` (boolean over sources): only edges out of the frontier carry a
  message. The self term :math:`\{i\}` (``add_self_loops``; existing
  self-loops dropped first) is kept for every
  :math:`i < \min(n_{src}, n_{dst})` whether or not :math:`i` is in the
  frontier.
* The PaGNN equations implemented by :func:`dense_pagnn_logits` are the ones
  written in :class:`gat_zoo.nn.models.PaGNN`'s docstring (a reconstruction;
  see there).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

__all__ = ['dense_pagnn_conv', 'dense_pagnn_logits', 'pagnn_conv_params',
           'pagnn_model_params']

DTYPE = torch.float64


def _f64(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.to(DTYPE)


def _counts(edge_index: Tensor, n_src: int, n_dst: int) -> Tensor:
    """:math:`C_{ij}` = number of edges :math:`j \\to i`, ``[n_dst, n_src]``."""
    C = torch.zeros(n_dst, n_src, dtype=DTYPE)
    for j, i in edge_index.t().tolist():
        C[i, j] += 1
    return C


def _softmax_rows(e: Tensor, counts: Tensor) -> Tensor:
    r"""Masked softmax over dimension 1 with multiplicities; ``e`` is
    ``[n_dst, n_src, H]``. Rows without entries give zeros."""
    mask = (counts > 0).unsqueeze(-1).expand_as(e)
    m = torch.where(mask, e, torch.full_like(e, -math.inf)).amax(
        dim=1, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    p = torch.exp(torch.where(mask, e - m, torch.zeros_like(e))) * mask
    Z = (counts.unsqueeze(-1) * p).sum(dim=1, keepdim=True)
    return p / torch.where(Z > 0, Z, torch.ones_like(Z))


def dense_pagnn_conv(
    x_src: Tensor,
    x_dst: Tensor,
    edge_index: Tensor,
    *,
    W_src: Tensor,
    W_dst: Tensor,
    att_src: Tensor,
    att_dst: Tensor,
    heads: int,
    out_channels: int,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    act: str = 'tanh',
    bias: Optional[Tensor] = None,
    frontier: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense PaGNNConv step:

    .. math::
        x'_i = \sigma\Big(\sum_j C'_{ij}\,\alpha_{ij}\,\Theta x_j + b\Big),
        \quad C'_{ij} = C_{ij}[j \in \mathcal{F}](1 - [i = j]) + [i = j],
        \quad \alpha_{ij} = \mathrm{softmax}_j\,\mathrm{LeakyReLU}(
        a_s^{\top}\Theta x_j + a_t^{\top}\Theta x_i).

    Returns ``(out, alpha)`` with the dense ``alpha`` ``[n_dst, n_src, H]``.
    """
    H, Cc = int(heads), int(out_channels)
    x_src, x_dst = _f64(x_src), _f64(x_dst)
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    counts = _counts(edge_index, n_src, n_dst)
    if frontier is not None:
        counts = counts * frontier.to(DTYPE).view(1, -1)
    if add_self_loops:
        eye = torch.eye(n_dst, n_src, dtype=DTYPE)
        counts = counts * (1 - eye) + eye
    hs = (x_src @ _f64(W_src).t()).view(n_src, H, Cc)
    hd = (x_dst @ _f64(W_dst).t()).view(n_dst, H, Cc)
    fs = (hs * _f64(att_src)).sum(-1)
    fd = (hd * _f64(att_dst)).sum(-1)
    z = fd.unsqueeze(1) + fs.unsqueeze(0)
    e = torch.where(z > 0, z, negative_slope * z)
    alpha = _softmax_rows(e, counts)
    out = torch.einsum('ij,ijh,jhc->ihc', counts, alpha, hs)
    out = out.reshape(n_dst, H * Cc) if concat else out.mean(dim=1)
    if bias is not None:
        out = out + _f64(bias)
    if act == 'tanh':
        out = torch.tanh(out)
    return out, alpha


def pagnn_conv_params(module) -> Dict[str, object]:
    """Keyword arguments of :func:`dense_pagnn_conv` read from a
    PaGNNConv-like module (``lin`` or ``lin_src``/``lin_dst``, ``att_src``,
    ``att_dst``, ``bias``, ``heads``, ``out_channels``, ``concat``,
    ``negative_slope``, ``add_self_loops``, ``act``)."""
    lin = getattr(module, 'lin', None)
    if lin is not None:
        W_src = W_dst = lin.weight
    else:
        W_src, W_dst = module.lin_src.weight, module.lin_dst.weight
    return dict(W_src=W_src, W_dst=W_dst, att_src=module.att_src,
                att_dst=module.att_dst, heads=int(module.heads),
                out_channels=int(module.out_channels),
                concat=bool(module.concat),
                negative_slope=float(module.negative_slope),
                add_self_loops=bool(module.add_self_loops),
                act=module.act, bias=module.bias)


# ---------------------------------------------------------------------------
# The whole pair scorer
# ---------------------------------------------------------------------------
def _lstm_cell(x: Tensor, h: Tensor, c: Tensor, W_ih: Tensor,
               W_hh: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Bias-free LSTM cell, gates in PyTorch's order (i, f, g, o):
    :math:`c' = \sigma(f) c + \sigma(i)\tanh(g)`,
    :math:`h' = \sigma(o)\tanh(c')`."""
    gates = x @ _f64(W_ih).t() + h @ _f64(W_hh).t()
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _direction(p: Dict, h0: Tensor, A: Tensor, anchor: int,
               reader: int) -> Tensor:
    """Broadcast from ``anchor`` over the whole graph, read out at
    ``reader``; ``A`` is the ``[N, N]`` 0/1 adjacency (``A[i, j]`` for
    ``j -> i``) without self-loops. Every step has the self term (the
    model adds it explicitly, its layers have ``add_self_loops=False``)."""
    N, C = h0.shape
    edge_index = A.nonzero().flip(1).t()  # rows (j, i)
    b = torch.zeros(N, C, dtype=DTYPE)
    b = b.index_put((torch.tensor([anchor]), ), h0[anchor:anchor + 1])
    mem_h = torch.zeros(N, C, dtype=DTYPE)
    mem_c = torch.zeros(N, C, dtype=DTYPE)
    frontier = torch.zeros(N, dtype=torch.bool)
    frontier[anchor] = True
    for conv, (W_ih, W_hh) in zip(p['broadcast_convs'], p['broadcast_gates']):
        recv = (A * frontier.to(DTYPE).view(1, -1)).sum(1) > 0
        if not bool(recv.any()):
            break
        z, _ = dense_pagnn_conv(b, b, edge_index, frontier=frontier,
                                **dict(conv, add_self_loops=True))
        h_new, c_new = _lstm_cell(z, mem_h, mem_c, W_ih, W_hh)
        sel = recv.view(-1, 1)
        mem_h = torch.where(sel, h_new, mem_h)
        mem_c = torch.where(sel, c_new, mem_c)
        b = torch.where(sel, h_new + h0, b)
        frontier = recv
    u = torch.cat([h0, b], -1) @ _f64(p['input_W']).t() + _f64(p['input_b'])
    t, y = u, u[reader]
    h = torch.zeros(C, dtype=DTYPE)
    c = torch.zeros(C, dtype=DTYPE)
    for conv, (W_ih, W_hh) in zip(p['aggregate_convs'], p['aggregate_gates']):
        t, _ = dense_pagnn_conv(t, t, edge_index,
                                **dict(conv, add_self_loops=True))
        h, c = _lstm_cell(torch.cat([t[reader], y]), h, c, W_ih, W_hh)
        y = h
    return y


def dense_pagnn_logits(x: Tensor, edge_index: Tensor, pairs: Tensor, *,
                       params: Dict) -> Tensor:
    r"""PaGNN logits of ``pairs`` ``[2, P]``, one pair at a time on the whole
    graph (duplicates and self-loops of ``edge_index`` are dropped; with
    ``params['exclude_target_edge']`` the pair's own edge too)."""
    x = _f64(x)
    N = x.size(0)
    A = torch.zeros(N, N, dtype=DTYPE)
    for j, i in edge_index.t().tolist():
        if i != j:
            A[i, j] = 1.0
    h0 = x @ _f64(params['lin_W']).t() + _f64(params['lin_b'])
    out = []
    for s, t in pairs.t().tolist():
        Ap = A.clone()
        if params['exclude_target_edge']:
            Ap[s, t] = Ap[t, s] = 0.0
        e_t = _direction(params['from_source'], h0, Ap, s, t)
        e_s = _direction(params['from_target'], h0, Ap, t, s)
        z = torch.cat([e_s, e_t])
        if params.get('decoder') == 'concat_hadamard':
            z = torch.cat([z, e_s * e_t])
        out.append(z @ _f64(params['dec_W']).view(-1) +
                   _f64(params['dec_b']).view(()))
    return torch.stack(out) if out else x.new_zeros(0)


def pagnn_model_params(model) -> Dict[str, object]:
    """Parameters of :class:`gat_zoo.nn.models.PaGNN` for
    :func:`dense_pagnn_logits` (the module's own tensors, so gradients reach
    them)."""

    def direction(d) -> Dict[str, object]:
        return dict(
            broadcast_convs=[pagnn_conv_params(c)
                             for c in d.broadcast_convs],
            broadcast_gates=[(g.weight_ih, g.weight_hh)
                             for g in d.broadcast_gates],
            input_W=d.input.weight, input_b=d.input.bias,
            aggregate_convs=[pagnn_conv_params(c)
                             for c in d.aggregate_convs],
            aggregate_gates=[(g.weight_ih, g.weight_hh)
                             for g in d.aggregate_gates])

    return dict(lin_W=model.lin.weight, lin_b=model.lin.bias,
                from_source=direction(model.from_source),
                from_target=direction(model.from_target),
                dec_W=model.decoder.weight, dec_b=model.decoder.bias,
                exclude_target_edge=bool(model.exclude_target_edge),
                decoder=model.decoder_kind)
