"""Layer-level speed and memory: a model's attention layer against PyG's
layer of the same class name, on one graph, in one invocation.

Reusable outside the CLI (e.g. by a ``benchmarks/`` script)::

    from gat_zoo.bench.speed import GraphSpec, compare_layers
    from gat_zoo.nn.conv import GATConv
    rows = compare_layers(GATConv, GraphSpec.random(10_000, 100_000, 128))

Two operations are timed: ``'forward'`` (inference: under
:func:`torch.no_grad`) and ``'forward_backward'`` (forward, then backward
of a fixed random output gradient into the layer's parameters and input).
Each timing is the median of ``repeat`` calls after ``warmup`` calls
(:func:`time.perf_counter`, with :func:`torch.cuda.synchronize` on GPU).
Peak memory is measured once per operation before the timings, as the
growth over the memory in use before the call (see
:mod:`gat_zoo.bench.memory`); by default each implementation runs in its
own freshly spawned process so that neither sees the other's allocations.
"""
from __future__ import annotations

import inspect
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

import torch

from gat_zoo.bench.memory import (
    current_memory_mb,
    peak_memory_mb,
    reset_peak_memory,
)

__all__ = [
    'ARXIV_SIZE',
    'OPS',
    'GraphSpec',
    'build_layer',
    'compare_layers',
    'estimated_peak_mb',
    'memory_budget_mb',
    'scaling_graphs',
    'measure_layer',
    'pyg_equivalent',
    'time_callable',
]

#: The timed operations.
OPS = ('forward', 'forward_backward')


@dataclass(frozen=True)
class GraphSpec:
    """The graph a layer is measured on: a seeded random graph (``kind =
    'random'``) or a named dataset (``kind='dataset'``, a ``--dataset``
    item, features from the dataset)."""
    kind: str = 'random'
    num_nodes: int = 10_000
    num_edges: int = 100_000
    in_channels: int = 128
    seed: int = 0
    dataset: str = ''
    root: Optional[str] = None

    @classmethod
    def random(cls, num_nodes: int = 10_000, num_edges: int = 100_000,
               in_channels: int = 128, seed: int = 0) -> GraphSpec:
        return cls('random', num_nodes, num_edges, in_channels, seed)

    @classmethod
    def from_dataset(cls, dataset: str, root=None) -> GraphSpec:
        return cls('dataset', dataset=dataset,
                   root=None if root is None else str(root))

    @property
    def label(self) -> str:
        if self.kind == 'dataset':
            return self.dataset
        return (f'random(N={self.num_nodes},E={self.num_edges},'
                f'F={self.in_channels})')

    def build(self, device: torch.device) -> Tuple[torch.Tensor,
                                                   torch.Tensor]:
        """``(x, edge_index)`` on ``device``."""
        if self.kind == 'dataset':
            from gat_zoo.bench.runner import load_data, parse_dataset_spec
            data = load_data(parse_dataset_spec(self.dataset), self.root)
            return data.x.to(device), data.edge_index.to(device)
        gen = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.num_nodes, self.in_channels, generator=gen)
        edge_index = torch.randint(0, self.num_nodes, (2, self.num_edges),
                                   generator=gen)
        return x.to(device), edge_index.to(device)


def pyg_equivalent(cls: type) -> Optional[type]:
    """``torch_geometric.nn.<cls.__name__>`` if PyG has such a layer."""
    import torch_geometric.nn as pyg_nn
    other = getattr(pyg_nn, cls.__name__, None)
    return other if isinstance(other, type) else None


def build_layer(cls: Type[Any], in_channels: int, out_channels: int = 32,
                heads: int = 8) -> torch.nn.Module:
    """``cls(in_channels, out_channels, heads=heads)``, or
    ``cls(in_channels, heads * out_channels)`` for a layer without heads
    (the same output width). A propagation-only layer, whose output width
    is its input width (DAGNN, TDGNN, GAMLP: no ``out_channels``, or an
    optional one), gets its default depth: ``cls(in_channels)`` or
    ``cls()``."""
    params = inspect.signature(cls.__init__).parameters
    if 'heads' in params:
        return cls(in_channels, out_channels, heads=heads)
    width = params.get('out_channels')
    if width is not None and width.default is not None:
        return cls(in_channels, heads * out_channels)
    if 'in_channels' in params:
        return cls(in_channels)
    return cls()


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_callable(fn: Callable[[], Any], *, warmup: int = 3,
                  repeat: int = 10,
                  device: Optional[torch.device] = None) -> Dict[str, Any]:
    """Median wall time of ``fn()`` over ``repeat`` calls after ``warmup``
    calls. Returns ``{'median_s', 'min_s', 'times_s'}``."""
    device = torch.device(device or 'cpu')
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return {'median_s': statistics.median(times), 'min_s': min(times),
            'times_s': times}


