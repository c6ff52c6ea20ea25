"""Aggregation of results rows into the summary table printed on stdout."""
from __future__ import annotations

import math
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeGuard,
)

import torch

from gat_zoo.bench.memory import MEM_KINDS

__all__ = ['format_mean_std', 'format_speed_table', 'format_table', 'mean_std',
           'summarize']


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and unbiased standard deviation (:func:`torch.std`, ``nan``
    for fewer than two values)."""
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if t.numel() == 0:
        return float('nan'), float('nan')
    std = t.std().item() if t.numel() > 1 else float('nan')
    return t.mean().item(), std


def format_mean_std(values: Sequence[float]) -> str:
    """``'mean ± std'`` to two decimals (one value: the value; none:
    ``'—'``), as the search and replay tables print them."""
    if not values:
        return '—'
    if len(values) == 1:
        return f'{float(values[0]):.2f}'
    mean, std = mean_std(values)
    return f'{mean:.2f} ± {std:.2f}'


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value)


def summarize(rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One summary per (model, dataset), in order of first appearance.

    Each has ``model``, ``dataset``, ``runs`` (ok rows), ``errors`` (error
    rows), ``error`` (the first error message), ``val_mean``/``val_std``,
    ``test_mean``/``test_std`` (in %), ``paper_mean``/``paper_std``/
    ``paper_source``, ``delta`` (test mean − paper mean), ``num_params``,
    ``time_per_epoch_s`` (mean), ``peak_mem_mb`` (max), ``mem_kind`` and
    ``from_paper``.
    """
    groups: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for row in rows:
        if row.get('kind') not in (None, 'train'):
            continue
        groups.setdefault((row['model'], row['dataset']), []).append(row)
    out = []
    for (model, dataset), group in groups.items():
        ok = [r for r in group if r.get('status') == 'ok']
        bad = [r for r in group if r.get('status') != 'ok']
        first = (ok or group)[0]
        vals = [r['val'] for r in ok if _finite(r.get('val'))]
        tests = [r['test'] for r in ok if _finite(r.get('test'))]
        val_mean, val_std = mean_std(vals)
        test_mean, test_std = mean_std(tests)
        paper_mean = first.get('paper_mean')
        times = [r['time_per_epoch_s'] for r in ok
                 if _finite(r.get('time_per_epoch_s'))]
        mems = [r['peak_mem_mb'] for r in ok if _finite(r.get('peak_mem_mb'))]
        out.append({
            'model': model,
            'dataset': dataset,
            'family': first.get('family'),
            'runs': len(ok),
            'errors': len(bad),
            'error': bad[0].get('error') if bad else None,
            'val_mean': val_mean, 'val_std': val_std,
            'test_mean': test_mean, 'test_std': test_std,
            'paper_mean': paper_mean,
            'paper_std': first.get('paper_std'),
            'paper_source': first.get('paper_source'),
            'delta': (test_mean - paper_mean
                      if _finite(paper_mean) and tests else None),
            'num_params': first.get('num_params') if ok else None,
            'time_per_epoch_s': sum(times) / len(times) if times else None,
            'peak_mem_mb': max(mems) if mems else None,
            'mem_kind': first.get('mem_kind') if ok else None,
            'from_paper': first.get('from_paper'),
        })
    return out


def _pm(mean: Optional[float], std: Optional[float], digits: int = 2) -> str:
    if not _finite(mean):
        return '—'
    if not _finite(std):
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {std:.{digits}f}'


def _table(rows: List[List[Any]], headers: List[str]) -> str:
    try:
        from tabulate import tabulate
    except ImportError:
        widths = [max(len(str(x)) for x in col)
                  for col in zip(headers, *rows)]
        lines = [' | '.join(str(h).ljust(w) for h, w in zip(headers, widths))]
        lines.append('-+-'.join('-' * w for w in widths))
        lines += [' | '.join(str(x).ljust(w) for x, w in zip(r, widths))
                  for r in rows]
        return '\n'.join(lines)
    return tabulate(rows, headers=headers, tablefmt='github',
                    disable_numparse=True)


