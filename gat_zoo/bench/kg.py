r"""Knowledge-graph completion: filtered ranking evaluation and 1-N training.

**Evaluation.** Every test triple :math:`(h, r, t)` gives two queries: the
tail query :math:`(h, r, ?)` and the head query :math:`(?, r, h)`, asked
as :math:`(t, r + R, ?)` with the inverse relation. The target is ranked
against *all* entities after removing every other entity that also
completes the query in train, valid or test (the *filtered* setting of
Bordes et al., 2013). Ties are never broken in the target's favour: the
``'mean'`` rule (default; the "realistic" rank) gives rank
:math:`1 + |\{s > s_t\}| + |\{s = s_t\}|/2`, the ``'pessimistic'`` rule
:math:`1 + |\{s \ge s_t\}|` (both over the non-filtered entities other
than the target). A model scoring all entities alike thus gets the middle
rank, not rank 1. MRR, MR and Hits@1/3/10 are averaged over both
directions of all triples.

**Training.** 1-N scoring as in ConvE (Dettmers et al., AAAI 2018): each
distinct training query :math:`(h, r)` (inverses included) is scored
against all entities with binary cross-entropy on label-smoothed 0/1
targets, optimised with Adam; validation MRR selects the epoch.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'TIE_RULES',
    'KGFilter',
    'KGTrainResult',
    'evaluate_kg',
    'filtered_ranks',
    'ranking_metrics',
    'train_kg',
    'training_queries',
]

TIE_RULES = ('mean', 'pessimistic')


def _augment(triples: Tensor, num_relations: int) -> Tensor:
    """``(h, r, t)`` and ``(t, r + R, h)`` as ``[2T, 3]``."""
    h, r, t = triples.unbind(1)
    return torch.cat([triples, torch.stack([t, r + num_relations, h], 1)])


class KGFilter:
    r"""The known answers of every query :math:`(h, r)` over a set of
    triples (with inverses), stored sorted for vectorised look-ups.

    Args:
        triples (list of torch.Tensor): ``[T, 3]`` ``(h, r, t)`` tensors
            (e.g. train, valid and test) whose answers are filtered.
        num_entities (int): Number of entities :math:`N`.
        num_relations (int): Number of relations :math:`R`, without
            inverses.
    """

    def __init__(self, triples: List[Tensor], num_entities: int,
                 num_relations: int):
        self.num_entities = num_entities
        self.num_relations = num_relations
        allt = _augment(torch.cat(list(triples)).long(), num_relations)
        key = allt[:, 0] * (2 * num_relations) + allt[:, 1]
        key, tail = key, allt[:, 2]
        # unique (key, tail) pairs, sorted by key
        pair = torch.unique(key * num_entities + tail)
        self.keys = torch.div(pair, num_entities, rounding_mode='floor')
        self.tails = pair - self.keys * num_entities

    def answers(self, queries: Tensor):
        """``(row, entity)`` of every known answer of the ``[2, B]``
        queries (row = position of the query in the batch)."""
        key = queries[0] * (2 * self.num_relations) + queries[1]
        start = torch.searchsorted(self.keys, key)
        end = torch.searchsorted(self.keys, key, right=True)
        counts = end - start
        row = torch.repeat_interleave(torch.arange(key.numel()), counts)
        offsets = torch.arange(int(counts.sum())) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts)
        return row, self.tails[start[row] + offsets]


def filtered_ranks(scores: Tensor, targets: Tensor,
                   filter_rows: Optional[Tensor] = None,
                   filter_cols: Optional[Tensor] = None,
                   tie: str = 'mean') -> Tensor:
    r"""Rank of every target among all entities.

    Args:
        scores (torch.Tensor): ``[B, N]`` scores (higher is better).
        targets (torch.Tensor): ``[B]`` target entity of each row.
        filter_rows, filter_cols (torch.Tensor, optional): Entries removed
            from the ranking (the other known answers). An entry on the
            target itself is ignored: the target is always ranked.
        tie (str, optional): :obj:`'mean'` or :obj:`'pessimistic'` (see
            the module doc). (default: :obj:`'mean'`)

    Returns:
        torch.Tensor: ``[B]`` float ranks (1 is best).
    """
    if tie not in TIE_RULES:
        raise ValueError(f"Unknown tie rule {tie!r}; expected one of "
                         f"{TIE_RULES} (an optimistic rule is not offered)")
    scores = scores.detach()
    if not torch.isfinite(scores).all():
        raise ValueError("Scores must be finite to be ranked")
    rows = torch.arange(scores.size(0), device=scores.device)
    target_score = scores[rows, targets].unsqueeze(1)
    keep = torch.ones_like(scores, dtype=torch.bool)
    if filter_rows is not None and filter_rows.numel():
        keep[filter_rows, filter_cols] = False
    keep[rows, targets] = False  # counted separately
    greater = ((scores > target_score) & keep).sum(1)
    equal = ((scores == target_score) & keep).sum(1)
    if tie == 'mean':
        return 1.0 + greater.double() + equal.double() / 2.0
    return 1.0 + greater.double() + equal.double()


def ranking_metrics(ranks: Tensor) -> Dict[str, float]:
    """MRR, MR and Hits@1/3/10 of a vector of ranks."""
    ranks = ranks.double()
    if ranks.numel() == 0:
        return {k: math.nan for k in ('mrr', 'mr', 'hits@1', 'hits@3',
                                      'hits@10')}
    return {
        'mrr': float((1.0 / ranks).mean()),
        'mr': float(ranks.mean()),
        'hits@1': float((ranks <= 1).double().mean()),
        'hits@3': float((ranks <= 3).double().mean()),
        'hits@10': float((ranks <= 10).double().mean()),
    }


@torch.no_grad()
def evaluate_kg(score_fn: Callable[[Tensor], Tensor], triples: Tensor,
                kg_filter: KGFilter, batch_size: int = 1024,
                tie: str = 'mean') -> Dict[str, float]:
    r"""Filtered link-prediction metrics of ``triples``.

    Args:
        score_fn (callable): ``queries [2, B] -> scores [B, N]``.
        triples (torch.Tensor): ``[T, 3]`` ``(h, r, t)`` triples.
        kg_filter (KGFilter): Known answers to filter (train + valid +
            test).
        batch_size (int, optional): Queries scored at once.
        tie (str, optional): Tie rule, :obj:`'mean'` or
            :obj:`'pessimistic'`.

    Returns:
        dict: ``mrr``, ``mr``, ``hits@1``, ``hits@3``, ``hits@10`` and
        ``num_queries``.
    """
    queries = _augment(triples.long(), kg_filter.num_relations)
    ranks = []
    for start in range(0, queries.size(0), batch_size):
        batch = queries[start:start + batch_size]
        q = batch[:, :2].t().contiguous()
        scores = score_fn(q)
        rows, cols = kg_filter.answers(q)
        ranks.append(filtered_ranks(scores, batch[:, 2], rows, cols,
                                    tie=tie))
    out = ranking_metrics(torch.cat(ranks) if ranks else torch.empty(0))
    out['num_queries'] = int(queries.size(0))
    return out


def training_queries(train: Tensor, num_relations: int):
    """``(queries [2, Q], answer_rows, answer_cols)``: every distinct
    training query with inverses and its known training answers."""
    allt = _augment(train.long(), num_relations)
    key = allt[:, 0] * (2 * num_relations) + allt[:, 1]
    keys, inverse = torch.unique(key, return_inverse=True)
    heads = torch.div(keys, 2 * num_relations, rounding_mode='floor')
    queries = torch.stack([heads, keys - heads * 2 * num_relations])
    return queries, inverse, allt[:, 2]


@dataclass
class KGTrainResult:
    """Outcome of :func:`train_kg`."""
    best_epoch: int
    epochs_run: int
    val: Dict[str, float]
    test: Dict[str, float]
    history: List[Dict[str, float]] = field(default_factory=list)
    train_time_s: float = 0.0
    time_per_epoch_s: float = 0.0
    stopped_by_time: bool = False


def _score_fn(model, x, edge_index, edge_type, batch_size):
    model.eval()
    with torch.no_grad():
        entities = model.encode(x, edge_index, edge_type)

    def fn(q):
        with torch.no_grad():
            return model.decode(entities, q)

    return fn


def train_kg(model: torch.nn.Module, data, *, epochs: int,
             batch_size: int = 128, lr: float = 0.001,
             weight_decay: float = 0.0,
             encoder_weight_decay: Optional[float] = None,
             label_smoothing: float = 0.1, eval_every: int = 1,
             eval_batch_size: int = 1024, tie: str = 'mean',
             time_budget_s: Optional[float] = None,
             log: Optional[Callable[[str], None]] = None) -> KGTrainResult:
    r"""Train a KG model (``encode``/``decode`` interface, see
    :mod:`gat_zoo.nn.models.rghat`) with 1-N scoring and select the epoch
    by validation MRR; the test metrics are those of the selected epoch.

    Args:
        model: The network; called on ``(None, data.edge_index,
            data.edge_type)`` (featureless entities).
        data: A :func:`~gat_zoo.datasets.kg.load_kg` result.
        epochs (int): Epoch budget.
        batch_size (int): Training queries per step. The encoder runs once
            per step on the whole training graph.
        lr (float): Adam learning rate.
        weight_decay (float): Adam weight decay of all parameters except
            the encoder's (when :obj:`encoder_weight_decay` is set).
        encoder_weight_decay (float, optional): Weight decay of the
            parameters listed by ``model.encoder_parameters()``.
        label_smoothing (float): ConvE's label smoothing
            :math:`\epsilon`: targets :math:`(1-\epsilon) y + 1/N`.
        eval_every (int): Validate every this many epochs (and after the
            last).
        eval_batch_size (int): Queries per evaluation batch.
        tie (str): Tie rule of the ranking.
        time_budget_s (float, optional): Stop training after the epoch
            that exceeds this wall time (then validate and test).
        log (callable, optional): Receives a progress line per evaluation.
    """
    N, R = int(data.num_nodes), int(data.num_relations)
    edge_index, edge_type = data.edge_index, data.edge_type
    kg_filter = KGFilter([data.train, data.valid, data.test], N, R)
    queries, answer_of, answers = training_queries(data.train, R)
    Q = queries.size(1)
    # Sorted answer lists per query for batch target construction.
    order = torch.argsort(answer_of, stable=True)
    answer_of, answers = answer_of[order], answers[order]
    ptr = torch.zeros(Q + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(answer_of, minlength=Q), 0)

    # The encode/decode(/encoder_parameters) interface is duck-typed.
    net: Any = model
    encoder = list(net.encoder_parameters()) if (
        encoder_weight_decay is not None
        and hasattr(model, 'encoder_parameters')) else []
    enc_ids = {id(p) for p in encoder}
    rest = [p for p in model.parameters() if id(p) not in enc_ids]
    groups = [{'params': rest, 'weight_decay': weight_decay}]
    if encoder:
        groups.append({'params': encoder,
                       'weight_decay': encoder_weight_decay})
    opt = torch.optim.Adam(groups, lr=lr)

    best = {'mrr': -1.0}
    best_state = None
    best_epoch = 0
    history = []
    start = time.perf_counter()
    train_time = 0.0
    epoch = 0
    stopped = False
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(Q)
        total = 0.0
        for s in range(0, Q, batch_size):
            idx = perm[s:s + batch_size]
            q = queries[:, idx]
            counts = ptr[idx + 1] - ptr[idx]
            rows = torch.repeat_interleave(torch.arange(idx.numel()),
                                           counts)
            offs = torch.arange(int(counts.sum())) - torch.repeat_interleave(
                torch.cumsum(counts, 0) - counts, counts)
            cols = answers[ptr[idx][rows] + offs]
            target = torch.zeros(idx.numel(), N)
            target[rows, cols] = 1.0
            target = (1.0 - label_smoothing) * target + 1.0 / N
            opt.zero_grad()
            entities = net.encode(None, edge_index, edge_type)
            logits = net.decode(entities, q)
            loss = F.binary_cross_entropy_with_logits(logits, target)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        train_time += time.perf_counter() - t0
        over = time_budget_s is not None and \
            time.perf_counter() - start > time_budget_s
        if epoch % eval_every == 0 or epoch == epochs or over:
            fn = _score_fn(model, None, edge_index, edge_type,
                           eval_batch_size)
            val = evaluate_kg(fn, data.valid, kg_filter, eval_batch_size,
                              tie)
            history.append({'epoch': epoch, 'loss': total / Q, **val})
            if log is not None:
                log(f'epoch {epoch:4d} loss {total / Q:.5f} val mrr '
                    f'{val["mrr"]:.4f} h@10 {val["hits@10"]:.4f} '
                    f'({time.perf_counter() - start:.0f}s)')
            if val['mrr'] > best['mrr']:
                best, best_epoch = val, epoch
                best_state = copy.deepcopy(model.state_dict())
        if over:
            stopped = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    fn = _score_fn(model, None, edge_index, edge_type, eval_batch_size)
    test = evaluate_kg(fn, data.test, kg_filter, eval_batch_size, tie)
    return KGTrainResult(best_epoch=best_epoch, epochs_run=epoch, val=best,
                         test=test, history=history,
                         train_time_s=train_time,
                         time_per_epoch_s=train_time / max(epoch, 1),
                         stopped_by_time=stopped)
