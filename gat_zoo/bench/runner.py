"""The training sweep behind ``python -m gat_zoo.bench``: model and dataset
selection, one run per (model, dataset, seed), and its results row.

Protocol (OGB's): each run trains full-batch with
:func:`~gat_zoo.bench.train.train_node_classifier` under the paper's
hyperparameters (:func:`gat_zoo.paper_config`), selects the epoch on the
validation split only and reports the test score at that epoch. Run ``r``
uses seed ``r`` and, on datasets with ``S`` fixed splits (``[N, S]``
masks), split ``r % S``.
"""
from __future__ import annotations

import inspect
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import torch

import gat_zoo
from gat_zoo.bench.memory import peak_memory_mb, reset_peak_memory
from gat_zoo.bench.train import seed_everything, train_node_classifier
from gat_zoo.datasets.splits import (
    SPLIT_RULES,
    parse_split_ratios,
    with_random_splits,
)

__all__ = [
    'DatasetSpec',
    'ModelSelectionError',
    'load_data',
    'ogb_metric',
    'parse_dataset_spec',
    'resolve_models',
    'run_config',
    'train_one',
]


class ModelSelectionError(ValueError):
    """A ``--model`` / ``--dataset`` selection names nothing valid."""


# Models ######################################################################


def resolve_models(spec: Optional[str]) -> List[str]:
    """Registered node-classification models selected by ``spec``.

    ``spec`` is a comma list whose items are a name, a shell wildcard
    (``'gat*'``), ``family:<family>`` or ``all`` (:obj:`None` means
    ``all``). Order follows the list (each item's matches sorted), without
    duplicates. Models whose registry ``task`` is not ``'node'`` are left
    out of wildcard, family and ``all`` selections; naming one explicitly
    is an error.

    Raises:
        ModelSelectionError: naming the valid models (or families).
    """
    valid = gat_zoo.list_models()
    names: List[str] = []
    items = [p.strip() for p in (spec or 'all').split(',') if p.strip()]
    if not items:
        raise ModelSelectionError(f"--model is empty; valid models: "
                                  f"{', '.join(valid)}")
    for item in items:
        low = item.lower()
        if low == 'all':
            found = _node_models(valid)
        elif low.startswith('family:'):
            family = low.split(':', 1)[1].strip()
            if family not in gat_zoo.FAMILIES:
                raise ModelSelectionError(
                    f"Unknown family {family!r} in --model {item!r}; valid "
                    f"families: {', '.join(gat_zoo.FAMILIES)}")
            found = _node_models(gat_zoo.list_models(family=family))
            if not found:
                raise ModelSelectionError(
                    f"No node-classification model of family {family!r} is "
                    f"registered; families with models: "
                    f"{', '.join(gat_zoo.list_families())}")
        elif any(c in low for c in '*?['):
            found = _node_models(gat_zoo.list_models(low))
            if not found:
                raise ModelSelectionError(
                    f"--model pattern {item!r} matches no registered "
                    f"node-classification model; valid models: "
                    f"{', '.join(valid)}")
        else:
            if low not in valid:
                raise ModelSelectionError(
                    f"Unknown model {item!r}; valid models: "
                    f"{', '.join(valid)} (or a wildcard, "
                    f"'family:<family>', 'all')")
            task = gat_zoo.model_entry(low).task
            if task != 'node':
                raise ModelSelectionError(
                    f"Model {low!r} is a {task!r}-level model; the bench "
                    f"trains node classifiers only")
            found = [low]
        names += [n for n in found if n not in names]
    return names


def _node_models(names: Iterable[str]) -> List[str]:
    return [n for n in names if gat_zoo.model_entry(n).task == 'node']


def default_models() -> List[str]:
    """The embedded default selection: every registered node model."""
    return _node_models(gat_zoo.list_models())


# Datasets ####################################################################


