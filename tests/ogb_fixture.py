"""Writes tiny node-property datasets in OGB's on-disk format.

No ``ogbn-*`` data is available offline, so tests fake one: the files below
are exactly what :class:`ogb.nodeproppred.PygNodePropPredDataset` reads for a
homogeneous, non-binary dataset (``raw/*.csv.gz`` listed by ogb's
``master.csv``, ``split/<split>/{train,valid,test}.csv.gz`` and the
``RELEASE_v<version>.txt`` marker whose absence makes ogb prompt on stdin).

Usage (``tests/`` is on ``sys.path`` under pytest's default import mode; use
``from tests.ogb_fixture import ...`` if ``tests`` becomes a package)::

    from ogb_fixture import write_tiny_ogbn
    tiny = write_tiny_ogbn(tmp_path, 'ogbn-arxiv', num_nodes=50)
    data = load_dataset('ogbn-arxiv', root=tmp_path)
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

__all__ = ['TinyOgbn', 'write_tiny_ogbn', 'ogb_meta']


@dataclass
class TinyOgbn:
    """What :func:`write_tiny_ogbn` wrote (ground truth for assertions)."""
    name: str
    dir: Path                   # <root>/ogb/<ogbn_name>
    x: Optional[np.ndarray]     # [N, F] float32, None without node features
    y: np.ndarray               # [N] int64
    edge_index: np.ndarray      # [2, E] int64 as written (one direction)
    split: Dict[str, np.ndarray]  # 'train' / 'valid' / 'test' -> indices
    num_classes: int            # from ogb's master.csv
    add_inverse_edge: bool      # whether ogb doubles the edges on load

    @property
    def num_nodes(self) -> int:
        return int(self.y.shape[0])


def ogb_meta(name: str) -> Dict[str, str]:
    """Returns the column of ogb's ``nodeproppred/master.csv`` for ``name``."""
    import ogb.nodeproppred
    import pandas as pd
    path = Path(ogb.nodeproppred.__file__).parent / 'master.csv'
    master = pd.read_csv(path, index_col=0, keep_default_na=False)
    return {k: str(v) for k, v in master[name].items()}


def _write_csv_gz(path: Path, array: np.ndarray, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(array)
    if array.ndim == 1:
        array = array[:, None]
    with gzip.open(path, 'wt') as f:
        np.savetxt(f, array, fmt=fmt, delimiter=',')


def write_tiny_ogbn(
    root: Union[str, os.PathLike],
    name: str = 'ogbn-arxiv',
    num_nodes: int = 50,
    num_features: int = 8,
    num_edges: Optional[int] = None,
    num_labels: int = 5,
    split_sizes: Optional[Tuple[int, int]] = None,
    seed: int = 0,
    write_release: bool = True,
) -> TinyOgbn:
    """Writes a tiny fake ``name`` under ``<root>/ogb/<name with _>/``.

    Args:
        root: Data root (the directory passed as ``root=`` to
            ``gat_zoo.datasets.load_dataset``).
        name: An homogeneous, non-binary ogbn dataset known to ogb
            (``ogbn-arxiv``, ``ogbn-products``, ``ogbn-proteins``).
        num_nodes: Number of nodes.
        num_features: Feature dimension (ignored if the dataset has none).
        num_edges: Number of (directed, as stored) edges without self-loops
            or duplicates. Defaults to ``3 * num_nodes``.
        num_labels: Labels are drawn from ``range(num_labels)``.
        split_sizes: ``(num_train, num_valid)``; the rest is test. Each
            part must be non-empty (ogb cannot read an empty csv). Defaults
            to 60 % / 20 % / 20 %.
        seed: Seed of the numpy generator.
        write_release: Whether to write ``RELEASE_v<version>.txt``.

    Returns:
        TinyOgbn: The written arrays for comparisons.
    """
    meta = ogb_meta(name)
    if meta['is hetero'] == 'True' or meta['binary'] == 'True':
        raise ValueError(f"{name}: only homogeneous csv datasets supported")
    rng = np.random.default_rng(seed)
    N = num_nodes
    E = 3 * N if num_edges is None else num_edges
    if E > N * (N - 1):
        raise ValueError("too many edges for the number of nodes")

    # Distinct directed pairs without self-loops.
    keys = rng.choice(N * (N - 1), size=E, replace=False)
    src, off = keys // (N - 1), keys % (N - 1)
    dst = off + (off >= src)
    edge_index = np.stack([src, dst]).astype(np.int64)

    has_x = meta['has_node_attr'] == 'True'
    x = rng.standard_normal((N, num_features)).astype(np.float32) \
        if has_x else None
    y = rng.integers(0, num_labels, size=N).astype(np.int64)

    out = Path(root) / 'ogb' / '_'.join(name.split('-'))
    raw = out / 'raw'
    _write_csv_gz(raw / 'edge.csv.gz', edge_index.T, '%d')
    _write_csv_gz(raw / 'num-node-list.csv.gz', np.array([N]), '%d')
    _write_csv_gz(raw / 'num-edge-list.csv.gz', np.array([E]), '%d')
    _write_csv_gz(raw / 'node-label.csv.gz', y, '%d')
    if has_x:
        _write_csv_gz(raw / 'node-feat.csv.gz', x, '%.6f')
    if meta['has_edge_attr'] == 'True':
        _write_csv_gz(raw / 'edge-feat.csv.gz',
                      rng.random((E, 8)).astype(np.float32), '%.6f')
    extra = meta['additional node files']
    for key in ([] if extra == 'None' else extra.split(',')):
        # E.g. `node_year` for arxiv; a plausible integer column is enough.
        _write_csv_gz(raw / f'{key}.csv.gz',
                      rng.integers(2000, 2020, size=N), '%d')
    extra = meta['additional edge files']
    for key in ([] if extra == 'None' else extra.split(',')):
        _write_csv_gz(raw / f'{key}.csv.gz', rng.integers(0, 3, size=E),
                      '%d')

    perm = rng.permutation(N)
    n_train, n_valid = split_sizes or (int(0.6 * N), int(0.2 * N))
    if min(n_train, n_valid, N - n_train - n_valid) < 1:
        raise ValueError(f"every split part must be non-empty "
                         f"(got {n_train}/{n_valid} of {N} nodes)")
    split = {
        'train': np.sort(perm[:n_train]),
        'valid': np.sort(perm[n_train:n_train + n_valid]),
        'test': np.sort(perm[n_train + n_valid:]),
    }
    for key, idx in split.items():
        _write_csv_gz(out / 'split' / meta['split'] / f'{key}.csv.gz', idx,
                      '%d')

    (out / 'mapping').mkdir(parents=True, exist_ok=True)
    (out / 'mapping' / 'README.md').write_text(
        f'Tiny fake {name} written by tests/ogb_fixture.py\n')
    if write_release:
        (out / f"RELEASE_v{meta['version']}.txt").write_text(
            f'tiny fake {name}\n')

    return TinyOgbn(name=name, dir=out, x=x, y=y, edge_index=edge_index,
                    split=split, num_classes=int(meta['num classes']),
                    add_inverse_edge=meta['add_inverse_edge'] == 'True')
