r"""Fixed (parameter-free) normalised propagation :math:`\hat{T}\mathbf{X}`.

The decoupled multi-level models (DAGNN, GAMLP, TDGNN) first smooth
features over the graph with a fixed operator and put their attention on
top. The operator is the family

.. math::
    \hat{T} = \tilde{D}^{\,r-1}\tilde{A}\,\tilde{D}^{-r},
    \qquad \hat{T}_{ij} = \tilde{d}_i^{\,r-1}\,\tilde{a}_{ij}\,
    \tilde{d}_j^{-r},

GAMLP's parameterisation: :math:`r = 1/2` is GCN's symmetric
:math:`\tilde{D}^{-1/2}\tilde{A}\tilde{D}^{-1/2}` (DAGNN, TDGNN),
:math:`r = 0` the random walk :math:`\tilde{D}^{-1}\tilde{A}` (a mean over
in-neighbours) and :math:`r = 1` its transpose :math:`\tilde{A}\tilde{D}^{-1}`.
Row :math:`i` of :math:`\tilde{A}` lists the edges *into* :math:`i`, and
:math:`\tilde{d}` is the weighted in-degree (as PyG's ``gcn_norm``).

Self-loops: ``'remaining'`` drops the graph's own loops and gives every
node exactly one of weight ``fill_value`` (:math:`\tilde{A} = A + I`, PyG's
``add_remaining_self_loops``); ``'remove'`` drops them (TDGNN's
:math:`A`); ``'keep'`` uses the graph as given. Parallel edges add up.

The operator is built once per graph (sorted by target, the cache of
:func:`gat_zoo.ops.cached_csr`) and applied as a CSR sparse-dense product
(:func:`~gat_zoo.ops.spmm.head_spmm`): no per-edge message tensor, and its
backward is the product with the transpose.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional

import torch
from torch import Tensor
from torch_geometric.utils import remove_self_loops

from gat_zoo.ops.csr import CSRGraph, cached_csr
from gat_zoo.ops.segment import segment_aggregate
from gat_zoo.ops.spmm import SPMM_DTYPES, head_spmm

__all__ = ['SELF_LOOP_MODES', 'Propagation', 'normalized_propagation']

#: What :func:`normalized_propagation` does with self-loops.
SELF_LOOP_MODES = ('remaining', 'remove', 'keep')


class Propagation:
    r"""A normalised propagation operator :math:`\hat{T}` of one graph.

    Attributes:
        graph (CSRGraph): The pattern, target-major (self-loops as chosen).
        weight (torch.Tensor): :math:`\hat{T}_{ij}` per CSR edge, ``[E]``.
    """

    __slots__ = ('graph', 'weight')

    def __init__(self, graph: CSRGraph, weight: Tensor):
        self.graph = graph
        self.weight = weight

    @property
    def num_nodes(self) -> int:
        return self.graph.num_dst

    def __call__(self, x: Tensor) -> Tensor:
        r""":math:`\hat{T}\mathbf{x}` for ``x`` of shape ``[N]``, ``[N, C]``
        or ``[N, H, C]``; differentiable in ``x``."""
        if x.size(0) != self.num_nodes:
            raise ValueError(f"The features have {x.size(0)} rows but the "
                             f"propagation operator has {self.num_nodes} "
                             f"nodes")
        shape = x.shape
        flat = x.reshape(shape[0], 1, math.prod(shape[1:]))
        dtype = flat.dtype
        if dtype not in SPMM_DTYPES:
            flat = flat.float()
        weight = self.weight.to(flat.dtype).view(-1, 1)
        out = head_spmm(self.graph, weight, flat)
        return out.to(dtype).reshape(shape)

    def powers(self, x: Tensor, num_hops: int) -> Iterator[Tensor]:
        r"""Yields :math:`\mathbf{x}, \hat{T}\mathbf{x}, \dots,
        \hat{T}^{K}\mathbf{x}` one at a time (``K = num_hops``), so a caller
        that consumes them as they come (streams them to disk, or reduces
        them) holds two hops in memory, not :math:`K + 1`."""
        yield x
        for _ in range(int(num_hops)):
            x = self(x)
            yield x

    def to_dense(self) -> Tensor:
        """The ``[N, N]`` matrix (for tests and small examples only)."""
        n = self.num_nodes
        dense = self.weight.new_zeros(n, self.graph.num_src)
        dense.index_put_((self.graph.row, self.graph.col), self.weight,
                         accumulate=True)
        return dense

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_nodes={self.num_nodes}, '
                f'num_edges={self.graph.num_edges})')


def normalized_propagation(edge_index: Tensor, num_nodes: int, *,
                           r: float = 0.5, self_loops: str = 'remaining',
                           fill_value: float = 1.0,
                           edge_weight: Optional[Tensor] = None,
                           dtype: torch.dtype = torch.float32,
                           cache: bool = True,
                           cache_key: Any = None) -> Propagation:
    r"""The operator :math:`\hat{T} = \tilde{D}^{r-1}\tilde{A}\tilde{D}^{-r}`
    of a graph (see the module docstring).

    Args:
        edge_index (torch.Tensor): ``[2, E]`` (source, target) index, checked
            by the caller.
        num_nodes (int): Number of nodes.
        r (float): The normalisation exponent, in :math:`[0, 1]`.
        self_loops (str): ``'remaining'``, ``'remove'`` or ``'keep'``.
        fill_value (float): Weight of the added self-loops.
        edge_weight (torch.Tensor, optional): ``[E]`` edge weights (default:
            ones).
        dtype (torch.dtype): dtype of the operator's values.
        cache (bool): Remember the operator for this ``edge_index`` object
            (while it is alive and not edited in place); never with
            ``edge_weight``, whose values may change between calls.
        cache_key (object, optional): The object to remember it for instead
            (the caller's adjacency, when ``edge_index`` was derived from a
            ``SparseTensor`` or ``EdgeIndex`` on this call).
    """
    if self_loops not in SELF_LOOP_MODES:
        raise ValueError(f"Unknown self_loops {self_loops!r}; expected one "
                         f"of {SELF_LOOP_MODES}")
    r = float(r)
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"The normalisation exponent r must lie in [0, 1] "
                         f"(got {r})")
    num_nodes = int(num_nodes)

    def build() -> Propagation:
        index = edge_index.long()
        weight = (torch.ones(index.size(1), dtype=dtype,
                             device=index.device)
                  if edge_weight is None else edge_weight.to(dtype))
        if self_loops != 'keep':
            index, weight = remove_self_loops(index, weight)
        if self_loops == 'remaining':
            loops = torch.arange(num_nodes, device=index.device)
            index = torch.cat([index, loops.expand(2, -1)], dim=1)
            weight = torch.cat([weight, weight.new_full((num_nodes, ),
                                                        fill_value)])
        graph = CSRGraph.from_edge_index(index, num_nodes, num_nodes)
        if graph.perm is not None:
            weight = weight.index_select(0, graph.perm)
        degree = segment_aggregate(weight.view(-1, 1), graph.row,
                                   ptr=graph.ptr, num_segments=num_nodes,
                                   reduce='sum').view(-1)
        positive = degree > 0
        safe = torch.where(positive, degree, torch.ones_like(degree))
        left = torch.where(positive, safe.pow(r - 1.0),
                           torch.zeros_like(degree))
        # d^0 = 1 also for a source no edge points to (r = 0 is a plain
        # mean over in-neighbours, whatever their own in-degree); for r > 0
        # such a source has no finite factor and, like gcn_norm, adds 0.
        right = torch.where(positive, safe.pow(-r),
                            torch.full_like(degree, 1.0 if r == 0.0 else 0.0))
        weight = left[graph.row] * weight * right[graph.col]
        # The CSR order is the operator's own; callers never see edges.
        return Propagation(CSRGraph(graph.ptr, graph.col, num_nodes,
                                    row=graph.row), weight)

    if not cache or edge_weight is not None:
        return build()
    key = ('normalized_propagation', num_nodes, r, self_loops,
           float(fill_value), dtype)
    return cached_csr(edge_index if cache_key is None else cache_key, key,
                      build)