def _op_callable(layer: torch.nn.Module, x: torch.Tensor,
                 edge_index: torch.Tensor, op: str) -> Callable[[], Any]:
    if op == 'forward':
        def forward():
            with torch.no_grad():
                return layer(x, edge_index)
        return forward
    if op != 'forward_backward':
        raise ValueError(f"Unknown op {op!r}; expected one of {OPS}")
    x_grad = x.detach().clone().requires_grad_(x.is_floating_point())
    with torch.no_grad():
        grad_out = torch.randn_like(layer(x_grad, edge_index))

    def forward_backward():
        layer.zero_grad(set_to_none=True)
        x_grad.grad = None
        layer(x_grad, edge_index).backward(grad_out)

    return forward_backward


def measure_layer(cls: type, graph: GraphSpec, *, out_channels: int = 32,
                  heads: int = 8, ops: Sequence[str] = OPS, warmup: int = 3,
                  repeat: int = 10, device: Union[str, torch.device] = 'cpu',
                  threads: Optional[int] = None, seed: int = 0,
                  fused: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
    """Measures one layer class in this process.

    ``fused`` sets gat_zoo's fused-path mode for the measurement (see
    :func:`gat_zoo.ops.use_fused`; :obj:`None` keeps the process's).
    Returns ``{op: {'time_s', 'min_s', 'peak_mem_mb', 'mem_kind'}}``.
    """
    if fused is not None:
        from gat_zoo.ops import use_fused
        with use_fused(fused):
            return measure_layer(cls, graph, out_channels=out_channels,
                                 heads=heads, ops=ops, warmup=warmup,
                                 repeat=repeat, device=device,
                                 threads=threads, seed=seed)
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device)
    torch.manual_seed(seed)
    x, edge_index = graph.build(device)
    layer = build_layer(cls, x.size(-1), out_channels, heads).to(device)
    layer.eval()  # the layers' own dropout off; timings are of the kernels
    out: Dict[str, Dict[str, Any]] = {}
    for op in ops:
        fn = _op_callable(layer, x, edge_index, op)
        _sync(device)
        base = current_memory_mb(device)
        kind = reset_peak_memory(device)
        fn()
        peak, kind = peak_memory_mb(device, kind)
        timing = time_callable(fn, warmup=warmup, repeat=repeat,
                               device=device)
        out[op] = {'time_s': timing['median_s'], 'min_s': timing['min_s'],
                   'peak_mem_mb': max(0.0, peak - base), 'mem_kind': kind}
    return out


def _measure_child(cls, graph, kwargs):
    return measure_layer(cls, graph, **kwargs)


def measure_isolated(cls: type, graph: GraphSpec,
                     **kwargs) -> Dict[str, Dict[str, Any]]:
    """:func:`measure_layer` in a freshly spawned child process (its peak
    memory is then the layer's alone)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    ctx = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_measure_child, cls, graph, kwargs).result()


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a / b if b > 0 else None


#: Bytes of peak memory per edge, head and channel, forward+backward, with
#: margin: measured 4.2 (GATConv) and 6.9 (GATv2Conv) float32 words on an
#: ogbn-arxiv-sized graph for PyG's message-passing layers.
_MESSAGE_PASSING_BYTES = 4 * 9
#: The same per node pair and head for the dense masked layer.
_DENSE_BYTES = 4 * 8


def estimated_peak_mb(side: str, graph: GraphSpec, heads: int,
                      out_channels: int) -> Optional[float]:
    """A generous peak-memory estimate for the layers that materialise
    ``E x H x C`` messages (``'pyg'``) or ``N x N x H`` scores
    (``'dense'``); :obj:`None` for the others. Used to skip measurements
    that would exhaust the machine rather than measure them."""
    if graph.kind != 'random':
        return None
    edges = graph.num_edges + graph.num_nodes  # with self-loops
    if side == 'pyg':
        return edges * heads * out_channels * _MESSAGE_PASSING_BYTES / 2**20
    if side == 'dense':
        return graph.num_nodes**2 * heads * _DENSE_BYTES / 2**20
    return None


def memory_budget_mb(fraction: float = 0.6) -> float:
    """``fraction`` of this machine's physical memory, in MiB."""
    try:
        with open('/proc/meminfo', encoding='ascii') as f:
            total_kb = int(f.readline().split()[1])
        return fraction * total_kb / 1024
    except (OSError, ValueError, IndexError):
        return float('inf')


