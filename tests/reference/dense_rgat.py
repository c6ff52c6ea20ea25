r"""Dense, masked, float64 reference implementation of RGAT.

A test oracle written from the equations of Busbridge et al., "Relational
Graph Attention Networks" (arXiv:1904.05811), with nothing but dense tensor
algebra (no ``torch_geometric``, no scatter or segment utilities):

* one dense multiplicity matrix per relation, :math:`C^{(r)}_{ij}` = number
  of edges :math:`j \xrightarrow{r} i` (duplicate edges count every copy);
* relation kernels :math:`W^{(r)}` built explicitly: a full tensor, a basis
  combination :math:`\sum_b c_{rhb} V_b` per head, or a block-diagonal
  matrix placed block by block;
* :math:`G^{(r)} = X W^{(r)}` for **all** nodes, queries and keys
  :math:`G^{(r)} Q^{(r)}`, :math:`G^{(r)} K^{(r)}` per head;
* logits for all ``(r, i, j)``, a masked softmax over ``j`` per ``(r, i)``
  (WIRGAT) or over ``(r, j)`` per ``i`` (ARGAT), and
  :math:`h'_i = \sum_r \sum_j C^{(r)}_{ij} \alpha^{(r)}_{ij} g^{(r)}_j`.

Parameter shapes follow :class:`gat_zoo.nn.conv.RGATConv` so that
:func:`rgat_params_from_module` can read them, but nothing else is shared.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

__all__ = ['dense_rgat', 'rgat_edge_attention', 'rgat_params_from_module',
           'relation_counts']

DTYPE = torch.float64


def relation_counts(edge_index: Tensor, edge_type: Tensor, num_nodes: int,
                    num_relations: int) -> Tensor:
    r"""``[R, N, N]`` with :math:`C^{(r)}_{ij}` = number of edges
    :math:`j \xrightarrow{r} i` (row 0 of ``edge_index`` holds :math:`j`)."""
    counts = torch.zeros(num_relations, num_nodes, num_nodes, dtype=DTYPE)
    for (j, i), r in zip(edge_index.t().tolist(), edge_type.tolist()):
        counts[r, i, j] += 1.0
    return counts


def _kernels(weight: Tensor, comp: Optional[Tensor], num_relations: int,
             decomposition: str) -> Tensor:
    r"""``[R, F, H*C]`` dense relation kernels."""
    weight = weight.to(DTYPE)
    if decomposition == 'basis':
        # W^(r) = [sum_b c[r, h, b] V_b for each head h], heads side by side
        comp = comp.to(DTYPE)
        out = []
        for r in range(num_relations):
            per_head = []
            for h in range(comp.size(1)):
                w = torch.zeros_like(weight[0])
                for b in range(weight.size(0)):
                    w = w + comp[r, h, b] * weight[b]
                per_head.append(w)
            out.append(torch.cat(per_head, dim=1))
        return torch.stack(out)
    if decomposition == 'block':
        R, B, fi, fo = weight.shape
        out = []
        for r in range(R):
            w = weight.new_zeros(B * fi, B * fo)
            for b in range(B):
                # place block b on the diagonal (differentiable)
                pad = torch.nn.functional.pad(
                    weight[r, b], (b * fo, (B - b - 1) * fo, b * fi,
                                   (B - b - 1) * fi))
                w = w + pad
            out.append(w)
        return torch.stack(out)
    return weight


def dense_rgat(
    x: Optional[Tensor],
    edge_index: Tensor,
    edge_type: Tensor,
    *,
    num_nodes: int,
    num_relations: int,
    weight: Tensor,
    comp: Optional[Tensor] = None,
    decomposition: str = 'none',
    query: Optional[Tensor] = None,
    key: Optional[Tensor] = None,
    heads: int,
    out_channels: int,
    mode: str = 'wirgat',
    style: str = 'additive',
    negative_slope: float = 0.2,
    concat: bool = True,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""The RGAT layer, densely.

    Args:
        x: ``[N, F]`` features, or :obj:`None` for one-hot (identity)
            features.
        edge_index, edge_type: ``[2, E]`` (sources in row 0) and ``[E]``;
            relations ``0 .. num_relations - 1`` (include any self relation
            in both).
        weight, comp, decomposition: the kernels: ``'none'`` ``[R, F, HC]``,
            ``'basis'`` ``[B, F, C]`` with ``comp`` ``[R, H, B]``, ``'block'``
            ``[R, B, F/B, HC/B]``.
        query, key: ``[R, H, C, D]`` (unused for ``style='constant'``).
        mode: ``'wirgat'`` or ``'argat'``. style: ``'additive'``
            (LeakyReLU of :math:`q_i + k_j`, ``D = 1``),
            ``'multiplicative'`` (:math:`q_i \cdot k_j`) or ``'constant'``.

    Returns:
        ``(out, alpha)``: ``[N, H*C]`` (or ``[N, C]`` averaged) and the dense
        attention ``[R, N, N, H]`` (``alpha[r, i, j]``), zero off the graph.
    """
    H, Cc, N, R = heads, out_channels, num_nodes, num_relations
    X = torch.eye(N, dtype=DTYPE) if x is None else x.to(DTYPE)
    counts = relation_counts(edge_index, edge_type, N, R)
    mask = counts > 0
    W = _kernels(weight, comp, R, decomposition)  # [R, F, HC]
    G = torch.einsum('nf,rfo->rno', X, W).reshape(R, N, H, Cc)

    if style == 'constant':
        logits = torch.zeros(R, N, N, H, dtype=DTYPE)
    else:
        Q = torch.einsum('rnhc,rhcd->rnhd', G, query.to(DTYPE))
        K = torch.einsum('rnhc,rhcd->rnhd', G, key.to(DTYPE))
        if style == 'additive':
            z = Q[:, :, None, :, 0] + K[:, None, :, :, 0]  # [R, i, j, H]
            logits = torch.where(z > 0, z, negative_slope * z)
        elif style == 'multiplicative':
            logits = torch.einsum('rihd,rjhd->rijh', Q, K)
        else:
            raise ValueError(style)

    m = mask.unsqueeze(-1)  # [R, N, N, 1]
    neg = torch.tensor(float('-inf'), dtype=DTYPE)
    masked = torch.where(m, logits, neg)
    if mode == 'wirgat':
        shift = masked.amax(dim=2, keepdim=True)  # per (r, i, h)
        shift = torch.where(torch.isfinite(shift), shift,
                            torch.zeros_like(shift))
        ex = torch.exp(masked - shift) * counts.unsqueeze(-1)
        denom = ex.sum(dim=2, keepdim=True)
    elif mode == 'argat':
        shift = masked.amax(dim=(0, 2), keepdim=True)  # per (i, h)
        shift = torch.where(torch.isfinite(shift), shift,
                            torch.zeros_like(shift))
        ex = torch.exp(masked - shift) * counts.unsqueeze(-1)
        denom = ex.sum(dim=(0, 2), keepdim=True)
    else:
        raise ValueError(mode)
    safe = torch.where(denom > 0, denom, torch.ones_like(denom))
    # alpha per single edge (not multiplied by the multiplicity)
    alpha = torch.where(m, torch.exp(masked - shift) / safe,
                        torch.zeros_like(logits))
    out = torch.einsum('rij,rijh,rjhc->ihc', counts, alpha, G)
    out = out.reshape(N, H * Cc) if concat else out.mean(dim=1)
    if bias is not None:
        out = out + bias.to(DTYPE)
    return out, alpha


def rgat_edge_attention(alpha: Tensor, edge_index: Tensor,
                        edge_type: Tensor) -> Tensor:
    """``[E, H]`` per-edge weights read from the dense ``[R, N, N, H]``."""
    return alpha[edge_type, edge_index[1], edge_index[0]]


def rgat_params_from_module(module) -> Dict[str, object]:
    """Keyword arguments of :func:`dense_rgat` from an
    :class:`~gat_zoo.nn.conv.RGATConv` (its own parameters, so gradients
    flow into them)."""
    if module.num_bases is not None:
        decomposition = 'basis'
    elif module.num_blocks is not None:
        decomposition = 'block'
    else:
        decomposition = 'none'
    return dict(num_relations=module.num_relations + int(
        module.self_relation), weight=module.weight, comp=module.comp,
        decomposition=decomposition, query=module.query, key=module.key,
        heads=module.heads, out_channels=module.out_channels,
        mode=module.attention_mode, style=module.attention_style,
        negative_slope=module.negative_slope, concat=module.concat,
        bias=module.bias)
