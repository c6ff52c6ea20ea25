r"""Single-step link prediction on graph snapshots, DySAT's protocol
(Sankar et al., WSDM 2020, Sec. 5; official code aravindsankar28/DySAT).

For every time step :math:`t = 0, \dots, T-2` a fresh model is trained on
snapshots :math:`0..t` and its embeddings at :math:`t` predict the links of
snapshot :math:`t+1`:

* Nodes: the :math:`N_{t+1}` nodes of snapshot :math:`t+1`, one-hot
  (featureless); nodes not yet present earlier are isolated there.
* Objective (Eq. 5), as the official code computes it: per snapshot
  :math:`s \le t`, the mean logistic loss of random-walk context pairs
  (10 walks of length ``walk_len`` per node, steps weighted by interaction
  counts, window 10; each epoch every node draws ``pairs_per_node`` = 10
  of its contexts) plus ``neg_weight`` times the mean loss of every
  centre against one shared set of ``neg_samples`` = 10 noise nodes drawn
  from the degree\ :sup:`0.75` distribution, summed over snapshots; plus
  ``weight_decay`` times the structural layer's L2 norm. Minibatches of
  ``batch_size`` = 512 centre nodes, Adam, gradient norm clipped at 1.
  As the official training, a copy of snapshot :math:`t` is appended
  (``repeat_last``) and the embeddings are read at :math:`t`; as there,
  the copy is left out of the loss (which sums over snapshots
  :math:`0..t`), so under causal attention it changes nothing but the
  length of the sequence.
* Evaluation data (the official ``create_data_splits``): the distinct
  links of snapshot :math:`t+1` between nodes already present at
  :math:`t`, self-loops included (the official code takes every edge of
  ``nx.from_scipy_sparse_matrix(next_adj)``, loops too; its Enron logs
  show 4/4/12 train/val/test links at :math:`t = 1`, i.e. 18 pairs plus
  2 loops), shuffled into 20 % train / 20 % validation / 60 % test, each
  with as many negative pairs (random pairs of two distinct nodes of
  snapshot :math:`t`, not linked at :math:`t+1`). A logistic regression
  on the Hadamard product :math:`\mathbf{e}_u \odot \mathbf{e}_v` is
  fitted on the train pairs; the epoch with the best validation AUC is
  kept.
* Metrics: **micro-AUC** pools the test pairs of all time steps into one
  AUC, **macro-AUC** averages the per-step AUCs (the paper's definitions).
  Each row also records the validation AUC of every step's chosen epoch
  (``step_val_aucs``, averaged in ``val_macro_auc``), so settings can be
  compared on validation only.

Static baselines under the same protocol (``--model spectral,node2vec``;
:func:`run_step_static`): a truncated SVD of the snapshots aggregated up to
:math:`t`, and free embeddings trained with DySAT's own context loss on
that aggregate. They show what the split and the classifier allow without
DySAT's layers.

One CSV row per (model, dataset, seed) with both metrics; ``--resume``
skips rows already in the results file. ``--set KEY=VALUE`` replaces one
setting of the configuration (``lr=0.01``, ``model.temporal_dropout=0.5``;
recorded in the row's ``config``), for tuning on validation. Command
line::

    python -m gat_zoo.bench.dynamic --dataset Enron --runs 10 --threads 1 \
        --results-file benchmarks/results/dysat.csv --resume
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import coalesce

from gat_zoo.bench.cli import _positive
from gat_zoo.bench.results import ResultsFile, parse_seeds, read_csv_rows

FIELDS = ['model', 'dataset', 'seed', 'micro_auc', 'macro_auc', 'steps',
          'epochs', 'seconds', 'step_aucs', 'config', 'val_macro_auc',
          'step_val_aucs']
#: Added after the first results were written: a file without them keeps
#: its header, and its new rows leave them out.
LATER_FIELDS = ['val_macro_auc', 'step_val_aucs']


# ---------------------------------------------------------------------------
# Sampling.
# ---------------------------------------------------------------------------
def random_walks(edge_index: Tensor, edge_weight: Tensor, num_nodes: int,
                 num_walks: int, walk_len: int,
                 gen: torch.Generator) -> Tensor:
    """``[num_nodes * num_walks, walk_len]`` weighted random walks; a walk
    at a node without neighbours stays there."""
    src, dst = edge_index
    order = (src * num_nodes + dst).argsort()
    src, dst, w = src[order], dst[order], edge_weight[order].double()
    cum = torch.cumsum(w, 0)
    start = torch.zeros(num_nodes, dtype=torch.double)
    total = torch.zeros(num_nodes, dtype=torch.double).index_add_(0, src, w)
    ptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(src, minlength=num_nodes), 0)
    has = ptr[1:] > ptr[:-1]
    start[has] = cum[ptr[:-1][has]] - w[ptr[:-1][has]]
    cur = torch.arange(num_nodes).repeat(num_walks)
    walk = [cur]
    for _ in range(walk_len - 1):
        r = torch.rand(cur.numel(), generator=gen, dtype=torch.double)
        target = start[cur] + r * total[cur]
        pos = torch.searchsorted(cum, target, right=True).clamp(
            max=max(dst.numel() - 1, 0))
        nxt = dst[pos] if dst.numel() else cur
        cur = torch.where(has[cur], nxt, cur)
        walk.append(cur)
    return torch.stack(walk, dim=1)


def context_pairs(walks: Tensor, per_node: int, window: int,
                  gen: torch.Generator, num_nodes: Optional[int] = None
                  ) -> Tensor:
    """``[2, P]`` (centre, context) pairs: for every node that occurs in
    ``walks``, ``per_node`` draws of a node co-occurring with it within
    ``window`` steps of one walk (the official minibatch gives each node
    up to ``neg_sample_size`` = 10 of its walk contexts per epoch). A draw
    picks one occurrence of the node and one other position in its window;
    draws that land on the node itself are dropped, so a node whose walks
    never leave it (no edges) has no pairs."""
    W, L = walks.shape
    flat = walks.reshape(-1)
    n = int(flat.max()) + 1 if num_nodes is None else num_nodes
    order = flat.argsort(stable=True)
    count = torch.bincount(flat, minlength=n)
    ptr = torch.zeros(n + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(count, 0)
    centre = torch.arange(n).repeat_interleave(
        torch.where(count > 0, per_node, 0))
    if centre.numel() == 0 or L < 2:
        return torch.empty(2, 0, dtype=torch.long)
    pick = ptr[centre] + (torch.rand(centre.numel(), generator=gen)
                          * count[centre]).long()
    occ = order[pick]
    row, i = occ // L, occ % L
    lo = (i - window).clamp(min=0)
    hi = (i + window).clamp(max=L - 1)
    j = lo + (torch.rand(centre.numel(), generator=gen)
              * (hi - lo)).long()
    j = j + (j >= i).long()  # skip the centre's own position
    pairs = torch.stack([centre, walks[row, j]])
    return pairs[:, pairs[0] != pairs[1]]


def eval_split(edges_next: Tensor, n_prev: int, gen: np.random.Generator
               ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Train/val/test positive and negative pairs for snapshot ``t + 1``:
    20/20/60 % of its distinct links (self-loops included, as the official
    ``create_data_splits``) between nodes present at ``t``, each part with
    as many unlinked random pairs of distinct nodes."""
    u, v = edges_next
    keep = (u <= v) & (v < n_prev)
    # Distinct pairs, sorted (a loop listed twice counts once).
    pos = np.unique(torch.stack([u[keep], v[keep]], 1).numpy().reshape(
        -1, 2), axis=0)
    pos = pos[gen.permutation(len(pos))]
    n_val, n_test = int(0.2 * len(pos)), int(0.6 * len(pos))
    parts = {'val': pos[:n_val], 'test': pos[n_val:n_val + n_test],
             'train': pos[n_val + n_test:]}
    linked = set(map(tuple, torch.stack([u, v], 1).tolist()))
    # Rejection sampling below needs enough unlinked pairs to draw from.
    free = n_prev * (n_prev - 1) // 2 - len({(min(a, b), max(a, b))
                                            for a, b in linked if a != b
                                            and max(a, b) < n_prev})
    if free < len(pos):
        raise ValueError(f"snapshot has {len(pos)} links among {n_prev} "
                         f"nodes but only {free} unlinked pairs to serve "
                         "as negatives")
    taken = set()
    out = {}
    for name in ('train', 'val', 'test'):
        neg: List[List[int]] = []
        while len(neg) < len(parts[name]):
            a, b = (int(k) for k in gen.integers(0, n_prev, 2))
            key = (min(a, b), max(a, b))
            if a == b or (a, b) in linked or (b, a) in linked or \
                    key in taken:
                continue
            taken.add(key)
            neg.append([a, b])
        out[name] = (parts[name], np.array(neg, dtype=np.int64).reshape(
            -1, 2))
    return out


