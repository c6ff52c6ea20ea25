r"""GATv2's attention logits, computed in edge chunks.

.. math::
    s_{e,h} = \mathbf{a}_h^{\top} \mathrm{LeakyReLU}\left(
    \mathbf{x}^{s}_{j,h} + \mathbf{x}^{t}_{i,h}
    + \mathbf{\Theta}_{e,h} \mathbf{e}_{e} \right),
    \qquad e = (j \to i)

The nonlinearity sits between the sum and the dot product, so unlike GAT
nothing folds into per-node terms: every edge needs a :math:`H \times C`
hidden vector. Autograd through the plain expression keeps several
:math:`|\mathcal{E}| \times H \times C` tensors alive until backward; here
they exist one chunk of edges at a time, and the backward recomputes them
chunk by chunk instead of storing them. The result is exactly the same
expression, evaluated in a different order.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from gat_zoo.ops.csr import CSRGraph

__all__ = ['gatv2_logits']

#: Elements of one chunk's ``[chunk, H, C]`` hidden tensor (float32: 32 MiB).
CHUNK_ELEMENTS = 1 << 23


def _chunks(num_edges: int, width: int, chunk_edges: Optional[int]):
    step = chunk_edges or max(1, CHUNK_ELEMENTS // max(1, width))
    for start in range(0, num_edges, step):
        yield start, min(num_edges, start + step)


def _hidden(h_src: Tensor, h_dst: Tensor, edge_attr: Optional[Tensor],
            edge_weight: Optional[Tensor], col: Tensor, row: Tensor,
            start: int, stop: int) -> Tensor:
    hidden = h_src.index_select(0, col[start:stop])
    hidden += h_dst.index_select(0, row[start:stop])
    if edge_attr is not None and edge_weight is not None:
        hidden += (edge_attr[start:stop] @ edge_weight.t()).view_as(hidden)
    return hidden


class _GATv2Logits(torch.autograd.Function):

    @staticmethod
    def forward(ctx, h_src: Tensor, h_dst: Tensor, att: Tensor,
                edge_attr: Optional[Tensor], edge_weight: Optional[Tensor],
                graph: CSRGraph, negative_slope: float,
                chunk_edges: Optional[int]) -> Tensor:
        heads, channels = att.shape
        logits = h_src.new_empty(graph.num_edges, heads)
        for start, stop in _chunks(graph.num_edges, heads * channels,
                                   chunk_edges):
            hidden = _hidden(h_src, h_dst, edge_attr, edge_weight,
                             graph.col, graph.row, start, stop)
            F.leaky_relu_(hidden, negative_slope)
            torch.sum(hidden.mul_(att), dim=-1, out=logits[start:stop])
        ctx.save_for_backward(h_src, h_dst, att, edge_attr, edge_weight)
        ctx.graph = graph
        ctx.negative_slope = negative_slope
        ctx.chunk_edges = chunk_edges
        return logits

    @staticmethod
    def backward(ctx, grad_logits: Tensor):
        h_src, h_dst, att, edge_attr, edge_weight = ctx.saved_tensors
        graph: CSRGraph = ctx.graph
        slope = ctx.negative_slope
        heads, channels = att.shape
        need = ctx.needs_input_grad
        grad_src = torch.zeros_like(h_src) if need[0] else None
        grad_dst = torch.zeros_like(h_dst) if need[1] else None
        grad_att = torch.zeros_like(att) if need[2] else None
        grad_edge_weight = (torch.zeros_like(edge_weight)
                            if need[4] and edge_weight is not None else None)
        grad_edge_attr = (torch.empty_like(edge_attr)
                          if need[3] and edge_attr is not None else None)
        grad_logits = grad_logits.contiguous()
        for start, stop in _chunks(graph.num_edges, heads * channels,
                                   ctx.chunk_edges):
            hidden = _hidden(h_src, h_dst, edge_attr, edge_weight,
                             graph.col, graph.row, start, stop)
            upstream = grad_logits[start:stop].unsqueeze(-1)
            # LeakyReLU(z) = z * scale and LeakyReLU'(z) = scale, with the
            # scale in the input's dtype (a float32 0.2 would be off by 1e-9
            # in float64).
            scale = torch.where(hidden > 0, hidden.new_ones(()),
                                hidden.new_full((), slope))
            if grad_att is not None:
                grad_att += (hidden.mul_(scale) * upstream).sum(dim=0)
            grad_hidden = (upstream * att).mul_(scale)
            if grad_src is not None:
                grad_src.index_add_(0, graph.col[start:stop], grad_hidden)
            if grad_dst is not None:
                grad_dst.index_add_(0, graph.row[start:stop], grad_hidden)
            flat = grad_hidden.view(stop - start, heads * channels)
            if grad_edge_weight is not None:
                grad_edge_weight += flat.t() @ edge_attr[start:stop]
            if grad_edge_attr is not None:
                grad_edge_attr[start:stop] = flat @ edge_weight
        return (grad_src, grad_dst, grad_att, grad_edge_attr,
                grad_edge_weight, None, None, None)


def gatv2_logits(graph: CSRGraph, h_src: Tensor, h_dst: Tensor, att: Tensor,
                 negative_slope: float = 0.2,
                 edge_attr: Optional[Tensor] = None,
                 edge_weight: Optional[Tensor] = None,
                 chunk_edges: Optional[int] = None) -> Tensor:
    r"""GATv2 attention logits ``[E, H]`` in CSR order.

    Args:
        graph (CSRGraph): The graph, target-major.
        h_src (torch.Tensor): Projected source features ``[N_src, H, C]``.
        h_dst (torch.Tensor): Projected target features ``[N_dst, H, C]``.
        att (torch.Tensor): Attention vectors ``[H, C]``.
        negative_slope (float): LeakyReLU slope. (default: :obj:`0.2`)
        edge_attr (torch.Tensor, optional): Edge features ``[E, D]`` in CSR
            order.
        edge_weight (torch.Tensor, optional): Their projection ``[H * C,
            D]`` (a :class:`~torch.nn.Linear` weight without bias).
        chunk_edges (int, optional): Edges per chunk (default: enough for
            a 32 MiB float32 hidden tensor).
    """
    heads, channels = att.shape[-2], att.shape[-1]
    att = att.reshape(heads, channels)
    if (edge_attr is None) != (edge_weight is None):
        raise ValueError("gatv2_logits needs both 'edge_attr' and "
                         "'edge_weight', or neither")
    return _GATv2Logits.apply(h_src, h_dst, att, edge_attr, edge_weight,
                              graph, float(negative_slope), chunk_edges)
