"""GraphHAM node classification on Cora and CiteSeer: unsupervised
embeddings + a downstream logistic-regression classifier, beside a GAT
encoder trained with the same objective and a supervised GCN.

Protocol (the paper's exact protocol could not be read here, so this is
UNVERIFIED as "the paper's"; it is the usual one for unsupervised graph
embeddings on Planetoid). Features are row-normalised. Each encoder is
trained without labels with its context objective, full-batch Adam, for
``--epochs`` epochs; every ``--eval-every`` epochs (and at the end) the
frozen embeddings are standardised and a multinomial logistic regression is
fitted on the public-split training nodes (Cora 140, CiteSeer 120) for each
L2 coefficient of a small grid. The (epoch, L2) pair with the best
validation accuracy (500 public-split validation nodes; ties: the earlier
epoch, the smaller L2) is selected and its test accuracy (1000 public-split
test nodes) is reported. Nothing looks at the test split to choose
anything. Seeds 0-9 (the seed drives initialisation, Gumbel noise, context
walks and negatives).

Models:

* ``graphham`` -- :class:`gat_zoo.nn.models.GraphHAM`, 2 layers of 128
  states, 32 then 8 groups, Gumbel temperature 0.5, Adam lr 0.005;
  objective = membership-based context decoder (scope l for layer l) +
  inclusion constraint; embedding = both layers' states.
* ``gat_ctx`` -- the same encoder shape with :class:`gat_zoo.nn.conv.GATConv`
  layers (one head of 128, ELU between), trained with the same context
  decoder minus the membership terms (score :math:`h_i^\\top h_j`), Adam
  lr 0.001; the same embedding (both layers' states) and classifier.
* ``gcn_sup`` -- the supervised 2-layer GCN (Kipf & Welling settings: 16
  hidden, dropout 0.5, lr 0.01, L2 5e-4, 200 epochs), best-validation epoch;
  a reference point for what labels buy, not the same protocol.

The two encoders' lr, group counts and temperature were chosen among a few
settings by the *validation* accuracy of seed 0 on Cora (GraphHAM: lr
{0.001, 0.005} x groups/tau {(16, 4)/1.0, (32, 8)/0.5}, plus 5 walks per
node, 5 negatives or feature dropout 0.5, none better; GAT: lr {0.001,
0.005}); the paper's own hyperparameters could not be read here.

One CSV row per run is appended durably; ``--resume`` skips finished runs.
The mean ± std table (test accuracy, %) is rewritten beside the CSV as
``.txt`` after every row.

Example::

    GAT_ZOO_DATA=/work/shared/data python benchmarks/graphham.py \\
        --seeds 0-9 --resume
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

import gat_zoo.nn.models  # noqa: E402,F401  (registers the networks)
import gat_zoo.nn.models.graphham  # noqa: E402,F401
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
from gat_zoo.datasets import load_dataset  # noqa: E402
from gat_zoo.nn.conv import GATConv  # noqa: E402
from gat_zoo.nn.models.graphham import GraphHAM, context_pairs  # noqa: E402

FIELDS = ('model', 'dataset', 'seed', 'status', 'error', 'val_acc',
          'test_acc', 'best_epoch', 'best_l2', 'final_loss', 'epochs_run',
          'time_per_epoch_s', 'train_time_s', 'num_params', 'config',
          'num_threads', 'torch_version', 'timestamp_utc')

L2_GRID = (0.0, 1e-4, 1e-3, 1e-2)
EMBED = {'hidden_channels': 128, 'num_layers': 2}
CONFIGS = {
    'graphham': {'model': dict(EMBED, num_groups=[32, 8], tau=0.5,
                               constraint_weight=1.0, num_negatives=1,
                               walks_per_node=1, dropout=0.0),
                 'train': {'lr': 0.005, 'weight_decay': 0.0}},
    'gat_ctx': {'model': dict(EMBED, num_negatives=1, walks_per_node=1),
                'train': {'lr': 0.001, 'weight_decay': 0.0}},
    'gcn_sup': {'model': {'hidden_channels': 16, 'dropout': 0.5},
                'train': {'lr': 0.01, 'weight_decay': 5e-4,
                          'epochs': 200}},
}


class GATContextEncoder(torch.nn.Module):
    """The baseline encoder: GATConv layers, ELU between, embeddings = all
    layers' states, trained with GraphHAM's context decoder without the
    membership terms."""

    def __init__(self, in_channels: int, hidden_channels: int = 128,
                 num_layers: int = 2, num_negatives: int = 1,
                 walks_per_node: int = 1):
        super().__init__()
        self.convs = torch.nn.ModuleList()
        width = in_channels
        for _ in range(num_layers):
            self.convs.append(GATConv(width, hidden_channels, heads=1))
            width = hidden_channels
        self.num_negatives = num_negatives
        self.walks_per_node = walks_per_node

    def encode(self, x, edge_index):
        states, h = [], x
        for conv in self.convs:
            out = conv(h, edge_index)
            states.append(out)
            h = F.elu(out)
        return states

    def embed(self, x, edge_index):
        return torch.cat(self.encode(x, edge_index), dim=-1)

    def loss(self, x, edge_index, generator=None):
        N = x.size(0)
        total = x.new_zeros(())
        for layer, h in enumerate(self.encode(x, edge_index)):
            pos = context_pairs(edge_index, N, layer + 1,
                                self.walks_per_node, generator=generator)
            src = pos[0].repeat(self.num_negatives)
            neg = torch.stack([src, torch.randint(N, (src.numel(), ),
                                                  generator=generator)])
            total = total - F.logsigmoid(
                (h[pos[0]] * h[pos[1]]).sum(-1)).mean()
            total = total - F.logsigmoid(
                -(h[neg[0]] * h[neg[1]]).sum(-1)).mean()
        return total


def logistic_regression(z, y, train, val, test, l2, seed, steps=300):
    """Multinomial logistic regression on standardised embeddings (Adam,
    full batch); returns ``(val_acc, test_acc)``."""
    mean, std = z[train].mean(0), z[train].std(0).clamp_min(1e-6)
    z = (z - mean) / std
    gen = torch.Generator().manual_seed(seed)
    num_classes = int(y.max()) + 1
    w = (torch.randn(z.size(1), num_classes, generator=gen) * 0.01
         ).requires_grad_()
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(z[train] @ w + b, y[train]) + \
            l2 * (w * w).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = (z @ w + b).argmax(-1)
    return ((pred[val] == y[val]).float().mean().item(),
            (pred[test] == y[test]).float().mean().item())


def evaluate(model, data, seed):
    model.eval()
    with torch.no_grad():
        z = model.embed(data.x, data.edge_index)
    model.train()
    best = None
    for l2 in L2_GRID:
        val, test = logistic_regression(z, data.y, data.train_mask,
                                        data.val_mask, data.test_mask, l2,
                                        seed)
        if best is None or val > best[0]:
            best = (val, test, l2)
    return best


def run_unsupervised(name, data, seed, cfg, epochs, eval_every):
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    if name == 'graphham':
        model = GraphHAM(data.num_features, data.num_classes, **cfg['model'])
    else:
        model = GATContextEncoder(data.num_features, **cfg['model'])
    train = cfg['train']
    params = [p for n, p in model.named_parameters()
              if not n.startswith('classifier')]
    opt = torch.optim.Adam(params, lr=train['lr'],
                           weight_decay=train['weight_decay'])
    best = {'val_acc': -1.0}
    model.train()
    train_time = 0.0
    loss = None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        opt.zero_grad()
        loss = model.loss(data.x, data.edge_index, generator=gen)
        loss.backward()
        opt.step()
        train_time += time.perf_counter() - start
        if epoch % eval_every == 0 or epoch == epochs:
            val, test, l2 = evaluate(model, data, seed)
            if val > best['val_acc']:
                best = {'val_acc': val, 'test_acc': test,
                        'best_epoch': epoch, 'best_l2': l2}
    return {**best, 'final_loss': float(loss.detach()), 'epochs_run': epochs,
            'time_per_epoch_s': train_time / epochs,
            'train_time_s': train_time,
            'num_params': sum(p.numel() for p in params)}


def run_gcn(data, seed, cfg):
    from gat_zoo.registry import create_model
    seed_everything(seed)
    model = create_model('gcn', data.num_features, data.num_classes,
                         **cfg['model'])
    train = cfg['train']
    start = time.perf_counter()
    res = train_node_classifier(model, data, lr=train['lr'],
                                weight_decay=train['weight_decay'],
                                epochs=train['epochs'])
    elapsed = time.perf_counter() - start
    return {'val_acc': res.val_score, 'test_acc': res.test_score,
            'best_epoch': res.best_epoch, 'epochs_run': train['epochs'],
            'time_per_epoch_s': elapsed / train['epochs'],
            'train_time_s': elapsed,
            'num_params': sum(p.numel() for p in model.parameters())}


def summary(rows, epochs) -> str:
    groups = {}
    for r in rows:
        if r['status'] == 'ok':
            groups.setdefault((r['dataset'], r['model']), []).append(r)
    lines = ['Node classification, public Planetoid split, test accuracy '
             '(%) at the best-validation (epoch, L2); mean ± std over seeds',
             f'unsupervised encoders: {epochs} epochs, embeddings -> '
             f'logistic regression (L2 grid {list(L2_GRID)})', '',
             f"{'dataset':9} {'model':9} {'n':>3} {'test':>7} {'std':>6} "
             f"{'val':>7} {'s/epoch':>8}"]
    for (ds, model), rs in sorted(groups.items()):
        accs = [100 * float(r['test_acc']) for r in rs]
        vals = [100 * float(r['val_acc']) for r in rs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        tpe = statistics.mean(float(r['time_per_epoch_s']) for r in rs)
        lines.append(f'{ds:9} {model:9} {len(accs):3d} '
                     f'{statistics.mean(accs):7.2f} {std:6.2f} '
                     f'{statistics.mean(vals):7.2f} {tpe:8.4f}')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', default='graphham,gat_ctx,gcn_sup')
    parser.add_argument('--datasets', default='Cora,CiteSeer')
    parser.add_argument('--seeds', default='0-9')
    parser.add_argument('--epochs', type=int, default=300)
    parser.add_argument('--eval-every', type=int, default=25)
    parser.add_argument('--root', default=None, help='data root')
    parser.add_argument('--out', default=str(
        ROOT / 'benchmarks' / 'results' / 'graphham.csv'))
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = finished_runs(read_csv_rows(out),
                         ('model', 'dataset', 'seed')) \
        if args.resume else set()
    datasets = {}
    for name in parse_names(args.datasets):
        data = load_dataset(name, root=args.root)
        data.x = data.x / data.x.sum(-1, keepdim=True).clamp_min(1)
        datasets[name] = data
    models = parse_names(args.models)
    for seed in parse_seeds(args.seeds):
        for ds, data in datasets.items():
            for name in models:
                if (name, ds, str(seed)) in done:
                    continue
                cfg = CONFIGS[name]
                row = {'model': name, 'dataset': ds, 'seed': seed,
                       'config': json.dumps(dict(cfg, epochs=args.epochs,
                                                 eval_every=args.eval_every)
                                            if name != 'gcn_sup' else cfg,
                                            sort_keys=True),
                       'num_threads': torch.get_num_threads(),
                       'torch_version': torch.__version__,
                       'timestamp_utc': time.strftime(
                           '%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
                try:
                    if name == 'gcn_sup':
                        row.update(run_gcn(data, seed, cfg), status='ok')
                    else:
                        row.update(run_unsupervised(name, data, seed, cfg,
                                                    args.epochs,
                                                    args.eval_every),
                                   status='ok')
                except Exception as exc:  # noqa: BLE001
                    traceback.print_exc()
                    row.update(status='error', error=repr(exc)[:300])
                ResultsFile(out, fields=FIELDS).append(
                    {k: row.get(k) for k in FIELDS})
                print(f"{ds} {name} seed={seed} {row['status']} "
                      f"test={row.get('test_acc')} val={row.get('val_acc')} "
                      f"epoch={row.get('best_epoch')}", flush=True)
                out.with_suffix('.txt').write_text(
                    summary(read_csv_rows(out), args.epochs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
