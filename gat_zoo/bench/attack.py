"""Accuracy under adversarial structure perturbation (the UAG paper's
robustness protocol, Feng, Wang & Ding, AAAI 2021): one perturbed graph
per (dataset, attack, rate), then every model trained and tested on it
(*poisoning*: the perturbed graph is the graph the defender trains on).

Protocol (DeepRobust / Pro-GNN style, the one Metattack papers use):

* Split: one class-stratified random 10 % / 10 % / 80 % train / val / test
  split (:func:`gat_zoo.datasets.splits.random_node_splits`, seed 0,
  split 0) of the full Planetoid graph. (UAG's 10/10/80 split is stated in
  its experimental section; Metattack/Pro-GNN use the largest connected
  component, we keep the whole graph, as the rest of the bench does.)
* Surrogate: a 2-layer GCN (16 hidden, dropout 0.5, lr 0.01, L2 5e-4,
  row-normalised features) trained on the *training* labels only, the
  best-validation-loss epoch kept.
* Attack labels: Metattack's *self-training* labels: the true label on the
  training nodes, the surrogate's prediction everywhere else. No
  validation or test label is read by the attack.
* Budget: ``round(rate * |E|)`` edge flips (insertions or deletions) with
  :math:`|E|` the number of undirected edges of the clean graph.
* Attacks:

  - ``prbcd`` (default): PyG's maintained
    :class:`torch_geometric.contrib.nn.PRBCDAttack` (Geisler et al.,
    "Robustness of Graph Neural Networks at Scale", NeurIPS 2021), a
    global attack maximising the surrogate's probability-margin loss on
    all non-training nodes (self-training labels). It is an *evasion*
    attack on the surrogate whose perturbed graph is then used for
    poisoning: a transfer attack, **not** Metattack.
  - ``metattack``: DeepRobust's ``Metattack`` in its Meta-Self setting
    (``lambda_=0``, linearised GCN surrogate, 100 inner steps, optional
    dependency ``pip install deeprobust``); the attack of the UAG paper.
    On the 2-core CPU this project was built on it took about 14 s per
    flip on Cora (264 flips at 5 %), so its graphs were not generated here.
  - ``random``: uniformly random flips (a labelled fallback baseline).

* Evaluation: each model (paper configuration from
  :func:`gat_zoo.paper_config`) trained with seeds ``0 .. runs-1`` on the
  same split and the same perturbed graph; the bench's best-validation
  selection. Rate 0 is the clean graph.

Perturbed graphs are cached as ``edge_index`` tensors under
``gat_zoo.datasets.cache_dir() / 'attacks'``, never in the repository or
the data root.

Command line::

    python -m gat_zoo.bench.attack --dataset cora,citeseer \\
        --rates 0,0.05,0.1,0.15,0.2,0.25 --models uag,gcn,gat --runs 10 \\
        --threads 1 --results-file benchmarks/results/uag_attack.csv --resume
"""
from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['ATTACKS', 'attack_split', 'budget_for', 'perturbed_graph',
           'self_training_labels', 'train_surrogate', 'main']

#: Attacks :func:`perturbed_graph` knows.
ATTACKS = ('prbcd', 'metattack', 'random')

#: Columns of the results file.
FIELDS = ['dataset', 'attack', 'rate', 'model', 'seed', 'split', 'flips',
          'val', 'test', 'best_epoch', 'epochs_run', 'train_time_s',
          'from_paper', 'error']


# Graph helpers ###############################################################


