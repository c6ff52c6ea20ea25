r"""Destination-sorted CSR graphs for the fused attention kernels.

Attention layers normalise over each target node's incoming edges and sum
weighted source features into that target, so the natural layout is CSR
with one row per *target* node: ``ptr`` (row pointer over targets), ``col``
(the source of each edge) and ``row`` (its target), all in target order.
The backward pass needs the transpose, which :class:`CSRGraph` builds once,
on first use, and keeps.

A caller that hands in an ``edge_index`` in its own order gets ``perm``
along: CSR edge ``k`` is the caller's edge ``perm[k]``. Edge-shaped inputs
(edge features, dropout masks) are gathered with it and edge-shaped outputs
(attention weights) scattered back, so results come out in the caller's
order.

Building the structure costs a sort over the edges. Graphs are usually
static across epochs and layers, so :func:`cached_csr` remembers the
structure of the last few adjacency objects it saw, keyed by object
identity and checked against the tensor's in-place version counter, so an
edited tensor is never served a stale structure.
"""
from __future__ import annotations

import functools
import weakref
from collections import OrderedDict
from typing import (
    Any,
    Callable,
    Dict,
    Hashable,
    NamedTuple,
    Optional,
    Tuple,
)

import torch
from torch import Tensor

from gat_zoo.ops.segment import index_to_ptr

__all__ = ['CSRGraph', 'ExpandedCSR', 'cached_csr', 'clear_csr_cache']


class CSRGraph:
    """A graph as target-major CSR, plus the lazily built transpose.

    Args:
        ptr (torch.Tensor): Row pointer over the target nodes,
            ``[num_dst + 1]``.
        col (torch.Tensor): Source node of every edge, in CSR order ``[E]``.
        num_src (int): Number of source nodes.
        row (torch.Tensor, optional): Target node of every edge in CSR order
            (derived from ``ptr`` when omitted).
        perm (torch.Tensor, optional): CSR position → the caller's edge
            position; :obj:`None` when the caller's order is the CSR order.
    """

    __slots__ = ('ptr', 'col', 'row', 'num_src', 'perm', '_transpose',
                 '_expanded', '__weakref__')

    def __init__(self, ptr: Tensor, col: Tensor, num_src: int,
                 row: Optional[Tensor] = None, perm: Optional[Tensor] = None):
        self.ptr = ptr
        self.col = col
        self.num_src = int(num_src)
        if row is None:
            row = torch.repeat_interleave(
                torch.arange(ptr.numel() - 1, device=ptr.device), ptr.diff(),
                output_size=col.numel())
        self.row = row
        self.perm = perm
        self._transpose: Optional[Tuple[Tensor, Tensor, Tensor]] = None
        self._expanded: Dict[Tuple[int, bool], ExpandedCSR] = {}

    @property
    def num_dst(self) -> int:
        return self.ptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.col.numel()

    @property
    def device(self) -> torch.device:
        return self.col.device

    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_src: int,
                        num_dst: int) -> CSRGraph:
        """Sort a ``[2, E]`` (source, target) index by target.

        The sort is stable, so parallel edges keep their relative order, and
        it is skipped when the targets are already sorted.
        """
        src, dst = edge_index[0], edge_index[1]
        perm: Optional[Tensor] = None
        if dst.numel() > 1 and not bool((dst[1:] >= dst[:-1]).all()):
            dst, perm = torch.sort(dst.long(), stable=True)
            src = src.long().index_select(0, perm)
        else:  # own copies: the caller may edit its index in place later
            src, dst = src.long().clone(), dst.long().clone()
        return cls(index_to_ptr(dst, num_dst), src, num_src, row=dst,
                   perm=perm)

    def transpose_parts(self) -> Tuple[Tensor, Tensor, Tensor]:
        """``(ptr_t, row_t, csr_to_csc)``: CSR over the *source* nodes.

        ``ptr_t`` is the row pointer over sources, ``row_t`` the target of
        each edge in that order, and ``csr_to_csc`` the CSR position of each
        transposed position (so ``values[csr_to_csc]`` reorders edge values).
        """
        if self._transpose is None:
            col_sorted, order = torch.sort(self.col, stable=True)
            self._transpose = (index_to_ptr(col_sorted, self.num_src),
                               self.row.index_select(0, order), order)
        return self._transpose

    def expanded(self, heads: int, transpose: bool = False) -> ExpandedCSR:
        """The head-expanded CSR of this graph (or of its transpose), see
        :class:`ExpandedCSR`; built on first use and kept."""
        key = (int(heads), bool(transpose))
        if key not in self._expanded:
            if transpose:
                ptr_t, row_t, csr_to_csc = self.transpose_parts()
                self._expanded[key] = ExpandedCSR.build(
                    ptr_t, row_t, csr_to_csc, heads, self.num_dst)
            else:
                self._expanded[key] = ExpandedCSR.build(
                    self.ptr, self.col, None, heads, self.num_src)
        return self._expanded[key]

    def to_csr_order(self, edge_values: Tensor) -> Tensor:
        """Caller-ordered edge values → CSR order."""
        if self.perm is None:
            return edge_values
        return edge_values.index_select(0, self.perm)

    def to_caller_order(self, edge_values: Tensor) -> Tensor:
        """CSR-ordered edge values → the caller's order."""
        if self.perm is None:
            return edge_values
        return edge_values.new_empty(edge_values.shape).index_copy(
            0, self.perm, edge_values)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_src={self.num_src}, '
                f'num_dst={self.num_dst}, num_edges={self.num_edges})')


