"""HAN on ACM, IMDB and DBLP: the paper's KNN protocol on the learned
embeddings and end-to-end accuracy on the fixed split, beside PyG's
``HANConv`` under the same protocol.

Protocol (HAN, WWW 2019, Secs. 5.3-5.4). Each network trains full-batch
with Adam (lr 0.005, L2 0.001) on the fixed training split for at most 200
epochs with patience 100 (the authors' code and DGL's example); the kept
epoch is the last one at which validation accuracy and validation loss were
both at their best so far (the GAT-derived rule of the authors' code).
Nothing looks at the test split to choose anything. Then

- **end-to-end**: test accuracy (= Micro-F1) and Macro-F1 of the network's
  own classifier on the fixed test split;
- **KNN** (the paper's Table 3): the 64-d embeddings :math:`\\mathbf{Z}` of
  the test nodes are split into a labelled share of 20/40/60/80 %, a 5-NN
  classifier predicts the rest, Macro/Micro-F1 averaged over 10 random
  splits (:func:`gat_zoo.bench.embedding.knn_f1`).

Models. ``han``: gat_zoo's :class:`~gat_zoo.nn.models.HAN` (self-loops in
every meta-path neighbourhood, 8 heads x 8 features concatenated, ELU).
``pyg_han``: the same network around PyG 2.8.1's ``HANConv`` on the same
meta-path graphs (no self-loops, ``out_channels=64`` split over 8 heads,
ReLU). Seeds 0-9; one CSV row per (model, dataset, seed), appended durably;
``--resume`` skips finished rows. The summary table is rewritten beside the
CSV as ``.txt``. ``--speed N`` times N epochs of both models side by side in
one process instead (``heterogeneous_speed.csv``).

Example::

    GAT_ZOO_DATA=/work/shared/data python benchmarks/heterogeneous.py \\
        --models han,pyg_han --datasets ACM,IMDB --seeds 0-9 --resume
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
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gat_zoo.bench.embedding import knn_f1  # noqa: E402
from gat_zoo.bench.results import (  # noqa: E402
    ResultsFile,
    finished_runs,
    parse_names,
    parse_seeds,
    read_csv_rows,
)
from gat_zoo.bench.train import (  # noqa: E402
    seed_everything,
    train_node_classifier,
)
from gat_zoo.datasets.hetero import load_hetero  # noqa: E402
from gat_zoo.nn.models.han import HAN  # noqa: E402

RATIOS = (0.2, 0.4, 0.6, 0.8)
FIELDS = (('model', 'dataset', 'seed', 'status', 'error', 'val_acc',
           'test_acc', 'test_macro_f1') +
          tuple(f'knn_{m}_{int(100 * r)}' for m in ('macro', 'micro')
                for r in RATIOS) +
          ('semantic_attention', 'metapaths', 'best_epoch', 'epochs_run',
           'time_per_epoch_s', 'train_time_s', 'num_params', 'config',
           'num_threads', 'torch_version', 'timestamp_utc'))

#: HAN Sec. 5.3 (lr 0.005, L2 0.001, q 128-d, 8 heads, attention dropout
#: 0.6, patience 100, 64-d embeddings) and the authors' code / DGL's
#: example (200 epochs, feature dropout 0.6).
CONFIG = {'model': {'hidden_channels': 8, 'heads': 8, 'dropout': 0.6,
                    'semantic_channels': 128},
          'train': {'lr': 0.005, 'weight_decay': 0.001, 'epochs': 200,
                    'patience': 100, 'selection': 'score_and_loss'}}

#: HAN Table 3 (KNN, Macro-F1 / Micro-F1 at 20 %).
PAPER = {'ACM': (89.40, 89.22), 'DBLP': (92.24, 93.11),
         'IMDB': (50.00, 55.73)}


class PyGHAN(torch.nn.Module):
    """The HAN network around PyG's ``HANConv`` (for comparison)."""

    def __init__(self, in_channels: int, out_channels: int,
                 num_metapaths: int, hidden_channels: int = 8,
                 heads: int = 8, dropout: float = 0.6,
                 semantic_channels: int = 128):
        super().__init__()
        from torch_geometric.nn import HANConv as PyGHANConv
        self.edge_types = [('node', f'metapath_{k}', 'node')
                           for k in range(num_metapaths)]
        self.dropout = dropout
        # PyG has one semantic width for both the projection and q; it is
        # out_channels, so q is 64-d here instead of the paper's 128.
        del semantic_channels
        self.conv = PyGHANConv(in_channels, heads * hidden_channels,
                               metadata=(['node'], self.edge_types),
                               heads=heads, dropout=dropout)
        self.classifier = torch.nn.Linear(heads * hidden_channels,
                                          out_channels)

    def embed(self, x, metapaths):
        x = F.dropout(x, self.dropout, self.training)
        edge_index_dict = dict(zip(self.edge_types, metapaths))
        return self.conv({'node': x}, edge_index_dict)['node']

    def forward(self, x, metapaths):
        return self.classifier(self.embed(x, metapaths))


