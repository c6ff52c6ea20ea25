r"""Multi-head weighted neighbour aggregation without per-edge messages.

.. math::
    \mathbf{out}_{i,h} = \sum_{e = (j \to i)} w_{e,h}\, \mathbf{x}_{j,h}

is, for every head :math:`h`, a sparse-matrix × dense-matrix product
(SpMM) of the attention matrix :math:`W_h` (pattern of the graph, values
:math:`w_{:,h}`) with the head's features. The message-passing form gathers
an :math:`|\mathcal{E}| \times H \times C` tensor of messages and scatters
it; the SpMM form never builds it. Its gradients are again sparse products:

* :math:`\partial \mathbf{x}_h = W_h^{\top} \partial \mathbf{out}_h`, an
  SpMM on the transposed pattern (:meth:`CSRGraph.transpose_parts`);
* :math:`\partial w_{e,h} = \langle \partial\mathbf{out}_{i,h},
  \mathbf{x}_{j,h} \rangle`, a sampled dense-dense product (SDDMM),
  :func:`torch.sparse.sampled_addmm` on the graph's pattern.

Measured on a 2-core CPU (ogbn-arxiv-sized random graph, 8 heads × 32,
``benchmarks/kernel_choices.py``), PyTorch's CSR SpMM and
``sampled_addmm`` beat ``torch_sparse``'s SpMM and value backward (3.8× and
7×) and chunked gather/scatter (4.3× and 6.7×), and they run on CUDA
(cuSPARSE) as well, so they are the building blocks here. All heads go
through one product on the head-expanded matrix
(:class:`~gat_zoo.ops.csr.ExpandedCSR`), which reads and writes node-major
features in place: measured there, 0.56 s against 1.01 s for one product
per head on head-major copies.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

from gat_zoo.ops.csr import CSRGraph, ExpandedCSR

__all__ = ['head_spmm', 'SPMM_DTYPES', 'csr_tensor']

#: Dtypes the sparse products run in natively; others are computed in
#: float32 and cast back.
SPMM_DTYPES = (torch.float32, torch.float64)


def csr_tensor(ptr: Tensor, col: Tensor, values: Tensor, shape) -> Tensor:
    with warnings.catch_warnings():
        # "Sparse CSR tensor support is in beta state": the products used
        # here are stable; the warning would fire on every layer call.
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(ptr, col, values, shape,
                                       check_invariants=False)


def _spmm(matrix: ExpandedCSR, weight: Tensor, x: Tensor) -> Tensor:
    """``[N_rows * H, C]`` product of the expanded matrix (values from the
    flat ``[E, H]`` weights) with node-major ``x`` viewed ``[N * H, C]``."""
    values = weight.reshape(-1).index_select(0, matrix.perm)
    sparse = csr_tensor(matrix.crow, matrix.col, values, matrix.shape)
    return torch.mm(sparse, x.reshape(matrix.shape[1], x.size(-1)))


def _sddmm(matrix: ExpandedCSR, left: Tensor, right: Tensor,
           num_edges: int, heads: int) -> Tensor:
    """``out[e, h] = <left[i, h], right[j, h]>`` for every edge ``e = (j ->
    i)``, ``[E, H]`` in CSR order."""
    # The pattern's values must be zeros, not just any buffer: even with
    # beta=0, sampled_addmm propagates a NaN found there (torch 2.13).
    pattern = csr_tensor(matrix.crow, matrix.col,
                         left.new_zeros(matrix.col.numel()), matrix.shape)
    sampled = torch.sparse.sampled_addmm(
        pattern, left.reshape(matrix.shape[0], left.size(-1)),
        right.reshape(matrix.shape[1], right.size(-1)).t(), beta=0.0)
    out = left.new_empty(num_edges * heads)
    out.index_put_((matrix.perm, ), sampled.values())
    return out.view(num_edges, heads)


class _HeadSpMM(torch.autograd.Function):

    @staticmethod
    def forward(ctx, weight: Tensor, x: Tensor, graph: CSRGraph) -> Tensor:
        heads = weight.size(1)
        x = x.contiguous()
        out = _spmm(graph.expanded(heads), weight, x)
        ctx.graph = graph
        ctx.save_for_backward(weight, x)
        return out.view(graph.num_dst, heads, x.size(-1))

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        weight, x = ctx.saved_tensors
        graph: CSRGraph = ctx.graph
        heads = weight.size(1)
        grad_out = grad_out.contiguous()
        grad_weight = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_weight = _sddmm(graph.expanded(heads), grad_out, x,
                                 graph.num_edges, heads)
        if ctx.needs_input_grad[1]:
            grad_x = _spmm(graph.expanded(heads, transpose=True), weight,
                           grad_out).view_as(x)
        return grad_weight, grad_x, None


def head_spmm(graph: CSRGraph, weight: Tensor, x: Tensor) -> Tensor:
    r"""Weighted sum of source features per target node and head.

    Args:
        graph (CSRGraph): The graph, target-major.
        weight (torch.Tensor): Edge weights in CSR order, ``[E, H]``.
        x (torch.Tensor): Source features ``[N_src, H, C]``.

    Returns:
        torch.Tensor: ``[N_dst, H, C]``, differentiable in ``weight`` and
        ``x``.
    """
    if weight.dim() != 2 or x.dim() != 3 or weight.size(1) != x.size(1):
        raise ValueError(f"head_spmm expects weight [E, H] and x [N, H, C] "
                         f"(got {tuple(weight.shape)} and {tuple(x.shape)})")
    if weight.size(0) != graph.num_edges or x.size(0) != graph.num_src:
        raise ValueError(f"head_spmm: weight has {weight.size(0)} rows and "
                         f"x {x.size(0)} for a graph with "
                         f"{graph.num_edges} edges and {graph.num_src} "
                         f"sources")
    dtype = torch.promote_types(weight.dtype, x.dtype)
    work = dtype if dtype in SPMM_DTYPES else torch.float32
    if graph.num_edges == 0:
        # Zeros that stay attached to both inputs (zero gradients) without
        # multiplying anything by 0, which would turn an inf into NaN.
        anchor = weight.reshape(-1)[:0].sum() + x.reshape(-1)[:0].sum()
        return x.new_zeros(graph.num_dst, x.size(1), x.size(2),
                           dtype=dtype) + anchor
    out = _HeadSpMM.apply(weight.to(work), x.to(work), graph)
    return out.to(dtype)