def _features(emb: np.ndarray, pos: np.ndarray, neg: np.ndarray):
    pairs = np.concatenate([pos, neg])
    x = emb[pairs[:, 0]] * emb[pairs[:, 1]]
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return x, y


def link_auc(emb: np.ndarray, split) -> Tuple[float, float, np.ndarray,
                                              np.ndarray]:
    """``(val AUC, test AUC, test scores, test labels)`` of a logistic
    regression on Hadamard features fitted on the train pairs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    x_tr, y_tr = _features(emb, *split['train'])
    x_va, y_va = _features(emb, *split['val'])
    x_te, y_te = _features(emb, *split['test'])
    clf = LogisticRegression(max_iter=1000).fit(x_tr, y_tr)
    p_va = clf.predict_proba(x_va)[:, 1]
    p_te = clf.predict_proba(x_te)[:, 1]
    return (roc_auc_score(y_va, p_va), roc_auc_score(y_te, p_te), p_te,
            y_te)


def degree_noise(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Unnormalised noise distribution of the context loss: node degree
    (neighbour count) to the power 0.75, as the official
    ``fixed_unigram_candidate_sampler``; uniform on a graph without
    edges."""
    deg = torch.bincount(edge_index[0], minlength=num_nodes).double()
    return deg.pow(0.75) if deg.sum() > 0 else torch.ones(num_nodes)


