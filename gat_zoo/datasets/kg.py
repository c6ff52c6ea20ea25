r"""The knowledge-graph-completion benchmarks FB15k-237 (Toutanova & Chen,
2015) and WN18RR (Dettmers et al., `"Convolutional 2D Knowledge Graph
Embeddings" <https://arxiv.org/abs/1707.01476>`_, AAAI 2018), read from
their raw ``{train,valid,test}.txt`` files (tab-separated ``head relation
tail``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.data import Data

from ._errors import DatasetNotFoundError
from ._root import resolve_data_root

__all__ = ['KG_DATASETS', 'load_kg', 'kg_graph']

PathLike = Union[str, os.PathLike]

#: Canonical names and their folders under ``<root>/kg``.
KG_DATASETS = {'fb15k-237': 'FB15k-237', 'wn18rr': 'WN18RR'}
SPLITS = ('train', 'valid', 'test')


def _read_triples(path: Path) -> List[Tuple[str, str, str]]:
    triples = []
    with path.open(encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip('\r\n')
            if not line.strip():
                continue
            parts = line.split('\t')
            if len(parts) != 3:
                raise ValueError(f"{path}:{number}: expected 'head<TAB>"
                                 f"relation<TAB>tail' (got {line!r})")
            triples.append((parts[0].strip(), parts[1].strip(),
                            parts[2].strip()))
    return triples


def kg_graph(triples: Tensor, num_relations: int) -> Tuple[Tensor, Tensor]:
    r"""The message-passing graph of a set of ``(h, r, t)`` triples with
    inverse relations: the triple :math:`(h, r, t)` becomes the edge
    :math:`t \to h` of type :math:`r` (the head aggregates its tail) and
    its inverse :math:`(t, r + R, h)` the edge :math:`h \to t` of type
    :math:`r + R`.

    Returns:
        ``(edge_index [2, 2T], edge_type [2T])``.
    """
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    edge_index = torch.stack([torch.cat([t, h]), torch.cat([h, t])])
    edge_type = torch.cat([r, r + num_relations])
    return edge_index, edge_type


def load_kg(name: str, root: Optional[PathLike] = None) -> Data:
    r"""Loads FB15k-237 or WN18RR.

    The files are read from ``<root>/kg/<FB15k-237|WN18RR>/raw/`` (the data
    root is :obj:`root`, else :obj:`$GAT_ZOO_DATA`, else the per-user
    default, as in :func:`~gat_zoo.datasets.load_dataset`); nothing is
    written anywhere. Entity and relation ids are the positions of their
    names in sorted order (over all three splits), so they do not depend on
    file order.

    Args:
        name (str): :obj:`'FB15k-237'` or :obj:`'WN18RR'`
            (case-insensitive).
        root (str or os.PathLike, optional): Data root.

    Returns:
        torch_geometric.data.Data: :obj:`train`, :obj:`valid`,
        :obj:`test` (``[T, 3]`` long tensors of ``(head, relation, tail)``
        with relations in ``[0, R)``), :obj:`num_nodes` (entities),
        :obj:`num_relations` (:math:`R`, without inverses),
        :obj:`edge_index`/:obj:`edge_type` (the training triples and their
        inverses as a message-passing graph with :math:`2R` relation types,
        see :func:`kg_graph`), :obj:`entities` and :obj:`relations` (the
        names, by id) and :obj:`name`.
    """
    key = str(name).strip().lower() if isinstance(name, str) else None
    if key not in KG_DATASETS:
        raise ValueError(f"Unknown knowledge graph {name!r}; expected one "
                         f"of {', '.join(KG_DATASETS.values())}")
    canonical = KG_DATASETS[key]
    directory = resolve_data_root(root) / 'kg' / canonical / 'raw'
    files = [f'{split}.txt' for split in SPLITS]
    missing = [f for f in files if not (directory / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{canonical}: missing {', '.join(missing)} in {directory} "
            f"(place the raw tab-separated files there or pass another "
            f"`root`)", dataset=canonical, directory=directory, files=files)

    raw: Dict[str, List[Tuple[str, str, str]]] = {
        split: _read_triples(directory / f'{split}.txt')
        for split in SPLITS
    }
    entities = sorted({e for triples in raw.values()
                       for h, _, t in triples for e in (h, t)})
    relations = sorted({r for triples in raw.values() for _, r, _ in triples})
    ent_id = {e: i for i, e in enumerate(entities)}
    rel_id = {r: i for i, r in enumerate(relations)}

    def encode(triples):
        if not triples:
            return torch.empty(0, 3, dtype=torch.long)
        return torch.tensor([(ent_id[h], rel_id[r], ent_id[t])
                             for h, r, t in triples], dtype=torch.long)

    splits = {split: encode(raw[split]) for split in SPLITS}
    R = len(relations)
    edge_index, edge_type = kg_graph(splits['train'], R)
    data = Data(edge_index=edge_index, edge_type=edge_type,
                num_nodes=len(entities), **splits)
    data.num_relations = R
    data.entities = entities
    data.relations = relations
    data.name = canonical
    return data
