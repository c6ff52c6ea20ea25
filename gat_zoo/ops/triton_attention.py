r"""GAT's and GATv2's attention and aggregation in one Triton kernel per pass.

.. math::
    \mathbf{out}_{i,h} = \sum_{e = (j \to i)} \kappa_{e,h}\,\alpha_{e,h}\,
    \mathbf{x}_{j,h}, \qquad
    \alpha_{e,h} = \mathrm{softmax}_{e \to i}\big(\mathrm{LeakyReLU}(
    s_{j,h} + t_{i,h} + u_{e,h})\big)

with :math:`\kappa_{e,h}` the attention-dropout mask (0 or
:math:`1/(1-p)`). The composed fused path
(:func:`~gat_zoo.ops.gat_edge_softmax` then
:func:`~gat_zoo.ops.head_spmm`) writes the ``[E, H]`` coefficients to
memory and reads them back; here one program per target walks its CSR
segment once for all heads with an online softmax (per head a running
maximum and normaliser, the accumulator rescaled when the maximum grows),
reading each source's whole feature row (``H x C``) once, so nothing
of size ``E`` is written in the forward pass: it reads the sources'
scores and features and writes ``[N, H, C]`` plus two ``[N, H]``
statistics. The dropout mask is a counter-based hash of
(seed, edge, head) (``tl.rand``), so the backward pass redraws it instead
of storing it.

The backward pass is two kernels, both without atomics (so a run is
bit-reproducible):

* over targets (CSR): :math:`D_{i,h} = \langle\partial\mathbf{out}_{i,h},
  \mathbf{out}_{i,h}\rangle`, then per edge the logit gradient
  :math:`\alpha_{e,h}(\kappa_{e,h}\langle\partial\mathbf{out}_{i,h},
  \mathbf{x}_{j,h}\rangle - D_{i,h})` times the LeakyReLU slope, written
  as one ``[E, H]`` buffer and summed per target into :math:`\partial t`;
* over sources (the transposed CSR): :math:`\partial\mathbf{x}_{j,h} =
  \sum_{e = (j \to i)}\kappa_{e,h}\alpha_{e,h}\,\partial\mathbf{out}_{i,h}`
  with :math:`\alpha` recomputed from the saved statistics, and
  :math:`\partial s_{j,h}` as the sum of the buffer over the source's
  edges.

GATv2 (:func:`triton_gatv2_attention`) has the logit
:math:`\mathbf{a}_h^{\top}\mathrm{LeakyReLU}(\mathbf{x}_{j,h} +
\mathbf{x}^{t}_{i,h})` instead, which no per-node score can carry; its
kernels form the hidden vector from the source row they read for the
aggregation and the target's row, and differentiate through it in the same
two backward passes: the target pass also yields
:math:`\partial\mathbf{x}^{t}_i` and a per-target share of
:math:`\partial\mathbf{a}` (summed afterwards), the source pass adds the
logit path :math:`\partial z_{e,h}\,\mathbf{a}_h \odot
\mathrm{LeakyReLU}'` to :math:`\partial\mathbf{x}_j`.

Triton is optional. Without a GPU the kernels run in Triton's interpreter
(``TRITON_INTERPRET=1`` set before Triton is imported), which is how the
tests check them against the composed path on CPU; they are numerically
the same function, not a faster one there. Whether they beat the composed
path on a GPU is measured by ``benchmarks/triton_attention.py`` on the
device machine; until then layers use them only under
``use_fused('triton')``.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from gat_zoo.ops.csr import CSRGraph

__all__ = ['triton_attention', 'triton_attention_available',
           'triton_gatv2_attention']

#: Feature values (edges x heads x channels) a program reads per step of
#: its segment walk, unless ``GAT_ZOO_TRITON_TILE`` says otherwise; the
#: edges per step follow from the heads and channels. Compiled for sm_90
#: with 8 heads x 32 float32 channels (16 edges per step), ptxas reports
#: 90, 128 and 72 registers for the forward, target-backward and
#: source-backward kernels and no spills; which tile runs fastest is for
#: the device check (``benchmarks/triton_attention.py --tiles``).
TILE_VALUES = 4096


def _interpreting() -> bool:
    return os.environ.get('TRITON_INTERPRET', '0') not in ('', '0')


def triton_attention_available(device: torch.device) -> bool:
    """Whether :func:`triton_attention` can run on ``device``: Triton is
    installed and the device is CUDA, or it is the CPU and Triton's
    interpreter is on (``TRITON_INTERPRET=1``)."""
    if importlib.util.find_spec('triton') is None:
        return False
    kind = torch.device(device).type
    if kind == 'cuda':
        return torch.cuda.is_available()
    return kind == 'cpu' and _interpreting()


def _kernels() -> Any:
    """The jitted kernels' module, imported on first use, which keeps
    Triton optional."""
    from gat_zoo.ops import _triton_kernels
    return _triton_kernels


def _power_of_two(n: int) -> int:
    return 1 << (max(int(n), 1) - 1).bit_length()


def tile_shape(heads: int, channels: int) -> Dict[str, int]:
    """``BLOCK_E``, ``BLOCK_H``, ``BLOCK_C`` for ``[N, heads, channels]``
    features: whole rows, and as many edges per step as keep the tile near
    :data:`TILE_VALUES` values (at least 2, at most 64)."""
    tile = int(os.environ.get('GAT_ZOO_TRITON_TILE') or TILE_VALUES)
    if tile < 1 or tile & (tile - 1):
        raise ValueError(f'GAT_ZOO_TRITON_TILE must be a power of two, got '
                         f'{tile}')
    block_h, block_c = _power_of_two(heads), _power_of_two(channels)
    block_e = min(64, max(2, tile // (block_h * block_c)))
    # Both factors are powers of two, so is the quotient (or the clamp).
    return dict(BLOCK_E=block_e, BLOCK_H=block_h, BLOCK_C=block_c)


def _launch(kernel: Any, programs: int, *args: Any, **meta: Any) -> None:
    """One program per node; an empty grid is not launched (Triton rejects
    it)."""
    if programs > 0:
        kernel[(programs,)](*args, **meta)


def _forward_buffers(x: Tensor, num_dst: int, negative_slope: float,
                     dropout: float) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(params, out, peak, norm)``: the kernels' float parameters, the
    output ``[N_dst, H, C]`` and the softmax statistics ``[N_dst, H]`` in
    the accumulator's dtype."""
    k = _kernels()
    acc_type = k.accumulator(x.dtype)
    H, C = x.size(1), x.size(2)
    return (k.parameters(x.dtype, x.device, negative_slope, dropout),
            x.new_empty(num_dst, H, C),
            x.new_empty(num_dst, H, dtype=acc_type),
            x.new_empty(num_dst, H, dtype=acc_type))