def batch_context_loss(emb: Tensor, pairs: Tensor, noise: Tensor,
                       in_batch: Tensor, neg_samples: int,
                       neg_weight: float, gen: torch.Generator
                       ) -> Optional[Tensor]:
    """Eq. 5 on one snapshot's embeddings ``[N, D]`` for the minibatch of
    centres ``in_batch`` (a node mask): the mean logistic loss of their
    context pairs plus ``neg_weight`` times the mean loss of every centre
    against one shared draw of ``neg_samples`` noise nodes (the official
    loss). ``None`` when no centre of the batch has a context pair (and
    then no noise is drawn)."""
    pos = pairs[:, in_batch[pairs[0]]]
    if pos.size(1) == 0:
        return None
    neg = torch.multinomial(noise, neg_samples, True, generator=gen)
    centre = emb[pos[0]]
    pos_score = (centre * emb[pos[1]]).sum(-1)
    neg_score = centre @ emb[neg].t()
    return F.softplus(-pos_score).mean() + \
        neg_weight * F.softplus(neg_score).mean()


_Best = Tuple[float, float, Optional[np.ndarray], Optional[np.ndarray]]


# ---------------------------------------------------------------------------
# One time step.
# ---------------------------------------------------------------------------
def structural_l2(model: torch.nn.Module) -> Union[Tensor, int]:
    r""":math:`\tfrac12\sum\lVert w\rVert^2` over the structural layer's
    weights (biases excluded): the official code's only regulariser (its
    ``struct_attn`` variables); the temporal layer is not decayed."""
    structural = cast(torch.nn.Module, model.structural)
    # ``sum`` gives 0 for a structural layer without weights.
    return sum(0.5 * p.pow(2).sum()
               for name, p in structural.named_parameters()
               if not name.endswith('bias'))


