r"""The tree decomposition of TDGNN (Wang and Derr, `"Tree Decomposed Graph
Neural Network" <https://arxiv.org/abs/2108.11022>`_, CIKM 2021): the
neighbourhood of every node split into layers by shortest-path distance,
each pair weighted by its multi-hop dependency.

With :math:`\mathbf{A}` the graph's 0/1 adjacency (:math:`A_{ij} = 1` for an
edge :math:`j \to i`, i.e. ``edge_index[:, e] = (j, i)``; repeated edges
count once, existing self-loops are dropped) and the GCN-normalised
matrix with one self-loop per node

.. math::
    \hat{\mathbf{A}} = \tilde{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})
    \tilde{\mathbf{D}}^{-1/2}, \qquad
    \tilde{D}_{ii} = 1 + \textstyle\sum_j A_{ij},

(the official code's ``propagate``: ``add_remaining_self_loops`` and the
target in-degree), layer :math:`\ell \geq 1` of node :math:`i` holds the
nodes :math:`j` at shortest-path distance exactly :math:`\ell` from
:math:`j` to :math:`i` (the BFS tree of :math:`i` cut at depth :math:`K`),
and the node itself, which the official code puts in layer 1. Each pair
carries the multi-hop dependency

.. math::
    w_\ell(i, j) = \sum_{k=\ell}^{K} (\hat{\mathbf{A}}^k)_{ij}
    = \sum_{k=1}^{K} (\hat{\mathbf{A}}^k)_{ij},

the two sums being equal because :math:`(\hat{\mathbf{A}}^k)_{ij} = 0` for
:math:`k < \mathrm{dist}(j, i)` (:math:`\hat{\mathbf{A}}` has non-negative
entries). So every pair within :math:`K` hops lands in exactly one layer,
and the layer of a pair is the first power :math:`k \geq 1` at which
:math:`(\hat{\mathbf{A}}^k)_{ij} > 0` (1 for :math:`i = j`, thanks to the
self-loops): distances come out of the same products as the weights, no
separate BFS is needed.

On a directed graph the official code takes the layers along the edges
but reads the dependency at the transposed position,
:math:`w_\ell(i, j) = \sum_{k=\ell}^{K}(\hat{\mathbf{A}}^k)_{ji}` (walks
from :math:`i` back to :math:`j`, zero for most pairs of a sparse
directed graph; here the terms below :math:`\ell` need not vanish, so the
sum really starts at the pair's layer); ``reverse_dependency=True``
reproduces that.

**Cost.** The powers are taken on blocks of ``B`` source columns at a time,
:math:`\mathbf{X}_k = \hat{\mathbf{A}}\mathbf{X}_{k-1}` with
:math:`\mathbf{X}_0` the block's identity columns (a sparse-dense product,
float64), so nothing of size :math:`N \times N` is ever held: the time is
:math:`O(K (|\mathcal{E}| + N) N)` and the working memory :math:`O(N B)`
(``block_elements`` caps :math:`N B`); the result holds the pairs within
:math:`L = \max(\text{layers})` hops, :math:`O(\#\text{pairs within } L
\text{ hops})`, which is all pairs of a connected component once :math:`L`
reaches its diameter. This is the method's own cost (the official code
propagates an :math:`N \times N` identity matrix); graphs with hundreds of
thousands of nodes are out of reach.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from gat_zoo.ops._cache import ObjectCache
from gat_zoo.ops.propagation import normalized_propagation
from gat_zoo.ops.spmm import csr_tensor

__all__ = ['TreeDecomposition', 'clear_tree_decomposition_cache',
           'normalized_adjacency', 'tree_decomposition']


@dataclass(frozen=True)
class TreeDecomposition:
    """Per-layer weighted pairs of a tree decomposition.

    Attributes:
        layers (tuple of int): The layer numbers :math:`\\ell \\geq 1`, in
            the order asked for.
        edge_index (list of Tensor): Per layer, the pairs ``[2, P_l]``
            (row 0 the source :math:`j`, row 1 the target :math:`i`, PyG's
            convention), sorted by target then source.
        weight (list of Tensor): Per layer, :math:`w_\\ell(i, j)`,
            ``[P_l]`` (float32 unless another ``dtype`` was asked for).
        num_nodes (int): :math:`N`.
        num_hops (int): :math:`K`.
    """
    layers: Tuple[int, ...]
    edge_index: List[Tensor]
    weight: List[Tensor]
    num_nodes: int
    num_hops: int

    def combined(self) -> Tuple[Tensor, Tensor, Tensor]:
        """``(edge_index [2, P], weight [P], layer_position [P])``: all
        layers' pairs together, ``layer_position`` indexing
        :attr:`layers`."""
        device = self.weight[0].device if self.weight else None
        index = torch.cat(self.edge_index, dim=1) if self.edge_index else \
            torch.empty(2, 0, dtype=torch.long, device=device)
        weight = torch.cat(self.weight) if self.weight else \
            torch.empty(0, device=device)
        position = torch.cat([
            torch.full((ei.size(1),), p, dtype=torch.long,
                       device=ei.device)
            for p, ei in enumerate(self.edge_index)]) if self.edge_index \
            else torch.empty(0, dtype=torch.long, device=device)
        return index, weight, position


def normalized_adjacency(edge_index: Tensor, num_nodes: int,
                         dtype: torch.dtype = torch.float64) -> Tensor:
    r""":math:`\hat{\mathbf{A}} = \tilde{\mathbf{D}}^{-1/2}(\mathbf{A} +
    \mathbf{I})\tilde{\mathbf{D}}^{-1/2}` as a target-major sparse CSR
    tensor ``[N, N]`` (entry ``[i, j]`` weighs the message :math:`j \to i`),
    from a ``[2, E]`` (source, target) index: repeated edges merged,
    self-loops replaced by exactly one per node."""
    src, dst = edge_index[0].long(), edge_index[1].long()
    keep = src != dst
    src, dst = src[keep], dst[keep]
    loop = torch.arange(num_nodes, device=edge_index.device)
    src, dst = torch.cat([src, loop]), torch.cat([dst, loop])
    key = torch.unique(dst * num_nodes + src)  # sorted, duplicates merged
    dst, src = key // num_nodes, key % num_nodes
    # Target-sorted with the loops already in: the operator keeps this
    # order, so every row's columns stay sorted.
    prop = normalized_propagation(torch.stack([src, dst]), num_nodes,
                                  self_loops='keep', dtype=dtype,
                                  cache=False)
    return csr_tensor(prop.graph.ptr, prop.graph.col, prop.weight,
                      (num_nodes, num_nodes))


def _check_layers(layers: Sequence[int], num_hops: int) -> Tuple[int, ...]:
    if isinstance(num_hops, bool) or not isinstance(num_hops, int) or \
            num_hops < 1:
        raise ValueError(f"'num_hops' (K, the depth of the tree "
                         f"decomposition) must be an integer >= 1 (got "
                         f"{num_hops!r})")
    layers = tuple(layers)
    if not layers:
        raise ValueError("'layers' must name at least one layer")
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, int) or \
                not 1 <= layer <= num_hops:
            raise ValueError(f"Every layer must be an integer in [1, K] = "
                             f"[1, {num_hops}] (got {layer!r} in "
                             f"{layers})")
    if len(set(layers)) != len(layers):
        raise ValueError(f"'layers' has repeated entries: {layers}")
    return layers


def _decompose(edge_index: Tensor, num_nodes: int, num_hops: int,
               layers: Tuple[int, ...], dtype: torch.dtype,
               block_elements: int,
               reverse_dependency: bool) -> TreeDecomposition:
    device = edge_index.device
    depth = max(layers)
    adj = normalized_adjacency(edge_index.cpu(), num_nodes)
    # The reversed dependency (Â^k)[j, i] is entry [i, j] of (Â^T)^k.
    adj_w = None
    if reverse_dependency:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            adj_w = adj.to_sparse_coo().t().coalesce().to_sparse_csr()
    wanted = torch.zeros(depth + 1, dtype=torch.bool)
    wanted[list(layers)] = True
    parts: List[List[Tuple[Tensor, Tensor]]] = [[] for _ in layers]
    position = {layer: p for p, layer in enumerate(layers)}
    block = max(1, min(num_nodes, block_elements // max(num_nodes, 1)))
    for start in range(0, num_nodes, block):
        stop = min(start + block, num_nodes)
        width = stop - start
        x = torch.zeros(num_nodes, width, dtype=torch.float64)
        x[torch.arange(start, stop), torch.arange(width)] = 1.0
        y = x.clone() if adj_w is not None else None
        total = torch.zeros_like(x)
        # With the reversed dependency the sum starts at the pair's own
        # layer d (its powers below d need not vanish): `skipped` keeps
        # the partial sum over k < d, taken when the pair is reached.
        skipped = torch.zeros_like(x) if y is not None else None
        # dist[i, c]: first power k >= 1 with (A^k)[i, start + c] > 0
        # (0: not reached within `depth` hops).
        dist = torch.zeros(num_nodes, width, dtype=torch.uint8)
        for k in range(1, num_hops + 1):
            x = adj @ x
            if k <= depth:
                reached = (x > 0) & (dist == 0)
                dist[reached] = k
                if skipped is not None:
                    skipped[reached] = total[reached]
            if y is None:
                total += x
            else:
                assert adj_w is not None  # y is set only with adj_w
                y = adj_w @ y
                total += y
        if skipped is not None:
            total -= skipped
        keep = (dist > 0) & wanted[dist.long()]
        target, column = keep.nonzero(as_tuple=True)
        layer_of = dist[target, column].long()
        value = total[target, column]
        source = column + start
        for layer in layers:
            sel = layer_of == layer
            parts[position[layer]].append(
                (torch.stack([source[sel], target[sel]]), value[sel]))
    out_index, out_weight = [], []
    for chunks in parts:
        index = torch.cat([c[0] for c in chunks], dim=1) if chunks else \
            torch.empty(2, 0, dtype=torch.long)
        weight = torch.cat([c[1] for c in chunks]) if chunks else \
            torch.empty(0, dtype=torch.float64)
        order = torch.argsort(index[1] * num_nodes + index[0])
        out_index.append(index[:, order].to(device))
        out_weight.append(weight[order].to(device=device, dtype=dtype))
    return TreeDecomposition(layers, out_index, out_weight, num_nodes,
                             num_hops)


_cache = ObjectCache(size=4)


def clear_tree_decomposition_cache() -> None:
    """Forget every tree decomposition cached in this process."""
    _cache.clear()


def tree_decomposition(edge_index: Tensor, num_nodes: int, num_hops: int,
                       layers: Optional[Sequence[int]] = None,
                       dtype: torch.dtype = torch.float32,
                       cache: bool = True, cache_key: Any = None,
                       block_elements: int = 1 << 23,
                       reverse_dependency: bool = False
                       ) -> TreeDecomposition:
    r"""The tree decomposition of a graph with multi-hop dependency
    weights (see the module docstring for the definition and the cost).

    Args:
        edge_index (torch.Tensor): ``[2, E]`` (source, target) integer
            index; repeated edges count once, self-loops are ignored (every
            node gets exactly one in :math:`\hat{\mathbf{A}}`).
        num_nodes (int): :math:`N`.
        num_hops (int): :math:`K`, the depth of the decomposition and the
            highest power in the dependency sums.
        layers (sequence of int, optional): The layers :math:`1 \le \ell
            \le K` to return. (default: all, :math:`1, \dots, K`)
        dtype (torch.dtype, optional): dtype of the weights (they are
            computed in float64). (default: :obj:`torch.float32`)
        cache (bool, optional): Remember the result for this graph object
            (``cache_key`` if given, else ``edge_index``), as long as it is
            alive and not edited in place. (default: :obj:`True`)
        block_elements (int, optional): Cap on :math:`N B`, the size of the
            dense work blocks. (default: :math:`2^{23}`, 64 MiB in float64)
        reverse_dependency (bool, optional): Weigh the pair :math:`j \to i`
            of layer :math:`\ell` by :math:`\sum_{k=\ell}^{K}
            (\hat{\mathbf{A}}^k)_{ji}` (walks
            from :math:`i` back to :math:`j`) instead, as the official code
            does on directed graphs (it reads its diffusion matrix at the
            transposed position); the layers still follow the edges. The
            same on undirected graphs. (default: :obj:`False`)

    Returns:
        TreeDecomposition
    """
    layers = _check_layers(range(1, num_hops + 1) if layers is None
                           else layers, num_hops)
    key = ('tree_decomposition', int(num_nodes), num_hops, layers, dtype,
           str(edge_index.device), bool(reverse_dependency))
    owner = edge_index if cache_key is None else cache_key
    use_cache = cache and not torch.compiler.is_compiling()
    if use_cache:
        hit = _cache.get((owner,), key)
        if hit is not None:
            return hit
    with torch.no_grad():
        result = _decompose(edge_index.detach(), int(num_nodes), num_hops,
                            layers, dtype, int(block_elements),
                            bool(reverse_dependency))
    if use_cache:
        _cache.put((owner,), key, result)
    return result