def _meta(x: Tensor, score_edge: Optional[Tensor], dropout: bool,
          **flags: bool) -> Dict[str, Any]:
    """The kernels' compile-time arguments."""
    H, C = x.size(1), x.size(2)
    return dict(H=H, C=C, **tile_shape(H, C),
                HAS_EDGE=score_edge is not None, DROPOUT=dropout, **flags)


class _TritonAttention(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, score_src: Tensor, score_dst: Optional[Tensor],
                score_edge: Optional[Tensor], graph: CSRGraph,
                negative_slope: float, dropout: float, seed: int) -> Tensor:
        params, out, peak, norm = _forward_buffers(x, graph.num_dst,
                                                   negative_slope, dropout)
        dummy = score_src.new_empty(0)
        _launch(_kernels().forward_kernel, graph.num_dst, graph.ptr,
                graph.col, x, score_src,
                dummy if score_dst is None else score_dst,
                dummy if score_edge is None else score_edge,
                out, peak, norm, params, seed,
                **_meta(x, score_edge, dropout > 0,
                        HAS_DST=score_dst is not None))
        ctx.save_for_backward(x, score_src, score_dst, score_edge, out, peak,
                              norm, params)
        ctx.graph = graph
        ctx.seed = seed
        ctx.dropout = dropout > 0
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, score_src, score_dst, score_edge, out, peak, norm, params = \
            ctx.saved_tensors
        graph: CSRGraph = ctx.graph
        k = _kernels()
        grad_out = grad_out.contiguous()
        H = x.size(1)
        dummy = score_src.new_empty(0)
        meta = _meta(x, score_edge, ctx.dropout,
                     HAS_DST=score_dst is not None)
        dst_scores = dummy if score_dst is None else score_dst
        edge_scores = dummy if score_edge is None else score_edge
        grad_logit = score_src.new_empty(graph.num_edges, H)
        grad_dst = score_src.new_empty(graph.num_dst, H)
        _launch(k.backward_target_kernel, graph.num_dst, graph.ptr,
                graph.col, x, score_src, dst_scores, edge_scores, out,
                grad_out, peak, norm, grad_logit, grad_dst, params, ctx.seed,
                **meta)
        ptr_t, row_t, csr_position = graph.transpose_parts()
        grad_x = torch.empty_like(x)
        grad_src = torch.empty_like(score_src)
        _launch(k.backward_source_kernel, graph.num_src, ptr_t, row_t,
                csr_position, score_src, dst_scores, edge_scores, grad_out,
                peak, norm, grad_logit, grad_x, grad_src, params, ctx.seed,
                **meta)
        need = ctx.needs_input_grad
        return (grad_x if need[0] else None,
                grad_src if need[1] else None,
                grad_dst if need[2] and score_dst is not None else None,
                grad_logit if need[3] and score_edge is not None else None,
                None, None, None, None)


