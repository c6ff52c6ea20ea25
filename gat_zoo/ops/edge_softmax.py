r"""GAT's attention coefficients on a CSR graph in one autograd node.

.. math::
    \alpha_{e,h} = \mathrm{softmax}_{e \to i}\Big(\mathrm{LeakyReLU}\big(
    s_{j,h} + t_{i,h} + u_{e,h}\big)\Big), \qquad e = (j \to i)

Composed from autograd operations this is about ten passes over
:math:`|\mathcal{E}| \times H` tensors, each a fresh allocation kept for
backward. Here the forward allocates two such buffers and keeps only the
output; the backward recomputes the sign of the LeakyReLU input from the
per-node scores (two gathers) instead of storing it. Edges are in the CSR
graph's target-sorted order, so every per-target reduction is a segment
reduction over ``ptr``.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gat_zoo.ops._backend import resolve_backend
from gat_zoo.ops.csr import CSRGraph
from gat_zoo.ops.segment import _max_values, _sum

__all__ = ['gat_edge_softmax']


def _segment(src: Tensor, graph: CSRGraph, reduce: str) -> Tensor:
    # The raw kernels: no gradient routing is needed inside this Function.
    kernel = _max_values if reduce == 'max' else _sum
    return kernel(src, graph.row, graph.ptr, graph.num_dst,
                  resolve_backend(True))


def _logits(graph: CSRGraph, score_src: Tensor, score_dst: Optional[Tensor],
            score_edge: Optional[Tensor], buffer: Tensor) -> Tensor:
    out = torch.index_select(score_src, 0, graph.col)
    if score_dst is not None:
        out += torch.index_select(score_dst, 0, graph.row, out=buffer)
    if score_edge is not None:
        out += score_edge
    return out


class _GATEdgeSoftmax(torch.autograd.Function):

    @staticmethod
    def forward(ctx, score_src: Tensor, score_dst: Optional[Tensor],
                score_edge: Optional[Tensor], graph: CSRGraph,
                negative_slope: float) -> Tensor:
        buffer = score_src.new_empty(graph.num_edges, score_src.size(1))
        alpha = _logits(graph, score_src, score_dst, score_edge, buffer)
        torch.nn.functional.leaky_relu_(alpha, negative_slope)
        peak = _segment(alpha, graph, 'max')
        # Targets whose logits are all -inf (or that have no edge) shift
        # by 0 and give zeros, never NaN.
        peak = torch.where(torch.isfinite(peak), peak, peak.new_zeros(()))
        alpha -= torch.index_select(peak, 0, graph.row, out=buffer)
        alpha.exp_()
        norm = _segment(alpha, graph, 'sum').clamp_min_(
            torch.finfo(alpha.dtype).tiny)
        alpha /= torch.index_select(norm, 0, graph.row, out=buffer)
        del buffer
        ctx.save_for_backward(alpha, score_src, score_dst, score_edge)
        ctx.graph = graph
        ctx.negative_slope = negative_slope
        return alpha

    @staticmethod
    def backward(ctx, grad_alpha: Tensor):
        alpha, score_src, score_dst, score_edge = ctx.saved_tensors
        graph: CSRGraph = ctx.graph
        # Softmax: d logit = alpha * (g - sum_{e -> i} alpha * g).
        grad = grad_alpha * alpha
        buffer = torch.index_select(_segment(grad, graph, 'sum'), 0,
                                    graph.row)
        grad -= buffer.mul_(alpha)
        # LeakyReLU: its input's sign, recomputed rather than stored.
        pre = _logits(graph, score_src, score_dst, score_edge, buffer)
        grad *= torch.where(pre > 0, pre.new_ones(()),
                            pre.new_full((), ctx.negative_slope))
        del pre, buffer
        need = ctx.needs_input_grad
        grad_src = grad_dst = grad_edge = None
        if need[0]:
            grad_src = score_src.new_zeros(score_src.shape).index_add_(
                0, graph.col, grad)
        if need[1] and score_dst is not None:
            grad_dst = _segment(grad, graph, 'sum')
        if need[2] and score_edge is not None:
            grad_edge = grad
        return grad_src, grad_dst, grad_edge, None, None


def gat_edge_softmax(graph: CSRGraph, score_src: Tensor,
                     score_dst: Optional[Tensor] = None,
                     score_edge: Optional[Tensor] = None,
                     negative_slope: float = 0.2) -> Tensor:
    r"""GAT attention coefficients ``[E, H]`` in the graph's CSR order.

    Args:
        graph (CSRGraph): The graph, target-major.
        score_src (torch.Tensor): Per-source scores
            :math:`\mathbf{a}_s^{\top}\mathbf{\Theta}_s\mathbf{x}_j`,
            ``[N_src, H]``.
        score_dst (torch.Tensor, optional): Per-target scores ``[N_dst, H]``.
        score_edge (torch.Tensor, optional): Per-edge scores ``[E, H]`` in
            CSR order.
        negative_slope (float): LeakyReLU slope. (default: :obj:`0.2`)

    float16/bfloat16 scores are computed in float32 and returned in their
    own dtype.
    """
    dtype = score_src.dtype
    work = torch.float32 if dtype in (torch.float16, torch.bfloat16) \
        else dtype

    def cast(t: Optional[Tensor]) -> Optional[Tensor]:
        return None if t is None else t.to(work)

    if graph.num_edges == 0:
        return score_src.new_zeros(0, score_src.size(1))
    alpha = _GATEdgeSoftmax.apply(cast(score_src), cast(score_dst),
                                  cast(score_edge), graph,
                                  float(negative_slope))
    return alpha.to(dtype)