def run_step(graph, t: int, seed: int, cfg: dict, epochs: int,
             eval_every: int
             ) -> Tuple[float, float, np.ndarray, np.ndarray]:
    """Train on snapshots ``0..t``, evaluate on ``t + 1``; returns the
    best-validation epoch's ``(validation AUC, test AUC, test scores, test
    labels)``."""
    split = _step_split(graph, t, seed, epochs, eval_every)
    from gat_zoo import create_model
    from gat_zoo.nn.functional import sparse_features
    torch.manual_seed(seed * 1000 + t)
    gen = torch.Generator().manual_seed(seed * 1000 + t)
    N = graph.num_nodes[t + 1]
    T = t + 1
    snaps = list(graph.edge_index[:T])
    weights = list(graph.edge_weight[:T])
    # The context loss covers the snapshots 0..t only.
    trained = T
    if cfg.get('repeat_last', False):
        # The official training appends a copy of snapshot t (over the
        # node set of t + 1) and reads the embeddings at t. Its loss
        # leaves the copy out (DySAT._loss sums over the first
        # num_time_steps - 1 slots), and causal attention keeps the
        # embeddings at t independent of it.
        snaps.append(snaps[-1])
        weights.append(weights[-1])
        T += 1
    read = t  # the embedding slot of snapshot t
    walks, noise = [], []
    for s in range(trained):
        walks.append(random_walks(snaps[s], weights[s], N, cfg['num_walks'],
                                  cfg['walk_len'], gen))
        if cfg.get('noise', 'degree') == 'uniform':
            # Diagnostic, not the official sampler: every node present at
            # s, active or not, is equally likely noise.
            noise.append((torch.arange(N) < graph.num_nodes[s]).double())
            continue
        noise.append(degree_noise(snaps[s], N))
    model = create_model('dysat', N, cfg['out_channels'],
                         num_time_steps=T, **cfg['model'])
    # Decay by an explicit structural L2 term (see structural_l2), not by
    # the optimiser on every parameter.
    opt = torch.optim.Adam(model.parameters(), lr=cfg['lr'])
    x = sparse_features(torch.eye(N))  # one-hot ids as a sparse product
    k = cfg['neg_samples']
    best: _Best = (-1.0, 0.0, None, None)
    for epoch in range(1, epochs + 1):
        model.train()
        pairs = [context_pairs(walks[s], cfg['pairs_per_node'],
                               cfg['window'], gen, N)
                 for s in range(trained)]
        for batch in torch.randperm(N, generator=gen).split(
                cfg['batch_size']):
            in_batch = torch.zeros(N, dtype=torch.bool)
            in_batch[batch] = True
            opt.zero_grad()
            emb = model(x, snaps, edge_weight=weights)
            loss = cfg['weight_decay'] * structural_l2(model)
            for s in range(trained):
                term = batch_context_loss(emb[:, s], pairs[s], noise[s],
                                          in_batch, k, cfg['neg_weight'],
                                          gen)
                if term is not None:
                    loss = loss + term
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(),
                                           cfg['max_gradient_norm'])
            opt.step()
        if epoch % eval_every == 0 or epoch == epochs:
            model.eval()
            with torch.no_grad():
                e_t = model(x, snaps, edge_weight=weights)[:, read].numpy()
            best = _keep_best(best, e_t, split)
    return _chosen(best)


def _step_split(graph, t: int, seed: int, epochs: int, eval_every: int):
    """The evaluation split of step ``t`` for ``seed`` (every method of a
    seed sees the same one), after checking the training lengths."""
    if epochs < 1 or eval_every < 1:
        raise ValueError(f"epochs and eval_every must be positive (got "
                         f"{epochs} and {eval_every})")
    return eval_split(graph.edge_index[t + 1], graph.num_nodes[t],
                      np.random.default_rng(seed * 1000 + t))


