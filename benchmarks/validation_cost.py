"""What the input checks cost: GATConv at ogbn-arxiv size with validation on
and off, side by side in one process.

Every layer checks its input before it runs (edge index dtype, shape,
range and device, feature shape and dtype, no NaN or infinity: see
``gat_zoo.nn.validation``). This script measures what that adds to
``GATConv(128, 32, heads=8)`` on a random graph of ogbn-arxiv's size
(169,343 nodes, 1,166,243 edges, 128 features, float32), two ways:

* ``end_to_end``: the layer's call with ``set_validation(True)`` and
  ``set_validation(False)``, alternated call by call (so drifts in the
  machine's speed hit both alike); the cost is the ratio of the medians
  minus one. On a shared machine this carries the timing noise of two
  whole forward passes.
* ``checks_only``: the checks themselves (``check_node_features`` on the
  features plus ``check_adjacency`` on the edge index, which is what the
  layer runs), timed alone, over the median of the layer's call without
  validation. The same quantity without the noise.

Both for inference (``forward``, under ``torch.no_grad``) and for a
training step (``forward_backward``). Writes
``benchmarks/results/validation_cost.csv`` (one row per operation) and
prints a table.

    python benchmarks/validation_cost.py [--nodes N --edges E --repeat R]
        [--threads T] [--results-file PATH]
"""
import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

import gat_zoo
from gat_zoo.bench.results import ResultsFile, utc_now
from gat_zoo.nn import GATConv
from gat_zoo.nn.validation import (
    check_adjacency,
    check_node_features,
    set_validation,
    validation_enabled,
)

RESULTS = Path(__file__).parent / 'results' / 'validation_cost.csv'
FIELDS = ('op', 'num_nodes', 'num_edges', 'in_channels', 'heads',
          'out_channels', 'repeat', 'with_checks_s', 'without_checks_s',
          'end_to_end_cost_pct', 'checks_s', 'checks_only_cost_pct',
          'threads', 'torch_version', 'gat_zoo_version', 'platform',
          'timestamp_utc')


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(num_nodes, num_edges, in_channels=128, heads=8, out_channels=32,
            repeat=15, seed=0):
    """One row per operation (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, in_channels, generator=gen)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    torch.manual_seed(seed)
    layer = GATConv(in_channels, out_channels, heads=heads).eval()
    x_grad = x.clone().requires_grad_()

    def forward():
        with torch.no_grad():
            layer(x, edge_index)

    def forward_backward():
        layer.zero_grad(set_to_none=True)
        x_grad.grad = None
        layer(x_grad, edge_index).sum().backward()

    def checks():
        check_node_features(x, 'x', in_channels)
        check_adjacency(edge_index, num_nodes, num_nodes, device=x.device)

    was_enabled = validation_enabled()
    rows = []
    try:
        for op, fn in (('forward', forward),
                       ('forward_backward', forward_backward)):
            for enabled in (True, False):  # warm-up, both ways
                set_validation(enabled)
                fn()
            on, off = [], []
            for _ in range(repeat):
                set_validation(True)
                on.append(_timed(fn))
                set_validation(False)
                off.append(_timed(fn))
            set_validation(True)
            checks()
            check_times = [_timed(checks) for _ in range(repeat)]
            t_on, t_off = statistics.median(on), statistics.median(off)
            t_checks = statistics.median(check_times)
            rows.append({
                'op': op, 'num_nodes': num_nodes, 'num_edges': num_edges,
                'in_channels': in_channels, 'heads': heads,
                'out_channels': out_channels, 'repeat': repeat,
                'with_checks_s': t_on, 'without_checks_s': t_off,
                'end_to_end_cost_pct': 100.0 * (t_on / t_off - 1.0),
                'checks_s': t_checks,
                'checks_only_cost_pct': 100.0 * t_checks / t_off,
                'threads': torch.get_num_threads(),
                'torch_version': torch.__version__,
                'gat_zoo_version': gat_zoo.__version__,
                'platform': platform.platform(),
                'timestamp_utc': utc_now(),
            })
    finally:
        set_validation(was_enabled)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--nodes', type=int, default=169_343)
    parser.add_argument('--edges', type=int, default=1_166_243)
    parser.add_argument('--repeat', type=int, default=15)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--results-file', type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(args.nodes, args.edges, repeat=args.repeat)
    out = ResultsFile(args.results_file, fields=FIELDS)
    print(f"GATConv(128, 32, heads=8), {args.nodes:,} nodes, "
          f"{args.edges:,} edges, {torch.get_num_threads()} thread(s)")
    print(f"{'op':<18}{'with (s)':>10}{'without (s)':>13}{'end-to-end':>12}"
          f"{'checks (s)':>12}{'checks only':>13}")
    for row in rows:
        out.append(row)
        print(f"{row['op']:<18}{row['with_checks_s']:>10.4f}"
              f"{row['without_checks_s']:>13.4f}"
              f"{row['end_to_end_cost_pct']:>+11.2f}%"
              f"{row['checks_s']:>12.5f}"
              f"{row['checks_only_cost_pct']:>12.2f}%")
    return rows


if __name__ == '__main__':
    main()
