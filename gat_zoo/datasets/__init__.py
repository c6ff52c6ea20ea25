r"""Benchmark node-classification datasets for :obj:`gat_zoo`.

:func:`load_dataset` returns one :class:`~torch_geometric.data.Data` per
dataset name (Planetoid, WebKB, Actor, Chameleon/Squirrel, ``ogbn-*`` and the
synthetic :func:`csbm`), reading raw files from a possibly read-only data
root and processing them in a writable cache. :func:`dictionary_lookup` and
:func:`train_dictionary_lookup` are the GATv2 paper's synthetic
DictionaryLookup benchmark (static vs. dynamic attention).

Example:

    >>> from gat_zoo.datasets import load_dataset
    >>> data = load_dataset('cora', root='/path/to/data')
    >>> data.name, data.num_classes, data.train_mask.sum().item()
    ('Cora', 7, 140)
"""

from ._errors import DatasetNotFoundError
from ._root import cache_dir, resolve_data_root
from .amgcn import AMGCN_DATASETS, load_amgcn
from .csbm import csbm
from .dictionary_lookup import (
    DictionaryLookup,
    DictionaryLookupHistory,
    DictionaryLookupNet,
    dictionary_lookup,
    dictionary_lookup_batch,
    dictionary_lookup_graph,
    train_dictionary_lookup,
)
from .dynamic import DynamicGraph, load_dynamic
from .entities import load_entities
from .hetero import HETERO_DATASETS, load_hetero
from .kg import KG_DATASETS, load_kg
from .loaders import list_datasets, load_dataset

__all__ = [
    'load_dataset',
    'list_datasets',
    'csbm',
    'load_entities',
    'load_hetero',
    'HETERO_DATASETS',
    'load_kg',
    'KG_DATASETS',
    'load_amgcn',
    'AMGCN_DATASETS',
    'load_dynamic',
    'DynamicGraph',
    'dictionary_lookup',
    'dictionary_lookup_graph',
    'dictionary_lookup_batch',
    'DictionaryLookup',
    'DictionaryLookupNet',
    'DictionaryLookupHistory',
    'train_dictionary_lookup',
    'resolve_data_root',
    'cache_dir',
    'DatasetNotFoundError',
]
