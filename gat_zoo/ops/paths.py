r"""Attention-cost shortest paths of bounded length, as SPAGAN uses them.

SPAGAN (`Yang et al., IJCAI 2019 <https://arxiv.org/abs/2101.03464>`_)
aggregates, for every *center* node :math:`i`, the shortest paths from
:math:`i` to its higher-order neighbours, grouped by their length
:math:`c` (number of hops). The cost of a step comes from the attention of
an ordinary GAT (:func:`attention_costs`): a step along an edge that
received much attention is cheap.

Orientation. PyG's ``edge_index[:, e] = (j, i)`` lets :math:`i` receive a
message from :math:`j` (:math:`i` attends to :math:`j` with
:math:`\alpha_{ij}`). A path of the *center* :math:`i` walks *against* the
messages, :math:`p = (i = v_0, v_1, \dots, v_c)` with an edge
:math:`v_{t+1} \to v_t` for every step, so information of :math:`v_c`
flows along the path into :math:`i`; the cost of the step
:math:`v_t \to v_{t+1}` is the cost of the edge :math:`(v_{t+1}, v_t)`,
i.e. of :math:`\alpha_{v_t v_{t+1}}`, the attention the nearer node pays
to the farther one (as in the official code, whose Dijkstra runs on the
row-normalised attention matrix from each row's node). For an undirected
graph every edge exists both ways. Self-loops are never steps; duplicate
edges count once with their smallest cost. Costs must be finite and
non-negative.

Which pairs are kept. For every center :math:`i` and every other node
:math:`v`, *the* shortest path is the minimum-cost path; among several
minimum-cost paths, the one with the fewest hops; among those, the one
whose node sequence read backwards from :math:`v` is lexicographically
smallest (so the last intermediate node is the smallest possible, then the
one before it, ...). The pair is kept when this path has at most
``max_hops`` hops; it is *not* replaced by a longer-cost path with fewer
hops (the shortest path of a neighbour can have two hops). Costs are summed
from the center outwards in float64, and "minimum" and "tie" are exact
comparisons of those sums.

Algorithm. Hop-bounded Bellman--Ford from all centers at once, vectorised
over ``(center, node)`` pairs (NumPy sorts; the work is proportional to the
walks of at most ``max_hops`` hops, not to :math:`N^2`), gives the best
path of at most ``max_hops`` hops with the tie rule above. Whether some
longer path is cheaper still is decided with
:func:`scipy.sparse.csgraph.dijkstra` from batches of centers, its
``limit`` set to the largest bounded cost in the batch (so the search
stops after a few hops). The distances decide, not Dijkstra's
predecessors, so the result does not depend on how the library breaks
ties.

Top-:math:`k` (the paper's path sampling). One-hop paths are all kept;
for :math:`c \geq 2` center :math:`i` keeps its :math:`k_i^{(c)} =
\min(\lfloor r_{deg} \cdot d_i \rfloor, \lfloor r_{path} \cdot n_i^{(c)}
\rfloor)` cheapest length-:math:`c` paths (ties: smaller end node first),
:math:`d_i` the number of distinct neighbours of :math:`i` (nodes
:math:`j \neq i` with an edge :math:`j \to i`), :math:`n_i^{(c)}` its
number of length-:math:`c` shortest paths. The official code's defaults
are :math:`r_{deg} = 0.5`, :math:`r_{path} = 1` (``Ndeg``, ``Nratio`` in
``train_spagat.py``); it counts as :math:`d_i` only the neighbours whose
shortest path has one hop, here every distinct neighbour counts.

Results are cached per graph object (and cost tensor) in the process, as
:func:`gat_zoo.ops.approximate_ppr` does, and optionally on disk.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from gat_zoo.ops._cache import ObjectCache, disk_cache_dir

__all__ = [
    'PathSet',
    'attention_costs',
    'clear_shortest_path_cache',
    'shortest_paths',
]

#: Bumped whenever the output could change; part of the on-disk cache key.
_ALGORITHM_VERSION = 1

#: Float64 entries of one Dijkstra batch's dense ``[batch, N]`` distance
#: block (32 MiB).
_DIJKSTRA_ENTRIES = 1 << 22


# ---------------------------------------------------------------------------
# The result type.
# ---------------------------------------------------------------------------
class PathSet:
    r"""Paths grouped by length: ``paths[c - 1]`` is a ``[P_c, c + 1]``
    ``int64`` tensor whose row :math:`p = (v_0, v_1, \dots, v_c)` is one
    path of :math:`c` hops from its center (owner) :math:`v_0` to its end
    node :math:`v_c` (see the module docstring for the orientation);
    ``cost[c - 1]`` (optional) is its ``[P_c]`` cost.

    Args:
        paths (sequence of torch.Tensor): One ``[P_c, c + 1]`` tensor per
            length :math:`c = 1, \dots, C` (empty ones allowed).
        num_nodes (int): Number of nodes of the graph.
        cost (sequence of torch.Tensor, optional): Path costs.
        check (bool): Validate shapes and ranges. (default: :obj:`True`)
    """

    __slots__ = ('paths', 'cost', 'num_nodes', '__weakref__')

    def __init__(self, paths: Sequence[Tensor], num_nodes: int,
                 cost: Optional[Sequence[Tensor]] = None,
                 check: bool = True):
        num_nodes = int(num_nodes)
        paths = [torch.as_tensor(p) for p in paths]
        if check:
            if num_nodes < 0:
                raise ValueError(f"'num_nodes' must be non-negative (got "
                                 f"{num_nodes})")
            for c, p in enumerate(paths, start=1):
                if p.is_floating_point() or p.dtype == torch.bool:
                    raise ValueError(f"paths of length {c} must hold "
                                     f"integer node indices (got {p.dtype})")
                if p.dim() != 2 or p.size(1) != c + 1:
                    raise ValueError(f"paths of length {c} must have shape "
                                     f"[num_paths, {c + 1}] (got "
                                     f"{tuple(p.shape)})")
                if p.numel() and (int(p.min()) < 0
                                  or int(p.max()) >= num_nodes):
                    raise ValueError(f"paths of length {c} refer to nodes "
                                     f"outside [0, {num_nodes})")
            paths = [p.long() for p in paths]
            if cost is not None:
                if len(cost) != len(paths):
                    raise ValueError(f"'cost' has {len(cost)} entries but "
                                     f"there are {len(paths)} lengths")
                for c, (p, w) in enumerate(zip(paths, cost), start=1):
                    if w.shape != (p.size(0), ):
                        raise ValueError(f"costs of length {c} must have "
                                         f"shape [{p.size(0)}] (got "
                                         f"{tuple(w.shape)})")
        self.paths: List[Tensor] = list(paths)
        self.cost: Optional[List[Tensor]] = (None if cost is None else
                                             list(cost))
        self.num_nodes = num_nodes

    @classmethod
    def from_edge_index(cls, edge_index: Any,
                        num_nodes: Optional[int] = None,
                        remove_self_loops: bool = True) -> PathSet:
        r"""The one-hop paths of a graph: :math:`(i, j)` for every edge
        :math:`j \to i` (duplicates kept, self-loops dropped unless
        :obj:`remove_self_loops=False`)."""
        from gat_zoo.ops.ppr import _edges_of
        source, target, n = _edges_of(edge_index, num_nodes)
        if remove_self_loops:
            keep = source != target
            source, target = source[keep], target[keep]
        return cls([torch.stack([target, source], dim=1)], n, check=False)

    @property
    def max_hops(self) -> int:
        """The largest path length :math:`C` held (``len(paths)``)."""
        return len(self.paths)

    @property
    def device(self) -> torch.device:
        return self.paths[0].device if self.paths else torch.device('cpu')

    def owner(self, hops: int) -> Tensor:
        """The center node of every path of length ``hops``."""
        return self.paths[hops - 1][:, 0]

    def num_paths(self) -> List[int]:
        """``P_c`` for :math:`c = 1, \\dots, C`."""
        return [p.size(0) for p in self.paths]

    def to(self, device: Union[str, torch.device]) -> PathSet:
        return PathSet([p.to(device) for p in self.paths], self.num_nodes,
                       None if self.cost is None else
                       [w.to(device) for w in self.cost], check=False)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_nodes={self.num_nodes}, '
                f'num_paths={self.num_paths()})')


# ---------------------------------------------------------------------------
# Costs from attention.
# ---------------------------------------------------------------------------
def attention_costs(edge_index: Tensor, alpha: Tensor) -> Tensor:
    r"""SPAGAN's step costs from GAT attention coefficients.

    .. math::
        c_{ij} = \frac{\bar\alpha_{\max} - \bar\alpha_{ij}}
        {\bar\alpha_{\max} - \bar\alpha_{\min}},

    the min-max normalisation of :math:`-\bar\alpha_{ij}`, where
    :math:`\bar\alpha_{ij}` is the attention averaged over heads and the
    extremes are taken over the edges that are not self-loops (the official
    code averages the heads of the first layer, negates and min-max
    normalises; it zeroes the self-attention entries first and keeps them
    in its minimum, which makes its cost :math:`1 - \bar\alpha_{ij} /
    \bar\alpha_{\max}`). Costs lie in :math:`[0, 1]`; the most attended
    edge costs 0. If all attention values are equal, every cost is 1
    (shortest paths become fewest-hop paths). Self-loops get cost 0 (they
    are never steps of a path).

    Args:
        edge_index (torch.Tensor): ``[2, E]``, as returned by a layer with
            ``return_attention_weights=True`` (source row 0).
        alpha (torch.Tensor): ``[E]`` or ``[E, H]`` attention.

    Returns:
        torch.Tensor: ``[E]`` float64 costs (no gradient).
    """
    plain = edge_index.as_subclass(Tensor) if type(
        edge_index) is not Tensor else edge_index
    if plain.dim() != 2 or plain.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{tuple(plain.shape)})")
    alpha = alpha.detach()
    if alpha.dim() == 2:
        alpha = alpha.mean(dim=1)
    if alpha.dim() != 1 or alpha.numel() != plain.size(1):
        raise ValueError(f"'alpha' must have shape [num_edges] or "
                         f"[num_edges, heads] with num_edges="
                         f"{plain.size(1)} (got {tuple(alpha.shape)})")
    if not alpha.is_floating_point():
        raise ValueError(f"'alpha' must be floating point (got "
                         f"{alpha.dtype})")
    alpha = alpha.to(torch.float64)
    if not bool(torch.isfinite(alpha).all()):
        raise ValueError("'alpha' contains NaN or infinite values")
    loop = plain[0] == plain[1]
    cost = torch.zeros_like(alpha)
    if bool((~loop).any()):
        values = alpha[~loop]
        high, low = values.max(), values.min()
        if float(high - low) > 0:
            cost[~loop] = (high - values) / (high - low)
        else:
            cost[~loop] = 1.0
    return cost


# ---------------------------------------------------------------------------
# The computation.
# ---------------------------------------------------------------------------
def _check_params(max_hops: int, degree_ratio: Optional[float],
                  path_ratio: Optional[float]) -> None:
    if isinstance(max_hops, bool) or int(max_hops) != max_hops or \
            int(max_hops) < 1:
        raise ValueError(f"'max_hops' must be a positive integer (got "
                         f"{max_hops!r})")
    for name, value in (('degree_ratio', degree_ratio),
                        ('path_ratio', path_ratio)):
        if value is not None and not float(value) >= 0.0:
            raise ValueError(f"'{name}' must be non-negative or None (got "
                             f"{value!r})")


def _step_graph(source: np.ndarray, target: np.ndarray, cost: np.ndarray,
                n: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ptr, col, weight)``: CSR of the steps ``i -> j`` (one per edge
    ``j -> i``; self-loops dropped, duplicates merged with their smallest
    cost), columns ascending."""
    keep = source != target
    start, end, w = target[keep], source[keep], cost[keep]
    key = start * n + end
    order = np.lexsort((w, key))
    key, w = key[order], w[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, w = key[first], w[first]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(key // n, minlength=n), out=ptr[1:])
    return ptr, key % n, w


def _expand(key: np.ndarray, dist: np.ndarray, ptr: np.ndarray,
            col: np.ndarray, weight: np.ndarray, n: int
            ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Bellman--Ford round from the pairs ``key = center * n + node``:
    the best candidate per new pair, ``(key, dist, pred)``, sorted by key;
    ties: the smaller predecessor."""
    center, node = key // n, key % n
    counts = ptr[node + 1] - ptr[node]
    total = int(counts.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, np.empty(0, dtype=np.float64), empty
    owner = np.repeat(np.arange(key.size), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    slot = ptr[node][owner] + offset
    end = col[slot]
    c = center[owner]
    keep = end != c
    owner, end, c = owner[keep], end[keep], c[keep]
    new_key = c * n + end
    new_dist = dist[owner] + weight[slot[keep]]
    pred = node[owner]
    order = np.lexsort((pred, new_dist, new_key))
    new_key, new_dist, pred = new_key[order], new_dist[order], pred[order]
    first = np.ones(new_key.size, dtype=bool)
    first[1:] = new_key[1:] != new_key[:-1]
    return new_key[first], new_dist[first], pred[first]


def _bounded(ptr: np.ndarray, col: np.ndarray, weight: np.ndarray, n: int,
             max_hops: int):
    """Best paths of at most ``max_hops`` hops from every center: sorted
    ``keys``, their ``dist``, ``hops`` and ``pred``."""
    center = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
    keys = center * n + col
    dist = weight.astype(np.float64)
    hops = np.ones(keys.size, dtype=np.int64)
    pred = center.copy()
    frontier = keys
    frontier_dist = dist
    for level in range(2, max_hops + 1):
        if frontier.size == 0:
            break
        cand_key, cand_dist, cand_pred = _expand(frontier, frontier_dist,
                                                 ptr, col, weight, n)
        pos_c = np.minimum(np.searchsorted(keys, cand_key),
                           max(keys.size - 1, 0))
        if keys.size:
            exists = keys[pos_c] == cand_key
        else:
            exists = np.zeros(cand_key.size, dtype=bool)
        # An existing pair has a path of fewer hops: the candidate replaces
        # it only when strictly cheaper.
        better = exists & (cand_dist < dist[pos_c])
        idx = pos_c[better]
        dist[idx] = cand_dist[better]
        hops[idx] = level
        pred[idx] = cand_pred[better]
        fresh = ~exists
        keys = np.concatenate([keys, cand_key[fresh]])
        dist = np.concatenate([dist, cand_dist[fresh]])
        hops = np.concatenate([hops, np.full(int(fresh.sum()), level)])
        pred = np.concatenate([pred, cand_pred[fresh]])
        order = np.argsort(keys, kind='stable')
        keys, dist, hops, pred = keys[order], dist[order], hops[order], \
            pred[order]
        changed = hops == level
        frontier, frontier_dist = keys[changed], dist[changed]
    return keys, dist, hops, pred


def _globally_shortest(keys: np.ndarray, dist: np.ndarray, ptr: np.ndarray,
                       col: np.ndarray, weight: np.ndarray, n: int,
                       batch_size: Optional[int]) -> np.ndarray:
    """Mask of the pairs that no longer path beats: Dijkstra from batches
    of centers, cut off at the batch's largest bounded cost. Centers are
    batched in the order of their own largest bounded cost, so each batch's
    cut-off is close to each of its centers' own."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra
    keep = np.zeros(keys.size, dtype=bool)
    if keys.size == 0:
        return keep
    # Explicit zero weights are edges for csgraph (checked in the tests).
    graph = csr_matrix((weight, col, ptr), shape=(n, n))
    center = keys // n
    bound = np.full(n, -np.inf)
    np.maximum.at(bound, center, dist)
    counts = np.bincount(center, minlength=n)
    start = np.cumsum(counts) - counts  # keys are sorted by center
    sources_all = np.flatnonzero(counts)
    sources_all = sources_all[np.argsort(bound[sources_all],
                                         kind='stable')]
    step = batch_size or max(1, _DIJKSTRA_ENTRIES // max(n, 1))
    for b in range(0, sources_all.size, step):
        sources = sources_all[b:b + step]
        limit = np.nextafter(float(bound[sources].max()), np.inf)
        exact = dijkstra(graph, directed=True, indices=sources,
                         limit=limit)
        rows = np.repeat(np.arange(sources.size), counts[sources])
        pos = (np.repeat(start[sources] - np.cumsum(counts[sources])
                         + counts[sources], counts[sources])
               + np.arange(rows.size))
        keep[pos] = dist[pos] <= exact[rows, keys[pos] % n]
    return keep


def _top_k(owner: np.ndarray, cost: np.ndarray, end: np.ndarray,
           limit: np.ndarray) -> np.ndarray:
    """Rows to keep: per owner its ``limit[owner]`` cheapest (ties: smaller
    end node), returned in ``(owner, end)`` order."""
    order = np.lexsort((end, cost, owner))
    sorted_owner = owner[order]
    counts = np.bincount(sorted_owner, minlength=limit.size)
    start = np.cumsum(counts) - counts
    rank = np.arange(order.size) - start[sorted_owner]
    chosen = order[rank < limit[sorted_owner]]
    return chosen[np.lexsort((end[chosen], owner[chosen]))]


def _compute(source: Tensor, target: Tensor, cost: np.ndarray, n: int,
             max_hops: int, degree_ratio: Optional[float],
             path_ratio: Optional[float],
             batch_size: Optional[int]) -> PathSet:
    device = source.device
    ptr, col, weight = _step_graph(source.cpu().numpy().astype(np.int64),
                                   target.cpu().numpy().astype(np.int64),
                                   cost, n)
    keys, dist, hops, pred = _bounded(ptr, col, weight, n, max_hops)
    keep = _globally_shortest(keys, dist, ptr, col, weight, n, batch_size)
    keys, dist, hops, pred = keys[keep], dist[keep], hops[keep], pred[keep]
    degree = np.diff(ptr)
    paths: List[Tensor] = []
    costs: List[Tensor] = []
    prev_keys = np.empty(0, dtype=np.int64)
    prev_paths = np.empty((0, 1), dtype=np.int64)
    for level in range(1, max_hops + 1):
        at = hops == level
        k, d, u = keys[at], dist[at], pred[at]
        center, end = k // n, k % n
        if level == 1:
            rows = center.reshape(-1, 1)
        else:
            # The prefix (center, ..., pred) is itself a kept shortest path
            # of level - 1 hops (subpaths of shortest paths are shortest).
            idx = np.searchsorted(prev_keys, center * n + u)
            rows = prev_paths[idx]
        full = np.concatenate([rows, end.reshape(-1, 1)], axis=1)
        # All of this level, before sampling, is the prefix table of the
        # next one.
        prev_keys, prev_paths = k, full
        if level >= 2 and (degree_ratio is not None
                           or path_ratio is not None):
            count = np.bincount(center, minlength=n)
            limit = count.copy()
            if degree_ratio is not None:
                limit = np.minimum(limit, np.floor(
                    degree_ratio * degree + 1e-9).astype(np.int64))
            if path_ratio is not None:
                limit = np.minimum(limit, np.floor(
                    path_ratio * count + 1e-9).astype(np.int64))
            chosen = _top_k(center, d, end, limit)
            full, d = full[chosen], d[chosen]
        paths.append(torch.from_numpy(np.ascontiguousarray(full)).to(device))
        costs.append(torch.from_numpy(d.copy()).to(device))
    return PathSet(paths, n, costs, check=False)


# ---------------------------------------------------------------------------
# Caches (as gat_zoo.ops.ppr: per graph object, invalidated by in-place
# edits through the tensor version counter).
# ---------------------------------------------------------------------------
_cache = ObjectCache(size=4)


def clear_shortest_path_cache() -> None:
    """Forget every path set cached in this process."""
    _cache.clear()


def _disk_key(source: Tensor, target: Tensor, cost: np.ndarray, n: int,
              params: Tuple) -> str:
    digest = hashlib.sha256()
    digest.update(repr((_ALGORITHM_VERSION, n) + params).encode())
    digest.update(source.cpu().numpy().astype(np.int64).tobytes())
    digest.update(target.cpu().numpy().astype(np.int64).tobytes())
    digest.update(np.ascontiguousarray(cost).tobytes())
    return digest.hexdigest()[:32]


def _disk_load(path: Path, device: torch.device) -> Optional[PathSet]:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        return PathSet(state['paths'], int(state['num_nodes']),
                       state['cost'], check=False)
    except Exception:  # a damaged file is recomputed and rewritten
        return None


def _disk_store(path: Path, result: PathSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = dict(paths=[p.cpu() for p in result.paths],
                 cost=[w.cpu() for w in (result.cost or [])],
                 num_nodes=result.num_nodes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.tmp-',
                               suffix='.pt')
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------------
# Public entry point.
# ---------------------------------------------------------------------------
def shortest_paths(
    edge_index: Any,
    cost: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    max_hops: int = 2,
    degree_ratio: Optional[float] = 0.5,
    path_ratio: Optional[float] = 1.0,
    *,
    cache: bool = True,
    disk_cache: Union[bool, str, os.PathLike] = False,
    batch_size: Optional[int] = None,
) -> PathSet:
    r"""The shortest paths of at most ``max_hops`` hops from every node,
    grouped by length, after SPAGAN's per-node top-:math:`k` sampling (see
    the module docstring for orientation, tie rule and sampling).

    Args:
        edge_index (torch.Tensor or EdgeIndex or SparseTensor or torch
            sparse tensor): The graph; ``[2, E]`` with the source in row 0,
            or PyG's transposed sparse adjacency (row = target).
        cost (torch.Tensor, optional): ``[E]`` finite non-negative cost of
            every edge (for a ``[2, E]`` index; e.g.
            :func:`attention_costs`). :obj:`None`: every edge costs 1
            (fewest-hop paths). (default: :obj:`None`)
        num_nodes (int, optional): Number of nodes.
        max_hops (int): The largest path length :math:`C` kept.
            (default: :obj:`2`, the official code's paths of 2 and 3 nodes)
        degree_ratio (float, optional): :math:`r_{deg}`; :obj:`None` puts
            no degree bound. (default: :obj:`0.5`)
        path_ratio (float, optional): :math:`r_{path}`; :obj:`None` puts no
            ratio bound. (default: :obj:`1.0`)
        cache (bool): Remember the result for this graph object and cost
            tensor in this process (an in-place edit of either invalidates
            it). (default: :obj:`True`)
        disk_cache (bool or path): Also keep results on disk, keyed by a
            hash of the edges, costs and parameters: :obj:`True` uses
            ``$GAT_ZOO_CACHE/shortest_paths``. (default: :obj:`False`)
        batch_size (int, optional): Centers per Dijkstra call (default:
            as many as fit a 32 MiB distance block).

    Returns:
        PathSet: ``paths[c - 1]`` ``[P_c, c + 1]`` sorted by (center, end
        node), ``cost[c - 1]`` float64.
    """
    _check_params(max_hops, degree_ratio, path_ratio)
    max_hops = int(max_hops)
    params = (max_hops, None if degree_ratio is None else float(degree_ratio),
              None if path_ratio is None else float(path_ratio))
    key = (num_nodes, params, None if cost is None else id(cost))
    use_cache = cache and not torch.compiler.is_compiling()
    if use_cache:
        hit = _cache.get((edge_index, cost), key)
        if hit is not None:
            return hit

    from gat_zoo.ops.ppr import _edges_of
    source, target, n = _edges_of(edge_index, num_nodes)
    if cost is None:
        weights = np.ones(source.numel(), dtype=np.float64)
    else:
        if not isinstance(cost, Tensor):
            raise TypeError(f"'cost' must be a torch.Tensor (got "
                            f"{type(cost).__name__})")
        if isinstance(edge_index, Tensor) and edge_index.layout != \
                torch.strided:
            raise ValueError("'cost' per edge needs a [2, E] edge_index "
                             "(a sparse adjacency's order is its storage "
                             "order; pass its values as costs instead)")
        if cost.dim() != 1 or cost.numel() != source.numel():
            raise ValueError(f"'cost' must have shape [num_edges] = "
                             f"[{source.numel()}] (got {tuple(cost.shape)})")
        if not cost.is_floating_point():
            raise ValueError(f"'cost' must be floating point (got "
                             f"{cost.dtype})")
        weights = cost.detach().to('cpu', torch.float64).numpy()
        if not np.isfinite(weights).all():
            raise ValueError("'cost' contains NaN or infinite values")
        if weights.size and float(weights.min()) < 0:
            raise ValueError(f"'cost' must be non-negative (smallest: "
                             f"{float(weights.min())})")

    path = None
    result = None
    if disk_cache:
        path = disk_cache_dir(disk_cache, 'shortest_paths') / (
            _disk_key(source, target, weights, n, params) + '.pt')
        result = _disk_load(path, source.device)
    if result is None:
        result = _compute(source, target, weights, n, max_hops,
                          params[1], params[2], batch_size)
        if path is not None:
            _disk_store(path, result)
    if use_cache:
        _cache.put((edge_index, cost), key, result)
    return result
