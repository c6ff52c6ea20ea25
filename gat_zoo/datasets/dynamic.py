r"""The DySAT snapshot datasets (Sankar et al., WSDM 2020): Enron and UCI
messages, read in place from plain CSVs.

Layout of the data root::

    <root>/dynamic/Enron/edges.csv           src,dst,timestep,date
    <root>/dynamic/Enron/snapshot_nodes.csv  timestep,num_nodes
    <root>/dynamic/UCI/...                   (same)

Each ``edges.csv`` row is one interaction (an undirected multi-edge,
``src <= dst``) of snapshot ``timestep``; snapshot :math:`t` holds nodes
``0 .. num_nodes[t] - 1`` (node sets are cumulative). :func:`load_dynamic`
returns a :class:`DynamicGraph` whose snapshot :math:`t` is the weighted
undirected graph of that snapshot: both directions of every pair, weight =
the number of interactions (the official code's multigraph adjacency).
Nothing is written anywhere, so no cache is needed.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torch import Tensor

from ._errors import DatasetNotFoundError
from ._root import PathLike, resolve_data_root

__all__ = ['DYNAMIC_DATASETS', 'DynamicGraph', 'load_dynamic']

#: Canonical names of the snapshot datasets (folder names).
DYNAMIC_DATASETS = ('Enron', 'UCI')


@dataclass
class DynamicGraph:
    """A sequence of graph snapshots over a growing node set.

    Attributes:
        name (str): Dataset name.
        num_nodes (list[int]): Nodes present at each snapshot.
        edge_index (list[Tensor]): ``[2, E_t]`` per snapshot, both
            directions of every distinct pair (self-loops once), sorted.
        edge_weight (list[Tensor]): ``[E_t]`` interaction counts.
    """
    name: str
    num_nodes: List[int]
    edge_index: List[Tensor]
    edge_weight: List[Tensor]

    @property
    def num_snapshots(self) -> int:
        return len(self.num_nodes)

    def pairs(self, t: int) -> Tensor:
        """Distinct undirected pairs ``u <= v`` of snapshot ``t``, ``[2, P]``
        (the paper's link count sums these over snapshots)."""
        index = self.edge_index[t]
        return index[:, index[0] <= index[1]]


def _folder(name: str, root: Optional[PathLike]) -> Path:
    canonical = {n.lower(): n for n in DYNAMIC_DATASETS}.get(name.lower())
    if canonical is None:
        raise ValueError(f"Unknown dynamic dataset {name!r}; expected one "
                         f"of {DYNAMIC_DATASETS}")
    folder = resolve_data_root(root) / 'dynamic' / canonical
    for file in ('edges.csv', 'snapshot_nodes.csv'):
        if not (folder / file).is_file():
            raise DatasetNotFoundError(
                f"Dynamic dataset {canonical!r}: {file} not found in "
                f"{folder}", dataset=canonical, directory=folder,
                files=['edges.csv', 'snapshot_nodes.csv'])
    return folder


def load_dynamic(name: str, root: Optional[PathLike] = None
                 ) -> DynamicGraph:
    """Load ``'Enron'`` or ``'UCI'`` as a :class:`DynamicGraph`."""
    folder = _folder(name, root)
    with open(folder / 'snapshot_nodes.csv', newline='') as f:
        rows = sorted((int(r['timestep']), int(r['num_nodes']))
                      for r in csv.DictReader(f))
    if [t for t, _ in rows] != list(range(len(rows))):
        raise ValueError(f"{folder / 'snapshot_nodes.csv'}: time steps are "
                         f"not 0..T-1")
    num_nodes = [n for _, n in rows]
    counts: List[Dict[tuple, int]] = [dict() for _ in rows]
    with open(folder / 'edges.csv', newline='') as f:
        for r in csv.DictReader(f):
            t, u, v = int(r['timestep']), int(r['src']), int(r['dst'])
            if not (0 <= u < num_nodes[t] and 0 <= v < num_nodes[t]):
                raise ValueError(f"edge ({u}, {v}) outside snapshot {t}'s "
                                 f"{num_nodes[t]} nodes")
            key = (min(u, v), max(u, v))
            counts[t][key] = counts[t].get(key, 0) + 1
    edge_index, edge_weight = [], []
    for table in counts:
        src, dst, w = [], [], []
        for (u, v), c in table.items():
            src.append(u)
            dst.append(v)
            w.append(c)
            if u != v:
                src.append(v)
                dst.append(u)
                w.append(c)
        index = torch.tensor([src, dst], dtype=torch.long).view(2, -1)
        weight = torch.tensor(w, dtype=torch.float)
        order = (index[0] * (max(num_nodes) + 1) + index[1]).argsort()
        edge_index.append(index[:, order])
        edge_weight.append(weight[order])
    return DynamicGraph(name=folder.name, num_nodes=num_nodes,
                        edge_index=edge_index, edge_weight=edge_weight)