def compare_layers(ours: type, graph: GraphSpec, *,
                   pyg: Optional[type] = None, dense: Optional[type] = None,
                   isolate: bool = True, out_channels: int = 32,
                   heads: int = 8, ops: Sequence[str] = OPS,
                   warmup: int = 3, repeat: int = 10, device: str = 'cpu',
                   threads: Optional[int] = None,
                   budget_mb: Optional[float] = None) -> List[Dict[str, Any]]:
    """Measures ``ours``, PyG's layer of the same name (or ``pyg``) and,
    optionally, a ``dense`` baseline (e.g.
    :class:`~gat_zoo.bench.dense.DenseMaskedGAT`).

    Returns one dict per op with ``layer``, ``pyg_layer``, ``graph``,
    ``op``, ``ours_s``, ``pyg_s``, ``ratio`` (ours / PyG),
    ``ours_peak_mem_mb``, ``pyg_peak_mem_mb``, ``mem_ratio``, ``mem_kind``,
    ``status`` (``'ok'``/``'error'``) and ``error``; with ``dense`` also
    ``dense_layer``, ``dense_s``, ``dense_peak_mem_mb``. A baseline whose
    :func:`estimated_peak_mb` exceeds ``budget_mb`` is not run; ``skipped``
    says which and why.
    """
    pyg = pyg if pyg is not None else pyg_equivalent(ours)
    kwargs: Dict[str, Any] = dict(
        out_channels=out_channels, heads=heads, ops=tuple(ops),
        warmup=warmup, repeat=repeat, device=str(device), threads=threads)
    measure = measure_isolated if isolate else measure_layer
    results: Dict[str, Any] = {}
    errors = []
    skipped = []
    for side, cls in (('ours', ours), ('pyg', pyg), ('dense', dense)):
        if cls is None:
            continue
        estimate = estimated_peak_mb(side, graph, heads, out_channels)
        if budget_mb is not None and estimate is not None \
                and estimate > budget_mb:
            skipped.append(f'{side} ({cls.__name__}): estimated peak '
                           f'{estimate / 1024:.1f} GiB > budget '
                           f'{budget_mb / 1024:.1f} GiB')
            continue
        try:
            results[side] = measure(cls, graph, **kwargs)
        except Exception as err:  # report, keep the other side's numbers
            errors.append(f'{side} ({cls.__name__}): '
                          f'{type(err).__name__}: {err}')
    rows = []
    for op in ops:
        a = results.get('ours', {}).get(op, {})
        b = results.get('pyg', {}).get(op, {})
        c = results.get('dense', {}).get(op, {})
        extra = {} if dense is None else {
            'dense_layer': f'{dense.__module__}.{dense.__qualname__}',
            'dense_s': c.get('time_s'),
            'dense_peak_mem_mb': c.get('peak_mem_mb'),
        }
        rows.append({
            'layer': f'{ours.__module__}.{ours.__qualname__}',
            'pyg_layer': (f'{pyg.__module__}.{pyg.__qualname__}'
                          if pyg is not None else ''),
            'graph': graph.label,
            'op': op,
            'ours_s': a.get('time_s'),
            'pyg_s': b.get('time_s'),
            'ratio': _ratio(a.get('time_s'), b.get('time_s')),
            'ours_peak_mem_mb': a.get('peak_mem_mb'),
            'pyg_peak_mem_mb': b.get('peak_mem_mb'),
            'mem_ratio': _ratio(a.get('peak_mem_mb'), b.get('peak_mem_mb')),
            'mem_kind': a.get('mem_kind') or b.get('mem_kind'),
            'status': 'error' if errors else 'ok',
            'error': '; '.join(errors) if errors else
            ('' if pyg is not None else
             f'no torch_geometric.nn.{ours.__name__} to compare with'),
            'skipped': '; '.join(skipped),
            **extra,
        })
    return rows


#: ogbn-arxiv's size: the graph of the fused kernels' acceptance figures.
ARXIV_SIZE = (169_343, 1_166_243)


def scaling_graphs(edge_counts: Sequence[int], in_channels: int = 128,
                   seed: int = 0) -> List[GraphSpec]:
    """Random graphs with ``edge_counts`` edges at ogbn-arxiv's average
    degree (an edge count equal to ogbn-arxiv's gives its node count too).
    """
    nodes_per_edge = ARXIV_SIZE[0] / ARXIV_SIZE[1]
    return [GraphSpec.random(max(2, round(e * nodes_per_edge)), int(e),
                             in_channels, seed) for e in edge_counts]


def graph_spec_dict(graph: GraphSpec) -> Dict[str, Any]:
    """``graph`` as a plain dict (for a results row's config)."""
    return asdict(graph)