def _keep_best(best, emb: np.ndarray, split):
    """``best`` or, where ``emb`` scores a higher validation AUC, its
    ``(validation AUC, test AUC, test scores, test labels)``."""
    val, test, p, y = link_auc(emb, split)
    return (val, test, p, y) if val > best[0] else best


def _chosen(best) -> Tuple[float, float, np.ndarray, np.ndarray]:
    # The last epoch always evaluates and any AUC beats -1, so the arrays
    # are set whenever epochs >= 1.
    return (best[0], best[1], cast(np.ndarray, best[2]),
            cast(np.ndarray, best[3]))


# ---------------------------------------------------------------------------
# Static baselines under the same protocol.
# ---------------------------------------------------------------------------
#: What ``--model`` runs: DySAT, or one of two static embeddings of the
#: snapshots aggregated up to t.
METHODS = ('dysat', 'spectral', 'node2vec')


def aggregated_graph(graph, t: int) -> Tuple[Tensor, Tensor, int]:
    """Snapshots ``0..t`` merged into one weighted graph over the nodes
    present at ``t``: ``(edge_index, weight, num_nodes)``, a pair's weight
    its interaction count summed over the snapshots (how the DySAT paper
    feeds static methods: the graph aggregated up to ``t``)."""
    n = graph.num_nodes[t]
    index = torch.cat(list(graph.edge_index[:t + 1]), dim=1)
    weight = torch.cat(list(graph.edge_weight[:t + 1]))
    index, weight = coalesce(index, weight, num_nodes=n, reduce='sum')
    return index, weight, n


def spectral_embedding(edge_index: Tensor, weight: Tensor, num_nodes: int,
                       dim: int, seed: int) -> np.ndarray:
    r"""``[num_nodes, dim]`` truncated SVD :math:`\mathbf{U}_k
    \boldsymbol{\Sigma}_k^{1/2}` of :math:`\tilde{\mathbf{D}}^{-1/2}
    (\mathbf{A} + \mathbf{I})\tilde{\mathbf{D}}^{-1/2}` (DySAT's own
    normalisation, :func:`~gat_zoo.nn.conv.dysat_conv.dysat_graph`),
    rescaled to unit standard deviation: the link classifier's default L2
    penalty would otherwise flatten the Hadamard products of such small
    entries (about :math:`1/\sqrt{N}`) into a constant score."""
    import scipy.sparse as sp
    from sklearn.utils.extmath import randomized_svd

    from gat_zoo.nn.conv.dysat_conv import dysat_graph
    index, value = dysat_graph(edge_index, num_nodes, weight,
                               add_self_loops=True, normalize=True,
                               dtype=torch.float64)
    matrix = sp.csr_matrix((value.numpy(), index.numpy()),
                           shape=(num_nodes, num_nodes))
    k = max(1, min(dim, num_nodes - 1))
    u, sigma, _ = randomized_svd(matrix, k, random_state=seed)
    emb = u * np.sqrt(sigma)
    return emb / max(float(emb.std()), 1e-12)


