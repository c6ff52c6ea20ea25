"""The measurements behind the fused path's building blocks.

Times each candidate for the two sparse kernels of multi-head attention on
one graph (default: a random graph of ogbn-arxiv's size with self-loops,
8 heads x 32 channels, float32, one thread) and writes
``benchmarks/results/kernel_choices.csv``:

* aggregation ``out[i,h] = sum_e w[e,h] x[j,h]`` (SpMM):
  torch CSR product on the head-expanded matrix (what gat_zoo uses), one
  torch CSR product per head on head-major copies, torch_sparse's SpMM per
  head, and chunked gather/``index_add_`` (message passing, bounded memory);
* its weight gradient ``g[e,h] = <dout[i,h], x[j,h]>`` (SDDMM):
  ``torch.sparse.sampled_addmm`` on the expanded pattern (what gat_zoo
  uses), torch_sparse's value backward (includes its forward), and chunked
  gather-dot.

Each time is the minimum of ``--repeat`` calls after one warm-up call;
results are checked against each other before they are written.

    python benchmarks/kernel_choices.py [--nodes N --edges E --repeat R]
"""
import argparse
import csv
import platform
import time
import warnings
from pathlib import Path

import torch

from gat_zoo.ops import CSRGraph, head_spmm
from gat_zoo.ops.spmm import _sddmm

RESULTS = Path(__file__).parent / 'results' / 'kernel_choices.csv'


def _time(fn, repeat):
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def _csr(ptr, col, values, shape):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(ptr, col, values, shape,
                                       check_invariants=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--nodes', type=int, default=169_343)
    parser.add_argument('--edges', type=int, default=1_166_243)
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--channels', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    n, heads, channels = args.nodes, args.heads, args.channels
    loops = torch.arange(n)
    edge_index = torch.cat([torch.randint(n, (2, args.edges), generator=gen),
                            torch.stack([loops, loops])], 1)
    graph = CSRGraph.from_edge_index(edge_index, n, n)
    ptr, col, row = graph.ptr, graph.col, graph.row
    num_edges = graph.num_edges
    x = torch.randn(n, heads, channels, generator=gen)
    grad = torch.randn(n, heads, channels, generator=gen)
    weight = torch.rand(num_edges, heads, generator=gen)
    graph.expanded(heads)  # the structure is cached in use; not timed
    chunk = max(1, (1 << 23) // (heads * channels))

    def spmm_expanded():
        return head_spmm(graph, weight, x)

    def spmm_per_head():
        w_hm, x_hm = weight.t().contiguous(), x.transpose(0, 1).contiguous()
        out = torch.empty(heads, n, channels)
        for h in range(heads):
            torch.mm(_csr(ptr, col, w_hm[h], (n, n)), x_hm[h], out=out[h])
        return out.transpose(0, 1).contiguous()

    def spmm_gather_scatter():
        out = torch.zeros(n, heads, channels)
        for s in range(0, num_edges, chunk):
            e = slice(s, s + chunk)
            out.index_add_(0, row[e], weight[e].unsqueeze(-1) *
                           x.index_select(0, col[e]))
        return out

    candidates = [
        ('spmm', 'torch CSR, head-expanded matrix (gat_zoo)', spmm_expanded),
        ('spmm', 'torch CSR, one product per head (head-major copies)',
         spmm_per_head),
        ('spmm', 'chunked gather + index_add_ (message passing)',
         spmm_gather_scatter),
    ]
    try:
        import torch_sparse  # noqa: F401

        def spmm_torch_sparse():
            w_hm, x_hm = weight.t().contiguous(), x.transpose(0, 1).contiguous()
            return torch.stack([
                torch.ops.torch_sparse.spmm_sum(None, ptr, col, w_hm[h], None,
                                                None, x_hm[h])
                for h in range(heads)], 1)

        def sddmm_torch_sparse():
            w_hm, x_hm = weight.t().contiguous(), x.transpose(0, 1).contiguous()
            g_hm = grad.transpose(0, 1).contiguous()
            out = []
            for h in range(heads):
                value = w_hm[h].clone().requires_grad_()
                product = torch.ops.torch_sparse.spmm_sum(
                    row, ptr, col, value, None, None, x_hm[h])
                out.append(torch.autograd.grad(product, value, g_hm[h])[0])
            return torch.stack(out, 1)

        candidates.append(('spmm', 'torch_sparse spmm_sum, per head',
                           spmm_torch_sparse))
    except ImportError:
        sddmm_torch_sparse = None

    def sddmm_sampled():
        return _sddmm(graph.expanded(heads), grad, x, num_edges, heads)

    def sddmm_gather_dot():
        out = torch.empty(num_edges, heads)
        for s in range(0, num_edges, chunk):
            e = slice(s, s + chunk)
            out[e] = (grad.index_select(0, row[e]) *
                      x.index_select(0, col[e])).sum(-1)
        return out

    candidates += [
        ('sddmm', 'torch.sparse.sampled_addmm, head-expanded (gat_zoo)',
         sddmm_sampled),
        ('sddmm', 'chunked gather + dot', sddmm_gather_dot),
    ]
    if sddmm_torch_sparse is not None:
        candidates.append(('sddmm', 'torch_sparse value backward (with its '
                           'forward)', sddmm_torch_sparse))

    rows, reference = [], {}
    for kernel, name, fn in candidates:
        seconds, result = _time(fn, args.repeat)
        expected = reference.setdefault(kernel, result)
        error = float((result - expected).abs().max())
        assert error < 1e-3, f'{name} disagrees by {error}'
        rows.append({'kernel': kernel, 'candidate': name,
                     'seconds': round(seconds, 4),
                     'max_abs_diff_to_first': error})
        print(f'{kernel:6s} {seconds:8.3f} s  {name}', flush=True)
    best = {k: min(r['seconds'] for r in rows if r['kernel'] == k)
            for k in reference}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=[
            'kernel', 'candidate', 'seconds', 'relative_to_best',
            'max_abs_diff_to_first', 'nodes', 'edges_with_loops', 'heads',
            'channels', 'threads', 'torch', 'cpu'])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, 'relative_to_best': round(
                r['seconds'] / best[r['kernel']], 2), 'nodes': n,
                'edges_with_loops': num_edges, 'heads': heads,
                'channels': channels, 'threads': args.threads,
                'torch': torch.__version__,
                'cpu': platform.processor() or platform.machine()})
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
