"""One calling convention for every layer and every registered model, so the
reliability battery can sweep the whole zoo with the same inputs.

A :class:`Graph` holds node features, an edge index and the extra inputs
some models need (edge types for relational models, query pairs for link
predictors, (head, relation) queries for knowledge-graph scorers). A
:class:`Case` knows how to build one module and how to run it on a
:class:`Graph`; everything the battery does (corrupt the edge index, permute
the nodes, change the dtype) happens on the :class:`Graph`, so one corruption
reaches every model the same way.

:func:`all_cases` returns a case for every class in
:data:`gat_zoo.nn.conv.__all__` that is a module and for every name in
:func:`gat_zoo.list_models`; the battery asserts that nothing is left out, so
a new layer or model cannot skip it.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor

import gat_zoo.nn.conv as conv_module
from gat_zoo import create_model, list_models, model_entry, paper_config

IN_CHANNELS = 5
NUM_RELATIONS = 3
NUM_CLASSES = 3


@dataclass
class Graph:
    """The inputs of one call; ``pairs`` (link models) and ``queries`` (KG
    models: row 0 heads, row 1 relations) refer to node ids."""
    x: Tensor
    edge_index: Tensor
    edge_type: Optional[Tensor] = None
    pairs: Optional[Tensor] = None
    queries: Optional[Tensor] = None

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)

    def to(self, dtype: torch.dtype) -> Graph:
        return replace(self, x=self.x.to(dtype))

    def permuted(self, perm: Tensor) -> Graph:
        """The same graph with node ``i`` renamed ``perm[i]`` and the edges
        shuffled by nothing (see :meth:`edges_shuffled`)."""
        x = torch.empty_like(self.x)
        x[perm] = self.x
        return replace(
            self, x=x, edge_index=perm[self.edge_index],
            pairs=None if self.pairs is None else perm[self.pairs],
            queries=None if self.queries is None else torch.stack(
                [perm[self.queries[0]], self.queries[1]]))

    def edges_shuffled(self, order: Tensor) -> Graph:
        return replace(
            self, edge_index=self.edge_index[:, order],
            edge_type=(None if self.edge_type is None else
                       self.edge_type[order]))


def make_graph(num_nodes: int, edge_index: Tensor, seed: int = 0,
               in_channels: int = IN_CHANNELS,
               dtype: torch.dtype = torch.float32) -> Graph:
    """Random features, edge types, pairs and queries for ``edge_index``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, in_channels, generator=gen, dtype=dtype)
    E = edge_index.size(1)
    edge_type = torch.randint(0, NUM_RELATIONS, (E,), generator=gen)
    if num_nodes > 0:
        pairs = torch.randint(0, num_nodes, (2, 4), generator=gen)
        queries = torch.stack([
            torch.randint(0, num_nodes, (3,), generator=gen),
            torch.randint(0, NUM_RELATIONS, (3,), generator=gen)])
    else:
        pairs = torch.zeros(2, 0, dtype=torch.long)
        queries = torch.zeros(2, 0, dtype=torch.long)
    return Graph(x, edge_index, edge_type, pairs, queries)


def random_graph(num_nodes: int, num_edges: int, seed: int = 0,
                 **kwargs) -> Graph:
    """Random multigraph with self-loops, duplicates and (for few edges)
    isolated nodes; the last node is always isolated."""
    gen = torch.Generator().manual_seed(seed)
    hi = max(num_nodes - 1, 1)
    edge_index = torch.randint(0, hi, (2, num_edges), generator=gen)
    if num_edges >= 2:
        edge_index[:, 1] = edge_index[:, 0]  # a duplicate edge
        edge_index[1, 0] = edge_index[0, 0]  # a self-loop (twice)
        edge_index[1, 1] = edge_index[0, 1]
    return make_graph(num_nodes, edge_index, seed=seed, **kwargs)


#: How output rows relate to the nodes: 'nodes' (row i is node i),
#: 'pairs' (one value per pair), 'queries' ([Q, N] scores of every node).
OUTPUTS = ('nodes', 'pairs', 'queries', 'none')


