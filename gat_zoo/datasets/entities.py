r"""The RDF entity-classification datasets AIFB and MUTAG of Schlichtkrull
et al., `"Modeling Relational Data with Graph Convolutional Networks"
<https://arxiv.org/abs/1703.06103>`_ (ESWC 2018), as used by RGCN and by
RGAT (Busbridge et al., 2019), read with PyG's
:class:`~torch_geometric.datasets.Entities`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import torch
from torch_geometric.data import Data

from ._cache import FileSet, materialize
from ._root import resolve_data_root

__all__ = ['load_entities', 'ENTITIES']

PathLike = Union[str, os.PathLike]

#: Canonical names, and the share of the training set held out for
#: validation.
ENTITIES = ('AIFB', 'MUTAG')
VAL_FRACTION = 0.2


def _root_origin(root: Optional[PathLike]) -> str:
    from .loaders import _root_origin as origin
    return origin(root)


def load_entities(name: str, root: Optional[PathLike] = None, *,
                  validation: bool = True) -> Data:
    r"""Loads AIFB or MUTAG as one multi-relational
    :class:`~torch_geometric.data.Data`.

    The raw files are read from ``<root>/Entities/<name lowercase>/raw/``
    (``<name>_stripped.nt.gz``, ``completeDataset.tsv``,
    ``trainingSet.tsv``, ``testSet.tsv``; the data root is :obj:`root`,
    else :obj:`$GAT_ZOO_DATA`, else the per-user default, as in
    :func:`~gat_zoo.datasets.load_dataset`), copied into the writable cache
    and processed there by PyG (which needs ``rdflib``); nothing is written
    into the data root.

    **Splits.** The test set is RGCN's fixed one (AIFB 36, MUTAG 68
    entities). With :obj:`validation=True` (default) the first fifth of the
    training entities, in the order of ``trainingSet.tsv``, becomes the
    validation set and the rest the training set: the split both reference
    codes (``tkipf/relational-gcn`` with ``--validation``, and
    ``babylonhealth/rgat``'s RDF example) use while tuning. The papers'
    final runs train on the full training set for a fixed number of epochs
    and select nothing; pass :obj:`validation=False` for that setting
    (``val_*`` then is empty).

    Args:
        name (str): :obj:`'AIFB'` or :obj:`'MUTAG'` (case-insensitive).
        root (str or os.PathLike, optional): Data root.
        validation (bool, optional): Carve the validation split out of the
            training set. (default: :obj:`True`)

    Returns:
        torch_geometric.data.Data: :obj:`edge_index` ``[2, E]`` (every
        triple in both directions), :obj:`edge_type` ``[E]`` (relation
        :math:`r` and its inverse :math:`r + R/2`), :obj:`num_nodes`,
        :obj:`num_relations`, :obj:`train_idx`/:obj:`train_y`,
        :obj:`val_idx`/:obj:`val_y`, :obj:`test_idx`/:obj:`test_y`,
        :obj:`y` ``[N]`` (-1 where unlabelled), boolean
        :obj:`train_mask`/:obj:`val_mask`/:obj:`test_mask`, :obj:`x` =
        :obj:`None` (featureless: the networks use one-hot node ids), and
        :obj:`name`, :obj:`num_classes`.
    """
    if not isinstance(name, str) or name.strip().upper() not in ENTITIES:
        raise ValueError(f"Unknown entity dataset {name!r}; expected one of "
                         f"{', '.join(ENTITIES)}")
    canonical = name.strip().upper()
    key = canonical.lower()
    folder = f'Entities/{key}'
    fs = FileSet(canonical, (f'{folder}/raw', ), f'{folder}/raw', folder,
                 (f'{key}_stripped.nt.gz', 'completeDataset.tsv',
                  'trainingSet.tsv', 'testSet.tsv'))

    def build(work_root: Path) -> Data:
        from torch_geometric.datasets import Entities
        dataset = Entities(str(work_root / 'Entities'), canonical)
        return dataset[0]

    raw = materialize(fs, resolve_data_root(root), build,
                      root_origin=_root_origin(root))
    return _finish(raw, canonical, validation)


def _finish(raw: Data, name: str, validation: bool) -> Data:
    n = int(raw.num_nodes)
    train_idx, train_y = raw.train_idx.long(), raw.train_y.long()
    num_val = int(len(train_idx) * VAL_FRACTION) if validation else 0
    val_idx, val_y = train_idx[:num_val], train_y[:num_val]
    train_idx, train_y = train_idx[num_val:], train_y[num_val:]
    test_idx, test_y = raw.test_idx.long(), raw.test_y.long()
    num_classes = int(torch.cat([train_y, val_y, test_y]).max()) + 1

    y = torch.full((n, ), -1, dtype=torch.long)
    masks = {}
    for split, idx, labels in (('train', train_idx, train_y),
                               ('val', val_idx, val_y),
                               ('test', test_idx, test_y)):
        y[idx] = labels
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        masks[f'{split}_mask'] = mask
    edge_type = raw.edge_type.long()
    data = Data(x=None, edge_index=raw.edge_index.long(),
                edge_type=edge_type, num_nodes=n, y=y,
                train_idx=train_idx, train_y=train_y, val_idx=val_idx,
                val_y=val_y, test_idx=test_idx, test_y=test_y, **masks)
    data.num_relations = int(edge_type.max()) + 1 if edge_type.numel() \
        else 0
    data.name = name
    data.num_classes = num_classes
    return data
