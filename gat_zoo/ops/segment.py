r"""Segment softmax and segment aggregation: the hot path of every attention
layer in :mod:`gat_zoo`.

Edges are grouped into *segments* by their target node (``index``): the
softmax normalises attention logits over each node's incoming edges and the
aggregation reduces the weighted messages of each node's incoming edges.
Both run on the backend :mod:`gat_zoo.ops._backend` picks, and all backends
agree to float64 round-off in values and gradients.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gat_zoo.ops._backend import (
    WITH_TORCH_SCATTER,
    resolve_backend,
)

if WITH_TORCH_SCATTER:  # pragma: no cover - depends on the environment
    import torch_scatter

__all__ = [
    'index_to_ptr',
    'ptr_to_index',
    'segment_aggregate',
    'segment_count',
    'segment_softmax',
    'segment_sum',
    'segment_topk_mask',
]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def index_to_ptr(sorted_index: Tensor, num_segments: int) -> Tensor:
    """CSR pointer ``[num_segments + 1]`` of an index sorted ascending."""
    counts = torch.bincount(sorted_index, minlength=num_segments)
    ptr = sorted_index.new_zeros(num_segments + 1)
    torch.cumsum(counts, 0, out=ptr[1:])
    return ptr


def ptr_to_index(ptr: Tensor) -> Tensor:
    """Segment id of every element described by a CSR pointer."""
    num_segments = ptr.numel() - 1
    return torch.repeat_interleave(
        torch.arange(num_segments, device=ptr.device), ptr.diff())


def _broadcast_index(index: Tensor, src: Tensor) -> Tensor:
    return index.view((-1, ) + (1, ) * (src.dim() - 1)).expand_as(src)


# ---------------------------------------------------------------------------
# Per-backend primitives. ``ptr`` is only used (and then required) on 'csr'.
# ---------------------------------------------------------------------------
def _sum(src: Tensor, index: Tensor, ptr: Optional[Tensor], num: int,
         backend: str) -> Tensor:
    if backend == 'csr':
        assert ptr is not None
        if WITH_TORCH_SCATTER:
            return torch_scatter.segment_csr(src, ptr, reduce='sum')
        return torch.segment_reduce(src, 'sum', offsets=ptr, axis=0,
                                    unsafe=True, initial=0)
    if backend == 'scatter':
        return torch_scatter.scatter(src, index, dim=0, dim_size=num,
                                     reduce='sum')
    out = src.new_zeros((num, ) + tuple(src.shape[1:]))
    return out.index_add(0, index, src)


@torch.no_grad()
def _max_values(src: Tensor, index: Tensor, ptr: Optional[Tensor], num: int,
                backend: str) -> Tensor:
    """Segment maxima; empty segments give 0. Not differentiable: callers
    build the gradient themselves so that all backends route it alike."""
    if backend == 'csr':
        assert ptr is not None
        if WITH_TORCH_SCATTER:
            return torch_scatter.segment_csr(src, ptr, reduce='max')
        out = torch.segment_reduce(src, 'max', offsets=ptr, axis=0,
                                   unsafe=True)
        empty = (ptr.diff() == 0).view((-1, ) + (1, ) * (src.dim() - 1))
        return out.masked_fill(empty, 0.)
    if backend == 'scatter':
        return torch_scatter.scatter(src, index, dim=0, dim_size=num,
                                     reduce='max')
    out = src.new_zeros((num, ) + tuple(src.shape[1:]))
    return out.scatter_reduce(0, _broadcast_index(index, src), src, 'amax',
                              include_self=False)


# ---------------------------------------------------------------------------
# Argument normalisation shared by the public functions.
# ---------------------------------------------------------------------------
class _Segments:
    """Index/pointer pair of one call, sorted into CSR form when the chosen
    backend needs it (``perm`` then maps sorted positions back)."""

    __slots__ = ('index', 'ptr', 'num', 'backend', 'perm')

    def __init__(self, src: Tensor, index: Optional[Tensor],
                 ptr: Optional[Tensor], num_segments: Optional[int]):
        if index is None and ptr is None:
            raise ValueError("Either 'index' or 'ptr' must be given")
        if ptr is not None and ptr.dim() != 1:
            raise ValueError(f"'ptr' must be one-dimensional (got shape "
                             f"{tuple(ptr.shape)})")
        if index is not None:
            if index.dim() != 1:
                raise ValueError(f"'index' must be one-dimensional (got "
                                 f"shape {tuple(index.shape)})")
            if index.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"'index' must hold integers (got "
                                 f"{index.dtype})")
            if index.numel() != src.size(0):
                raise ValueError(
                    f"'index' has {index.numel()} entries but 'src' has "
                    f"{src.size(0)} rows; they must match")
            index = index.long()
        if num_segments is None:
            if ptr is not None:
                num_segments = ptr.numel() - 1
            else:
                assert index is not None
                num_segments = int(index.max()) + 1 if index.numel() else 0
        if ptr is not None and ptr.numel() != num_segments + 1:
            ptr = None  # a pointer for another size cannot be used as is
        if index is None:
            assert ptr is not None
            index = ptr_to_index(ptr.long())

        self.num = int(num_segments)
        self.backend = resolve_backend(ptr is not None, src.device)
        self.perm: Optional[Tensor] = None
        if self.backend == 'csr' and ptr is None:
            # A forced CSR path on unsorted input: sort once, run the
            # segment kernels, and undo the permutation for edge outputs.
            index, self.perm = torch.sort(index, stable=True)
            ptr = index_to_ptr(index, self.num)
        self.index = index
        self.ptr = ptr.long() if ptr is not None else None

    def sorted(self, src: Tensor) -> Tensor:
        return src if self.perm is None else src[self.perm]

    def unsorted(self, out: Tensor) -> Tensor:
        if self.perm is None:
            return out
        return out.new_empty(out.shape).index_copy(0, self.perm, out)


def _upcast(src: Tensor) -> Tensor:
    # Reductions over many edges lose too much in 16-bit floats: accumulate
    # in float32 and hand back the caller's dtype.
    return src.float() if src.dtype in _LOW_PRECISION else src


# ---------------------------------------------------------------------------
# Softmax.
# ---------------------------------------------------------------------------
class _SegmentSoftmax(torch.autograd.Function):
    """Softmax whose backward reuses the output instead of storing the
    exponentials and normalisers: ``d src = y * (g - sum_seg(g * y))``."""

    @staticmethod
    def forward(ctx, src: Tensor, index: Tensor, ptr: Optional[Tensor],
                num: int, backend: str) -> Tensor:
        shift = _max_values(src, index, ptr, num, backend)
        # Segments whose logits are all -inf (fully masked) or empty get a
        # zero shift, so they give 0 instead of NaN.
        shift = torch.where(torch.isfinite(shift), shift,
                            torch.zeros_like(shift))
        exp = (src - shift.index_select(0, index)).exp()
        norm = _sum(exp, index, ptr, num, backend)
        # Any segment with a finite logit has norm >= 1 after the shift, so
        # the clamp only touches fully masked segments.
        norm = norm.clamp_min(torch.finfo(norm.dtype).tiny)
        out = exp / norm.index_select(0, index)
        ctx.save_for_backward(out, index, ptr)
        ctx.num = num
        ctx.backend = backend
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        out, index, ptr = ctx.saved_tensors
        weighted = grad_out * out
        total = _sum(weighted, index, ptr, ctx.num, ctx.backend)
        grad_src = weighted - out * total.index_select(0, index)
        return grad_src, None, None, None, None


def segment_softmax(src: Tensor, index: Optional[Tensor] = None,
                    ptr: Optional[Tensor] = None,
                    num_segments: Optional[int] = None) -> Tensor:
    r"""Softmax of ``src`` over the segments given by ``index`` (or ``ptr``).

    .. math::
        \alpha_e = \frac{\exp(s_e - m_{i})}
        {\sum_{e' : \mathrm{index}(e') = i} \exp(s_{e'} - m_{i})},
        \qquad m_i = \max_{e' : \mathrm{index}(e') = i} s_{e'}

    Args:
        src (torch.Tensor): Logits ``[E, *]``, e.g. ``[E, H]`` for ``H``
            heads; the softmax runs along dimension 0 per segment.
        index (torch.Tensor, optional): Segment (target node) of each row,
            ``[E]``. May be unsorted.
        ptr (torch.Tensor, optional): CSR pointer ``[N + 1]`` of a sorted
            ``index``; enables the segment path.
        num_segments (int, optional): Number of segments ``N``.

    Rows whose logits are ``-inf`` get weight 0; a segment whose logits are
    all ``-inf`` gives zeros, never NaN. float16/bfloat16 input is computed
    in float32 and returned in its own dtype.
    """
    if not src.is_floating_point():
        raise ValueError(f"segment_softmax expects floating-point logits "
                         f"(got {src.dtype})")
    seg = _Segments(src, index, ptr, num_segments)
    if src.numel() == 0:
        return src.clone()
    work = _upcast(src)
    out = _SegmentSoftmax.apply(seg.sorted(work), seg.index, seg.ptr,
                                seg.num, seg.backend)
    return seg.unsorted(out).to(src.dtype)


# ---------------------------------------------------------------------------
# Aggregation.
# ---------------------------------------------------------------------------
def segment_count(index: Optional[Tensor], ptr: Optional[Tensor],
                  num_segments: int) -> Tensor:
    """Number of rows in each segment."""
    if ptr is not None and ptr.numel() == num_segments + 1:
        return ptr.diff()
    assert index is not None
    return torch.bincount(index, minlength=num_segments)


def segment_sum(src: Tensor, index: Optional[Tensor] = None,
                ptr: Optional[Tensor] = None,
                num_segments: Optional[int] = None) -> Tensor:
    """Sum of ``src`` rows per segment (see :func:`segment_aggregate`)."""
    return segment_aggregate(src, index, ptr, num_segments, reduce='sum')


def segment_aggregate(src: Tensor, index: Optional[Tensor] = None,
                      ptr: Optional[Tensor] = None,
                      num_segments: Optional[int] = None,
                      reduce: str = 'sum') -> Tensor:
    r"""Reduce the rows of ``src`` per segment: weighted neighbour
    aggregation.

    Args:
        src (torch.Tensor): Messages ``[E, *]``.
        index (torch.Tensor, optional): Target segment of each row ``[E]``.
        ptr (torch.Tensor, optional): CSR pointer of a sorted ``index``.
        num_segments (int, optional): Number of segments ``N``.
        reduce (str, optional): ``'sum'`` (alias ``'add'``), ``'mean'`` or
            ``'max'``. Empty segments give 0. The gradient of ``'max'`` is
            split evenly between tied maxima on every backend.
            (default: :obj:`'sum'`)

    Returns:
        torch.Tensor: ``[N, *]``.
    """
    if reduce == 'add':
        reduce = 'sum'
    if reduce not in ('sum', 'mean', 'max'):
        raise ValueError(f"Unsupported reduction {reduce!r}; expected "
                         f"'sum', 'mean' or 'max'")
    seg = _Segments(src, index, ptr, num_segments)
    dtype = src.dtype
    work = seg.sorted(_upcast(src))
    if src.size(0) == 0:
        return src.new_zeros((seg.num, ) + tuple(src.shape[1:]))

    if reduce == 'sum':
        out = _sum(work, seg.index, seg.ptr, seg.num, seg.backend)
    elif reduce == 'mean':
        out = _sum(work, seg.index, seg.ptr, seg.num, seg.backend)
        count = segment_count(seg.index, seg.ptr, seg.num).clamp_min(1)
        out = out / count.view((-1, ) + (1, ) * (out.dim() - 1)).to(out)
    else:
        peak = _max_values(work.detach(), seg.index, seg.ptr, seg.num,
                           seg.backend)
        with torch.no_grad():
            is_peak = (work == peak.index_select(0, seg.index)).to(work)
            ties = _sum(is_peak, seg.index, seg.ptr, seg.num, seg.backend)
            share = is_peak / ties.index_select(0, seg.index).clamp_min(1)
        # Value: exactly the peak. Gradient: shared among tied maxima.
        shared = work * share
        out = peak + _sum(shared - shared.detach(), seg.index, seg.ptr,
                          seg.num, seg.backend)
    return out.to(dtype)


def segment_topk_mask(src: Tensor, index: Tensor, num_segments: int,
                      k: int) -> Tensor:
    r"""Which rows of ``src`` are among the :math:`k` largest of their
    segment, per column: ``mask[e] = src[e] >= v_k(index[e])`` with
    :math:`v_k(s)` the :math:`\min(k, |s|)`-th largest value of segment
    :math:`s` (ties at the threshold are all kept, so a segment may keep
    more than :math:`k` rows). MAGNA's official code selects each node's
    top-:math:`k` incoming attention scores this way before the softmax.

    Args:
        src (torch.Tensor): Values ``[E]`` or ``[E, ...]`` (each trailing
            column is ranked on its own).
        index (torch.Tensor): Segment of every row ``[E]`` (any order).
        num_segments (int): Number of segments.
        k (int): How many of the largest values each segment keeps.

    Returns:
        torch.Tensor: A boolean mask shaped like ``src``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"'k' must be a positive integer (got {k!r})")
    E = src.size(0)
    if E == 0:
        return torch.zeros(src.shape, dtype=torch.bool, device=src.device)
    values = src.detach().reshape(E, -1)
    index = index.long()
    # Per column: rows by segment, each segment's values descending (a
    # descending sort, then a stable sort by segment).
    by_value = torch.argsort(values, dim=0, descending=True, stable=True)
    by_segment = torch.argsort(index[by_value], dim=0, stable=True)
    ranked = values.gather(0, by_value.gather(0, by_segment))
    count = torch.bincount(index, minlength=num_segments)
    start = torch.cumsum(count, 0) - count
    # Position of each segment's threshold; empty segments read row 0 and
    # are never looked up.
    kth = (start + count.clamp(max=k) - 1).clamp(min=0)
    threshold = ranked.index_select(0, kth)        # [num_segments, cols]
    return (values >= threshold.index_select(0, index)).reshape(src.shape)