def run_step_static(graph, t: int, seed: int, method: str, cfg: dict,
                    epochs: int, eval_every: int
                    ) -> Tuple[float, float, np.ndarray, np.ndarray]:
    """:func:`run_step` for a static embedding of the snapshots aggregated
    up to ``t`` (:func:`aggregated_graph`), evaluated on the same split of
    snapshot ``t + 1``:

    * ``'spectral'``: :func:`spectral_embedding` (nothing to train).
    * ``'node2vec'``: a free ``[N, dim]`` embedding table trained with
      DySAT's own random-walk context loss and sampler (DeepWalk walks,
      i.e. node2vec with :math:`p = q = 1`), Adam, the best-validation
      epoch kept: DySAT's objective without its attention layers
      (``cfg['noise'] = 'uniform'``: the noise nodes drawn uniformly, the
      diagnostic of ``--noise uniform``).
    """
    if method not in METHODS[1:]:
        raise ValueError(f"unknown static method {method!r}; expected one "
                         f"of {METHODS[1:]}")
    split = _step_split(graph, t, seed, epochs, eval_every)
    index, weight, n = aggregated_graph(graph, t)
    dim = cfg['model']['dim']
    if method == 'spectral':
        val, test, p, y = link_auc(
            spectral_embedding(index, weight, n, dim, seed), split)
        return val, test, p, y
    gen = torch.Generator().manual_seed(seed * 1000 + t)
    walks = random_walks(index, weight, n, cfg['num_walks'],
                         cfg['walk_len'], gen)
    # --noise uniform (a diagnostic): every node present at t alike.
    noise = (torch.ones(n, dtype=torch.double)
             if cfg.get('noise', 'degree') == 'uniform'
             else degree_noise(index, n))
    table = torch.nn.Parameter(
        torch.randn(n, dim, generator=gen) / dim ** 0.5)
    opt = torch.optim.Adam([table], lr=cfg['lr'])
    best: _Best = (-1.0, 0.0, None, None)
    for epoch in range(1, epochs + 1):
        pairs = context_pairs(walks, cfg['pairs_per_node'], cfg['window'],
                              gen, n)
        for batch in torch.randperm(n, generator=gen).split(
                cfg['batch_size']):
            in_batch = torch.zeros(n, dtype=torch.bool)
            in_batch[batch] = True
            loss = batch_context_loss(table, pairs, noise, in_batch,
                                      cfg['neg_samples'], cfg['neg_weight'],
                                      gen)
            if loss is None:
                continue
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % eval_every == 0 or epoch == epochs:
            best = _keep_best(best, table.detach().numpy(), split)
    return _chosen(best)


def static_config() -> dict:
    """The static baselines' settings: DySAT's sampler and loss settings,
    its embedding width (16 heads x 8 = 128) and, for the free embedding
    table, Adam at lr 0.01 (DySAT's 1e-3 suits its shared layer weights,
    not a table whose rows each see a handful of pairs per epoch)."""
    dysat = default_config()
    heads = dysat['model']['structural_heads']
    keep = ('walk_len', 'num_walks', 'window', 'pairs_per_node',
            'neg_samples', 'neg_weight', 'batch_size')
    return {'model': {'dim': heads * dysat['out_channels']}, 'lr': 0.01,
            **{key: dysat[key] for key in keep}}


def run_seed(graph, seed: int, cfg: dict, epochs: int, eval_every: int,
             steps: Optional[Sequence[int]] = None,
             method: str = 'dysat') -> Dict[str, Any]:
    """Every step ``t`` of ``steps`` (default: all) with ``method`` (one of
    :data:`METHODS`); micro- and macro-AUC over the steps."""
    from sklearn.metrics import roc_auc_score
    steps = list(range(graph.num_snapshots - 1)) if steps is None else \
        list(steps)
    aucs, val_aucs, scores, labels = [], [], [], []
    for t in steps:
        if method == 'dysat':
            val, auc, p, y = run_step(graph, t, seed, cfg, epochs,
                                      eval_every)
        else:
            val, auc, p, y = run_step_static(graph, t, seed, method, cfg,
                                             epochs, eval_every)
        aucs.append(auc)
        val_aucs.append(val)
        scores.append(p)
        labels.append(y)
        print(f'  {graph.name} seed {seed} step {t}: test AUC {auc:.4f}',
              flush=True)
    micro = roc_auc_score(np.concatenate(labels), np.concatenate(scores))
    return {'micro_auc': 100 * micro, 'macro_auc': 100 * float(
        np.mean(aucs)), 'steps': len(steps), 'step_aucs': aucs,
        'val_macro_auc': 100 * float(np.mean(val_aucs)),
        'step_val_aucs': val_aucs}


