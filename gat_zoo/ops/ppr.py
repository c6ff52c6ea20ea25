r"""Sparse top-:math:`k` approximate personalized PageRank (PPR) matrices.

For a graph with row-normalised transition matrix
:math:`\mathbf{P} = \mathbf{D}^{-1}\mathbf{A}` (:math:`A_{st} = 1` for an
edge :math:`s \to t`, :math:`D` the out-degrees), the PPR matrix with
teleport probability :math:`\alpha` is

.. math::
    \mathbf{\Pi} = \alpha \left(\mathbf{I} - (1 - \alpha)\mathbf{P}
    \right)^{-1},

row :math:`s` being the stationary distribution of a random walk that
follows edges and jumps back to :math:`s` with probability :math:`\alpha`.
It is dense, so (as PPRGo and PPRGAT do) only an approximation is kept: the
*push* algorithm of Andersen, Chung and Lang with residual threshold
:math:`\epsilon`, then the :math:`k` largest entries of every row.

Push, as in PPRGo (Bojchevski et al., KDD 2020): start with residual
:math:`r = \alpha\, \mathbf{e}_s` and estimate :math:`p = 0`; while a node
:math:`u` holds :math:`r_u \geq \alpha \epsilon\, d_u`, move :math:`r_u`
into :math:`p_u` and spread :math:`(1 - \alpha) r_u / d_u` to each
out-neighbour. On termination every residual is below the threshold, which
gives, for an undirected graph,

.. math::
    0 \;\leq\; \Pi_{st} - p^{(s)}_t \;\leq\; \epsilon\, d_t
    \qquad \text{for all } s, t,

and the work per source is :math:`O(1 / (\alpha\epsilon))`, independent of
the graph's size. PPRGo pushes one node at a time from a queue, one source
per thread, in numba. Here every source of a batch and every node above the
threshold is pushed at once (a synchronous "parallel" push) with vectorised
torch operations, so it runs wherever torch runs. Entries are addressed by
the key ``local_source * N + node``: residuals are accumulated in a sparse
accumulator (a workspace of ``batch * N`` slots, as in Gustavson's sparse
matrix product) that is only read and written at the keys the push touches,
never scanned, and cleared at those keys after each batch; the workspace
size (``max_entries``) fixes the batch. The estimates leave the batch as
sorted keys, are cut to the top :math:`k` and concatenated: the PPR matrix
is never dense, and the time is proportional to the push work, not to
:math:`N^2`. The push order differs from PPRGo's, so individual estimates
differ from its output within the same guarantee; the termination rule (and
so the guarantee) is the same. The source is always pushed once (as PPRGo's
queue does), and a node without out-edges absorbs what reaches it. Results
are deterministic and do not depend on the batching.

Normalisation of the kept entries (``normalization``, as in PPRGo's
``topk_ppr_matrix``): ``'row'`` keeps :math:`\Pi_{st}`, ``'sym'`` gives
:math:`d_s^{1/2}\,\Pi_{st}\,d_t^{-1/2}` (the entries of
:math:`\alpha(\mathbf{I} - (1-\alpha)\mathbf{D}^{-1/2}\mathbf{A}
\mathbf{D}^{-1/2})^{-1}`, symmetric for an undirected graph) and ``'col'``
gives :math:`d_s\,\Pi_{st}\,d_t^{-1}`. The official PPRGAT code uses
``'sym'``, :math:`\alpha = 0.25`, :math:`\epsilon = 10^{-4}`, :math:`k = 32`
(``utils/ppr_utils.py``, ``ppr_matrix_from_adj``).

Orientation: ``PPRMatrix.index[0]`` is the source :math:`s` (the node the
walk restarts at), ``index[1]`` the target :math:`t`; ``value`` is
:math:`\pi(s, t)`, the score of :math:`t` from :math:`s`. Walks follow edges
from ``edge_index[0]`` to ``edge_index[1]``. For an attention edge
:math:`j \to i` (PyG's ``edge_index[:, e] = (j, i)``) PPRGAT reads
:math:`\pi(j, i)`, i.e. ``ppr_edge_values(ppr, edge_index)`` looks up
``(edge_index[0], edge_index[1])``, as the official code does
(``select_from_csr``); for an undirected graph and ``'sym'`` the exact
matrix is symmetric, so this is also :math:`\pi(i, j)` up to the
approximation.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Tuple, Union

import torch
from torch import Tensor

from gat_zoo.ops._cache import ObjectCache, disk_cache_dir, tensor_version

__all__ = [
    'PPRMatrix',
    'PPR_NORMALIZATIONS',
    'approximate_ppr',
    'as_ppr_matrix',
    'clear_ppr_cache',
    'ppr_edge_values',
]

PPR_NORMALIZATIONS = ('sym', 'row', 'col')

#: Bumped whenever the algorithm's output could change; part of the on-disk
#: cache key.
_ALGORITHM_VERSION = 1

#: Default size, in ``(source, node)`` slots, of the per-batch workspace
#: (16 bytes a slot: 128 MiB); a batch holds ``max(1, max_entries // N)``
#: sources. Measured on a 2-core CPU, 2**21 to 2**24 run within 20% of
#: each other on PubMed- and ogbn-arxiv-sized graphs.
DEFAULT_MAX_ENTRIES = 1 << 23


# ---------------------------------------------------------------------------
# The result type.
# ---------------------------------------------------------------------------
class PPRMatrix:
    r"""A sparse PPR matrix: ``value[e]`` is :math:`\pi(s, t)` for
    ``(s, t) = index[:, e]``.

    Entries are unique and sorted by ``(source, target)``, so a lookup is a
    binary search over the keys ``source * num_nodes + target``
    (:meth:`lookup`). Pairs that are not stored read as 0.

    Args:
        index (torch.Tensor): ``[2, nnz]`` (source, target), ``int64``.
        value (torch.Tensor): ``[nnz]`` scores.
        num_nodes (int): Number of nodes :math:`N` (the matrix is
            :math:`N \times N`).
        alpha, eps, topk, normalization: The parameters it was computed with
            (informational; :obj:`None` when unknown).
        check (bool): Sort and verify the entries (for matrices built
            elsewhere). (default: :obj:`True`)
    """

    __slots__ = ('index', 'value', 'num_nodes', 'alpha', 'eps', 'topk',
                 'normalization', '_keys', '__weakref__')

    def __init__(self, index: Tensor, value: Tensor, num_nodes: int,
                 alpha: Optional[float] = None, eps: Optional[float] = None,
                 topk: Optional[int] = None,
                 normalization: Optional[str] = None, check: bool = True):
        num_nodes = int(num_nodes)
        if check:
            if index.dim() != 2 or index.size(0) != 2:
                raise ValueError(f"PPR index must have shape [2, nnz] (got "
                                 f"{tuple(index.shape)})")
            if value.dim() != 1 or value.numel() != index.size(1):
                raise ValueError(f"PPR value must have shape [nnz] = "
                                 f"[{index.size(1)}] (got "
                                 f"{tuple(value.shape)})")
            index = index.long()
            if index.numel() and (int(index.min()) < 0
                                  or int(index.max()) >= num_nodes):
                raise ValueError(f"PPR index out of range for num_nodes="
                                 f"{num_nodes}")
            keys = index[0] * num_nodes + index[1]
            if keys.numel() > 1 and not bool((keys[1:] > keys[:-1]).all()):
                keys, inverse = torch.unique(keys, return_inverse=True)
                value = value.new_zeros(keys.numel()).index_add_(
                    0, inverse, value)
                index = torch.stack([keys // num_nodes, keys % num_nodes])
            self._keys: Optional[Tensor] = keys
        else:
            self._keys = None
        self.index = index
        self.value = value
        self.num_nodes = num_nodes
        self.alpha = alpha
        self.eps = eps
        self.topk = topk
        self.normalization = normalization

    # -- construction -----------------------------------------------------
    @classmethod
    def from_sparse(cls, matrix: Any) -> PPRMatrix:
        r"""From a square torch sparse tensor (COO or CSR) or a
        :class:`torch_sparse.SparseTensor` holding :math:`\pi(s, t)` at
        row :math:`s`, column :math:`t`. Duplicate entries are summed."""
        if isinstance(matrix, PPRMatrix):
            return matrix
        if isinstance(matrix, Tensor) and matrix.layout != torch.strided:
            if matrix.dim() != 2 or matrix.size(0) != matrix.size(1):
                raise ValueError(f"a PPR matrix must be square (got shape "
                                 f"{tuple(matrix.shape)})")
            coo = matrix.to_sparse_coo().coalesce()
            return cls(coo.indices(), coo.values(), matrix.size(0))
        if hasattr(matrix, 'coo') and hasattr(matrix, 'sparse_sizes'):
            rows, cols = matrix.sparse_sizes()
            if rows != cols:
                raise ValueError(f"a PPR matrix must be square (got sizes "
                                 f"{(rows, cols)})")
            row, col, value = matrix.coo()
            if value is None:
                value = torch.ones(row.numel(), device=row.device)
            return cls(torch.stack([row, col]), value, rows)
        raise TypeError(f"cannot read a PPR matrix from "
                        f"{type(matrix).__name__}; expected a PPRMatrix, a "
                        f"torch sparse tensor or a SparseTensor")

    # -- properties -------------------------------------------------------
    @property
    def keys(self) -> Tensor:
        """``source * num_nodes + target`` of every entry, ascending."""
        if self._keys is None:
            self._keys = self.index[0] * self.num_nodes + self.index[1]
        return self._keys

    @property
    def nnz(self) -> int:
        return self.value.numel()

    @property
    def device(self) -> torch.device:
        return self.value.device

    # -- use --------------------------------------------------------------
    def lookup(self, source: Tensor, target: Tensor) -> Tensor:
        r""":math:`\pi(\mathrm{source}_e, \mathrm{target}_e)` for every
        ``e`` (0 where the pair is not stored), by binary search."""
        source = source.to(self.device, torch.long)
        target = target.to(self.device, torch.long)
        if source.numel() == 0 or self.nnz == 0:
            return self.value.new_zeros(source.shape)
        query = source * self.num_nodes + target
        keys = self.keys
        pos = torch.searchsorted(keys, query).clamp_(max=keys.numel() - 1)
        found = keys.index_select(0, pos.view(-1)).view_as(query) == query
        value = self.value.index_select(0, pos.view(-1)).view_as(query)
        return torch.where(found, value, value.new_zeros(()))

    def to(self, *args, **kwargs) -> PPRMatrix:
        """A copy on another device / in another dtype (the index stays
        ``int64``)."""
        value = self.value.to(*args, **kwargs)
        index = self.index.to(value.device)
        out = PPRMatrix(index, value, self.num_nodes, self.alpha, self.eps,
                        self.topk, self.normalization, check=False)
        if self._keys is not None:
            out._keys = self._keys.to(value.device)
        return out

    def to_torch_sparse(self, layout: torch.layout = torch.sparse_coo
                        ) -> Tensor:
        """``[N, N]`` torch sparse tensor (``sparse_coo`` or
        ``sparse_csr``), row = source."""
        size = (self.num_nodes, self.num_nodes)
        coo = torch.sparse_coo_tensor(self.index, self.value, size,
                                      is_coalesced=True)
        return coo if layout == torch.sparse_coo else coo.to_sparse(
            layout=layout)

    def to_sparse_tensor(self):
        """:class:`torch_sparse.SparseTensor`, row = source."""
        from torch_geometric.typing import SparseTensor
        return SparseTensor(row=self.index[0], col=self.index[1],
                            value=self.value,
                            sparse_sizes=(self.num_nodes, self.num_nodes),
                            is_sorted=True, trust_data=True)

    def to_dense(self) -> Tensor:
        """Dense ``[N, N]`` matrix (small graphs and tests only)."""
        out = self.value.new_zeros(self.num_nodes, self.num_nodes)
        out[self.index[0], self.index[1]] = self.value
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_nodes={self.num_nodes}, '
                f'nnz={self.nnz}, alpha={self.alpha}, eps={self.eps}, '
                f'topk={self.topk}, normalization={self.normalization!r})')


def ppr_edge_values(ppr: Union[PPRMatrix, Any], edge_index: Tensor) -> Tensor:
    r"""PPR scores of an edge list: :math:`\pi(j, i)` for every column
    ``(j, i)`` of ``edge_index`` (self-loops :math:`(i, i)` included; 0
    where the pair is not among the kept entries).

    ``ppr`` is a :class:`PPRMatrix` (or anything
    :meth:`PPRMatrix.from_sparse` reads). The lookup is a binary search over
    the matrix's sorted keys: :math:`O(|\mathcal{E}| \log \mathrm{nnz})`,
    nothing dense.
    """
    ppr = PPRMatrix.from_sparse(ppr)
    edge_index = _plain(edge_index)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{tuple(edge_index.shape)})")
    if edge_index.numel() and int(edge_index.max()) >= ppr.num_nodes:
        raise ValueError(f"'edge_index' refers to node "
                         f"{int(edge_index.max())} but the PPR matrix has "
                         f"only {ppr.num_nodes} nodes")
    return ppr.lookup(edge_index[0], edge_index[1])


# ---------------------------------------------------------------------------
# Graph input.
# ---------------------------------------------------------------------------
def _plain(t: Tensor) -> Tensor:
    return t.as_subclass(Tensor) if type(t) is not Tensor else t


def _is_sparse_tensor(adj: Any) -> bool:
    return (not isinstance(adj, Tensor) and hasattr(adj, 'storage')
            and hasattr(adj, 'sparse_sizes'))


def _edges_of(adjacency: Any,
              num_nodes: Optional[int]) -> Tuple[Tensor, Tensor, int]:
    """``(source, target, num_nodes)`` of any PyG adjacency layout.

    A ``[2, E]`` index (or :class:`~torch_geometric.EdgeIndex`) has the
    source in row 0; a :class:`torch_sparse.SparseTensor` or torch sparse
    tensor is PyG's transposed adjacency ``adj_t`` (row = target,
    column = source), as every PyG layer reads it."""
    if _is_sparse_tensor(adjacency):
        rows, cols = adjacency.sparse_sizes()
        target, source = adjacency.storage.row(), adjacency.storage.col()
        size = max(rows, cols)
    elif isinstance(adjacency, Tensor) and adjacency.layout != torch.strided:
        rows, cols = adjacency.shape[0], adjacency.shape[1]
        coo = adjacency.to_sparse_coo().coalesce()
        target, source = coo.indices()[0], coo.indices()[1]
        size = max(rows, cols)
    elif isinstance(adjacency, Tensor):
        edge_index = _plain(adjacency)
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                             f"(got {tuple(edge_index.shape)})")
        if edge_index.is_floating_point() or edge_index.dtype == torch.bool:
            raise ValueError(f"'edge_index' must hold integers (got "
                             f"{edge_index.dtype})")
        source, target = edge_index[0].long(), edge_index[1].long()
        size = int(edge_index.max()) + 1 if edge_index.numel() else 0
    else:
        raise TypeError(f"cannot read a graph from "
                        f"{type(adjacency).__name__}")
    if num_nodes is None:
        num_nodes = size
    num_nodes = int(num_nodes)
    if source.numel():
        low = int(torch.minimum(source.min(), target.min()))
        high = int(torch.maximum(source.max(), target.max()))
        if low < 0:
            raise ValueError(f"'edge_index' contains negative node indices "
                             f"(smallest: {low})")
        if high >= num_nodes:
            raise ValueError(f"'edge_index' is out of range: node {high} but "
                             f"num_nodes={num_nodes}")
    return source, target, num_nodes


def _check_params(alpha: float, eps: float, topk: Optional[int],
                  normalization: str) -> None:
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"'alpha' (teleport probability) must lie in "
                         f"(0, 1) (got {alpha})")
    if not float(eps) > 0.0:
        raise ValueError(f"'eps' must be positive (got {eps})")
    if topk is not None and int(topk) < 1:
        raise ValueError(f"'topk' must be a positive integer or None (got "
                         f"{topk})")
    if normalization not in PPR_NORMALIZATIONS:
        raise ValueError(f"unknown PPR normalization {normalization!r}; "
                         f"expected one of {PPR_NORMALIZATIONS}")


# ---------------------------------------------------------------------------
# The push.
# ---------------------------------------------------------------------------
def _coalesce(keys: Tensor, values: Tensor) -> Tuple[Tensor, Tensor]:
    """Unique sorted keys and the sums of their values."""
    if keys.numel() == 0:
        return keys, values
    # Stable: equal keys are summed in their order of arrival, whatever else
    # shares the array (results do not depend on the batching).
    keys, order = torch.sort(keys, stable=True)
    values = values.index_select(0, order)
    keep = torch.ones_like(keys, dtype=torch.bool)
    torch.ne(keys[1:], keys[:-1], out=keep[1:])
    if bool(keep.all()):
        return keys, values
    group = torch.cumsum(keep, 0) - 1
    unique = keys[keep]
    sums = values.new_zeros(unique.numel()).index_add_(0, group, values)
    return unique, sums


class _Workspace:
    """Sparse accumulators for one batch of sources (Gustavson's SpGEMM
    idea): a residual slot and a marker slot for every ``(local source,
    node)`` pair, addressed by key. They are only ever read and written at
    keys the push touches, never scanned, and are cleared at those keys
    after the batch, so a batch costs time in proportion to its work, not
    to ``batch * N``."""

    def __init__(self, size: int, device: torch.device):
        self.residual = torch.zeros(size, dtype=torch.float64, device=device)
        self.marker = torch.full((size, ), -1, dtype=torch.int64,
                                 device=device)


def _push(sources: Tensor, ptr: Tensor, col: Tensor, deg: Tensor,
          threshold: Tensor, alpha: float, num_nodes: int,
          work: _Workspace) -> Tuple[Tensor, Tensor]:
    """Push from every node of ``sources`` at once.

    Returns the estimates as sorted keys ``local_source * N + node`` with
    their values."""
    device = sources.device
    residual, marker = work.residual, work.marker
    key = torch.arange(sources.numel(), device=device) * num_nodes + sources
    node = sources
    val = torch.full((sources.numel(), ), alpha, dtype=torch.float64,
                     device=device)
    pushed_key, pushed_val, touched = [], [], []
    while key.numel():
        # Push: the residual moves into the estimate and (1 - alpha) of it
        # spreads evenly over the out-neighbours.
        pushed_key.append(key)
        pushed_val.append(val)
        counts = deg.index_select(0, node)
        total = int(counts.sum())
        if total == 0:
            break
        share = val * (1.0 - alpha) / counts.clamp_min(1)
        owner = torch.repeat_interleave(
            torch.arange(key.numel(), device=device), counts,
            output_size=total)
        slot = (torch.arange(total, device=device) +
                (ptr.index_select(0, node) - torch.cumsum(counts, 0) +
                 counts).index_select(0, owner))
        target = col.index_select(0, slot)
        new_key = (key - node).index_select(0, owner) + target
        del slot
        residual.index_add_(0, new_key, share.index_select(0, owner))
        touched.append(new_key)
        # Only a node that just received mass can have crossed its
        # threshold; a node that received several shares appears several
        # times, so keep one occurrence (the last: a max is
        # order-independent, so this is deterministic).
        above = residual.index_select(0, new_key) >= threshold.index_select(
            0, target)
        candidate = new_key[above]
        if candidate.numel() == 0:
            break
        position = torch.arange(candidate.numel(), device=device)
        marker.scatter_reduce_(0, candidate, position, 'amax')
        key = candidate[marker.index_select(0, candidate) == position]
        marker.index_fill_(0, key, -1)
        node = key % num_nodes
        val = residual.index_select(0, key)
        residual.index_fill_(0, key, 0.0)
    for keys in touched:
        residual.index_fill_(0, keys, 0.0)
    return _coalesce(torch.cat(pushed_key), torch.cat(pushed_val))


def _topk_rows(key: Tensor, value: Tensor, batch: int, num_nodes: int,
               topk: Optional[int]) -> Tuple[Tensor, Tensor]:
    """The ``topk`` largest entries of every row (ties: smaller node
    first), in ascending key order."""
    row = key // num_nodes
    counts = torch.bincount(row, minlength=batch)
    if topk is None or key.numel() == 0 or int(counts.max()) <= topk:
        return key, value
    by_value = torch.sort(value, descending=True, stable=True).indices
    order = by_value.index_select(
        0, torch.sort(row.index_select(0, by_value), stable=True).indices)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(key.numel(), device=key.device) - start.index_select(
        0, row.index_select(0, order))
    chosen = torch.sort(order[rank < topk]).values
    return key.index_select(0, chosen), value.index_select(0, chosen)


def _canonical_graph(source: Tensor, target: Tensor, num_nodes: int
                     ) -> Tuple[Tensor, Tensor, Tensor]:
    """``(ptr, col, edge_keys)``: the graph as a 0/1 adjacency (duplicates
    merged) in source-major CSR."""
    keys = torch.unique(source * num_nodes + target)
    col = keys % num_nodes
    counts = torch.bincount(keys // num_nodes, minlength=num_nodes)
    ptr = counts.new_zeros(num_nodes + 1)
    torch.cumsum(counts, 0, out=ptr[1:])
    return ptr, col, keys


def _compute(ptr: Tensor, col: Tensor, num_nodes: int, alpha: float,
             eps: float, topk: Optional[int], normalization: str,
             nodes: Tensor, dtype: torch.dtype, max_entries: int,
             batch_size: Optional[int]) -> PPRMatrix:
    device = col.device
    deg = ptr.diff()
    threshold = alpha * eps * deg.to(torch.float64)
    parts_src, parts_tgt, parts_val = [], [], []
    if batch_size is None:
        step = max(1, min(nodes.numel(), max_entries // max(1, num_nodes)))
    else:
        step = max(1, int(batch_size))
    work = _Workspace(min(step, max(1, nodes.numel())) * num_nodes, device)
    for start in range(0, nodes.numel(), step):
        batch = nodes[start:start + step]
        key, val = _push(batch, ptr, col, deg, threshold, alpha, num_nodes,
                         work)
        key, val = _topk_rows(key, val, batch.numel(), num_nodes, topk)
        local = key // num_nodes
        parts_src.append(batch.index_select(0, local))
        parts_tgt.append(key - local * num_nodes)
        parts_val.append(val)
    del work
    if parts_src:
        source, target = torch.cat(parts_src), torch.cat(parts_tgt)
        value = torch.cat(parts_val)
    else:
        source = target = torch.empty(0, dtype=torch.long, device=device)
        value = torch.empty(0, dtype=torch.float64, device=device)
    if normalization != 'row':
        # Degree 0 only occurs for a node without out-edges; max(d, 1)
        # leaves its own (s, s) entry unchanged (PPRGo's 1e-12 floor does
        # the same for it) and keeps directed graphs finite.
        d = deg.to(torch.float64).clamp_min(1.0)
        if normalization == 'sym':
            d = d.sqrt()
        value = value * d.index_select(0, source) / d.index_select(0, target)
    # Batches are taken in the order of `nodes`; sort rows if it was not
    # ascending.
    ascending = nodes.numel() < 2 or bool((nodes[1:] > nodes[:-1]).all())
    return PPRMatrix(torch.stack([source, target]), value.to(dtype),
                     num_nodes, alpha, eps, topk, normalization,
                     check=not ascending)


# ---------------------------------------------------------------------------
# Caches.
# ---------------------------------------------------------------------------
_cache = ObjectCache(size=4)


def clear_ppr_cache() -> None:
    """Forget every PPR matrix cached in this process."""
    _cache.clear()


def _disk_key(edge_keys: Tensor, num_nodes: int, params: Tuple,
              nodes: Optional[Tensor]) -> str:
    digest = hashlib.sha256()
    digest.update(repr((_ALGORITHM_VERSION, num_nodes) + params).encode())
    digest.update(edge_keys.cpu().numpy().tobytes())
    if nodes is not None:
        digest.update(b'nodes')
        digest.update(nodes.cpu().numpy().tobytes())
    return digest.hexdigest()[:32]


def _disk_load(path: Path, device: torch.device) -> Optional[PPRMatrix]:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        return PPRMatrix(state['index'], state['value'],
                         int(state['num_nodes']), state['alpha'],
                         state['eps'], state['topk'], state['normalization'],
                         check=False)
    except Exception:  # a damaged file is recomputed and rewritten
        return None


def _disk_store(path: Path, ppr: PPRMatrix) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = dict(index=ppr.index.cpu(), value=ppr.value.cpu(),
                 num_nodes=ppr.num_nodes, alpha=ppr.alpha, eps=ppr.eps,
                 topk=ppr.topk, normalization=ppr.normalization)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.tmp-',
                               suffix='.pt')
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: readers never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def as_ppr_matrix(matrix: Any, cache: bool = True) -> PPRMatrix:
    """:meth:`PPRMatrix.from_sparse`, remembered per input object (so a
    torch sparse / SparseTensor PPR matrix passed to a layer on every call
    is converted once)."""
    if isinstance(matrix, PPRMatrix):
        return matrix
    if not cache or torch.compiler.is_compiling():
        return PPRMatrix.from_sparse(matrix)
    hit = _cache.get((matrix,), 'as_ppr_matrix')
    if hit is None:
        hit = PPRMatrix.from_sparse(matrix)
        _cache.put((matrix,), 'as_ppr_matrix', hit)
    return hit


# ---------------------------------------------------------------------------
# Public entry point.
# ---------------------------------------------------------------------------
def approximate_ppr(
    edge_index: Any,
    num_nodes: Optional[int] = None,
    alpha: float = 0.25,
    eps: float = 1e-4,
    topk: Optional[int] = 32,
    normalization: str = 'sym',
    *,
    nodes: Optional[Tensor] = None,
    dtype: torch.dtype = torch.float32,
    cache: bool = True,
    disk_cache: Union[bool, str, os.PathLike] = False,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    batch_size: Optional[int] = None,
) -> PPRMatrix:
    r"""Top-:math:`k` approximate PPR matrix of a graph, computed sparsely.

    Args:
        edge_index (torch.Tensor or EdgeIndex or SparseTensor or torch
            sparse tensor): The graph. A ``[2, E]`` index has the source in
            row 0 (walks go ``edge_index[0] -> edge_index[1]``); a
            :class:`torch_sparse.SparseTensor` or torch sparse tensor is
            PyG's transposed adjacency (row = target). Duplicate edges
            count once; self-loops are kept as edges of the walk.
        num_nodes (int, optional): Number of nodes (default: largest index
            + 1, or the sparse sizes).
        alpha (float): Teleport (restart) probability :math:`\alpha`.
            (default: :obj:`0.25`)
        eps (float): Push threshold :math:`\epsilon` (a node is pushed while
            its residual is at least :math:`\alpha\epsilon d`).
            (default: :obj:`1e-4`)
        topk (int, optional): Entries kept per source (the largest; ties
            go to the smaller node index); :obj:`None` keeps all.
            (default: :obj:`32`)
        normalization (str): ``'sym'``, ``'row'`` or ``'col'`` (see the
            module docstring). (default: :obj:`'sym'`)
        nodes (torch.Tensor, optional): Compute only these source rows
            (default: all nodes).
        dtype (torch.dtype): dtype of the returned values (the push runs in
            float64). (default: :obj:`torch.float32`)
        cache (bool): Remember the result for this graph object in this
            process; an in-place edit of the tensor (its version counter)
            invalidates it. (default: :obj:`True`)
        disk_cache (bool or path): Also keep results on disk, keyed by a
            hash of the deduplicated edges and the parameters: :obj:`True`
            uses ``$GAT_ZOO_CACHE/ppr`` (default ``~/.cache/gat_zoo/ppr``),
            a path uses that folder. (default: :obj:`False`)
        max_entries (int): Size of the per-batch workspace in
            ``(source, node)`` slots (16 bytes each); a batch holds
            ``max(1, max_entries // num_nodes)`` sources. Memory is this
            workspace plus what the push touches, :math:`O(\mathrm{batch}
            / (\alpha\epsilon))`, plus the result. (default: ``2**23``)
        batch_size (int, optional): Fixed number of sources per batch
            instead.

    Returns:
        PPRMatrix: ``index`` ``[2, nnz]`` (source :math:`s`, target
        :math:`t`), ``value`` :math:`\pi(s, t)`, sorted by ``(s, t)``.
    """
    _check_params(alpha, eps, topk, normalization)
    alpha, eps = float(alpha), float(eps)
    topk = None if topk is None else int(topk)
    params = (alpha, eps, topk, normalization, str(dtype))
    key = (num_nodes, params, None if nodes is None else
           ('nodes', id(nodes), tensor_version(nodes)))
    use_cache = cache and not torch.compiler.is_compiling()
    if use_cache:
        hit = _cache.get((edge_index,), key)
        if hit is not None:
            return hit

    source, target, n = _edges_of(edge_index, num_nodes)
    device = source.device
    ptr, col, edge_keys = _canonical_graph(source, target, n)
    if nodes is None:
        node_list = torch.arange(n, device=device)
    else:
        node_list = torch.as_tensor(nodes, device=device).long().view(-1)
        if node_list.numel() and (int(node_list.min()) < 0
                                  or int(node_list.max()) >= n):
            raise ValueError(f"'nodes' out of range for {n} nodes")

    path = None
    result = None
    if disk_cache:
        name = _disk_key(edge_keys, n, params,
                         None if nodes is None else node_list)
        path = disk_cache_dir(disk_cache, 'ppr') / f'{name}.pt'
        result = _disk_load(path, device)
    if result is None:
        result = _compute(ptr, col, n, alpha, eps, topk, normalization,
                          node_list, dtype, int(max_entries), batch_size)
        if path is not None:
            _disk_store(path, result)
    if use_cache:
        _cache.put((edge_index,), key, result)
    return result

