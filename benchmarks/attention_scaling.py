"""Scaling of the attention layers: gat_zoo's fused GATConv/GATv2Conv beside
PyG's layers and the survey's dense O(N^2) GAT, on random graphs from 10^4
to 10^7 edges at ogbn-arxiv's average degree (one point at ogbn-arxiv's
exact size). Each implementation runs in its own child process, so peak
memory is its own; baselines whose estimated peak exceeds 60% of RAM are
not run and the table says so.

This is ``python -m gat_zoo.bench --speed --speed-sizes ...`` with the
committed settings; extra arguments are passed through (e.g. ``--device
cuda``, ``--speed-repeat 10``)::

    python benchmarks/attention_scaling.py
    python benchmarks/attention_scaling.py --device cuda \\
        --results-file benchmarks/results/attention_scaling_gpu.csv
"""
import sys

from gat_zoo.bench import main

DEFAULTS = [
    '--speed', '--model', 'gat,gatv2',
    '--speed-sizes', '10000,30000,100000,300000,1166243,3000000,10000000',
    '--speed-repeat', '3', '--speed-warmup', '1',
    '--results-file', 'benchmarks/results/attention_scaling.csv',
    '--plot', 'benchmarks/results/attention_scaling',
]

if __name__ == '__main__':
    sys.exit(main(DEFAULTS + sys.argv[1:]))