class ExpandedCSR(NamedTuple):
    """One sparse matrix holding all ``H`` heads of a graph's attention.

    Row ``i * H + h`` holds the edges into node ``i`` for head ``h``, with
    column ``j * H + h`` for an edge from ``j``. Multiplied with node-major
    features viewed as ``[N * H, C]`` it gives node-major ``[N * H, C]``
    output: every head in one sparse product, no layout copies, and the
    ``H`` rows of one target node read the same neighbour feature rows back
    to back (cache-friendly).

    ``perm`` gives, for each stored value, its index in the flattened
    ``[E, H]`` edge-weight matrix (edges in the graph's CSR order), so
    ``weight.view(-1)[perm]`` lays the weights out.
    """
    crow: Tensor
    col: Tensor
    perm: Tensor
    shape: Tuple[int, int]

    @classmethod
    def build(cls, ptr: Tensor, col: Tensor, edge_id: Optional[Tensor],
              heads: int, num_cols: int) -> ExpandedCSR:
        """From a CSR ``(ptr, col)`` whose k-th stored edge is edge
        ``edge_id[k]`` of the graph (``None``: edge ``k``)."""
        num_rows = ptr.numel() - 1
        num_edges = col.numel()
        device = col.device
        fits_int32 = max(num_edges, num_rows, num_cols) * heads < 2**31 - 1
        dtype = torch.int32 if fits_int32 else torch.int64
        deg = ptr.diff()
        heads_range = torch.arange(heads, device=device)
        crow = torch.zeros(num_rows * heads + 1, dtype=torch.int64,
                           device=device)
        torch.cumsum(deg.repeat_interleave(heads), 0, out=crow[1:])
        row = torch.repeat_interleave(
            torch.arange(num_rows, device=device), deg,
            output_size=num_edges)
        # Edge k of row i, head h sits at ptr[i] * H + h * deg[i] + (k -
        # ptr[i]) in the expanded matrix.
        offset = ptr[:-1].index_select(0, row) * (heads - 1) + torch.arange(
            num_edges, device=device)
        position = (offset.view(-1, 1) +
                    deg.index_select(0, row).view(-1, 1) * heads_range)
        del offset, row
        edge = (torch.arange(num_edges, device=device)
                if edge_id is None else edge_id)
        flat = (edge.view(-1, 1) * heads + heads_range).view(-1)
        expanded_col = (col.view(-1, 1) * heads + heads_range).view(-1)
        position = position.view(-1)
        perm = torch.empty_like(flat).index_copy_(0, position, flat)
        out_col = torch.empty_like(expanded_col).index_copy_(
            0, position, expanded_col)
        return cls(crow.to(dtype), out_col.to(dtype), perm.to(dtype),
                   (num_rows * heads, num_cols * heads))


# ---------------------------------------------------------------------------
# Structure cache.
# ---------------------------------------------------------------------------
_CACHE_SIZE = 8
_cache: OrderedDict[Tuple[int, Hashable], Tuple[Any, int, Any]] = (
    OrderedDict())


def _version(obj: Any) -> int:
    # SparseTensor and other wrappers have no version counter; they are
    # immutable in practice (their methods return new objects).
    return getattr(obj, '_version', 0)


def cached_csr(key_object: Any, extra_key: Hashable,
               build: Callable[[], Any]) -> Any:
    """``build()``, remembered for the lifetime of ``key_object``.

    The entry is valid while ``key_object`` is alive, is the same object,
    and (for tensors) has not been modified in place since. ``extra_key``
    distinguishes several structures per object (e.g. node counts, whether
    self-loops were added). Nothing is cached while :func:`torch.compile`
    traces.
    """
    if torch.compiler.is_compiling():
        return build()
    key = (id(key_object), extra_key)
    entry = _cache.get(key)
    if entry is not None:
        ref, version, value = entry
        if ref() is key_object and version == _version(key_object):
            _cache.move_to_end(key)
            return value
        del _cache[key]
    value = build()
    try:
        ref = weakref.ref(key_object, functools.partial(_forget, key))
    except TypeError:  # not weak-referenceable: do not cache
        return value
    _cache[key] = (ref, _version(key_object), value)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return value


def _forget(key: Tuple[int, Hashable], ref: weakref.ref) -> None:
    # The adjacency object died: free its structure now rather than when it
    # is evicted, unless the slot already holds a newer object's entry.
    # At interpreter shutdown the module's globals may already be gone.
    if _cache is None:
        return
    entry = _cache.get(key)
    if entry is not None and entry[0] is ref:
        del _cache[key]


def clear_csr_cache() -> None:
    """Forget every cached structure (frees their memory)."""
    _cache.clear()
