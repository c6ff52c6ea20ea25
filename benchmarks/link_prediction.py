"""Link prediction on Planetoid: PaGNN against the GAE-with-GAT baseline.

Runs every (seed, dataset, split, model) of the selection under
:mod:`gat_zoo.bench.link`'s protocol and appends one CSV row per run as soon
as it finishes (one ``write`` + flush + fsync), so an interrupted sweep loses
at most the run in progress; ``--resume`` skips the runs already in the CSV
with status ``ok``. At the end (and after every row) a mean ± std table of
test AUC / AP (in %) is written beside the CSV as ``.txt``.

Example::

    GAT_ZOO_DATA=/work/shared/data python benchmarks/link_prediction.py \\
        --seeds 0-9 --datasets Cora,CiteSeer --resume
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gat_zoo.bench.link import train_link_predictor  # noqa: E402
from gat_zoo.bench.results import (  # noqa: E402
    ResultsFile,
    finished_runs,
    parse_seeds,
    read_csv_rows,
    utc_now,
)
from gat_zoo.bench.train import seed_everything  # noqa: E402
from gat_zoo.datasets import load_dataset  # noqa: E402
from gat_zoo.nn.models import pagnn as _pagnn_models  # noqa: E402,F401
from gat_zoo.registry import create_model, model_entry  # noqa: E402

FIELDS = ('model', 'family', 'dataset', 'split', 'seed', 'status', 'error',
          'val_auc', 'val_ap', 'test_auc', 'test_ap', 'best_epoch',
          'epochs_run', 'time_per_epoch_s', 'train_time_s', 'num_params',
          'config', 'num_threads', 'torch_version', 'timestamp_utc')

#: Settings of each model (ours: the paper's are not available; see the
#: report). Model kwargs go to create_model, train kwargs to
#: train_link_predictor.
CONFIGS = {
    'gae_gat': {'out_channels': 16, 'model': {'hidden_channels': 32},
                'train': {'lr': 0.01, 'weight_decay': 0.0}},
    'pagnn': {'out_channels': 32, 'model': {'num_hops': 2},
              'train': {'lr': 0.005, 'weight_decay': 0.0}},
}


def append_row(path: Path, row: dict) -> None:
    """Appends one row durably (one locked write + fsync; a killed run
    leaves a valid file)."""
    ResultsFile(path, fields=FIELDS).append({k: row.get(k) for k in FIELDS})


def summary(rows) -> str:
    groups = {}
    for r in rows:
        if r['status'] != 'ok':
            continue
        key = (r['dataset'], r['split'], r['model'])
        groups.setdefault(key, []).append(r)

    def fmt(values):
        values = [100 * float(v) for v in values]
        if len(values) == 1:
            return f'{values[0]:.2f}'
        return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'

    lines = ['Link prediction (test AUC / AP in %, mean ± std over seeds; '
             'selection on validation AUC)', '',
             f"{'dataset':<10}{'split':<14}{'model':<9}{'runs':>5}  "
             f"{'test AUC':<16}{'test AP':<16}{'val AUC':<16}{'s/epoch':>8}"]
    for (dataset, split, model), rs in sorted(groups.items()):
        tpe = statistics.mean(float(r['time_per_epoch_s']) for r in rs)
        lines.append(
            f'{dataset:<10}{split:<14}{model:<9}{len(rs):>5}  '
            f"{fmt(r['test_auc'] for r in rs):<16}"
            f"{fmt(r['test_ap'] for r in rs):<16}"
            f"{fmt(r['val_auc'] for r in rs):<16}{tpe:>8.2f}")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', default='0-9')
    parser.add_argument('--datasets', default='Cora,CiteSeer')
    parser.add_argument('--splits', default='transductive,inductive')
    parser.add_argument('--models', default='gae_gat,pagnn')
    parser.add_argument('--epochs', type=int, default=100)
    parser.add_argument('--patience', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', default=str(
        ROOT / 'benchmarks' / 'results' / 'link_prediction.csv'))
    parser.add_argument('--resume', action='store_true')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not args.resume and out.stat().st_size > 0:
        print(f'{out} exists; pass --resume to continue it', file=sys.stderr)
        return 2
    done = finished_runs(read_csv_rows(out),
                         ('model', 'dataset', 'split', 'seed'))
    datasets = [d.strip() for d in args.datasets.split(',') if d.strip()]
    splits = [s.strip() for s in args.splits.split(',') if s.strip()]
    models = [m.strip() for m in args.models.split(',') if m.strip()]
    cache = {}
    for seed in parse_seeds(args.seeds):
        for dataset in datasets:
            for split in splits:
                for name in models:
                    if (name, dataset, split, str(seed)) in done:
                        continue
                    row = run_one(name, dataset, split, seed, args, cache)
                    append_row(out, row)
                    print(f"{name:8s} {dataset:9s} {split:13s} seed {seed}: "
                          f"{row['status']} test AUC {row.get('test_auc')} "
                          f"({row.get('train_time_s')} s)", flush=True)
                    rows = read_csv_rows(out)
                    out.with_suffix('.txt').write_text(summary(rows),
                                                       encoding='utf-8')
    rows = read_csv_rows(out)
    out.with_suffix('.txt').write_text(summary(rows), encoding='utf-8')
    print(summary(rows))
    return 0


def run_one(name, dataset, split, seed, args, cache):
    entry = model_entry(name)
    cfg = CONFIGS[name]
    config = {'out_channels': cfg['out_channels'], **cfg['model'],
              **cfg['train'], 'epochs': args.epochs,
              'patience': args.patience}
    row = {'model': name, 'family': entry.family, 'dataset': dataset,
           'split': split, 'seed': seed, 'config': json.dumps(config),
           'num_threads': torch.get_num_threads(),
           'torch_version': torch.__version__}
    try:
        if dataset not in cache:
            cache[dataset] = load_dataset(dataset)
        data = cache[dataset]
        seed_everything(seed)
        model = create_model(name, data.num_features, cfg['out_channels'],
                             **cfg['model'])
        result = train_link_predictor(model, data, split=split, seed=seed,
                                      epochs=args.epochs,
                                      patience=args.patience,
                                      keep_history=False, **cfg['train'])
        row.update(status='ok', val_auc=result.val_auc,
                   val_ap=result.val_ap, test_auc=result.test_auc,
                   test_ap=result.test_ap, best_epoch=result.best_epoch,
                   epochs_run=result.epochs_run,
                   time_per_epoch_s=round(result.time_per_epoch_s, 4),
                   train_time_s=round(result.train_time_s, 2),
                   num_params=sum(p.numel() for p in model.parameters()))
    except Exception as err:  # an error row, then the sweep goes on
        row.update(status='error', error=f'{type(err).__name__}: {err} | '
                   + traceback.format_exc(limit=3).replace('\n', ' | '))
    row['timestamp_utc'] = utc_now()
    return row


if __name__ == '__main__':
    sys.exit(main())
