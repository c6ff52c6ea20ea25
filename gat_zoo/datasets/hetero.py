r"""The heterogeneous node-classification datasets of HAN (Wang et al.,
`"Heterogeneous Graph Attention Network" <https://arxiv.org/abs/1903.07293>`_,
WWW 2019) as meta-path graphs over the target node type.

- **ACM** (3025 papers): HAN's own release, ``ACM3025.mat``, which ships
  the meta-path adjacencies PAP and PLP (paper-subject-paper; the paper's
  Table 2 calls it PSP) with the paper's 600/300/2125 split.
- **IMDB** and **DBLP**: PyG's :class:`~torch_geometric.datasets.IMDB` and
  :class:`~torch_geometric.datasets.DBLP` (MAGNN's preprocessing, which
  differs in size from HAN's versions), whose meta-path graphs (MAM, MDM;
  APA, APCPA, APTPA) are built here by sparse products
  (:func:`gat_zoo.ops.metapath_adjacency`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch_geometric.data import Data

from gat_zoo.ops.metapaths import metapath_adjacency

from ._cache import FileSet, materialize, not_found
from ._root import resolve_data_root

__all__ = ['HETERO_DATASETS', 'HETERO_METAPATHS', 'load_hetero']

PathLike = Union[str, os.PathLike]

#: Canonical names.
HETERO_DATASETS = ('ACM', 'IMDB', 'DBLP')

_PYG_FILES = ('adjM.npz', 'features_0.npz', 'features_1.npz',
              ('features_2.npz', 'features_2.npy'), 'labels.npy',
              'node_types.npy', 'train_val_test_idx.npz')

#: HAN's meta-paths per dataset: (name, relations) with the relation names
#: of PyG's HeteroData (IMDB, DBLP); ACM's come precomputed.
HETERO_METAPATHS: Dict[
    str, Tuple[str, Tuple[Tuple[str, Tuple[str, ...]], ...]]] = {
    'IMDB': ('movie', (('MAM', ('movie', 'actor', 'movie')),
                       ('MDM', ('movie', 'director', 'movie')))),
    'DBLP': ('author', (('APA', ('author', 'paper', 'author')),
                        ('APCPA', ('author', 'paper', 'conference', 'paper',
                                   'author')),
                        ('APTPA', ('author', 'paper', 'term', 'paper',
                                   'author')))),
}


def _root_origin(root: Optional[PathLike]) -> str:
    from .loaders import _root_origin as origin
    return origin(root)


def load_hetero(name: str, root: Optional[PathLike] = None) -> Data:
    r"""Loads ACM, IMDB or DBLP as meta-path graphs over the target type.

    Files are read from the data root (:obj:`root`, else
    :obj:`$GAT_ZOO_DATA`, else the per-user default):
    ``hetero/ACM3025/ACM3025.mat``, ``hetero/IMDB/raw/*``,
    ``hetero/DBLP/raw/*``. IMDB and DBLP are processed by PyG in the
    writable cache; nothing is written into the data root.

    Returns:
        torch_geometric.data.Data: :obj:`x` ``[N, F]`` (target-type
        features), :obj:`y` ``[N]``, boolean :obj:`train_mask` /
        :obj:`val_mask` / :obj:`test_mask` (the fixed split),
        :obj:`metapaths`, a list of ``[2, E]`` meta-path graphs (each pair
        once, both directions, no self-loops: the layer adds them),
        :obj:`metapath_names`, :obj:`name`, :obj:`num_classes`,
        :obj:`target` and, for IMDB and DBLP, :obj:`hetero`, the
        :class:`~torch_geometric.data.HeteroData` itself (for PyG's
        relation-level ``HANConv``).
    """
    if not isinstance(name, str) or name.strip().upper() not in \
            HETERO_DATASETS:
        raise ValueError(f"Unknown heterogeneous dataset {name!r}; expected "
                         f"one of {', '.join(HETERO_DATASETS)}")
    canonical = name.strip().upper()
    data_root = resolve_data_root(root)
    if canonical == 'ACM':
        return _load_acm(data_root, _root_origin(root))
    return _load_pyg(canonical, data_root, _root_origin(root))


def _load_acm(data_root: Path, origin: str) -> Data:
    fs = FileSet('ACM', ('hetero/ACM3025', ), 'hetero/ACM3025',
                 'hetero/ACM3025', ('ACM3025.mat', ),
                 hint="HAN's release of ACM (3025 papers), e.g. from the "
                      "authors' repository Jhy1993/HAN.")
    path = data_root / 'hetero' / 'ACM3025' / 'ACM3025.mat'
    if not path.is_file():
        raise not_found(fs, data_root, 'The file is not downloaded '
                        'automatically.', origin)
    from scipy.io import loadmat
    mat = loadmat(str(path))
    x = torch.from_numpy(np.asarray(mat['feature'], dtype=np.float32))
    y = torch.from_numpy(np.asarray(mat['label']).argmax(axis=1)).long()
    n = x.size(0)
    metapaths, names = [], []
    for key in ('PAP', 'PLP'):
        adj = np.asarray(mat[key])
        row, col = np.nonzero(adj)  # row-major: target-sorted as (col, row)
        edge_index = torch.from_numpy(np.stack([col, row])).long()
        metapaths.append(edge_index[:, edge_index[0] != edge_index[1]])
        names.append(key)
    masks = {}
    for split in ('train', 'val', 'test'):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[torch.from_numpy(np.asarray(mat[f'{split}_idx']).ravel()
                              .astype(np.int64))] = True
        masks[f'{split}_mask'] = mask
    return _finish(x, y, masks, metapaths, names, 'ACM', 'paper', None)


def _load_pyg(canonical: str, data_root: Path, origin: str) -> Data:
    folder = f'hetero/{canonical}'
    fs = FileSet(canonical, (f'{folder}/raw', ), f'{folder}/raw', folder,
                 _PYG_FILES)

    def build(work_root: Path):
        from torch_geometric import datasets
        cls = getattr(datasets, canonical)
        return cls(str(work_root / folder))[0]

    hetero = materialize(fs, data_root, build, root_origin=origin)
    target, metapaths = HETERO_METAPATHS[canonical]
    relations = _relation_lookup(hetero)
    graphs, names = [], []
    for mp_name, types in metapaths:
        path = [relations[(a, b)] for a, b in zip(types[:-1], types[1:])]
        edge_index, _ = metapath_adjacency(hetero.edge_index_dict, path,
                                           hetero.num_nodes_dict,
                                           drop_self_loops=True)
        graphs.append(edge_index)
        names.append(mp_name)
    store = hetero[target]
    masks = {f'{s}_mask': store[f'{s}_mask'] for s in ('train', 'val',
                                                       'test')}
    return _finish(store.x.float(), store.y.long(), masks, graphs, names,
                   canonical, target, hetero)


def _relation_lookup(hetero) -> Dict[Tuple[str, str], Tuple[str, str, str]]:
    out = {}
    for src, rel, dst in hetero.edge_types:
        out[(src, dst)] = (src, rel, dst)
    return out


def _finish(x, y, masks, metapaths: List[torch.Tensor],
            names: Sequence[str], name: str, target: str, hetero) -> Data:
    data = Data(x=x, y=y, num_nodes=x.size(0), **masks)
    data.metapaths = metapaths
    data.metapath_names = list(names)
    data.name = name
    data.target = target
    data.num_classes = int(y.max()) + 1
    if hetero is not None:
        data.hetero = hetero
    return data