def format_table(summaries: List[Dict[str, Any]]) -> str:
    """The summary table plus footnotes (memory kind, configs, errors)."""
    kinds = sorted({s['mem_kind'] for s in summaries if s['mem_kind']})
    mem_head = 'peak MB' + (f' ({",".join(kinds)})' if kinds else '')
    headers = ['model', 'dataset', 'val %', 'test %', 'paper %',
               'paper source', 'Δ test−paper', '#params', 's/epoch',
               mem_head, 'runs']
    table = []
    for s in summaries:
        runs = str(s['runs']) + (f" (+{s['errors']} failed)"
                                 if s['errors'] else '')
        model = s['model'] + ('' if s['from_paper'] in (None, True) else '*')
        table.append([
            model, s['dataset'],
            _pm(s['val_mean'], s['val_std']) if s['runs'] else 'error',
            _pm(s['test_mean'], s['test_std']) if s['runs'] else 'error',
            _pm(s['paper_mean'], s['paper_std'], 1),
            s['paper_source'] or '—',
            f"{s['delta']:+.2f}" if _finite(s['delta']) else '—',
            f"{s['num_params']:,}" if s['num_params'] is not None else '—',
            f"{s['time_per_epoch_s']:.4f}" if _finite(
                s['time_per_epoch_s']) else '—',
            f"{s['peak_mem_mb']:.0f}" if _finite(s['peak_mem_mb']) else '—',
            runs,
        ])
    notes = ['val/test: mean ± unbiased std over runs (test at the '
             'best-validation epoch).']
    if any(s['from_paper'] is False for s in summaries):
        notes.append("*: the paper gives no setting for this dataset; its "
                     "default hyperparameters are used.")
    for kind in kinds:
        notes.append(f'peak MB ({kind}): {MEM_KINDS.get(kind, kind)}.')
    for s in summaries:
        if s['errors']:
            notes.append(f"{s['model']} on {s['dataset']}: {s['errors']} "
                         f"run(s) failed: {_short(s['error'])}")
    return _table(table, headers) + '\n' + '\n'.join(notes)


def _short(text: Optional[str], limit: int = 300) -> str:
    text = ' '.join((text or '').split())
    return text if len(text) <= limit else text[:limit - 1] + '…'


def format_speed_table(rows: List[Dict[str, Any]],
                       isolated: bool = True) -> str:
    """The ``--speed`` table: times in ms, ours / PyG ratios."""
    def ms(v):
        return f'{1e3 * v:.3f}' if _finite(v) else '—'

    def ratio(v):
        return f'{v:.2f}x' if _finite(v) else '—'

    def mb(v):
        return f'{v:.1f}' if _finite(v) else '—'

    headers = ['model', 'layer', 'graph', 'op', 'ours ms', 'PyG ms',
               'ratio ours/PyG', 'ours peak MB', 'PyG peak MB',
               'mem ratio', 'status']
    with_dense = any(r.get('dense_layer') for r in rows)
    if with_dense:
        headers[7:7] = ['dense ms']
        headers.insert(-1, 'dense peak MB')
    table = []
    for r in rows:
        status = (r['status'] if r['status'] == 'ok' else
                  f"{r['status']}: {_short(r.get('error'), 80)}")
        if r.get('skipped'):
            status += f" (not run: {_short(r['skipped'], 120)})"
        line = [r['model'], r.get('layer') or '—', r.get('graph') or '—',
                r.get('op') or '—', ms(r.get('ours_s')), ms(r.get('pyg_s')),
                ratio(r.get('ratio')), mb(r.get('ours_peak_mem_mb')),
                mb(r.get('pyg_peak_mem_mb')), ratio(r.get('mem_ratio')),
                status]
        if with_dense:
            line[7:7] = [ms(r.get('dense_s'))]
            line.insert(-1, mb(r.get('dense_peak_mem_mb')))
        table.append(line)
    kinds = sorted({r['mem_kind'] for r in rows if r.get('mem_kind')})
    notes = ['time: median over repeats after warmup; ratio < 1: ours is '
             'faster / smaller.']
    for kind in kinds:
        notes.append(f'peak MB ({kind}): {MEM_KINDS.get(kind, kind)}; '
                     f'growth over the memory in use before the first call'
                     + ('; each implementation in its own child process.'
                        if isolated else '; all in one process, so later '
                        'measurements reuse memory the earlier ones freed '
                        '(unreliable).'))
    return _table(table, headers) + '\n' + '\n'.join(notes)