@dataclass
class Case:
    """How to build one module and run it on a :class:`Graph`."""
    name: str
    build: Callable[[], torch.nn.Module]
    call: Callable[[torch.nn.Module, Graph], Tensor]
    output: str = 'nodes'
    graph_input: bool = True  # takes an edge index (else features only)
    relational: bool = False  # reads ``graph.edge_type``
    #: Corruption names this case legitimately does not see (with why).
    not_applicable: Dict[str, str] = field(default_factory=dict)

    def module(self, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        torch.manual_seed(0)
        return self.build().to(dtype).eval()

    def __str__(self) -> str:
        return self.name


def _first(out):
    return out[0] if isinstance(out, tuple) else out


# Layers ######################################################################
F_IN, F_OUT = IN_CHANNELS, 4


def _conv_cases() -> List[Case]:
    from gat_zoo.nn import conv as C

    def plain(cls, *args, **kwargs):
        return Case(cls.__name__, lambda: cls(*args, **kwargs),
                    lambda m, g: _first(m(g.x, g.edge_index)))

    def reversed_view(g):
        # A second view over the same nodes: the reversed edges (a
        # malformed index is passed on as it is, for the layer to report).
        ei = g.edge_index
        if hasattr(ei, 'sparse_sizes'):  # a SparseTensor: its transpose
            return ei.t()
        ok = isinstance(ei, Tensor) and ei.dim() == 2 and ei.size(0) == 2
        return ei.flip(0) if ok else ei

    def temporal(m, g):
        # Two time steps of the same node features: [N, T, C].
        return m(torch.stack([g.x, g.x.flip(-1)], dim=1))

    cases = [
        plain(C.ACMConv, F_IN, F_OUT),
        Case('AMGCNConv', lambda: C.AMGCNConv(F_IN, 6, F_OUT, dropout=0.0),
             lambda m, g: _first(m(g.x, g.edge_index, reversed_view(g)))),
        plain(C.GAMLPConv, F_IN, num_hops=3, jk_channels=8),
        Case('HopAttention',
             lambda: C.HopAttention(F_IN, num_hops=2, attention='jk',
                                    jk_channels=8),
             lambda m, g: m(torch.stack([g.x, g.x.flip(-1), g.x]))[0],
             graph_input=False),
        plain(C.DAGNNConv, F_IN, K=3),
        Case('FAGCNConv', lambda: C.FAGCNConv(F_IN, eps=0.3),
             lambda m, g: _first(m(g.x, g.x, g.edge_index))),
        plain(C.GATConv, F_IN, F_OUT, heads=2),
        plain(C.GATv2Conv, F_IN, F_OUT, heads=2),
        Case('GraphHAMConv',
             lambda: C.GraphHAMConv(F_IN, F_OUT, num_groups=2),
             lambda m, g: _first(m(g.x, g.edge_index))),
        Case('HANConv',
             lambda: C.HANConv(F_IN, F_OUT, num_metapaths=2, heads=2),
             lambda m, g: _first(m(g.x, [g.edge_index, reversed_view(g)]))),
        plain(C.MAGNABlock, F_IN, F_OUT, heads=2, num_hops=3),
        plain(C.MAGNAConv, F_IN, F_OUT, heads=2, num_hops=3),
        plain(C.PaGNNConv, F_IN, F_OUT, heads=2),
        plain(C.PPRGATConv, F_IN, F_OUT, heads=2),
        plain(C.PPRGATv2Conv, F_IN, F_OUT, heads=2),
        Case('RGATConv',
             lambda: C.RGATConv(F_IN, F_OUT, NUM_RELATIONS, heads=2),
             lambda m, g: _first(m(g.x, g.edge_index, g.edge_type)),
             relational=True),
        Case('RGHATConv',
             lambda: C.RGHATConv(F_IN, F_OUT, NUM_RELATIONS, heads=2),
             lambda m, g: _first(m(g.x, g.edge_index, g.edge_type)),
             relational=True),
        # The layer reads one neighbourhood per motif; any edge set is one.
        Case('SiGATConv', lambda: C.SiGATConv(F_IN, F_OUT),
             lambda m, g: _first(m(g.x, [g.edge_index] * m.num_motifs))),
        plain(C.SPAGANConv, F_IN, F_OUT, heads=2),
        plain(C.SuperGATConv, F_IN, F_OUT, heads=2),
        plain(C.DySATStructuralConv, F_IN, F_OUT, heads=2),
        Case('TemporalSelfAttention',
             lambda: C.TemporalSelfAttention(F_IN, num_time_steps=2),
             lambda m, g: _first(temporal(m, g)), graph_input=False),
        plain(C.TDGNNConv, num_hops=3, layers=(1, 2)),
        plain(C.UAGConv, F_IN, F_OUT),
    ]
    return cases


# Registered models ###########################################################


def _model_case(name: str) -> Case:
    entry = model_entry(name)
    config = paper_config(name, 'Cora')['model']

    # SiGAT's edge signs are derived from the edge types below (always
    # valid), so it is not fed out-of-range relation ids.
    relational = name.startswith(('rgat', 'rgcn', 'rghat', 'distmult',
                                  'conve'))
    if relational:
        config = dict(config, num_relations=NUM_RELATIONS)

    def build():
        return create_model(name, IN_CHANNELS, NUM_CLASSES, **config)

    if entry.task == 'link':
        if name == 'sigat':
            def call(m, g):
                sign = (g.edge_type % 2 == 0)
                return m(g.x, g.edge_index, g.pairs, sign)
        else:
            def call(m, g):
                return m(g.x, g.edge_index, g.pairs)
        output = 'pairs'
    elif entry.task == 'kg':
        def call(m, g):
            return m(g.x, g.edge_index, g.queries, g.edge_type)
        output = 'queries'
    elif relational:
        def call(m, g):
            return m(g.x, g.edge_index, g.edge_type)
        output = 'nodes'
    else:
        def call(m, g):
            return _first(m(g.x, g.edge_index))
        output = 'nodes'
    not_applicable = {}
    if name == 'sigat':
        not_applicable['sparse'] = ('the motif graphs are built from a '
                                    'signed [2, E] edge list')
    return Case(f'model:{name}', build, call, output=output,
                relational=relational, not_applicable=not_applicable)


def all_cases() -> List[Case]:
    return _conv_cases() + [_model_case(n) for n in list_models()]


def uncovered() -> List[str]:
    """Modules of :mod:`gat_zoo.nn.conv` and registered models without a
    case (must stay empty)."""
    names = {c.name for c in all_cases()}
    missing = []
    for name in conv_module.__all__:
        obj = getattr(conv_module, name)
        if inspect.isclass(obj) and issubclass(obj, torch.nn.Module) and \
                name not in names:
            missing.append(name)
    missing += [n for n in list_models() if f'model:{n}' not in names]
    return missing
