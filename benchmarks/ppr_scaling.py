"""Time and memory of PPRGAT's approximate personalized PageRank
(:func:`gat_zoo.ops.approximate_ppr`, the official defaults alpha=0.25,
eps=1e-4, top-k=32, symmetric normalisation) on random graphs of PubMed's
size (19,717 nodes, 88,648 directed edges) and ogbn-arxiv's size (169,343
nodes; 1,166,243 edges, symmetrised as PyG models use it).

Random (Erdos-Renyi) graphs spread PPR mass quickly, so they are a
pessimistic case for the push: every source reaches thousands of nodes
before its residuals fall below the threshold.

Each (graph, thread count) runs in its own child process, so the peak
resident set (``VmHWM``, reset after the graph is built) is the PPR
computation's alone plus the interpreter and the graph. Also timed: the
lookup of the PPR score of every attention edge (graph edges + self-loops),
which a PPRGAT layer does once per graph.

    python benchmarks/ppr_scaling.py            # writes the CSV below
    python benchmarks/ppr_scaling.py --quick    # PubMed size only
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results',
                       'ppr_scaling.csv')

#: name -> (nodes, random node pairs before symmetrisation)
GRAPHS = {
    'pubmed_size': (19717, 88648 // 2),
    'arxiv_size': (169343, 1166243),
}
REPEATS = {'pubmed_size': 3, 'arxiv_size': 1}


def _graph(num_nodes, num_pairs, seed=0):
    import torch
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(num_nodes, (num_pairs, ), generator=gen)
    # No self-loops: an offset in [1, N) keeps the pair distinct.
    dst = (src + torch.randint(1, num_nodes, (num_pairs, ), generator=gen)
           ) % num_nodes
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    keys = torch.unique(edge_index[0] * num_nodes + edge_index[1])
    return torch.stack([keys // num_nodes, keys % num_nodes])


def child(name, threads):
    import torch

    from gat_zoo.bench.memory import (
        current_memory_mb,
        peak_memory_mb,
        reset_peak_memory,
    )
    from gat_zoo.bench.results import environment_info
    from gat_zoo.ops import approximate_ppr, ppr_edge_values

    torch.set_num_threads(threads)
    num_nodes, num_pairs = GRAPHS[name]
    edge_index = _graph(num_nodes, num_pairs)
    base_mb = current_memory_mb('cpu')
    kind = reset_peak_memory('cpu')
    times = []
    for _ in range(REPEATS[name]):
        start = time.perf_counter()
        ppr = approximate_ppr(edge_index, num_nodes, cache=False)
        times.append(time.perf_counter() - start)
    peak_mb, kind = peak_memory_mb('cpu', kind)
    loops = torch.arange(num_nodes).repeat(2, 1)
    attention_edges = torch.cat([edge_index, loops], dim=1)
    start = time.perf_counter()
    values = ppr_edge_values(ppr, attention_edges)
    lookup_s = time.perf_counter() - start
    row = dict(
        graph=name, num_nodes=num_nodes, random_pairs=num_pairs,
        num_edges=edge_index.size(1), alpha=ppr.alpha, eps=ppr.eps,
        topk=ppr.topk, normalization=ppr.normalization,
        repeats=len(times), ppr_s=sorted(times)[len(times) // 2],
        ppr_s_all=' '.join(f'{t:.2f}' for t in times),
        us_per_source=sorted(times)[len(times) // 2] / num_nodes * 1e6,
        nnz=ppr.nnz, edges_with_ppr=int((values > 0).sum()),
        attention_edges=attention_edges.size(1), lookup_s=lookup_s,
        base_rss_mb=round(base_mb, 1), peak_rss_mb=round(peak_mb, 1),
        peak_growth_mb=round(peak_mb - base_mb, 1), mem_kind=kind)
    row.update(environment_info('cpu'))
    print('ROW ' + json.dumps(row), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='PubMed size only')
    parser.add_argument('--threads', default='1',
                        help='comma-separated torch thread counts (default: '
                        '1, as the other benchmarks here)')
    parser.add_argument('--out', default=RESULTS)
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]))

    names = ['pubmed_size'] if args.quick else list(GRAPHS)
    rows = []
    for name in names:
        for threads in [int(t) for t in args.threads.split(',')]:
            proc = subprocess.run(
                [sys.executable, os.path.abspath(__file__), '--child', name,
                 str(threads)], capture_output=True, text=True)
            lines = [line for line in proc.stdout.splitlines()
                     if line.startswith('ROW ')]
            if proc.returncode != 0 or not lines:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f'{name} with {threads} threads failed')
            row = json.loads(lines[-1][4:])
            rows.append(row)
            print(f"{name:12s} threads={threads} ppr={row['ppr_s']:.1f}s "
                  f"({row['us_per_source']:.0f} us/source) "
                  f"peak={row['peak_rss_mb']:.0f} MB "
                  f"(+{row['peak_growth_mb']:.0f}) nnz={row['nnz']} "
                  f"lookup={row['lookup_s']:.2f}s", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