def build(name: str, data) -> torch.nn.Module:
    cfg = CONFIG['model']
    if name == 'han':
        return HAN(data.x.size(1), data.num_classes,
                   num_metapaths=len(data.metapaths), **cfg)
    if name == 'pyg_han':
        return PyGHAN(data.x.size(1), data.num_classes,
                      len(data.metapaths), **cfg)
    raise ValueError(f'Unknown model {name!r}; expected han or pyg_han')


def run_one(name: str, data, seed: int) -> dict:
    from sklearn.metrics import f1_score
    seed_everything(seed)
    model = build(name, data)
    result = train_node_classifier(model, data, graph=data.metapaths,
                                   restore_best=True, keep_history=False,
                                   **CONFIG['train'])
    model.eval()
    with torch.no_grad():
        logits = model(data.x, data.metapaths)
        z = model.embed(data.x, data.metapaths)
        beta = ''
        if isinstance(model, HAN):
            _, att = model.embed(data.x, data.metapaths,
                                 return_attention_weights=True)
            beta = json.dumps([round(float(b), 4) for b in att['semantic']])
    test = data.test_mask
    pred = logits[test].argmax(-1)
    row = {'val_acc': result.val_score, 'test_acc': result.test_score,
           'test_macro_f1': 100 * f1_score(data.y[test], pred,
                                            average='macro'),
           'semantic_attention': beta,
           'best_epoch': result.best_epoch, 'epochs_run': result.epochs_run,
           'time_per_epoch_s': result.time_per_epoch_s,
           'train_time_s': result.train_time_s,
           'num_params': sum(p.numel() for p in model.parameters())}
    scores = knn_f1(z[test], data.y[test], RATIOS, repeats=10, k=5)
    for ratio, s in scores.items():
        row[f'knn_macro_{int(100 * ratio)}'] = s.macro_f1
        row[f'knn_micro_{int(100 * ratio)}'] = s.micro_f1
    return row


def summary(rows) -> str:
    groups = {}
    for r in rows:
        if r['status'] == 'ok':
            groups.setdefault((r['dataset'], r['model']), []).append(r)

    def stat(rs, key, scale=1.0):
        vals = [scale * float(r[key]) for r in rs]
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        return f'{statistics.mean(vals):6.2f} ± {std:4.2f}'

    lines = ['HAN protocol: KNN (k=5) Macro/Micro-F1 (%) on the test nodes\' '
             'embeddings, mean ± std over seeds (each seed: 10 random '
             'splits); end-to-end test accuracy / Macro-F1 on the fixed '
             'split', '']
    head = f"{'dataset':8} {'model':8} {'n':>3} "
    lines.append(head + ' '.join(f'{"Ma-F1@" + str(int(100 * r)):>15}'
                                 for r in RATIOS) + '  ' +
                 ' '.join(f'{"Mi-F1@" + str(int(100 * r)):>15}'
                          for r in RATIOS) +
                 f"  {'e2e acc':>15} {'e2e Ma-F1':>15}")
    for (ds, model), rs in sorted(groups.items()):
        line = f'{ds:8} {model:8} {len(rs):3d} '
        line += ' '.join(f'{stat(rs, f"knn_macro_{int(100 * r)}"):>15}'
                         for r in RATIOS) + '  '
        line += ' '.join(f'{stat(rs, f"knn_micro_{int(100 * r)}"):>15}'
                         for r in RATIOS)
        line += f'  {stat(rs, "test_acc", 100):>15} ' \
                f'{stat(rs, "test_macro_f1"):>15}'
        lines.append(line)
    lines += ['', 'Paper (Table 3, KNN at 20 %: Macro-F1 / Micro-F1): ' +
              ', '.join(f'{ds} {ma:.2f} / {mi:.2f}'
                        for ds, (ma, mi) in PAPER.items())]
    return '\n'.join(lines) + '\n'