def default_config() -> dict:
    from gat_zoo import paper_config
    pc = paper_config('dysat', 'Enron')
    tr = pc['train']
    return {'model': pc['model'], 'out_channels': tr['out_channels'],
            'lr': tr['lr'], 'weight_decay': tr['weight_decay'],
            'neg_samples': tr['neg_samples'], 'neg_weight': 1.0,
            'walk_len': tr['walk_len'], 'num_walks': 10, 'window': 10,
            'pairs_per_node': tr['neg_samples'],
            'batch_size': tr['batch_size'],
            'repeat_last': tr.get('repeat_last', False),
            'max_gradient_norm': tr['max_gradient_norm']}


def apply_settings(cfg: dict, settings: Sequence[str]) -> dict:
    """``cfg`` with each ``KEY=VALUE`` of ``settings`` applied (a number
    or true/false; ``model.KEY`` for an argument of the model); a key the
    configuration does not have raises :class:`ValueError` naming the keys
    it has."""
    from gat_zoo.bench.runner import _parse_value
    cfg = dict(cfg, model=dict(cfg['model']))
    for item in settings:
        key, sep, text = item.partition('=')
        key = key.strip()
        section = cfg
        if key.startswith('model.'):
            section, key = cfg['model'], key[len('model.'):]
        if not sep or key not in section or key == 'model':
            known = sorted([k for k in cfg if k != 'model'] +
                           [f'model.{k}' for k in cfg['model']])
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY "
                             f"one of {', '.join(known)}")
        section[key] = _parse_value(text)
    return cfg


def _done(path: Path) -> set:
    return {(r['model'], r['dataset'], int(r['seed']))
            for r in read_csv_rows(path)}


