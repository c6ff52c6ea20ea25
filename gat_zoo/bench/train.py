"""Full-batch node-classification training under OGB's protocol.

Model selection and early stopping look at the validation split only; the
test score is read at the selected (best-validation) epoch. A model that
trains with a loss beyond the classification loss (SuperGAT's
self-supervised edge loss, PPRGAT's L1 penalty) exposes it as
``model.auxiliary_loss()``, which is added to the training loss. Early stopping
follows the GAT paper by default: training stops once neither the validation
accuracy nor the validation loss has improved for ``patience`` epochs. Some
official codes count patience differently (``patience_rule``), and
:class:`EpochSelector` applies every selection and stopping rule, both
inside the loop and to a recorded history (:func:`select_epoch`), so rules
can be compared on the same training trajectories.

Multi-stage models. A model trained in stages (SPAGAN: a GAT first, whose
attention defines the paths of the model proper) exposes
``model.fit_stages(x, edge_index, train_stage)``. Before the model itself is
trained, :func:`train_node_classifier` calls it with the preprocessed
features and the graph, and ``train_stage(module)`` trains any module
(a sub-network, or the model itself for an intermediate stage) with this
same loop, settings and splits, restores that stage's selected
(best-validation) weights and returns its :class:`RunResult`. The hook may
call ``train_stage`` any number of times and must leave the model ready
for ``model(x, edge_index)``; it returns the list of stage results, which
the final result keeps as ``stages``. ``train_time_s`` counts the stages
too.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gat_zoo.nn.functional import sparse_features
from gat_zoo.nn.validation import check_choice

__all__ = ['EpochSelector', 'PATIENCE_RULES', 'RunResult', 'SELECTION_RULES',
           'auxiliary_loss', 'seed_everything', 'select_epoch', 'split_masks',
           'train_node_classifier']

#: Rules for the reported epoch; each reads the validation split only.
SELECTION_RULES = ('score', 'score_latest', 'score_and_loss', 'loss')
#: Rules for when an epoch restarts the early-stopping count.
PATIENCE_RULES = ('either', 'selected', 'joint')


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _Best(TypedDict):
    """The selected epoch of :func:`_fit`."""
    epoch: int
    val_score: float
    val_loss: float
    test_score: float


class EpochSelector:
    """Chooses the reported epoch and decides when to stop, from the
    validation split only; fed one epoch at a time by :meth:`step`.

    Args:
        selection: Which epoch is reported. ``'score'`` (OGB's): the
            highest validation score, ties to the lower validation loss.
            ``'score_latest'`` (MAGNA's code): the latest epoch whose
            validation score reaches the best so far, ties to the later
            epoch. ``'score_and_loss'`` (the GAT paper's reference code):
            the last epoch at which validation score and loss were *both* at
            their best so far. ``'loss'`` (e.g. SPAGAN's and FAGCN's code):
            the lowest validation loss, ties to the higher score.
        patience: Stop after this many epochs in a row without a restart
            (:obj:`None`: never stop early).
        patience_rule: Which epochs restart the count. ``'either'`` (the
            GAT paper's): a new best validation score or a new lowest
            validation loss. ``'selected'`` (MAGNA's code): an epoch the
            selection rule picks. ``'joint'`` (FAGCN's code): an epoch whose
            validation loss is below, *and* whose score above, those of the
            last restarting epoch.
        min_epochs: Never stop before this epoch.
    """

    def __init__(self, selection: str = 'score',
                 patience: Optional[int] = None,
                 patience_rule: str = 'either', min_epochs: int = 0):
        check_choice('selection rule', selection, SELECTION_RULES)
        check_choice('patience_rule', patience_rule, PATIENCE_RULES)
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 (got {patience})")
        self.selection = selection
        self.patience = patience
        self.patience_rule = patience_rule
        self.min_epochs = min_epochs
        self.best: _Best = {'epoch': -1, 'val_score': -float('inf'),
                            'val_loss': float('inf'),
                            'test_score': float('nan')}
        self._highest_score = -float('inf')
        self._lowest_loss = float('inf')
        self._restart_score = -float('inf')
        self._restart_loss = float('inf')
        self._stale = 0
        self.should_stop = False

    def _selects(self, val_score: float, val_loss: float) -> bool:
        best = self.best
        if self.selection == 'score':
            return (val_score > best['val_score']
                    or (val_score == best['val_score']
                        and val_loss < best['val_loss']))
        if self.selection == 'score_latest':
            return val_score >= best['val_score']
        if self.selection == 'loss':
            return (val_loss < best['val_loss']
                    or (val_loss == best['val_loss']
                        and val_score > best['val_score']))
        return (val_score >= self._highest_score
                and val_loss <= self._lowest_loss)

    def step(self, epoch: int, val_score: float, val_loss: float,
             test_score: float) -> bool:
        """Takes one epoch's validation score and loss (and the test score
        to report if it is selected); returns whether it is the selected
        epoch now. Afterwards :attr:`should_stop` says whether to stop."""
        selected = self._selects(val_score, val_loss)
        if selected:
            self.best = {'epoch': epoch, 'val_score': val_score,
                         'val_loss': val_loss, 'test_score': test_score}
        improved = False
        if val_score > self._highest_score:
            self._highest_score, improved = val_score, True
        if val_loss < self._lowest_loss:
            self._lowest_loss, improved = val_loss, True
        if self.patience_rule == 'selected':
            restart = selected
        elif self.patience_rule == 'joint':
            restart = (val_loss < self._restart_loss
                       and val_score > self._restart_score)
            if restart:
                self._restart_loss, self._restart_score = val_loss, val_score
        else:
            restart = improved
        self._stale = 0 if restart else self._stale + 1
        self.should_stop = (self.patience is not None
                            and self._stale >= self.patience
                            and epoch >= self.min_epochs)
        return selected


def select_epoch(history: List[Dict[str, float]], selection: str = 'score',
                 patience: Optional[int] = None,
                 patience_rule: str = 'either',
                 min_epochs: int = 0) -> Dict[str, Any]:
    """Replays a recorded training history (the ``history`` of a
    :class:`RunResult`: per epoch ``epoch``, ``val_score``, ``val_loss``,
    ``test_score``) under another selection and stopping rule.

    The trajectory of a run does not depend on these rules until it stops,
    so a history recorded with a later stop (or none) gives exactly what the
    other rule would have reported. Returns the selected epoch's record
    (``epoch``, ``val_score``, ``val_loss``, ``test_score``) with
    ``epochs_run`` and ``complete``: whether the rule stopped within the
    history. If it did not, the replay is exact only when the history ran
    the whole epoch budget; otherwise it knows only a prefix of the run the
    rule would have made (:func:`gat_zoo.bench.replay.replay` counts such
    replays as incomplete).
    """
    selector = EpochSelector(selection, patience, patience_rule, min_epochs)
    epochs_run = 0
    for record in history:
        epochs_run = int(record['epoch'])
        selector.step(epochs_run, record['val_score'], record['val_loss'],
                      record['test_score'])
        if selector.should_stop:
            break
    return {**selector.best, 'epochs_run': epochs_run,
            'complete': selector.should_stop}


@dataclass
class RunResult:
    """One training run's outcome (scores are fractions in [0, 1])."""
    best_epoch: int
    epochs_run: int
    val_score: float
    test_score: float
    val_loss: float
    train_time_s: float
    time_per_epoch_s: float
    history: List[Dict[str, float]] = field(default_factory=list)
    #: Results of the preparatory stages of a multi-stage model.
    stages: List[RunResult] = field(default_factory=list)

    def as_dict(self, with_history: bool = False) -> Dict[str, Any]:
        row = asdict(self)
        if not with_history:
            row.pop('history')
            row.pop('stages')
        return row


def auxiliary_loss(model: torch.nn.Module) -> Optional[Tensor]:
    """The model's training loss beyond classification, read right after a
    training forward (:obj:`None` if the model has none)."""
    method = getattr(model, 'auxiliary_loss', None)
    return method() if callable(method) else None


def split_masks(data, split: int = 0):
    """``(train, val, test)`` masks; column ``split`` of ``[N, S]`` masks
    (the 10 geom-gcn splits of the heterophily sets)."""
    masks = []
    for name in ('train_mask', 'val_mask', 'test_mask'):
        mask = getattr(data, name)
        if mask.dim() == 2:
            if not 0 <= split < mask.size(1):
                raise ValueError(f"Split {split} requested but the dataset "
                                 f"has {mask.size(1)} splits")
            mask = mask[:, split]
        masks.append(mask)
    return tuple(masks)


def _to_device(graph: Any, device: torch.device) -> Any:
    if isinstance(graph, (list, tuple)):
        return type(graph)(_to_device(g, device) for g in graph)
    if isinstance(graph, dict):
        return {k: _to_device(g, device) for k, g in graph.items()}
    return graph.to(device)


def _accuracy(logits: Tensor, y: Tensor) -> float:
    if y.numel() == 0:
        return float('nan')
    return (logits.argmax(dim=-1) == y).float().mean().item()


def train_node_classifier(
    model: torch.nn.Module,
    data,
    *,
    lr: float,
    weight_decay: float,
    epochs: int,
    patience: Optional[int] = None,
    min_epochs: int = 0,
    split: int = 0,
    device: Optional[torch.device] = None,
    metric: Optional[Callable[[Tensor, Tensor], float]] = None,
    on_epoch: Optional[Callable[[int, Dict[str, float]], None]] = None,
    keep_history: bool = True,
    selection: str = 'score',
    normalize_features: bool = False,
    sparse_input: Optional[bool] = None,
    graph: Any = None,
    restore_best: bool = False,
    lr_schedule: Optional[str] = None,
    min_lr: float = 0.0,
    grad_clip: Optional[float] = None,
    patience_rule: str = 'either',
) -> RunResult:
    """Train ``model(x, edge_index)`` full-batch with Adam and return the
    scores at the best-validation epoch.

    Args:
        model: A node classifier returning logits ``[N, C]``.
        data: A :class:`~torch_geometric.data.Data` with ``x``,
            ``edge_index``, ``y`` and the split masks.
        lr, weight_decay: Adam's settings (``weight_decay`` is the L2
            coefficient).
        epochs: Maximum number of epochs.
        patience: Stop once neither validation accuracy nor validation loss
            improved for this many epochs (:obj:`None`: never stop early);
            ``patience_rule`` changes what counts as improving.
        min_epochs: Never stop early before this epoch (a warm-up, e.g.
            SPAGAN's official code waits 500 epochs). Selection still
            considers every epoch.
        split: Which column of ``[N, S]`` masks to use.
        metric: ``metric(logits, y) -> float`` on a split (default:
            accuracy); for ogbn-* the bench passes ogb's ``Evaluator``.
        on_epoch: Called after each epoch with the epoch's record.
        selection: Which epoch's test score is reported, one of
            :data:`SELECTION_RULES` (see :class:`EpochSelector`); every rule
            reads the validation split only. Default ``'score'`` (OGB's):
            the highest validation score, ties to the lower validation loss.
        normalize_features: Row-normalise ``x`` to sum to one (the
            Planetoid preprocessing of the GAT and GCN reference code).
        sparse_input: Feed ``x`` as a sparse CSR matrix when it is mostly
            zeros (:func:`gat_zoo.nn.functional.sparse_features`): the same
            model, several times faster on bag-of-words features.
            :obj:`None` (default): when the model declares
            ``supports_sparse_features``.
        lr_schedule: :obj:`None` (default) keeps the learning rate;
            ``'cosine'`` anneals it from :obj:`lr` to :obj:`min_lr` over
            :obj:`epochs` (half a cosine period, stepped once per epoch;
            e.g. MAGNA's official training).
        min_lr: The learning rate the cosine schedule ends at.
        grad_clip: If set, the gradients' global L2 norm is clipped to this
            before each step.
        patience_rule: Which epochs restart the patience count, one of
            :data:`PATIENCE_RULES` (see :class:`EpochSelector`); default
            ``'either'``: a new best validation score or loss.
    """
    EpochSelector(selection, patience, patience_rule)  # validates the rules
    if lr_schedule not in (None, 'cosine'):
        raise ValueError(f"Unknown lr_schedule {lr_schedule!r}; expected "
                         f"None or 'cosine'")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be positive (got {grad_clip!r})")
    device = device or next(model.parameters()).device
    model = model.to(device)
    x, y = data.x.to(device), data.y.to(device)
    edge_index = _to_device(data.edge_index if graph is None else graph,
                            device)
    if normalize_features:
        # Row sums of signed features can vanish or flip sign; the
        # normalisation is only defined for non-negative (count) features.
        if bool((x < 0).any()):
            raise ValueError("normalize_features=True needs non-negative "
                             "features, but this dataset has negative "
                             "values")
        x = x / x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    if sparse_input is None:
        sparse_input = bool(getattr(model, 'supports_sparse_features', False))
    if sparse_input:
        x = sparse_features(x)
    train_mask, val_mask, test_mask = (m.to(device)
                                       for m in split_masks(data, split))
    metric = metric or _accuracy
    start_all = time.perf_counter()
    stage_results: List[RunResult] = []
    fit_stages = getattr(model, 'fit_stages', None)
    if callable(fit_stages):
        def train_stage(module: torch.nn.Module) -> RunResult:
            return _fit(module, x, edge_index, y, train_mask, val_mask,
                        test_mask, lr, weight_decay, epochs, patience,
                        min_epochs, metric, on_epoch, keep_history, selection,
                        restore_best=True, lr_schedule=lr_schedule,
                        min_lr=min_lr, grad_clip=grad_clip,
                        patience_rule=patience_rule)
        stage_results = list(fit_stages(x, edge_index, train_stage) or [])
    result = _fit(model, x, edge_index, y, train_mask, val_mask, test_mask,
                  lr, weight_decay, epochs, patience, min_epochs, metric,
                  on_epoch,
                  keep_history, selection, restore_best=restore_best,
                  lr_schedule=lr_schedule, min_lr=min_lr,
                  grad_clip=grad_clip, patience_rule=patience_rule)
    result.stages = stage_results
    if stage_results:
        result.train_time_s = time.perf_counter() - start_all
    return result


def _fit(model, x, edge_index, y, train_mask, val_mask, test_mask, lr,
         weight_decay, epochs, patience, min_epochs, metric, on_epoch,
         keep_history,
         selection, restore_best: bool, lr_schedule: Optional[str] = None,
         min_lr: float = 0.0, grad_clip: Optional[float] = None,
         patience_rule: str = 'either') -> RunResult:
    """The training loop of :func:`train_node_classifier` on prepared
    inputs; ``restore_best`` loads the selected epoch's weights at the
    end."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                 weight_decay=weight_decay)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs, eta_min=min_lr)
        if lr_schedule == 'cosine' else None)

    selector = EpochSelector(selection, patience, patience_rule, min_epochs)
    best_state = None
    history: List[Dict[str, float]] = []
    start = time.perf_counter()
    epoch = 0
    for epoch in range(1, epochs + 1):
        model.train()
        optimizer.zero_grad()
        logits = model(x, edge_index)
        loss = F.cross_entropy(logits[train_mask], y[train_mask])
        extra = auxiliary_loss(model)
        if extra is not None:
            loss = loss + extra
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()

        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index)
            val_loss = F.cross_entropy(logits[val_mask], y[val_mask]).item()
            val_score = metric(logits[val_mask], y[val_mask])
            test_score = metric(logits[test_mask], y[test_mask])
        record = {'epoch': epoch, 'train_loss': loss.item(),
                  'val_loss': val_loss, 'val_score': val_score,
                  'test_score': test_score}
        if keep_history:
            history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)

        if (selector.step(epoch, val_score, val_loss, test_score)
                and restore_best):
            best_state = {k: v.detach().clone()
                          for k, v in model.state_dict().items()}
        if selector.should_stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    elapsed = time.perf_counter() - start
    best = selector.best
    return RunResult(best_epoch=best['epoch'], epochs_run=epoch,
                     val_score=best['val_score'],
                     test_score=best['test_score'],
                     val_loss=best['val_loss'], train_time_s=elapsed,
                     time_per_epoch_s=elapsed / max(epoch, 1),
                     history=history)
