r"""Link-prediction protocol: edge splits, training with negative sampling,
validation-only model selection, AUC and AP.

A link model is called as ``model(x, edge_index, pairs)`` and returns one
logit per column of ``pairs`` (``[2, P]``), e.g.
:class:`gat_zoo.nn.models.pagnn.PaGNN` and
:class:`gat_zoo.nn.models.pagnn.GAEGAT`.

**Transductive split** (:func:`transductive_split`): the undirected edges are
split at random 85 / 5 / 10 into train / validation / test by
:class:`torch_geometric.transforms.RandomLinkSplit`
(``is_undirected=True``, seeded). Training messages and training positives
are the training edges; validation runs on the training graph, test on the
training + validation graph; validation and test get one uniformly sampled
non-edge per positive (RandomLinkSplit's negatives).

**Inductive split** (:func:`inductive_split`): a random 10% of the nodes are
*test* nodes and 5% *validation* nodes. Every edge touching a test node is a
test edge, every other edge touching a validation node a validation edge;
the rest are training edges. Training never sees an unseen node: the
training graph, the training positives and the training negatives use
training nodes only (the unseen nodes are isolated there). At evaluation
time an unseen node arrives with its features and a share
(``observed_ratio``, default one half) of its edges, the *observed* edges;
its other edges are the positives to predict:

* validation graph = training edges + observed validation edges;
* test graph = training edges + all validation edges + observed test edges.

Each positive ``(u, v)`` gets one negative that keeps its unseen end and
replaces the other by a uniform node visible at that stage (training and
validation nodes for validation, any node for test), never a self-pair or an
edge of the full graph, in the positive's orientation.

**Training** (:func:`train_link_predictor`): full-batch Adam on binary
cross-entropy over the training positives and as many negatives, drawn anew
every epoch by :func:`torch_geometric.utils.negative_sampling` on the
training graph (among training nodes). The model is evaluated on the
validation pairs after every epoch; the checkpoint with the highest
validation AUC is kept (ties: the earlier epoch), training stops after
``patience`` epochs without improvement, and the test pairs are scored once,
by the kept checkpoint. AUC and AP come from
:func:`sklearn.metrics.roc_auc_score` and
:func:`sklearn.metrics.average_precision_score` (with an exact fallback when
scikit-learn is missing).
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import (
    coalesce,
    negative_sampling,
    remove_self_loops,
    to_undirected,
)

from gat_zoo.bench.train import seed_everything

__all__ = [
    'LinkRunResult',
    'LinkSplit',
    'average_precision',
    'inductive_split',
    'link_metrics',
    'make_link_split',
    'roc_auc',
    'train_link_predictor',
    'transductive_split',
]

SPLITS = ('transductive', 'inductive')


# Metrics #####################################################################


def _labels_scores(pos: Any, neg: Any) -> Tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(torch.as_tensor(pos).detach().cpu().double(),
                     dtype=np.float64).ravel()
    neg = np.asarray(torch.as_tensor(neg).detach().cpu().double(),
                     dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError(f"AUC and AP need at least one positive and one "
                         f"negative score (got {pos.size} and {neg.size})")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise ValueError("Link scores contain NaN or infinite values")
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    return y, np.concatenate([pos, neg])


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive
    outscores a random negative, ties counting one half (average ranks,
    Mann-Whitney)."""
    order = np.argsort(score, kind='mergesort')
    s = score[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):  # average rank over each tie group
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2.0 + 1.0
        i = j + 1
    r = np.empty_like(ranks)
    r[order] = ranks
    n_pos = float((y == 1).sum())
    n_neg = float(len(y) - n_pos)
    return float((r[y == 1].sum() - n_pos * (n_pos + 1) / 2) /
                 (n_pos * n_neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    r"""Average precision :math:`\sum_k (R_k - R_{k-1}) P_k` over the
    distinct score thresholds, highest first (scikit-learn's definition:
    tied scores enter together, no interpolation)."""
    order = np.argsort(-score, kind='mergesort')
    s, t = score[order], y[order]
    tp = np.cumsum(t)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # end of each tie
    tp, count = tp[last], last + 1.0
    precision = tp / count
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def link_metrics(pos: Any, neg: Any) -> Dict[str, float]:
    """``{'auc': ..., 'ap': ...}`` of positive and negative pair scores
    (logits or probabilities)."""
    y, score = _labels_scores(pos, neg)
    try:
        from sklearn.metrics import average_precision_score, roc_auc_score
    except ImportError:  # pragma: no cover - sklearn is a bench extra
        return {'auc': roc_auc(y, score), 'ap': average_precision(y, score)}
    return {'auc': float(roc_auc_score(y, score)),
            'ap': float(average_precision_score(y, score))}


# Splits ######################################################################


@dataclass
class LinkSplit:
    """Graphs and labelled pairs of one link-prediction split.

    ``*_edge_index`` are the (undirected, both directions) message-passing
    graphs of each stage; ``*_pos`` / ``*_neg`` are ``[2, P]`` pairs, each
    undirected edge once. ``train_nodes`` (inductive only) marks the nodes
    training negatives are drawn from; ``val_nodes`` / ``test_nodes`` the
    unseen nodes."""
    kind: str
    num_nodes: int
    train_edge_index: Tensor
    train_pos: Tensor
    val_edge_index: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_edge_index: Tensor
    test_pos: Tensor
    test_neg: Tensor
    train_nodes: Optional[Tensor] = None
    val_nodes: Optional[Tensor] = None
    test_nodes: Optional[Tensor] = None

    def to(self, device) -> LinkSplit:
        out = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                setattr(out, name, value.to(device))
        return out


def _undirected_edges(data) -> Tensor:
    """Each undirected edge once, ``u < v``, sorted, without self-loops."""
    edge_index, _ = remove_self_loops(data.edge_index)
    edge_index = to_undirected(edge_index, num_nodes=data.num_nodes)
    keep = edge_index[0] < edge_index[1]
    return coalesce(edge_index[:, keep], num_nodes=data.num_nodes)


def transductive_split(data, seed: int, num_val: float = 0.05,
                       num_test: float = 0.10) -> LinkSplit:
    """Random edge split (default 85/5/10) by
    :class:`~torch_geometric.transforms.RandomLinkSplit`, seeded by
    ``seed`` (the global RNG state is restored afterwards)."""
    from torch_geometric.transforms import RandomLinkSplit

    edges = _undirected_edges(data)
    graph = Data(x=data.x, edge_index=to_undirected(
        edges, num_nodes=data.num_nodes), num_nodes=data.num_nodes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        train, val, test = RandomLinkSplit(
            num_val=num_val, num_test=num_test, is_undirected=True,
            split_labels=True, add_negative_train_samples=False)(graph)
    return LinkSplit(
        kind='transductive', num_nodes=data.num_nodes,
        train_edge_index=train.edge_index,
        train_pos=train.pos_edge_label_index,
        val_edge_index=val.edge_index, val_pos=val.pos_edge_label_index,
        val_neg=val.neg_edge_label_index,
        test_edge_index=test.edge_index, test_pos=test.pos_edge_label_index,
        test_neg=test.neg_edge_label_index)


def _corrupt(pos: Tensor, unseen: Tensor, visible: Tensor, edge_keys: Tensor,
             num_nodes: int, gen: torch.Generator) -> Tensor:
    """One negative per positive: keep the unseen end, replace the other by
    a uniform visible node; no self-pair, no edge of the full graph."""
    keep_first = unseen[pos[0]]
    anchor = torch.where(keep_first, pos[0], pos[1])
    candidates = visible.nonzero().view(-1)
    other = torch.empty_like(anchor)
    todo = torch.ones_like(anchor, dtype=torch.bool)
    for _ in range(1000):
        n = int(todo.sum())
        if n == 0:
            break
        pick = candidates[torch.randint(candidates.numel(), (n, ),
                                        generator=gen)]
        other[todo] = pick
        a, b = anchor[todo], pick
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        is_edge = torch.isin(lo * num_nodes + hi, edge_keys)
        bad = (a == b) | is_edge
        idx = todo.nonzero().view(-1)
        todo = torch.zeros_like(todo)
        todo[idx[bad]] = True
    if bool(todo.any()):
        raise ValueError("Could not sample negatives: the unseen nodes are "
                         "adjacent to almost every visible node")
    return torch.stack([torch.where(keep_first, anchor, other),
                        torch.where(keep_first, other, anchor)])


def inductive_split(data, seed: int, val_node_ratio: float = 0.05,
                    test_node_ratio: float = 0.10,
                    observed_ratio: float = 0.5) -> LinkSplit:
    """Node split for inductive link prediction (see the module docstring):
    ``test_node_ratio`` / ``val_node_ratio`` of the nodes and all their
    edges are removed from training; ``observed_ratio`` of each stage's
    edges are revealed at evaluation time, the rest are its positives."""
    for name, value in (('val_node_ratio', val_node_ratio),
                        ('test_node_ratio', test_node_ratio),
                        ('observed_ratio', observed_ratio)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"'{name}' must be in [0, 1) (got {value})")
    if val_node_ratio + test_node_ratio >= 1.0:
        raise ValueError("'val_node_ratio' + 'test_node_ratio' must be "
                         "below 1")
    N = int(data.num_nodes)
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(N, generator=gen)
    n_test, n_val = round(N * test_node_ratio), round(N * val_node_ratio)
    test_nodes = torch.zeros(N, dtype=torch.bool)
    val_nodes = torch.zeros(N, dtype=torch.bool)
    test_nodes[perm[:n_test]] = True
    val_nodes[perm[n_test:n_test + n_val]] = True
    train_nodes = ~(test_nodes | val_nodes)

    edges = _undirected_edges(data)
    u, v = edges
    in_test = test_nodes[u] | test_nodes[v]
    in_val = ~in_test & (val_nodes[u] | val_nodes[v])
    train_edges = edges[:, ~in_test & ~in_val]

    def reveal(stage_edges: Tensor) -> Tuple[Tensor, Tensor]:
        order = torch.randperm(stage_edges.size(1), generator=gen)
        n_obs = int(observed_ratio * stage_edges.size(1))
        return stage_edges[:, order[:n_obs]], stage_edges[:, order[n_obs:]]

    val_obs, val_pos = reveal(edges[:, in_val])
    test_obs, test_pos = reveal(edges[:, in_test])
    keys = edges[0] * N + edges[1]
    val_neg = _corrupt(val_pos, val_nodes, train_nodes | val_nodes, keys, N,
                       gen)
    test_neg = _corrupt(test_pos, test_nodes, torch.ones_like(train_nodes),
                        keys, N, gen)

    def graph(*parts: Tensor) -> Tensor:
        return to_undirected(torch.cat(parts, 1), num_nodes=N)

    return LinkSplit(
        kind='inductive', num_nodes=N,
        train_edge_index=graph(train_edges), train_pos=train_edges,
        val_edge_index=graph(train_edges, val_obs), val_pos=val_pos,
        val_neg=val_neg,
        test_edge_index=graph(train_edges, edges[:, in_val], test_obs),
        test_pos=test_pos, test_neg=test_neg, train_nodes=train_nodes,
        val_nodes=val_nodes, test_nodes=test_nodes)


def make_link_split(data, split: str, seed: int, **kwargs) -> LinkSplit:
    """:func:`transductive_split` or :func:`inductive_split` by name."""
    if split == 'transductive':
        return transductive_split(data, seed, **kwargs)
    if split == 'inductive':
        return inductive_split(data, seed, **kwargs)
    raise ValueError(f"Unknown link split {split!r}; expected one of "
                     f"{SPLITS}")


def sample_train_negatives(split: LinkSplit, num: int) -> Tensor:
    """``num`` non-edges of the training graph, among training nodes."""
    if split.train_nodes is None:
        return negative_sampling(split.train_edge_index,
                                 num_nodes=split.num_nodes,
                                 num_neg_samples=num)
    nodes = split.train_nodes.nonzero().view(-1)
    relabel = torch.full((split.num_nodes, ), -1, dtype=torch.long,
                         device=nodes.device)
    relabel[nodes] = torch.arange(nodes.numel(), device=nodes.device)
    local = negative_sampling(relabel[split.train_edge_index],
                              num_nodes=nodes.numel(), num_neg_samples=num)
    return nodes[local]


# Training ####################################################################


@dataclass
class LinkRunResult:
    """One link-prediction run (AUC and AP are fractions in [0, 1]);
    ``val_score`` / ``test_score`` are the AUCs, as in
    :class:`~gat_zoo.bench.train.RunResult`."""
    split: str
    best_epoch: int
    epochs_run: int
    val_auc: float
    val_ap: float
    test_auc: float
    test_ap: float
    train_loss: float
    train_time_s: float
    time_per_epoch_s: float
    history: List[Dict[str, float]] = field(default_factory=list)

    @property
    def val_score(self) -> float:
        return self.val_auc

    @property
    def test_score(self) -> float:
        return self.test_auc

    def as_dict(self, with_history: bool = False) -> Dict[str, Any]:
        row = asdict(self)
        if not with_history:
            row.pop('history')
        return row


@torch.no_grad()
def score_pairs(model: torch.nn.Module, x: Tensor, edge_index: Tensor,
                pairs: Tensor, batch_size: Optional[int] = None) -> Tensor:
    """Eval-mode logits of ``pairs``, in chunks of ``batch_size``."""
    model.eval()
    if batch_size is None or pairs.size(1) <= batch_size:
        return model(x, edge_index, pairs)
    return torch.cat([model(x, edge_index, pairs[:, i:i + batch_size])
                      for i in range(0, pairs.size(1), batch_size)])


def _evaluate(model, x, edge_index, pos, neg, batch_size) -> Dict[str, float]:
    scores = score_pairs(model, x, edge_index, torch.cat([pos, neg], 1),
                         batch_size)
    return link_metrics(scores[:pos.size(1)], scores[pos.size(1):])


def train_link_predictor(
    model: torch.nn.Module,
    data,
    *,
    split: str = 'transductive',
    seed: int = 0,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    patience: Optional[int] = 20,
    device: Optional[torch.device] = None,
    batch_size: Optional[int] = None,
    eval_batch_size: Optional[int] = 4096,
    link_split: Optional[LinkSplit] = None,
    split_kwargs: Optional[Dict[str, Any]] = None,
    on_epoch: Optional[Callable[[int, Dict[str, float]], None]] = None,
    keep_history: bool = True,
) -> LinkRunResult:
    """Train a link predictor under the protocol of this module.

    Args:
        model: ``model(x, edge_index, pairs) -> logits [P]``.
        data: A :class:`~torch_geometric.data.Data` with ``x`` and
            ``edge_index`` (read as undirected).
        split: ``'transductive'`` or ``'inductive'``.
        seed: Seeds the split and the training randomness (negatives,
            dropout); seed the model's initialisation before building it.
        epochs, lr, weight_decay: Adam's settings and the epoch budget.
        patience: Stop after this many epochs without a better validation
            AUC (:obj:`None`: never stop early).
        batch_size: Training pairs per optimiser step (:obj:`None`: all,
            full batch).
        eval_batch_size: Pairs per evaluation forward (memory only).
        link_split: A precomputed :class:`LinkSplit` (else built from
            ``data``, ``split``, ``seed`` and ``split_kwargs``).
        on_epoch: Called after each epoch with its record.
    """
    if epochs < 1:
        raise ValueError(f"'epochs' must be at least 1 (got {epochs})")
    if link_split is None:
        link_split = make_link_split(data, split, seed, **(split_kwargs or
                                                           {}))
    device = device or next(model.parameters()).device
    model = model.to(device)
    sp = link_split.to(device)
    x = data.x.to(device)
    seed_everything(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                 weight_decay=weight_decay)
    best: Dict[str, Any] = {'epoch': 0, 'auc': -float('inf'), 'ap': 0.0,
                            'state': copy.deepcopy(model.state_dict())}
    history: List[Dict[str, float]] = []
    stale, epoch, loss_value = 0, 0, float('nan')
    start = time.perf_counter()
    pos = sp.train_pos
    for epoch in range(1, epochs + 1):
        model.train()
        neg = sample_train_negatives(sp, pos.size(1))
        pairs = torch.cat([pos, neg], 1)
        labels = torch.cat([pos.new_ones(pos.size(1)),
                            pos.new_zeros(neg.size(1))]).float()
        perm = torch.randperm(pairs.size(1), device=device)
        step = batch_size or pairs.size(1)
        total = 0.0
        for i in range(0, pairs.size(1), step):
            idx = perm[i:i + step]
            optimizer.zero_grad()
            logits = model(x, sp.train_edge_index, pairs[:, idx])
            loss = F.binary_cross_entropy_with_logits(logits, labels[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * idx.numel()
        loss_value = total / pairs.size(1)
        val = _evaluate(model, x, sp.val_edge_index, sp.val_pos, sp.val_neg,
                        eval_batch_size)
        record = {'epoch': epoch, 'train_loss': loss_value,
                  'val_auc': val['auc'], 'val_ap': val['ap']}
        if keep_history:
            history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if val['auc'] > best['auc']:
            best = {'epoch': epoch, 'auc': val['auc'], 'ap': val['ap'],
                    'state': copy.deepcopy(model.state_dict())}
            stale = 0
        else:
            stale += 1
            if patience is not None and stale >= patience:
                break
    elapsed = time.perf_counter() - start
    model.load_state_dict(best['state'])
    test = _evaluate(model, x, sp.test_edge_index, sp.test_pos, sp.test_neg,
                     eval_batch_size)
    return LinkRunResult(split=link_split.kind, best_epoch=best['epoch'],
                         epochs_run=epoch, val_auc=best['auc'],
                         val_ap=best['ap'], test_auc=test['auc'],
                         test_ap=test['ap'], train_loss=loss_value,
                         train_time_s=elapsed,
                         time_per_epoch_s=elapsed / max(epoch, 1),
                         history=history)