def triton_attention(graph: CSRGraph, x: Tensor, score_src: Tensor,
                     score_dst: Optional[Tensor] = None,
                     score_edge: Optional[Tensor] = None,
                     negative_slope: float = 0.2, dropout: float = 0.0,
                     seed: Optional[int] = None) -> Tensor:
    r"""GAT's attention-weighted aggregation ``[N_dst, H, C]`` in one pass.

    The same function as ``head_spmm(graph, dropout(gat_edge_softmax(...)),
    x)``, with the dropout mask drawn from ``seed`` by a hash of (edge, head)
    instead of torch's generator.

    Args:
        graph (CSRGraph): The graph, target-major.
        x (torch.Tensor): Projected source features ``[N_src, H, C]``.
        score_src (torch.Tensor): Per-source scores ``[N_src, H]``.
        score_dst (torch.Tensor, optional): Per-target scores
            ``[N_dst, H]``.
        score_edge (torch.Tensor, optional): Per-edge scores ``[E, H]`` in
            CSR order.
        negative_slope (float): LeakyReLU slope. (default: :obj:`0.2`)
        dropout (float): Attention-dropout probability. (default: :obj:`0`)
        seed (int, optional): Seed of the dropout mask; drawn from torch's
            generator when omitted, so :func:`torch.manual_seed` fixes it.

    float16/bfloat16 inputs are accumulated in float32; float64 stays
    float64. Raises :class:`RuntimeError` where
    :func:`triton_attention_available` is false.
    """
    seed = _check_common('triton_attention', graph, x, score_edge, dropout,
                         seed)
    H = x.size(1)
    _check_scores('score_src', score_src, (graph.num_src, H))
    _check_scores('score_dst', score_dst, (graph.num_dst, H))

    return _TritonAttention.apply(
        x.contiguous(), score_src.contiguous(), _ready(score_dst),
        _ready(score_edge), graph, float(negative_slope), float(dropout),
        seed)


class _TritonGATv2Attention(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, x_dst: Tensor, att: Tensor,
                score_edge: Optional[Tensor], graph: CSRGraph,
                negative_slope: float, dropout: float, seed: int) -> Tensor:
        params, out, peak, norm = _forward_buffers(x, graph.num_dst,
                                                   negative_slope, dropout)
        _launch(_kernels().v2_forward_kernel, graph.num_dst, graph.ptr,
                graph.col, x, x_dst, att,
                x.new_empty(0) if score_edge is None else score_edge,
                out, peak, norm, params, seed,
                **_meta(x, score_edge, dropout > 0))
        ctx.save_for_backward(x, x_dst, att, score_edge, out, peak, norm,
                              params)
        ctx.graph = graph
        ctx.seed = seed
        ctx.dropout = dropout > 0
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, x_dst, att, score_edge, out, peak, norm, params = \
            ctx.saved_tensors
        graph: CSRGraph = ctx.graph
        k = _kernels()
        grad_out = grad_out.contiguous()
        meta = _meta(x, score_edge, ctx.dropout)
        edge_scores = x.new_empty(0) if score_edge is None else score_edge
        grad_logit = x.new_empty(graph.num_edges, x.size(1))
        grad_x_dst = torch.empty_like(x_dst)
        # Each target's share of the attention vectors' gradient, summed
        # below: a reduction over targets without atomics.
        grad_att = x.new_zeros(graph.num_dst, x.size(1), x.size(2),
                               dtype=peak.dtype)
        _launch(k.v2_backward_target_kernel, graph.num_dst, graph.ptr,
                graph.col, x, x_dst, att, edge_scores, out, grad_out, peak,
                norm, grad_logit, grad_x_dst, grad_att, params, ctx.seed,
                **meta)
        ptr_t, row_t, csr_position = graph.transpose_parts()
        grad_x = torch.empty_like(x)
        _launch(k.v2_backward_source_kernel, graph.num_src, ptr_t, row_t,
                csr_position, x, x_dst, att, edge_scores, grad_out, peak,
                norm, grad_logit, grad_x, params, ctx.seed, **meta)
        need = ctx.needs_input_grad
        return (grad_x if need[0] else None,
                grad_x_dst if need[1] else None,
                grad_att.sum(0).to(att.dtype) if need[2] else None,
                grad_logit if need[3] and score_edge is not None else None,
                None, None, None, None)


