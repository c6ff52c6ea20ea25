r"""The AM-GCN datasets (Wang et al., KDD 2020): ACM and UAI2010 from the
official repository's zips, read in place, and CiteSeer (Planetoid) with
the paper's label rates.

Layout of the data root::

    <root>/amgcn/acm/acm.zip   (acm/acm.feature, acm.label, acm_PAP.edge,
                                acm/knn/c{2..9}.txt, train/test{20,40,60})
    <root>/amgcn/uai/uai.zip   (uai/uai.feature, uai.label, uai.edge, ...)

:func:`load_amgcn` returns a :class:`~torch_geometric.data.Data` with the
topology graph (``edge_index``, both directions, as the official code
symmetrises it), the kNN feature graph (``knn_edge_index``: the zip's
``knn/c{k}.txt`` made undirected, or for CiteSeer the
:func:`~gat_zoo.nn.conv.amgcn_conv.knn_feature_graph` of the features) and
``[N, S]`` train/val/test masks. The paper's splits have only training and
test nodes (20/40/60 labels per class, 1000 test nodes) and the official
code reports the best *test* accuracy over the epochs; here each of the
``S`` columns adds 500 validation nodes drawn (seeded) from the nodes in
neither set, so that model selection reads no test label. For ACM and UAI
the train and test nodes are the zip's own. CiteSeer's zip is not in the
data root, but its split is a rule on Planetoid CiteSeer (same nodes, order,
features and labels): the first ``rate`` nodes of each class in index order
for training and Planetoid's public test set, rebuilt here; its feature
graph is our cosine kNN under the official file rule (see
:func:`load_amgcn`), which matches the authors' files up to cosine ties.

The parsed arrays are cached as ``.npz`` in the writable cache
(:func:`~gat_zoo.datasets.cache_dir`); nothing is ever written into the
data root.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Dict, Optional, TypedDict

import numpy as np
import torch
from torch_geometric.data import Data

from ._errors import DatasetNotFoundError
from ._root import PathLike, cache_dir, resolve_data_root

__all__ = ['AMGCN_DATASETS', 'load_amgcn', 'read_amgcn_raw']

#: Datasets of the AM-GCN zips: name -> (edge file, default k of the
#: official configs).
AMGCN_DATASETS = {'acm': ('acm_PAP.edge', 5), 'uai': ('uai.edge', 5)}
LABEL_RATES = (20, 40, 60)


def _zip_path(name: str, root: Optional[PathLike]) -> Path:
    path = resolve_data_root(root) / 'amgcn' / name / f'{name}.zip'
    if not path.is_file():
        raise DatasetNotFoundError(
            f"AM-GCN dataset {name!r} not found at {path}")
    return path


def _text(zf: zipfile.ZipFile, member: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(zf.open(member), encoding='utf-8')


def _ints(zf: zipfile.ZipFile, member: str) -> np.ndarray:
    data = np.loadtxt(_text(zf, member), dtype=np.int64, ndmin=1)
    return data


class _RawArrays(TypedDict):
    """What :func:`read_amgcn_raw` returns."""
    features: np.ndarray
    labels: np.ndarray
    edges: np.ndarray
    knn: Dict[int, np.ndarray]
    train: Dict[int, np.ndarray]
    test: Dict[int, np.ndarray]


def read_amgcn_raw(name: str, root: Optional[PathLike] = None
                   ) -> _RawArrays:
    """The raw arrays of an AM-GCN zip (cached): ``features`` [N, F]
    float32, ``labels`` [N], ``edges`` [E, 2] (as in the file),
    ``knn`` {k: [E_k, 2]}, ``train`` / ``test`` {rate: ids}."""
    name = name.lower()
    if name not in AMGCN_DATASETS:
        raise ValueError(f"Unknown AM-GCN dataset {name!r}; expected one of "
                         f"{tuple(AMGCN_DATASETS)}")
    path = _zip_path(name, root)
    stat = path.stat()
    cache = cache_dir() / 'amgcn' / (
        f'{name}-{stat.st_size}-{int(stat.st_mtime)}.npz')
    if cache.is_file():
        arrays = dict(np.load(cache))
    else:
        arrays = {}
        with zipfile.ZipFile(path) as zf:
            # Dense whitespace text; pandas' C parser is far faster than
            # np.loadtxt on the 30 MB UAI file.
            import pandas as pd
            arrays['features'] = pd.read_csv(
                zf.open(f'{name}/{name}.feature'), sep=r'\s+', header=None,
                dtype=np.float32).to_numpy()
            arrays['labels'] = _ints(zf, f'{name}/{name}.label')
            arrays['edges'] = _ints(
                zf, f'{name}/{AMGCN_DATASETS[name][0]}').reshape(-1, 2)
            for k in range(2, 10):
                arrays[f'knn{k}'] = _ints(
                    zf, f'{name}/knn/c{k}.txt').reshape(-1, 2)
            for rate in LABEL_RATES:
                arrays[f'train{rate}'] = _ints(zf, f'{name}/train{rate}.txt')
                arrays[f'test{rate}'] = _ints(zf, f'{name}/test{rate}.txt')
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix('.tmp.npz')
        np.savez(tmp, **arrays)
        tmp.replace(cache)
    return {
        'features': arrays['features'], 'labels': arrays['labels'],
        'edges': arrays['edges'],
        'knn': {k: arrays[f'knn{k}'] for k in range(2, 10)},
        'train': {r: arrays[f'train{r}'] for r in LABEL_RATES},
        'test': {r: arrays[f'test{r}'] for r in LABEL_RATES},
    }


def _undirected(pairs: np.ndarray, n: int) -> torch.Tensor:
    """Both directions of every pair, once each, without self-loops (the
    official code's ``max(A, A^T)``; its self-loops come with ``+ I``)."""
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    both = np.concatenate([p, p[:, ::-1]], axis=0)
    both = both[both[:, 0] != both[:, 1]]
    both = np.unique(both, axis=0)
    return torch.from_numpy(both.T.copy())


def _mask(index: np.ndarray, n: int) -> torch.Tensor:
    m = torch.zeros(n, dtype=torch.bool)
    m[torch.as_tensor(index, dtype=torch.long)] = True
    return m


def _val_from_rest(n: int, used: torch.Tensor, size: int,
                   gen: torch.Generator) -> torch.Tensor:
    rest = (~used).nonzero().view(-1)
    pick = rest[torch.randperm(rest.numel(), generator=gen)[:size]]
    return _mask(pick.numpy(), n)


def load_amgcn(name: str, label_rate: int = 20, *, k: Optional[int] = None,
               num_splits: int = 10, num_val: int = 500, seed: int = 0,
               root: Optional[PathLike] = None) -> Data:
    """An AM-GCN benchmark graph (see the module docstring).

    Args:
        name (str): ``'acm'``, ``'uai'`` or ``'citeseer'``.
        label_rate (int): Labels per class, 20, 40 or 60.
        k (int, optional): Neighbours of the feature graph (default: the
            official config's, 5 for ACM/UAI and 7 for CiteSeer).
        num_splits (int): Number of mask columns (one per seed).
        num_val (int): Validation nodes per column.
        seed (int): Seed of the validation draws.
        root: The data root (default :obj:`$GAT_ZOO_DATA`).
    """
    name = name.lower()
    if label_rate not in LABEL_RATES:
        raise ValueError(f"'label_rate' must be one of {LABEL_RATES} (got "
                         f"{label_rate!r})")
    gen = torch.Generator().manual_seed(seed)
    if name == 'citeseer':
        from gat_zoo.nn.conv.amgcn_conv import knn_feature_graph

        from .loaders import load_dataset
        base = load_dataset('citeseer', root)
        x, y, n = base.x, base.y, base.num_nodes
        edge_index = _undirected(base.edge_index.t().numpy(), n)
        # The official feature graph keeps a kNN pair only from its smaller
        # end (i < j, j among i's k nearest) before symmetrising; the same
        # rule on our kNN keeps the graph as sparse as theirs.
        directed = knn_feature_graph(x, k or 7, symmetric=False)
        knn = _undirected(
            directed[:, directed[0] < directed[1]].t().numpy(), n)
        # The authors' CiteSeer split is deterministic: the first
        # ``label_rate`` nodes of every class in index order, tested on
        # Planetoid's public 1000 test nodes (checked against their files).
        train = torch.zeros(n, dtype=torch.bool)
        for c in range(int(y.max()) + 1):
            train[(y == c).nonzero().view(-1)[:label_rate]] = True
        test = base.test_mask.clone()
        vals = [_val_from_rest(n, train | test, num_val, gen)
                for _ in range(num_splits)]
        trains = [train] * num_splits
        tests = [test] * num_splits
        classes = int(y.max()) + 1
        data = Data(x=x, y=y, edge_index=edge_index, knn_edge_index=knn)
        data.train_mask = torch.stack(trains, 1)
        data.val_mask = torch.stack(vals, 1)
        data.test_mask = torch.stack(tests, 1)
        data.name = f'AMGCN-CiteSeer-{label_rate}'
        data.num_classes = classes
        return data
    raw = read_amgcn_raw(name, root)
    x = torch.from_numpy(raw['features'])
    y = torch.from_numpy(raw['labels']).long()
    n = x.size(0)
    edge_index = _undirected(raw['edges'], n)
    knn = _undirected(raw['knn'][k or AMGCN_DATASETS[name][1]], n)
    train = _mask(raw['train'][label_rate], n)
    test = _mask(raw['test'][label_rate], n)
    vals = [_val_from_rest(n, train | test, num_val, gen)
            for _ in range(num_splits)]
    data = Data(x=x, y=y, edge_index=edge_index, knn_edge_index=knn)
    data.train_mask = train.view(-1, 1).repeat(1, num_splits)
    data.val_mask = torch.stack(vals, 1)
    data.test_mask = test.view(-1, 1).repeat(1, num_splits)
    data.name = f'AMGCN-{name.upper()}-{label_rate}'
    data.num_classes = int(y.max()) + 1
    return data
