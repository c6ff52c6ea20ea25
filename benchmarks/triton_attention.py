"""GATConv's and GATv2Conv's Triton kernels on a GPU, beside the composed
fused path and PyG.

For each layer and graph (random, at the sizes of ogbn-arxiv and
ogbn-products by default; ``--sizes NODES:EDGES,...``) this script

1. checks the kernel on the device: GATConv and GATv2Conv (``--layers``),
   128 -> 8 x 32 (``--heads``, ``--channels``), with ``use_fused('triton')``
   against ``use_fused('on')`` (the composed path: ``gat_edge_softmax`` or
   ``gatv2_logits``, then ``head_spmm``), output and input gradient, as
   ``||a - b|| / ||b||`` in float32;
2. times forward and forward+backward of three variants, each in its own
   spawned process (``--no-isolate``: in this one): gat_zoo's layer with
   the Triton kernel (once per ``--tiles`` value, the values per kernel
   tile), the same layer on the composed path, and PyG's layer. PyG is
   skipped where its estimated peak (E x H x C messages) exceeds 80 % of
   the device's memory, as at ogbn-products' size;
3. appends one row per (layer, graph, op, tile) to ``--out`` and prints
   the table: median seconds, peak memory growth, and the ratios
   triton / composed and triton / PyG.

It is the device check of issue #4's Triton kernels. Without a GPU it
refuses to run unless ``--device cpu`` is given with
``TRITON_INTERPRET=1`` (the interpreter: a smoke test of the script on
tiny graphs, no timing value)::

    python benchmarks/triton_attention.py --out $OUT/triton_attention.csv
    TRITON_INTERPRET=1 python benchmarks/triton_attention.py --device cpu \\
        --sizes 20:60 --heads 2 --channels 4 --repeat 1 --warmup 0 \\
        --no-isolate --out /tmp/t.csv
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gat_zoo.bench.results import (  # noqa: E402
    ResultsFile,
    environment_info,
)
from gat_zoo.bench.speed import (  # noqa: E402
    OPS,
    GraphSpec,
    estimated_peak_mb,
    measure_isolated,
    measure_layer,
    pyg_equivalent,
)
from gat_zoo.nn import GATConv, GATv2Conv  # noqa: E402
from gat_zoo.ops import triton_attention_available, use_fused  # noqa: E402

#: ogbn-arxiv and ogbn-products (PyG's directed edge count) as
#: ``(nodes, edges)``.
DEFAULT_SIZES = ((169_343, 1_166_243), (2_449_029, 123_718_280))
IN_CHANNELS = 128

FIELDS = ['layer', 'graph', 'num_nodes', 'num_edges', 'op', 'tile',
          'triton_s', 'composed_s', 'pyg_s', 'triton_vs_composed',
          'triton_vs_pyg', 'triton_peak_mb', 'composed_peak_mb',
          'pyg_peak_mb', 'out_rel_err', 'grad_rel_err', 'skipped', 'error',
          'device', 'device_name', 'gat_zoo_version', 'torch_version',
          'pyg_version', 'triton_version', 'timestamp_utc']


def parse_sizes(text: str) -> List[tuple]:
    sizes = []
    for item in text.split(','):
        nodes, _, edges = item.partition(':')
        sizes.append((int(nodes), int(edges)))
    return sizes


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).double().norm() / b.double().norm().clamp_min(
        1e-30))


LAYERS = {'gat': GATConv, 'gatv2': GATv2Conv}


def check_kernel(layer_cls: type, graph: GraphSpec, device: torch.device,
                 heads: int, channels: int) -> Dict[str, float]:
    """Triton against the composed path on ``graph``: output and input
    gradient relative errors (float32, eval mode)."""
    torch.manual_seed(0)
    x, edge_index = graph.build(device)
    layer = layer_cls(x.size(-1), channels, heads=heads).to(device).eval()
    results = {}
    for mode in ('on', 'triton'):
        inp = x.detach().clone().requires_grad_()
        with use_fused(mode):
            out = layer(inp, edge_index)
        grad_out = torch.ones_like(out)
        out.backward(grad_out)
        results[mode] = (out.detach(), inp.grad)
    return {'out_rel_err': relative_error(results['triton'][0],
                                          results['on'][0]),
            'grad_rel_err': relative_error(results['triton'][1],
                                           results['on'][1])}


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def run_graph(layer_cls: type, graph: GraphSpec, device: torch.device,
              heads: int, channels: int, tiles: Sequence[int], repeat: int,
              warmup: int, isolate: bool) -> List[Dict[str, Any]]:
    """Checks, then times, ``layer_cls`` on ``graph``: one row per (op,
    tile)."""
    pyg_cls = pyg_equivalent(layer_cls)
    measure = measure_isolated if isolate else measure_layer
    common = dict(out_channels=channels, heads=heads, ops=OPS,
                  warmup=warmup, repeat=repeat, device=str(device))
    errors, skipped = [], []
    check: Dict[str, float] = {}
    try:
        check = check_kernel(layer_cls, graph, device, heads, channels)
    except Exception as err:  # report it, still time what runs
        errors.append(f'check: {type(err).__name__}: {err}')
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        budget = 0.8 * torch.cuda.get_device_properties(device).total_memory
        budget_mb = budget / 2**20
    else:
        budget_mb = float('inf')
    measured: Dict[str, Dict[str, Any]] = {}
    variants = [(f'triton@{tile}', layer_cls, 'triton', tile)
                for tile in tiles]
    variants += [('composed', layer_cls, 'on', None),
                 ('pyg', pyg_cls, None, None)]
    for name, cls, mode, tile in variants:
        estimate = estimated_peak_mb('pyg', graph, heads, channels) \
            if name == 'pyg' else None
        if estimate is not None and estimate > budget_mb:
            skipped.append(f'{name}: estimated peak {estimate / 1024:.0f} '
                           f'GiB > {budget_mb / 1024:.0f} GiB')
            continue
        if tile is not None:  # read by the kernel's launch, here or in
            os.environ['GAT_ZOO_TRITON_TILE'] = str(tile)  # a spawned child
        try:
            measured[name] = measure(cls, graph, fused=mode, **common)
        except Exception as err:
            errors.append(f'{name}: {type(err).__name__}: {err}')
        finally:
            os.environ.pop('GAT_ZOO_TRITON_TILE', None)
    import triton
    env = environment_info(device)
    rows = []
    for op, tile in itertools.product(OPS, tiles):
        t = {name: measured.get(name, {}).get(op, {}) for name in
             ('composed', 'pyg')}
        t['triton'] = measured.get(f'triton@{tile}', {}).get(op, {})
        rows.append({
            'layer': layer_cls.__name__,
            'graph': graph.label, 'num_nodes': graph.num_nodes,
            'num_edges': graph.num_edges, 'op': op, 'tile': tile,
            'triton_s': t['triton'].get('time_s'),
            'composed_s': t['composed'].get('time_s'),
            'pyg_s': t['pyg'].get('time_s'),
            'triton_vs_composed': _ratio(t['triton'].get('time_s'),
                                         t['composed'].get('time_s')),
            'triton_vs_pyg': _ratio(t['triton'].get('time_s'),
                                    t['pyg'].get('time_s')),
            'triton_peak_mb': t['triton'].get('peak_mem_mb'),
            'composed_peak_mb': t['composed'].get('peak_mem_mb'),
            'pyg_peak_mb': t['pyg'].get('peak_mem_mb'),
            'out_rel_err': check.get('out_rel_err'),
            'grad_rel_err': check.get('grad_rel_err'),
            'skipped': '; '.join(skipped), 'error': '; '.join(errors),
            'triton_version': triton.__version__,
            **{key: env[key] for key in (
                'device', 'device_name', 'gat_zoo_version', 'torch_version',
                'pyg_version', 'timestamp_utc')},
        })
    return rows


def _fmt(value: Any, spec: str) -> str:
    return '—' if value is None else format(value, spec)


def print_table(rows: Sequence[Dict[str, Any]]) -> None:
    print(f"{'layer':>9} {'graph':>28} {'op':>16} {'tile':>5} {'triton':>9} "
          f"{'composed':>9} "
          f"{'pyg':>9} {'t/comp':>7} {'t/pyg':>7} {'t MB':>8} "
          f"{'comp MB':>8} {'pyg MB':>8} {'rel err':>9}")
    for r in rows:
        print(f"{r['layer']:>9} {r['graph'][-28:]:>28} {r['op']:>16} "
              f"{r['tile']:>5} "
              f"{_fmt(r['triton_s'], '.4f'):>9} "
              f"{_fmt(r['composed_s'], '.4f'):>9} "
              f"{_fmt(r['pyg_s'], '.4f'):>9} "
              f"{_fmt(r['triton_vs_composed'], '.2f'):>7} "
              f"{_fmt(r['triton_vs_pyg'], '.2f'):>7} "
              f"{_fmt(r['triton_peak_mb'], '.0f'):>8} "
              f"{_fmt(r['composed_peak_mb'], '.0f'):>8} "
              f"{_fmt(r['pyg_peak_mb'], '.0f'):>8} "
              f"{_fmt(r['out_rel_err'], '.1e'):>9}")
        for key in ('skipped', 'error'):
            if r[key]:
                print(f'{"":>38} {key}: {r[key]}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--layers', default='gat,gatv2',
                        type=lambda text: text.split(','),
                        help=f'any of {sorted(LAYERS)}')
    parser.add_argument('--sizes', type=parse_sizes,
                        default=list(DEFAULT_SIZES),
                        help='NODES:EDGES,... (random graphs)')
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--channels', type=int, default=32,
                        help='output channels per head')
    parser.add_argument('--tiles', default='4096',
                        type=lambda text: [int(t) for t in text.split(',')],
                        help='values per kernel tile to time, e.g. '
                             '2048,4096,8192 (GAT_ZOO_TRITON_TILE)')
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--no-isolate', dest='isolate',
                        action='store_false')
    parser.add_argument('--out', default=str(
        ROOT / 'benchmarks' / 'results' / 'triton_attention_gpu.csv'))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if not triton_attention_available(device):
        print(f'The Triton kernel cannot run on {device}: it needs Triton '
              'and a CUDA device (or TRITON_INTERPRET=1 with --device cpu, '
              'a smoke test only).', file=sys.stderr)
        return 2
    out = ResultsFile(Path(args.out), fields=FIELDS)
    rows: List[Dict[str, Any]] = []
    unknown = set(args.layers) - set(LAYERS)
    if unknown:
        parser.error(f'unknown layers {sorted(unknown)}; expected some of '
                     f'{sorted(LAYERS)}')
    for name, (nodes, edges) in itertools.product(args.layers, args.sizes):
        graph = GraphSpec.random(nodes, edges, IN_CHANNELS)
        for row in run_graph(LAYERS[name], graph, device, args.heads,
                             args.channels, args.tiles, args.repeat,
                             args.warmup, args.isolate):
            out.append(row)
            rows.append(row)
    print_table(rows)
    return 1 if any(r['error'] for r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