def write_table(csv_path: Path) -> str:
    """The ``.txt`` summary next to the CSV: mean ± std per dataset, beside
    the paper's numbers."""
    from gat_zoo import paper_result
    rows = read_csv_rows(csv_path)
    lines = ['Single-step link prediction on the next snapshot (ours: mean '
             '± std over seeds; paper: DySAT\'s Table 3, UNVERIFIED; val '
             'macro: over the rows that record it)',
             f"{'model':<9} {'dataset':<8} {'runs':>4} {'micro-AUC':>14} "
             f"{'macro-AUC':>14}"
             f" {'val macro-AUC':>14} {'paper micro':>12} {'paper macro':>12}"]

    def fmt(v):
        if not v:
            return '—'
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        return f'{statistics.mean(v):.2f} ± {sd:.2f}'

    groups = sorted({(r['model'], r['dataset']) for r in rows},
                    key=lambda g: (METHODS.index(g[0]) if g[0] in METHODS
                                   else len(METHODS), g))
    for method, ds in groups:
        sub = [r for r in rows if (r['model'], r['dataset']) == (method, ds)]
        mi = [float(r['micro_auc']) for r in sub]
        ma = [float(r['macro_auc']) for r in sub]
        va = [float(r['val_macro_auc']) for r in sub
              if r.get('val_macro_auc')]
        # The paper's numbers are DySAT's; a baseline row shows none.
        ref = (paper_result('dysat', ds) or {}) if method == 'dysat' else {}
        paper = [f"{ref[key]:.2f}" if key in ref else '—'
                 for key in ('mean', 'macro_auc')]
        lines.append(f"{method:<9} {ds:<8} {len(sub):>4} {fmt(mi):>14} "
                     f"{fmt(ma):>14} {fmt(va):>14} {paper[0]:>12} "
                     f"{paper[1]:>12}")
    text = '\n'.join(lines) + '\n'
    csv_path.with_suffix('.txt').write_text(text)
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog='python -m gat_zoo.bench.dynamic',
                                description=__doc__.split('\n')[0])
    p.add_argument('--dataset', default='Enron,UCI')
    p.add_argument('--model', default='dysat',
                   help="comma-separated methods: 'dysat', or the static "
                   "baselines 'spectral' and 'node2vec' on the snapshots "
                   "aggregated up to t (default: dysat)")
    p.add_argument('--runs', type=_positive, default=10)
    p.add_argument('--seeds', default=None,
                   help="seeds to run, e.g. '0-4' or '0,3,5-9' (default: "
                   "0..RUNS-1); lets several processes share one results "
                   "file")
    p.add_argument('--epochs', type=_positive, default=200)
    p.add_argument('--eval-every', type=_positive, default=1)
    p.add_argument('--steps', default=None,
                   help='comma-separated time steps t (default: all)')
    p.add_argument('--noise', choices=('degree', 'uniform'),
                   default='degree',
                   help="noise nodes of the context loss: 'degree' (the "
                   "official degree^0.75 sampler) or 'uniform' over the "
                   "snapshot's nodes (a diagnostic deviation)")
    p.add_argument('--set', dest='settings', action='append', default=[],
                   metavar='KEY=VALUE',
                   help="replace one setting of the configuration, e.g. "
                   "'lr=0.01' or 'model.temporal_dropout=0.5' (repeatable; "
                   "compare settings on the rows' validation AUCs)")
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--root', default=None, help='data root')
    p.add_argument('--results-file', default=None)
    p.add_argument('--resume', action='store_true')
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from gat_zoo.datasets.dynamic import load_dynamic
    out = Path(args.results_file) if args.results_file else None
    done = _done(out) if (out is not None and args.resume) else set()
    if out is not None and out.exists() and not args.resume:
        out.unlink()  # a fresh file, as without --resume before
    # One fsynced O_APPEND write per row under a lock: a killed run leaves
    # a valid file, and parallel processes (--seeds) can share it.
    results = (ResultsFile(out, fields=FIELDS, later_fields=LATER_FIELDS)
               if out is not None else None)
    seeds = (parse_seeds(args.seeds) if args.seeds is not None
             else list(range(args.runs)))
    methods = [m.strip() for m in args.model.split(',')]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"--model {', '.join(unknown)}: expected one of "
                f"{', '.join(METHODS)}")
    if args.noise != 'degree' and 'spectral' in methods:
        p.error("--noise changes the context loss's sampler, which "
                "'spectral' does not have; run it with --model dysat or "
                "node2vec")
    configs = {}
    for method in methods:
        try:
            configs[method] = apply_settings(
                default_config() if method == 'dysat' else static_config(),
                args.settings)
        except ValueError as err:
            p.error(f'{method}: {err}')
    if args.noise != 'degree':  # the default leaves the config unchanged
        for cfg in configs.values():
            cfg['noise'] = args.noise
    steps = None if args.steps is None else [
        int(s) for s in args.steps.split(',')]
    for name in args.dataset.split(','):
        graph = load_dynamic(name, args.root)
        for method, seed in [(m, s) for m in methods for s in seeds]:
            if (method, graph.name, seed) in done:
                continue
            cfg = configs[method]
            t0 = time.time()
            res = run_seed(graph, seed, cfg, args.epochs, args.eval_every,
                           steps, method=method)
            row = {'model': method, 'dataset': graph.name, 'seed': seed,
                   'micro_auc': f"{res['micro_auc']:.4f}",
                   'macro_auc': f"{res['macro_auc']:.4f}",
                   'steps': res['steps'], 'epochs': args.epochs,
                   'seconds': f'{time.time() - t0:.1f}',
                   'step_aucs': ' '.join(f'{100 * a:.2f}'
                                         for a in res['step_aucs']),
                   'config': json.dumps(cfg, sort_keys=True),
                   'val_macro_auc': f"{res['val_macro_auc']:.4f}",
                   'step_val_aucs': ' '.join(f'{100 * a:.2f}'
                                             for a in res['step_val_aucs'])}
            print(row, flush=True)
            if results is not None:
                results.append(row)
    if out is not None and out.exists():
        print(write_table(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