def undirected_edges(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The unique undirected, loop-free edges ``[2, M]`` with ``row <
    col``."""
    row, col = edge_index
    keep = row != col
    lo = torch.minimum(row[keep], col[keep])
    hi = torch.maximum(row[keep], col[keep])
    key = torch.unique(lo * num_nodes + hi)
    return torch.stack([key // num_nodes, key % num_nodes])


def symmetric(edges: Tensor) -> Tensor:
    """``[2, M]`` undirected edges → both directions ``[2, 2M]``."""
    return torch.cat([edges, edges.flip(0)], dim=1)


def budget_for(rate: float, edge_index: Tensor, num_nodes: int) -> int:
    """``round(rate * |E|)`` flips, :math:`|E|` the undirected edges."""
    if not (0.0 <= float(rate) < 1.0):
        raise ValueError(f"A perturbation rate lies in [0, 1) (got {rate})")
    return int(round(float(rate) * undirected_edges(
        edge_index, num_nodes).size(1)))


def attack_split(data, seed: int = 0) -> Tuple[Tensor, Tensor, Tensor]:
    """The 10/10/80 split (train, val, test masks ``[N]``) shared by the
    attack and every evaluated model."""
    from gat_zoo.datasets.splits import random_node_splits
    tr, va, te = random_node_splits(data.y, 0.1, 0.1, num_splits=1,
                                    seed=seed)
    return tr[:, 0], va[:, 0], te[:, 0]


# Surrogate ###################################################################


class _SurrogateGCN(torch.nn.Module):
    """2-layer GCN (PyG ``GCNConv``) that takes ``edge_weight``, as
    :class:`~torch_geometric.contrib.nn.PRBCDAttack` needs."""

    def __init__(self, in_channels: int, out_channels: int,
                 hidden: int = 16, dropout: float = 0.5):
        super().__init__()
        from torch_geometric.nn import GCNConv
        self.conv1 = GCNConv(in_channels, hidden)
        self.conv2 = GCNConv(hidden, out_channels)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.conv1(x, edge_index, edge_weight))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index, edge_weight)


def _normalized(x: Tensor) -> Tensor:
    return x / x.sum(-1, keepdim=True).clamp_min(1e-12)


def train_surrogate(data, train_mask: Tensor, val_mask: Tensor,
                    seed: int = 0, epochs: int = 200) -> torch.nn.Module:
    """GCN surrogate on the training labels, best validation loss kept."""
    if epochs < 1:
        raise ValueError(f"the surrogate needs at least one epoch (got "
                         f"epochs={epochs})")
    torch.manual_seed(seed)
    x = _normalized(data.x)
    model = _SurrogateGCN(data.num_features, int(data.y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    best, state = math.inf, None
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        out = model(x, data.edge_index)
        F.cross_entropy(out[train_mask], data.y[train_mask]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            loss = F.cross_entropy(model(x, data.edge_index)[val_mask],
                                   data.y[val_mask]).item()
        if loss < best:
            best = loss
            state = {k: v.clone() for k, v in model.state_dict().items()}
    if state is None:
        raise RuntimeError("the surrogate's validation loss was never "
                           "finite: no epoch to keep")
    model.load_state_dict(state)
    model.eval()
    return model


def self_training_labels(model: torch.nn.Module, data,
                         train_mask: Tensor) -> Tensor:
    """Metattack's self-training labels: true labels on training nodes,
    the surrogate's predictions elsewhere (no val/test label is used)."""
    with torch.no_grad():
        pred = model(_normalized(data.x), data.edge_index).argmax(-1)
    return torch.where(train_mask, data.y, pred)


# Attacks #####################################################################


def _prbcd(data, budget: int, surrogate, labels: Tensor,
           train_mask: Tensor, seed: int, log: bool) -> Tensor:
    from torch_geometric.contrib.nn import PRBCDAttack
    torch.manual_seed(seed)
    x = _normalized(data.x)
    # Block size as PyG's example for Cora-sized graphs.
    attack = PRBCDAttack(surrogate, block_size=250_000, log=log)
    idx = (~train_mask).nonzero().view(-1)
    perturbed, _ = attack.attack(x, data.edge_index, labels, budget,
                                 idx_attack=idx)
    return perturbed


def _random(data, budget: int, seed: int) -> Tensor:
    n = data.num_nodes
    gen = torch.Generator().manual_seed(seed)
    edges = undirected_edges(data.edge_index, n)
    present = set((edges[0] * n + edges[1]).tolist())
    flips: Set[int] = set()
    while len(flips) < budget:
        i, j = torch.randint(0, n, (2,), generator=gen).tolist()
        if i != j:
            flips.add(min(i, j) * n + max(i, j))
    keys = (present ^ flips)
    key = torch.tensor(sorted(keys), dtype=torch.long)
    return symmetric(torch.stack([key // n, key % n]))


def _metattack(data, budget: int, labels: Tensor, train_mask: Tensor,
               val_mask: Tensor, seed: int) -> Tensor:  # pragma: no cover
    """DeepRobust's Meta-Self (slow on CPU; see the module docstring)."""
    import sys as _sys
    import types
    stubs = {}
    try:  # DeepRobust imports gensim for its node-embedding defences only.
        import gensim  # noqa: F401
    except ImportError:
        # Any: the stand-ins get attributes a plain ModuleType lacks.
        stub: Any = types.ModuleType('gensim')
        models: Any = types.ModuleType('gensim.models')
        models.Word2Vec = models.KeyedVectors = None
        stub.models = models
        stubs = {'gensim': stub, 'gensim.models': models}
        _sys.modules.update(stubs)
    try:
        from deeprobust.graph.defense import GCN
        from deeprobust.graph.global_attack import Metattack
    finally:
        # The stand-in must not outlive DeepRobust's import: a later
        # ``import gensim`` elsewhere in the process has to fail (or find
        # the real package), not get an empty module.
        for name, module in stubs.items():
            if _sys.modules.get(name) is module:
                del _sys.modules[name]
    import numpy as np
    import scipy.sparse as sp
    torch.manual_seed(seed)
    np.random.seed(seed)
    n = data.num_nodes
    e = symmetric(undirected_edges(data.edge_index, n)).numpy()
    adj = sp.csr_matrix((np.ones(e.shape[1], dtype=np.float32),
                         (e[0], e[1])), shape=(n, n))
    feat = sp.csr_matrix(data.x.numpy())
    y = data.y.numpy()
    idx_train = train_mask.nonzero().view(-1).numpy()
    idx_val = val_mask.nonzero().view(-1).numpy()
    idx_unlabeled = (~train_mask).nonzero().view(-1).numpy()
    surrogate = GCN(nfeat=feat.shape[1], nclass=int(y.max()) + 1, nhid=16,
                    dropout=0, with_relu=False, with_bias=False,
                    device='cpu')
    surrogate.fit(feat, adj, y, idx_train, idx_val, patience=30)
    attack = Metattack(surrogate, nnodes=n, feature_shape=feat.shape,
                       attack_structure=True, attack_features=False,
                       device='cpu', lambda_=0)
    # Metattack's own self-training labels come from `y` on idx_train only.
    attack.attack(feat, adj, y, idx_train, idx_unlabeled, budget,
                  ll_constraint=False)
    mod = attack.modified_adj.detach().cpu().to_sparse().indices()
    return mod


def cache_path(dataset: str, attack: str, rate: float, seed: int) -> Path:
    from gat_zoo.datasets import cache_dir
    return (cache_dir() / 'attacks' /
            f'{dataset.lower()}_{attack}_r{rate:g}_split{seed}.pt')


def perturbed_graph(data, dataset: str, attack: str, rate: float, *,
                    seed: int = 0, use_cache: bool = True,
                    log: bool = False) -> Tuple[Tensor, int]:
    """``(edge_index, flips)``: the perturbed graph of ``data`` (both
    directions, no self-loops) and the number of flipped edges.

    Rate 0 is the clean graph. Cached under ``cache_dir()/attacks``."""
    if attack not in ATTACKS:
        raise ValueError(f"Unknown attack {attack!r}; expected one of "
                         f"{', '.join(ATTACKS)}")
    n = data.num_nodes
    clean = undirected_edges(data.edge_index, n)
    budget = budget_for(rate, data.edge_index, n)
    if budget == 0:
        return symmetric(clean), 0
    path = cache_path(dataset, attack, rate, seed)
    if use_cache and path.exists():
        edge_index = torch.load(path, weights_only=True)
    else:
        train_mask, val_mask, _ = attack_split(data, seed)
        if attack == 'random':
            edge_index = _random(data, budget, seed)
        else:
            surrogate = train_surrogate(data, train_mask, val_mask, seed)
            labels = self_training_labels(surrogate, data, train_mask)
            if attack == 'prbcd':
                edge_index = _prbcd(data, budget, surrogate, labels,
                                    train_mask, seed, log)
            else:
                edge_index = _metattack(data, budget, labels, train_mask,
                                        val_mask, seed)
        edge_index = symmetric(undirected_edges(edge_index, n))
        if use_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(edge_index, path)
    now = undirected_edges(edge_index, n)
    key_a = set((clean[0] * n + clean[1]).tolist())
    key_b = set((now[0] * n + now[1]).tolist())
    return edge_index, len(key_a ^ key_b)


# Evaluation ##################################################################


def evaluate(model_name: str, data, edge_index: Tensor, dataset: str,
             seed: int, max_epochs: Optional[int] = None) -> Dict[str, Any]:
    """One training run of ``model_name`` on the perturbed graph (split 0
    of the attack's 10/10/80 split); the row's result columns."""
    from gat_zoo.bench.runner import run_config, train_one
    config = run_config(model_name, dataset, max_epochs=max_epochs)
    graph = data.clone()
    graph.edge_index = edge_index
    if getattr(graph, 'num_classes', None) is None:
        graph.num_classes = int(data.y.max()) + 1
    tr, va, te = attack_split(data, 0)
    graph.train_mask, graph.val_mask, graph.test_mask = tr, va, te
    row, _ = train_one(model_name, graph, config, seed=seed, split=0,
                       device=torch.device('cpu'))
    return {'val': row['val'], 'test': row['test'],
            'best_epoch': row['best_epoch'], 'epochs_run': row['epochs_run'],
            'train_time_s': row['train_time_s'],
            'from_paper': config['from_paper']}


def _done(path: Path) -> set:
    if not path.exists():
        return set()
    with path.open() as f:
        return {(r['dataset'], r['attack'], r['rate'], r['model'],
                 r['seed']) for r in csv.DictReader(f) if not r['error']}


def summary_table(path: Path) -> str:
    """Mean ± std of the test accuracy per (dataset, attack, model) and
    rate, as a text table."""
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if not r['error']]
    groups: Dict[Tuple[str, str, str], Dict[float, List[float]]] = {}
    for r in rows:
        groups.setdefault((r['dataset'], r['attack'], r['model']), {}) \
            .setdefault(float(r['rate']), []).append(float(r['test']))
    rates = sorted({float(r['rate']) for r in rows})
    head = (f"{'dataset':<10}{'attack':<11}{'model':<8}" + ''.join(
        f"{f'{100 * r:g}%':>17}" for r in rates))
    lines = [head, '-' * len(head)]
    for (ds, att, model), by_rate in sorted(groups.items()):
        cells = []
        for rate in rates:
            v = by_rate.get(rate, [])
            if not v:
                cells.append(f"{'-':>17}")
                continue
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cell = f'{statistics.mean(v):.2f}±{sd:.2f} ({len(v)})'
            cells.append(f'{cell:>17}')
        lines.append(f'{ds:<10}{att:<11}{model:<8}' + ''.join(cells))
    return '\n'.join(lines) + '\n'


def _parse_list(text: str) -> List[str]:
    return [t.strip() for t in text.split(',') if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m gat_zoo.bench.attack',
        description='Node classification under adversarial structure '
                    'perturbation (poisoning), 10/10/80 split.')
    p.add_argument('--dataset', default='cora,citeseer')
    p.add_argument('--attack', default='prbcd', choices=ATTACKS)
    p.add_argument('--rates', default='0,0.05,0.1,0.15,0.2,0.25',
                   help='comma list of perturbation rates in [0, 1)')
    p.add_argument('--models', default='uag,gcn,gat')
    p.add_argument('--runs', type=int, default=10)
    p.add_argument('--max-epochs', type=int, default=None)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--root', default=None, help='data root')
    p.add_argument('--results-file', default=None)
    p.add_argument('--resume', action='store_true')
    p.add_argument('--generate-only', action='store_true',
                   help='only build (and cache) the perturbed graphs')
    p.add_argument('--no-cache', action='store_true')
    p.add_argument('--summary-only', action='store_true',
                   help='only rewrite the .txt table of --results-file')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from gat_zoo.datasets import load_dataset
    rates = [float(r) for r in _parse_list(args.rates)]
    for r in rates:
        if not 0 <= r < 1:
            raise SystemExit(f'--rates: {r} not in [0, 1)')
    models = _parse_list(args.models)
    out = Path(args.results_file) if args.results_file else None
    if args.summary_only:
        if out is None or not out.exists():
            raise SystemExit('--summary-only needs an existing '
                             '--results-file')
        table = summary_table(out)
        out.with_suffix('.txt').write_text(table)
        print(table)
        return 0
    done = _done(out) if (out is not None and args.resume) else set()
    if out is not None and not (args.resume and out.exists()):
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open('w', newline='') as f:
            csv.DictWriter(f, FIELDS).writeheader()
    for name in _parse_list(args.dataset):
        data = load_dataset(name, root=args.root)
        ds = data.name if hasattr(data, 'name') else name
        for rate in rates:
            t0 = time.perf_counter()
            edge_index, flips = perturbed_graph(
                data, ds, args.attack, rate, use_cache=not args.no_cache)
            print(f'[{ds} {args.attack} {rate:g}] {flips} flips '
                  f'({time.perf_counter() - t0:.1f}s)', flush=True)
            if args.generate_only:
                continue
            for model in models:
                for seed in range(args.runs):
                    key = (ds, args.attack, f'{rate:g}', model, str(seed))
                    if key in done:
                        continue
                    row = {'dataset': ds, 'attack': args.attack,
                           'rate': f'{rate:g}', 'model': model,
                           'seed': seed, 'split': 0, 'flips': flips,
                           'error': ''}
                    try:
                        row.update(evaluate(model, data, edge_index, ds,
                                            seed, args.max_epochs))
                    except Exception as err:  # recorded, sweep goes on
                        row['error'] = f'{type(err).__name__}: {err}'
                    print(f"  {model} seed {seed}: test "
                          f"{row.get('test')} {row['error']}", flush=True)
                    if out is not None:
                        with out.open('a', newline='') as f:
                            csv.DictWriter(f, FIELDS).writerow(row)
    if out is not None and not args.generate_only:
        table = summary_table(out)
        out.with_suffix('.txt').write_text(table)
        print(table)
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