def triton_gatv2_attention(graph: CSRGraph, x: Tensor, x_dst: Tensor,
                           att: Tensor, negative_slope: float = 0.2,
                           score_edge: Optional[Tensor] = None,
                           dropout: float = 0.0,
                           seed: Optional[int] = None) -> Tensor:
    r"""GATv2's attention-weighted aggregation ``[N_dst, H, C]`` in one
    pass: the same function as ``head_spmm(graph, dropout(softmax(
    gatv2_logits(graph, x, x_dst, att) + score_edge)), x)``.

    The logit :math:`\mathbf{a}_h^{\top}\mathrm{LeakyReLU}(\mathbf{x}_{j,h}
    + \mathbf{x}^{t}_{i,h})` is computed from the source row the
    aggregation reads anyway, so no ``[E, H, C]`` hidden vector exists
    outside a program's registers. Edge features inside the LeakyReLU are
    not supported (they would need an ``[E, H, C]`` input); an additive
    per-edge term ``score_edge`` ``[E, H]`` is.

    Args:
        graph (CSRGraph): The graph, target-major.
        x (torch.Tensor): Projected source features ``[N_src, H, C]``,
            both the values aggregated and the sources' half of the
            hidden vector.
        x_dst (torch.Tensor): Projected target features ``[N_dst, H, C]``.
        att (torch.Tensor): Attention vectors ``[H, C]`` (or ``[1, H,
            C]``).
        negative_slope, dropout, seed: As in :func:`triton_attention`.
    """
    seed = _check_common('triton_gatv2_attention', graph, x, score_edge,
                         dropout, seed)
    H, C = x.size(1), x.size(2)
    if tuple(x_dst.shape) != (graph.num_dst, H, C):
        raise ValueError(f'x_dst must have shape {(graph.num_dst, H, C)}, '
                         f'got {tuple(x_dst.shape)}')
    if att.numel() != H * C:
        raise ValueError(f'att must have {H} x {C} values, got shape '
                         f'{tuple(att.shape)}')
    return _TritonGATv2Attention.apply(
        x.contiguous(), x_dst.contiguous(), att.reshape(H, C).contiguous(),
        _ready(score_edge), graph, float(negative_slope), float(dropout),
        seed)


def _ready(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.contiguous()


def _check_common(name: str, graph: CSRGraph, x: Tensor,
                  score_edge: Optional[Tensor], dropout: float,
                  seed: Optional[int]) -> int:
    """The checks both kernels share; returns the dropout seed."""
    if not triton_attention_available(x.device):
        raise RuntimeError(
            f'{name} needs Triton and a CUDA tensor (or TRITON_INTERPRET=1 '
            "for CPU tensors); use gat_zoo's composed fused path "
            '(gat_edge_softmax or gatv2_logits, then head_spmm) instead')
    if x.dim() != 3 or x.size(0) != graph.num_src:
        raise ValueError(f'x must be [num_src={graph.num_src}, H, C], got '
                         f'{tuple(x.shape)}')
    _check_scores('score_edge', score_edge, (graph.num_edges, x.size(1)))
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f'dropout must lie in [0, 1), got {dropout}')
    if seed is None:
        seed = int(torch.randint(0, 2**31 - 1, (), device='cpu'))
    return int(seed)


def _check_scores(name: str, scores: Optional[Tensor],
                  shape: Tuple[int, int]) -> None:
    if scores is not None and tuple(scores.shape) != shape:
        raise ValueError(f'{name} must have shape {shape}, got '
                         f'{tuple(scores.shape)}')