SPEED_FIELDS = ('dataset', 'model', 'seconds_per_epoch', 'ratio_to_pyg',
                'repeats', 'num_edges', 'num_threads', 'torch_version',
                'timestamp_utc')


def speed(data, repeats: int) -> list:
    """Seconds per training epoch (a training forward and backward plus an
    evaluation forward, as in the protocol) of ``han`` and ``pyg_han`` on
    ``data``, measured in this one process, interleaved, median of
    ``repeats`` after one warm-up epoch each."""
    models = {name: build(name, data) for name in ('han', 'pyg_han')}
    times = {name: [] for name in models}
    for step in range(repeats + 1):
        for name, model in models.items():
            start = time.perf_counter()
            model.train()
            F.cross_entropy(model(data.x, data.metapaths)[data.train_mask],
                            data.y[data.train_mask]).backward()
            model.eval()
            with torch.no_grad():
                model(data.x, data.metapaths)
            if step:  # the first epoch builds caches
                times[name].append(time.perf_counter() - start)
    median = {n: statistics.median(t) for n, t in times.items()}
    stamp = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    return [{'dataset': data.name, 'model': n, 'seconds_per_epoch': t,
             'ratio_to_pyg': t / median['pyg_han'], 'repeats': repeats,
             'num_edges': sum(m.size(1) for m in data.metapaths),
             'num_threads': torch.get_num_threads(),
             'torch_version': torch.__version__, 'timestamp_utc': stamp}
            for n, t in median.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', default='han,pyg_han')
    parser.add_argument('--datasets', default='ACM,IMDB,DBLP')
    parser.add_argument('--seeds', default='0-9')
    parser.add_argument('--root', default=None, help='data root')
    parser.add_argument('--out', default=str(
        ROOT / 'benchmarks' / 'results' / 'heterogeneous.csv'))
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--speed', type=int, default=0, metavar='REPEATS',
        help='instead of training: time REPEATS epochs of han and pyg_han '
             'side by side and append to heterogeneous_speed.csv')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.speed:
        path = Path(args.out).with_name('heterogeneous_speed.csv')
        speed_file = ResultsFile(path, fields=SPEED_FIELDS)
        for ds in parse_names(args.datasets):
            for row in speed(load_hetero(ds, root=args.root), args.speed):
                speed_file.append(row)
                print(f"{row['dataset']} {row['model']} "
                      f"{row['seconds_per_epoch']:.3f} s/epoch "
                      f"({row['ratio_to_pyg']:.2f}x PyG)", flush=True)
        return 0

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(out, fields=FIELDS)
    done = finished_runs(read_csv_rows(out),
                         ('model', 'dataset', 'seed')) \
        if args.resume else set()
    for ds in parse_names(args.datasets):
        data = load_hetero(ds, root=args.root)
        for seed in parse_seeds(args.seeds):
            for name in parse_names(args.models):
                if (name, ds, str(seed)) in done:
                    continue
                row = {'model': name, 'dataset': ds, 'seed': seed,
                       'metapaths': '+'.join(data.metapath_names),
                       'config': json.dumps(CONFIG, sort_keys=True),
                       'num_threads': torch.get_num_threads(),
                       'torch_version': torch.__version__,
                       'timestamp_utc': time.strftime(
                           '%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
                try:
                    row.update(run_one(name, data, seed), status='ok')
                except Exception as exc:  # noqa: BLE001
                    traceback.print_exc()
                    row.update(status='error', error=repr(exc)[:300])
                results.append({k: row.get(k) for k in FIELDS})
                print(f"{ds} {name} seed={seed} {row['status']} "
                      f"test={row.get('test_acc')} "
                      f"knn_macro_20={row.get('knn_macro_20')}", flush=True)
                out.with_suffix('.txt').write_text(summary(read_csv_rows(out)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
