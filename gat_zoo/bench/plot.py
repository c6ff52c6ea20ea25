"""``--plot DIR``: learning curves and an accuracy-vs-time chart (PNG,
matplotlib's non-interactive Agg backend)."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from gat_zoo.bench.results import sanitize_filename

__all__ = ['plot_accuracy_vs_time', 'plot_learning_curve', 'plot_scaling',
           'write_plots']


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    return plt


@contextlib.contextmanager
def _figure(path, figsize):
    """Yield ``(fig, ax)``; on exit lay out, save to ``path`` and always
    close the figure (pyplot keeps every open figure alive)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    try:
        yield fig, ax
        fig.tight_layout()
        fig.savefig(Path(path), dpi=100)
    finally:
        plt.close(fig)


def plot_learning_curve(path, history: Sequence[Dict[str, float]], *,
                        title: str = '') -> Path:
    """Validation score (%) and training loss against the epoch."""
    epochs = [h['epoch'] for h in history]
    with _figure(path, (6.4, 4.0)) as (fig, ax):
        ax.plot(epochs, [100 * h['val_score'] for h in history],
                color='tab:blue', label='validation score (%)')
        ax.set_xlabel('epoch')
        ax.set_ylabel('validation score (%)', color='tab:blue')
        loss_ax = ax.twinx()
        loss_ax.plot(epochs, [h['train_loss'] for h in history],
                     color='tab:red', label='training loss')
        loss_ax.set_ylabel('training loss', color='tab:red')
        ax.set_title(title)
    return Path(path)


def plot_accuracy_vs_time(path, summaries: List[Dict[str, Any]]) -> Path:
    """Test mean (%) against seconds per epoch, one point per (model,
    dataset), with the std as an error bar."""
    with _figure(path, (6.4, 4.4)) as (fig, ax):
        for s in summaries:
            t, acc = s.get('time_per_epoch_s'), s.get('test_mean')
            if t is None or acc is None or not math.isfinite(acc):
                continue
            std = s.get('test_std')
            ax.errorbar([t], [acc], yerr=[std] if std and math.isfinite(std)
                        else None, fmt='o', capsize=3)
            ax.annotate(f"{s['model']} / {s['dataset']}", (t, acc),
                        textcoords='offset points', xytext=(4, 4),
                        fontsize=8)
        ax.set_xscale('log')
        ax.set_xlabel('seconds per epoch (log)')
        ax.set_ylabel('test score (%)')
        ax.set_title('accuracy vs. time')
        ax.grid(True, alpha=0.3)
    return Path(path)


def write_plots(directory, curves: Dict[Tuple[str, str], Tuple[int, list]],
                summaries: List[Dict[str, Any]]) -> List[Path]:
    """Writes ``curve_<model>_<dataset>.png`` for every entry of ``curves``
    (``(model, dataset) -> (seed, history)``) and ``accuracy_vs_time.png``;
    returns the written paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for (model, dataset), (seed, history) in curves.items():
        if not history:
            continue
        name = sanitize_filename(f'curve_{model}_{dataset}') + '.png'
        written.append(plot_learning_curve(
            directory / name, history,
            title=f'{model} on {dataset} (seed {seed})'))
    if any(s.get('runs') for s in summaries):
        written.append(plot_accuracy_vs_time(
            directory / 'accuracy_vs_time.png', summaries))
    return written


def _short_layer(path: str) -> str:
    module, _, name = (path or '').rpartition('.')
    if module.startswith('torch_geometric'):
        return f'PyG {name}'
    if module.startswith('gat_zoo.nn'):
        return f'gat_zoo {name}'
    return f'dense {name}'



def plot_scaling(directory, rows: List[Dict[str, Any]]) -> List[Path]:
    """Log-log charts of time and peak memory against the number of edges,
    one per op (``scaling_<op>.png``), from ``--speed --speed-sizes`` rows:
    a line per implementation (gat_zoo, PyG, dense) and layer."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for op in sorted({r['op'] for r in rows if r.get('op')}):
        series: Dict[Tuple[str, str], List[Tuple[float, float, float]]] = {}
        for r in rows:
            if r.get('op') != op or not r.get('num_edges'):
                continue
            for side in ('ours', 'pyg', 'dense'):
                layer = r.get('layer' if side == 'ours' else
                              f'{side}_layer')
                t, m = r.get(f'{side}_s'), r.get(f'{side}_peak_mem_mb')
                if layer and t is not None and math.isfinite(t):
                    series.setdefault((side, _short_layer(layer)), []).append(
                        (r['num_edges'], t, m if m is not None else math.nan))
        path = directory / f'scaling_{sanitize_filename(op)}.png'
        plt = _pyplot()
        fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
        try:
            styles = {'ours': '-', 'pyg': '--', 'dense': ':'}
            for (side, label), raw in sorted(series.items()):
                # A baseline measured once per model (the dense layer) has
                # several points per size: plot their mean.
                by_edges: Dict[float, List[Tuple[float, float]]] = {}
                for e, t, m in raw:
                    by_edges.setdefault(e, []).append((t, m))
                points = [(e, sum(t for t, _ in v) / len(v),
                           sum(m for _, m in v) / len(v))
                          for e, v in sorted(by_edges.items())]
                edges = [p[0] for p in points]
                time_ax.plot(edges, [p[1] for p in points], styles[side],
                             marker='o', label=label)
                mem_ax.plot(edges, [p[2] for p in points], styles[side],
                            marker='o', label=label)
            for ax, ylabel in ((time_ax, 'seconds per call (median)'),
                               (mem_ax, 'peak memory (MB)')):
                ax.set_xscale('log')
                ax.set_yscale('log')
                ax.set_xlabel('edges')
                ax.set_ylabel(ylabel)
                ax.grid(True, which='both', alpha=0.3)
            time_ax.legend(fontsize=8)
            fig.suptitle(f'{op}: time and memory against graph size')
            fig.tight_layout()
            fig.savefig(path, dpi=100)
        finally:
            plt.close(fig)
        written.append(path)
    return written
