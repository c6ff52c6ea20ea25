"""Link-sign prediction on Bitcoin-Alpha / Bitcoin-OTC: SiGAT against SGCN
(PyG's SignedGCN) under SiGAT's protocol (:mod:`gat_zoo.bench.signed`).

Unsupervised embeddings from the training edges, then a logistic regression
on ``[z_u || z_v]`` of the training edges predicts the test edges' signs:
AUC, accuracy, F1, macro-F1, micro-F1. Bitcoin-Alpha uses the paper's own
split (SiGAT repository, fold 1) for every seed (the seed sets the
initialisation and the training order); Bitcoin-OTC draws a random 80/20
edge split from the seed. One CSV row is appended (write + flush + fsync) per
run; ``--resume`` skips finished runs; a mean ± std table is written beside
the CSV as ``.txt`` after every row.

Example::

    GAT_ZOO_DATA=/work/shared/data python benchmarks/signed_link_sign.py \\
        --seeds 0-9 --datasets BitcoinAlpha,BitcoinOTC --resume
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gat_zoo.bench.results import (  # noqa: E402
    ResultsFile,
    finished_runs,
    parse_seeds,
    read_csv_rows,
    utc_now,
)
from gat_zoo.bench.signed import (  # noqa: E402
    load_signed_split,
    logistic_sign_prediction,
    train_sgcn,
    train_sigat,
)

METRICS = ('auc', 'accuracy', 'f1', 'macro_f1', 'micro_f1')
FIELDS = ('model', 'dataset', 'split', 'seed', 'status', 'error') + tuple(
    f'test_{m}' for m in METRICS) + ('train_time_s', 'config', 'num_threads',
                                     'torch_version', 'timestamp_utc')

#: SiGAT: the official code's defaults (sigat.py argparse); SGCN: PyG's
#: examples/signed_gcn.py.
CONFIGS = {
    'sigat': dict(epochs=100, lr=5e-4, weight_decay=1e-4, batch_size=500,
                  dim=20, feature_dim=20, official_step_sizes=True),
    'sgcn': dict(epochs=200, lr=0.01, weight_decay=5e-4, channels=64,
                 num_layers=2, lamb=5.0),
}
TRAINERS = {'sigat': train_sigat, 'sgcn': train_sgcn}


def append_row(path: Path, row: dict) -> None:
    """Appends one row durably (one locked write + fsync; a killed run
    leaves a valid file)."""
    ResultsFile(path, fields=FIELDS).append({k: row.get(k) for k in FIELDS})


def summary(rows) -> str:
    groups = {}
    for r in rows:
        if r['status'] == 'ok':
            groups.setdefault((r['dataset'], r['model']), []).append(r)

    def fmt(values):
        values = [float(v) for v in values]
        if len(values) == 1:
            return f'{values[0]:.4f}'
        return f'{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}'

    lines = ['Link-sign prediction (SiGAT protocol: unsupervised embeddings, '
             'logistic regression on [z_u || z_v]); mean ± std over seeds', '',
             f"{'dataset':<14}{'model':<7}{'runs':>5}  " + ''.join(
                 f'{m:<18}' for m in METRICS) + f"{'s/run':>7}"]
    for (dataset, model), rs in sorted(groups.items()):
        t = statistics.mean(float(r['train_time_s']) for r in rs)
        lines.append(f'{dataset:<14}{model:<7}{len(rs):>5}  ' + ''.join(
            f"{fmt(r[f'test_{m}'] for r in rs):<18}" for m in METRICS)
            + f'{t:>7.1f}')
    lines += ['', 'Paper (SiGAT, Huang et al. 2019, via Papers-with-Code): '
              'Bitcoin-Alpha AUC 0.8942, accuracy 0.9480, macro-F1 0.7138 '
              '(no std).']
    return '\n'.join(lines) + '\n'


def run_one(name, dataset, seed, root):
    cfg = CONFIGS[name]
    row = {'model': name, 'dataset': dataset, 'seed': seed,
           'config': json.dumps(cfg), 'num_threads': torch.get_num_threads(),
           'torch_version': torch.__version__}
    try:
        split = load_signed_split(dataset, seed, root)
        row['split'] = split.split
        start = time.perf_counter()
        z = TRAINERS[name](split, seed, **cfg)
        row['train_time_s'] = round(time.perf_counter() - start, 2)
        metrics = logistic_sign_prediction(z, split, seed=seed)
        row.update(status='ok', **{f'test_{k}': round(v, 6)
                                   for k, v in metrics.items()})
    except Exception as err:  # an error row, then the sweep goes on
        row.update(status='error', error=f'{type(err).__name__}: {err} | '
                   + traceback.format_exc(limit=3).replace('\n', ' | '))
    row['timestamp_utc'] = utc_now()
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', default='0-9')
    parser.add_argument('--datasets', default='BitcoinAlpha,BitcoinOTC')
    parser.add_argument('--models', default='sigat,sgcn')
    parser.add_argument('--root', default=None,
                        help='data root (default: $GAT_ZOO_DATA or '
                             '../shared/data)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', default=str(
        ROOT / 'benchmarks' / 'results' / 'signed_link_sign.csv'))
    parser.add_argument('--resume', action='store_true')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not args.resume and out.stat().st_size > 0:
        print(f'{out} exists; pass --resume to continue it', file=sys.stderr)
        return 2
    done = finished_runs(read_csv_rows(out),
                         ('model', 'dataset', 'seed'))
    datasets = [d.strip() for d in args.datasets.split(',') if d.strip()]
    models = [m.strip() for m in args.models.split(',') if m.strip()]
    for seed in parse_seeds(args.seeds):
        for dataset in datasets:
            for name in models:
                if (name, dataset, str(seed)) in done:
                    continue
                row = run_one(name, dataset, seed, args.root)
                append_row(out, row)
                print(f"{name:6s} {dataset:13s} seed {seed}: {row['status']} "
                      f"AUC {row.get('test_auc')} macro-F1 "
                      f"{row.get('test_macro_f1')} ({row.get('train_time_s')}"
                      f" s) {row.get('error') or ''}", flush=True)
                rows = read_csv_rows(out)
                out.with_suffix('.txt').write_text(summary(rows),
                                                   encoding='utf-8')
    rows = read_csv_rows(out)
    out.with_suffix('.txt').write_text(summary(rows), encoding='utf-8')
    print(summary(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
