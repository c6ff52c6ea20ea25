"""The model zoo's registry: names → paper-configured node-level networks.

Builders register themselves with :func:`register_model`; the attention
family is registry metadata, not package structure. Paper hyperparameters
and reported results live in one data file, ``paper_data.json``, each with
the table or section it comes from; :func:`paper_config` and
:func:`paper_result` read it.
"""
from __future__ import annotations

import copy
import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Dict, List, Optional

import torch

__all__ = [
    'FAMILIES',
    'ModelEntry',
    'create_model',
    'list_families',
    'list_models',
    'model_entry',
    'paper_config',
    'paper_result',
    'register_model',
]

#: The survey's attention families (plus the non-attention baselines).
FAMILIES = (
    'neighbor',
    'high-order',
    'relation-aware',
    'hierarchical',
    'multi-level',
    'multi-channel',
    'multi-view',
    'spatio-temporal',
    'baseline',
)


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model."""
    name: str
    family: str
    builder: Callable[..., torch.nn.Module]
    paper: str
    url: str
    task: str = 'node'
    conv: Optional[type] = None
    description: str = ''
    tags: tuple = field(default_factory=tuple)


_REGISTRY: Dict[str, ModelEntry] = {}


def register_model(name: Optional[str] = None, *, family: str, paper: str,
                   url: str, task: str = 'node', conv: Optional[type] = None,
                   tags: tuple = ()) -> Callable:
    """Decorator registering a builder ``fn(in_channels, out_channels,
    **kwargs) -> nn.Module`` whose defaults are the paper's architecture."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of "
                         f"{FAMILIES}")

    def decorator(fn: Callable[..., torch.nn.Module]):
        key = (name or fn.__name__).lower()
        if key in _REGISTRY:
            raise ValueError(f"Model {key!r} is already registered")
        doc = (fn.__doc__ or '').strip().splitlines()
        _REGISTRY[key] = ModelEntry(name=key, family=family, builder=fn,
                                    paper=paper, url=url, task=task,
                                    conv=conv, tags=tuple(tags),
                                    description=doc[0] if doc else '')
        return fn

    return decorator


def _ensure_loaded() -> None:
    # Importing the model package runs every @register_model.
    import gat_zoo.nn.models  # noqa: F401


def list_families() -> List[str]:
    """Families that have at least one registered model."""
    _ensure_loaded()
    return [f for f in FAMILIES if any(e.family == f
                                       for e in _REGISTRY.values())]


def list_models(pattern: Optional[str] = None,
                family: Optional[str] = None) -> List[str]:
    """Sorted names of registered models, optionally filtered by a
    shell-style ``pattern`` (``'gat*'``) and/or a ``family``."""
    _ensure_loaded()
    if family is not None and family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}; expected one of "
                         f"{FAMILIES}")
    names = sorted(_REGISTRY)
    if pattern is not None:
        names = fnmatch.filter(names, pattern.lower())
    if family is not None:
        names = [n for n in names if _REGISTRY[n].family == family]
    return names


def model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` of ``name``; raises listing valid names."""
    _ensure_loaded()
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}; registered models: "
                         f"{', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def create_model(name: str, in_channels: int, out_channels: int,
                 **overrides: Any) -> torch.nn.Module:
    """Build the registered network ``name`` with the paper's architecture.

    Args:
        name (str): A name from :func:`list_models`.
        in_channels (int): Input feature size.
        out_channels (int): Number of classes (output size).
        **overrides: Architecture arguments replacing the paper's; a value
            of :obj:`None` keeps the paper's default.
    """
    entry = model_entry(name)
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    return entry.builder(in_channels, out_channels, **kwargs)


@lru_cache(maxsize=1)
def _paper_data() -> Dict[str, Any]:
    text = resources.files('gat_zoo').joinpath('paper_data.json').read_text(
        encoding='utf-8')
    return json.loads(text)


def _paper_record(name: str) -> Dict[str, Any]:
    entry = model_entry(name)
    record = _paper_data().get(entry.name)
    if record is None:
        raise ValueError(f"No paper data recorded for model {name!r}")
    return record


def _dataset_key(mapping: Dict[str, Any], dataset: str) -> Optional[str]:
    wanted = dataset.lower()
    for key in mapping:
        if key.lower() == wanted:
            return key
    return None


def paper_config(name: str, dataset: str = 'default') -> Dict[str, Any]:
    """The paper's hyperparameters of ``name`` for ``dataset``.

    Returns a dict with ``'model'`` (architecture kwargs for
    :func:`create_model`), ``'train'`` (optimiser and early-stopping
    settings), ``'source'`` (where in the paper each comes from) and
    ``'from_paper'`` (:obj:`False` when the paper gives no setting for this
    dataset and its default setting is used instead).

    ``dataset`` may name a protocol, as the bench's dataset column does
    (``'cornell:split=0.6/0.2'``): a setting recorded for that protocol
    wins, else the one for the dataset itself.
    """
    record = _paper_record(name)
    configs = record['configs']
    base = copy.deepcopy(configs['default'])
    key = _dataset_key(configs, dataset) if dataset != 'default' else None
    # A protocol ('cornell:split=0.6/0.2:rule=balanced') without a setting
    # of its own takes the next more general one ('cornell:split=0.6/0.2',
    # then 'cornell').
    while key is None and ':' in dataset:
        dataset = dataset.rsplit(':', 1)[0]
        key = _dataset_key(configs, dataset)
    sources = [base.pop('source')]
    from_paper = True
    if key is not None and key != 'default':
        extra = copy.deepcopy(configs[key])
        sources.append(extra.pop('source'))
        # A dataset entry may adapt a setting the paper does not give.
        from_paper = extra.pop('from_paper', True)
        for part in ('model', 'train'):
            base.setdefault(part, {}).update(extra.get(part, {}))
    elif dataset != 'default':
        from_paper = bool(record.get('default_applies_to', {}).get(
            dataset.lower(), False))
    return {
        'model': base.get('model', {}),
        'train': base.get('train', {}),
        'source': '; '.join(sources),
        'paper': record['paper'],
        'from_paper': from_paper,
    }


def paper_result(name: str, dataset: str) -> Optional[Dict[str, Any]]:
    """The paper's reported number of ``name`` on ``dataset`` (``mean``,
    ``std``, ``metric``, ``source``), or :obj:`None` if it reports none."""
    results = _paper_record(name).get('results', {})
    key = _dataset_key(results, dataset)
    return None if key is None else dict(results[key])