@dataclass(frozen=True)
class DatasetSpec:
    """A ``--dataset`` item: a :func:`~gat_zoo.datasets.list_datasets` name,
    for ``csbm`` optionally with generator arguments
    (``csbm:num_nodes=500:homophily=0.3``), and for any dataset optionally
    ``split=train/val``: :data:`RANDOM_SPLITS` seeded class-stratified
    random splits with these fractions in place of the dataset's own
    (``cornell:split=0.6/0.2``, the 60/20/20 protocol;
    :func:`gat_zoo.datasets.splits.random_node_splits`), and with it
    ``rule=balanced`` for GPRGNN's class-balanced rule instead
    (``cornell:split=0.6/0.2:rule=balanced``, ACM-GNN's protocol)."""
    name: str                     # canonical lower-case name ('film', ...)
    params: Tuple[Tuple[str, Any], ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """The ``dataset`` column: the name plus its parameters."""
        return ':'.join([self.name] + [f'{k}={v}' for k, v in self.params])


def _parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ('true', 'false'):
        return low == 'true'
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    raise ValueError(f'not a number: {text!r}')


def parse_dataset_spec(item: str) -> DatasetSpec:
    """Parses one ``--dataset`` item (see :class:`DatasetSpec`).

    Raises:
        ModelSelectionError: unknown name or bad parameters, naming the
            valid choices.
    """
    from gat_zoo.datasets import csbm, list_datasets
    name, *rest = [p.strip() for p in item.strip().split(':')]
    key = name.lower()
    key = {'actor': 'film'}.get(key, key)
    valid = list_datasets()
    if key not in valid:
        raise ModelSelectionError(
            f"Unknown dataset {name!r}; valid datasets: {', '.join(valid)} "
            f"(csbm also as 'csbm:num_nodes=500:homophily=0.3')")
    params = []
    split = rule = None
    allowed = (list(inspect.signature(csbm).parameters) if key == 'csbm'
               else [])
    for part in rest:
        k, sep, v = part.partition('=')
        k = k.strip()
        if sep and k == 'split':
            try:
                parse_split_ratios(v)
            except ValueError as err:
                raise ModelSelectionError(
                    f"Bad split {part!r} in {item!r}: {err}") from None
            split = ('split', v.strip())
            continue
        if sep and k == 'rule':
            if v.strip() not in SPLIT_RULES:
                raise ModelSelectionError(
                    f"Bad split rule {part!r} in {item!r}; expected one of "
                    f"{', '.join(SPLIT_RULES)}")
            rule = ('rule', v.strip())
            continue
        if not allowed:
            raise ModelSelectionError(
                f"Dataset {name!r} takes only 'split=train/val' (e.g. "
                f"'{name}:split=0.6/0.2'); generator parameters are csbm's "
                f"(e.g. 'csbm:num_nodes=500:homophily=0.3'); got {part!r}")
        if not sep or k not in allowed:
            raise ModelSelectionError(
                f"Bad csbm parameter {part!r} in {item!r}; expected "
                f"key=value with key in {', '.join(allowed + ['split'])}")
        try:
            params.append((k, _parse_value(v)))
        except ValueError as err:
            raise ModelSelectionError(
                f"Bad csbm parameter {part!r}: {err}") from None
    if split is not None:
        params.append(split)
    if rule is not None:
        if split is None:
            raise ModelSelectionError(
                f"'rule=' chooses how 'split=' draws random splits; "
                f"{item!r} has no 'split=train/val'")
        # The default rule is left out of the label, so that results written
        # before rules existed keep matching.
        if rule[1] != 'stratified':
            params.append(rule)
    return DatasetSpec(key, tuple(params))


#: How many seeded random splits a ``name:split=train/val`` dataset has (run
#: ``r`` uses split ``r % RANDOM_SPLITS``, as with the fixed 10-split sets).
RANDOM_SPLITS = 10


def load_data(spec: DatasetSpec, root=None):
    """The :class:`~torch_geometric.data.Data` of ``spec`` (csbm uses graph
    seed 0 unless ``seed=`` is given: the graph is fixed across runs, like
    a real dataset's, and runs differ in their model seed)."""
    from gat_zoo.datasets import csbm, load_dataset
    params = dict(spec.params)
    split = params.pop('split', None)
    rule = params.pop('rule', 'stratified')
    data = (csbm(**params) if spec.name == 'csbm'
            else load_dataset(spec.name, root=root))
    if split is not None:
        data = with_random_splits(data, *parse_split_ratios(split),
                                  num_splits=RANDOM_SPLITS, rule=rule)
    return data


def num_splits(data) -> int:
    """Number of fixed splits (columns of ``[N, S]`` masks; 1 for ``[N]``)."""
    mask = data.train_mask
    return int(mask.size(1)) if mask.dim() == 2 else 1


def ogb_metric(name: str) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """``metric(logits, y)`` computing ogb's official
    ``Evaluator(name).eval(...)[eval_metric]`` on one split."""
    from ogb.nodeproppred import Evaluator
    evaluator = Evaluator(name)
    key = evaluator.eval_metric

    def metric(logits: torch.Tensor, y: torch.Tensor) -> float:
        if y.numel() == 0:
            return float('nan')
        y_true = y.detach().view(y.size(0), -1).cpu()
        if key == 'acc':
            y_pred = logits.detach().argmax(dim=-1, keepdim=True).cpu()
        else:  # e.g. rocauc: scores, not labels
            y_pred = logits.detach().cpu()
        return float(evaluator.eval({'y_true': y_true,
                                     'y_pred': y_pred})[key])

    metric.metric_name = f'ogb:{key}'  # type: ignore[attr-defined]
    return metric


def metric_for(spec: DatasetSpec):
    """``(metric callable or None, metric name)`` for a dataset."""
    if spec.name.startswith('ogbn-'):
        from gat_zoo.datasets.loaders import _ogbn_canonical
        metric = ogb_metric(_ogbn_canonical(spec.name) or spec.name)
        return metric, getattr(metric, 'metric_name', 'ogb')
    return None, 'accuracy'


# Configuration ###############################################################

_TRAIN_PARAMS = set(inspect.signature(train_node_classifier).parameters) - {
    'model', 'data', 'split', 'device', 'metric', 'on_epoch',
    'keep_history'}


def run_config(model: str, dataset: str, *, epochs: Optional[int] = None,
               max_epochs: Optional[int] = None,
               patience: Optional[int] = None, lr: Optional[float] = None,
               weight_decay: Optional[float] = None) -> Dict[str, Any]:
    """The paper configuration of ``model`` on ``dataset`` with the
    command line's overrides applied.

    Returns ``{'model': kwargs for create_model, 'train': kwargs for
    train_node_classifier, 'from_paper': bool, 'source': str,
    'ignored': keys of the paper's train config the trainer does not
    take}``. ``epochs`` replaces the paper's maximum; ``max_epochs`` only
    caps it.
    """
    config = gat_zoo.paper_config(model, dataset)
    train = dict(config['train'])
    for key, value in (('epochs', epochs), ('patience', patience),
                       ('lr', lr), ('weight_decay', weight_decay)):
        if value is not None:
            train[key] = value
    if max_epochs is not None and train.get('epochs') is not None:
        train['epochs'] = min(int(train['epochs']), max_epochs)
    ignored = sorted(k for k in train if k not in _TRAIN_PARAMS)
    for key in ignored:
        train.pop(key)
    return {'model': dict(config['model']), 'train': train,
            'from_paper': bool(config['from_paper']),
            'source': config['source'], 'ignored': ignored}


# One run #####################################################################


def train_one(model_name: str, data, config: Dict[str, Any], *, seed: int,
              split: int, device: torch.device, metric=None,
              on_epoch=None) -> Tuple[Dict[str, Any], list]:
    """Trains ``model_name`` once; returns the run's result columns and the
    per-epoch history. Exceptions propagate (the sweep turns them into
    error rows)."""
    seed_everything(seed)
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    kind = reset_peak_memory(device)
    model = gat_zoo.create_model(model_name, data.num_features,
                                 data.num_classes, **config['model'])
    num_params = sum(p.numel() for p in model.parameters()
                     if not isinstance(p, torch.nn.parameter.
                                       UninitializedParameter))
    result = train_node_classifier(model.to(device), data, split=split,
                                   device=device, metric=metric,
                                   on_epoch=on_epoch, keep_history=True,
                                   **config['train'])
    peak, kind = peak_memory_mb(device, kind)
    row = {
        'val': _percent(result.val_score),
        'test': _percent(result.test_score),
        'best_epoch': result.best_epoch,
        'epochs_run': result.epochs_run,
        'time_per_epoch_s': result.time_per_epoch_s,
        'train_time_s': result.train_time_s,
        'num_params': num_params,
        'peak_mem_mb': round(peak, 1),
        'mem_kind': kind,
    }
    return row, result.history


def _percent(score: float) -> Optional[float]:
    if score is None or not math.isfinite(score):
        return None
    return 100.0 * score


def error_text(err: BaseException) -> str:
    """``'TypeName: message'`` for a results row."""
    text = str(err).strip()
    return f'{type(err).__name__}: {text}' if text else type(err).__name__


def config_json(config: Dict[str, Any]) -> str:
    """The ``config`` column: the hyperparameters actually used."""
    return json.dumps({'model': config['model'], 'train': config['train']},
                      sort_keys=True, default=str)


def warn(message: str) -> None:
    """A message on stderr that does not garble tqdm's bars."""
    try:
        from tqdm import tqdm
        tqdm.write(message, file=sys.stderr)
    except ImportError:  # pragma: no cover
        print(message, file=sys.stderr)
