"""Tests for :mod:`gat_zoo.datasets`.

Real-data tests need ``GAT_ZOO_DATA`` pointing at a data root such as
``/work/shared/data``; they are skipped (with the reason) otherwise.
Every test runs with ``GAT_ZOO_CACHE`` and ``XDG_CACHE_HOME`` in
``tmp_path`` and with downloads disabled unless a test re-enables them with
the downloader patched to fail, so nothing touches the user's cache or the
network.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
import stat
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from gat_zoo.datasets import (
    DatasetNotFoundError,
    cache_dir,
    csbm,
    list_datasets,
    load_dataset,
    resolve_data_root,
)

try:
    from ogb_fixture import write_tiny_ogbn
except ImportError:  # `tests` imported as a package
    from tests.ogb_fixture import write_tiny_ogbn

# Read before the autouse fixture clears it for the test body.
SHARED_ROOT = os.environ.get('GAT_ZOO_DATA', '').strip() or None


pytestmark = pytest.mark.usefixtures('isolated_env')


@pytest.fixture
def no_prompt(monkeypatch):
    """Makes any stdin prompt fail loudly instead of hanging."""
    def refuse(*args, **kwargs):
        raise AssertionError(f'unexpected stdin prompt: {args!r}')

    monkeypatch.setattr(builtins, 'input', refuse)
    monkeypatch.setattr(sys, 'stdin', io.StringIO(''))


def _shared(*parts: str) -> Path:
    """Returns the shared data root, skipping if it lacks ``parts``."""
    if SHARED_ROOT is None:
        pytest.skip('GAT_ZOO_DATA is not set; real-data tests need a data '
                    'root such as /work/shared/data')
    root = Path(SHARED_ROOT)
    missing = [p for p in parts if not (root / p).exists()]
    if missing:
        pytest.skip(f'{missing} not found under GAT_ZOO_DATA={root}')
    return root


def _snapshot(path: Path) -> set:
    """All files/dirs below ``path`` with size and mtime."""
    out = set()
    for p in path.rglob('*'):
        st = p.lstat()
        out.add((p.relative_to(path).as_posix(), p.is_dir(),
                 0 if p.is_dir() else st.st_size, st.st_mtime_ns))
    return out


def _set_writable(path: Path, writable: bool) -> None:
    for p in [path, *path.rglob('*')]:
        mode = p.stat().st_mode
        if writable:
            p.chmod(mode | stat.S_IWUSR)
        else:
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _edge_homophily(data) -> float:
    row, col = data.edge_index
    return (data.y[row] == data.y[col]).float().mean().item()


# csbm ########################################################################


def test_csbm_shapes_and_attributes():
    data = csbm(num_nodes=300, num_classes=3, num_features=16, seed=1,
                train_per_class=10, num_val=60)
    assert data.x.shape == (300, 16) and data.x.dtype == torch.float32
    assert data.y.shape == (300, ) and data.y.dtype == torch.long
    assert data.edge_index.dtype == torch.long
    assert data.edge_index.size(0) == 2
    assert data.name == 'csbm' and data.num_classes == 3
    # Class-balanced labels.
    assert torch.bincount(data.y).tolist() == [100, 100, 100]


def test_csbm_deterministic_per_seed():
    a, b, c = csbm(seed=7), csbm(seed=7), csbm(seed=8)
    for key in ('x', 'y', 'edge_index', 'train_mask', 'val_mask',
                'test_mask'):
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a.y, c.y)
    assert not torch.equal(a.x, c.x)
    assert (a.edge_index.shape != c.edge_index.shape
            or not torch.equal(a.edge_index, c.edge_index))


@pytest.mark.parametrize('homophily', [0.2, 0.8])
def test_csbm_homophily_and_degree(homophily):
    for seed in (0, 1):
        data = csbm(homophily=homophily, avg_degree=10.0, seed=seed)
        assert abs(_edge_homophily(data) - homophily) <= 0.05
        avg_degree = data.edge_index.size(1) / data.num_nodes
        assert abs(avg_degree - 10.0) <= 1.0


def test_csbm_extreme_homophily():
    assert _edge_homophily(csbm(homophily=1.0, seed=0)) == 1.0
    assert _edge_homophily(csbm(homophily=0.0, seed=0)) == 0.0


def test_csbm_simple_undirected_coalesced():
    from torch_geometric.utils import coalesce, is_undirected
    data = csbm(num_nodes=500, avg_degree=20.0, num_val=100, seed=3)
    ei = data.edge_index
    assert is_undirected(ei, num_nodes=500)
    assert not (ei[0] == ei[1]).any(), 'self-loops'
    keys = ei[0] * 500 + ei[1]
    assert keys.unique().numel() == keys.numel(), 'duplicate edges'
    assert torch.equal(coalesce(ei, num_nodes=500), ei), 'not coalesced'
    assert int(ei.min()) >= 0 and int(ei.max()) < 500


def test_csbm_masks():
    data = csbm(num_nodes=1000, num_classes=4, train_per_class=15,
                num_val=200, seed=2)
    tr, va, te = data.train_mask, data.val_mask, data.test_mask
    assert tr.dtype == va.dtype == te.dtype == torch.bool
    assert tr.shape == va.shape == te.shape == (1000, )
    assert not (tr & va).any() and not (tr & te).any()
    assert not (va & te).any()
    assert bool((tr | va | te).all())
    assert int(tr.sum()) == 60 and int(va.sum()) == 200
    assert int(te.sum()) == 1000 - 60 - 200
    assert torch.bincount(data.y[tr], minlength=4).tolist() == [15] * 4


def test_csbm_is_sparse_sampling():
    # A dense N x N sampler would need 4e10 entries here.
    t0 = time.perf_counter()
    data = csbm(num_nodes=200_000, num_features=4, avg_degree=4.0,
                num_val=1000, seed=0)
    elapsed = time.perf_counter() - t0
    assert abs(data.edge_index.size(1) / 200_000 - 4.0) < 0.2
    assert elapsed < 20.0


def test_csbm_feature_snr():
    def class_mean_norm(snr):
        data = csbm(feature_snr=snr, num_features=32, seed=0)
        means = torch.stack([data.x[data.y == c].mean(0) for c in range(5)])
        return means.norm(dim=1).mean().item()

    assert class_mean_norm(0.0) < 0.5 < 2.5 < class_mean_norm(3.0)


def test_csbm_invalid_arguments():
    with pytest.raises(ValueError, match='infeasible'):
        csbm(num_nodes=20, num_classes=10, avg_degree=15.0, homophily=1.0,
             train_per_class=1, num_val=5)
    with pytest.raises(ValueError):
        csbm(homophily=1.5)
    with pytest.raises(ValueError):
        csbm(num_nodes=100, train_per_class=30)


def test_load_dataset_csbm_uses_seed():
    a = load_dataset('CSBM', seed=5)
    b = csbm(seed=5)
    assert torch.equal(a.edge_index, b.edge_index)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(load_dataset('csbm', seed=6).x, b.x)


# Root resolution, names ######################################################


def test_resolve_data_root_order(tmp_path, monkeypatch):
    arg, env = tmp_path / 'arg', tmp_path / 'env'
    xdg = tmp_path / 'xdg'
    monkeypatch.setenv('XDG_CACHE_HOME', str(xdg))
    assert resolve_data_root() == xdg / 'gat_zoo' / 'data'
    monkeypatch.setenv('GAT_ZOO_DATA', str(env))
    assert resolve_data_root() == env
    assert resolve_data_root(arg) == arg
    assert resolve_data_root(str(arg)) == arg
    monkeypatch.setenv('GAT_ZOO_DATA', '')  # empty counts as unset
    assert resolve_data_root() == xdg / 'gat_zoo' / 'data'
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert resolve_data_root() == tmp_path / 'home/.cache/gat_zoo/data'


def test_cache_dir_resolution(tmp_path, monkeypatch):
    assert cache_dir() == tmp_path / 'cache'  # from the autouse fixture
    monkeypatch.delenv('GAT_ZOO_CACHE')
    assert cache_dir() == tmp_path / 'xdg' / 'gat_zoo'
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert cache_dir() == tmp_path / 'home/.cache/gat_zoo'


def test_list_and_unknown_names():
    names = list_datasets()
    for name in ('cora', 'citeseer', 'pubmed', 'cornell', 'texas',
                 'wisconsin', 'film', 'chameleon', 'squirrel', 'ogbn-arxiv',
                 'ogbn-products', 'csbm'):
        assert name in names
    with pytest.raises(ValueError, match='cora') as info:
        load_dataset('not-a-dataset')
    assert 'chameleon' in str(info.value)
    with pytest.raises(ValueError, match='Unknown'):
        load_dataset('ogbn-nope')


# Real data ###################################################################


# name as asked (any case), name as loaded, raw file, nodes, directed
# edges, features, classes, train/val/test sizes of the public split
PLANETOID = [
    ('Cora', 'Cora', 'ind.cora.x', 2708, 10556, 1433, 7, [140, 500, 1000]),
    ('citeseer', 'CiteSeer', 'ind.citeseer.x', 3327, 9104, 3703, 6,
     [120, 500, 1000]),
    ('pubmed', 'PubMed', 'ind.pubmed.allx', 19717, 88648, 500, 3,
     [60, 500, 1000]),
]


@pytest.mark.parametrize(
    'asked,name,raw,nodes,edges,features,classes,split', PLANETOID)
def test_planetoid(asked, name, raw, nodes, edges, features, classes, split,
                   no_prompt):
    root = _shared(f'Planetoid/{name}/raw/{raw}')
    before = _snapshot(root / 'Planetoid')
    data = load_dataset(asked, root=root)
    assert data.name == name and data.num_classes == classes
    assert data.num_nodes == nodes and data.edge_index.size(1) == edges
    assert data.x.shape == (nodes, features) and data.x.dtype == torch.float32
    assert data.y.dtype == torch.long and data.y.shape == (nodes, )
    assert data.train_mask.shape == (nodes, )
    assert [int(data[f'{s}_mask'].sum())
            for s in ('train', 'val', 'test')] == split
    # The public split trains on 20 nodes of each class.
    assert data.y[data.train_mask].bincount().tolist() == [20] * classes
    assert _snapshot(root / 'Planetoid') == before


def _check_ten_splits(data, num_nodes):
    for key in ('train_mask', 'val_mask', 'test_mask'):
        assert data[key].shape == (num_nodes, 10)
        assert data[key].dtype == torch.bool
    assert not (data.train_mask & data.val_mask).any()
    assert not (data.train_mask & data.test_mask).any()
    assert not (data.val_mask & data.test_mask).any()
    # Splits differ from each other.
    assert not torch.equal(data.train_mask[:, 0], data.train_mask[:, 1])


def test_cornell_ten_splits():
    root = _shared('heterophily/cornell/raw')
    data = load_dataset('Cornell', root=root)
    assert data.name == 'Cornell' and data.num_classes == 5
    assert data.num_nodes == 183 and data.edge_index.size(1) == 298
    assert data.x.shape == (183, 1703)
    _check_ten_splits(data, 183)


def test_film_via_actor_alias():
    root = _shared('heterophily/film/raw')
    data = load_dataset('actor', root=root)
    assert data.name == 'Actor' and data.num_classes == 5
    assert data.num_nodes == 7600 and data.edge_index.size(1) == 30019
    assert data.x.shape == (7600, 932)
    _check_ten_splits(data, 7600)
    assert load_dataset('FILM', root=root).edge_index.size(1) == 30019


def test_chameleon_npz_fallback():
    root = _shared('heterophily/yandex/chameleon.npz')
    if (root / 'heterophily/chameleon/raw').exists():
        pytest.skip('geom-gcn chameleon files present; no fallback')
    from torch_geometric.utils import is_undirected
    data = load_dataset('Chameleon', root=root)
    assert data.name == 'Chameleon' and data.num_classes == 5
    assert data.x.shape == (2277, 2325) and data.x.dtype == torch.float32
    # 31371 stored pairs (one direction each), symmetrized.
    assert data.edge_index.size(1) == 2 * 31371
    assert is_undirected(data.edge_index)
    _check_ten_splits(data, 2277)
    assert data.train_mask.sum(0).tolist() == [1092] * 10
    assert data.val_mask.sum(0).tolist() == [729] * 10
    assert data.test_mask.sum(0).tolist() == [456] * 10


def test_read_only_root_copy_is_never_written(tmp_path, monkeypatch,
                                              no_prompt):
    shared = _shared('Planetoid/Cora/raw', 'heterophily/cornell/raw')
    root = tmp_path / 'ro_root'
    shutil.copytree(shared / 'Planetoid/Cora', root / 'Planetoid/Cora')
    shutil.copytree(shared / 'heterophily/cornell',
                    root / 'heterophily/cornell')
    _set_writable(root, False)
    try:
        before = _snapshot(root)
        cora = load_dataset('cora', root=root)
        cornell = load_dataset('cornell', root=root)
        assert _snapshot(root) == before
        assert not list(root.rglob('processed'))

        # Processed in the cache, and re-used without processing again.
        from torch_geometric.datasets import Planetoid, WebKB

        def fail(self):
            raise AssertionError('processed again instead of re-using')

        monkeypatch.setattr(Planetoid, 'process', fail)
        monkeypatch.setattr(WebKB, 'process', fail)
        again = load_dataset('cora', root=root)
        assert torch.equal(again.x, cora.x)
        assert torch.equal(again.edge_index, cora.edge_index)
        assert torch.equal(load_dataset('cornell', root=root).train_mask,
                           cornell.train_mask)
        assert list((tmp_path / 'cache').rglob('Cora/processed'))
        assert _snapshot(root) == before
    finally:
        _set_writable(root, True)


# Missing data ################################################################


def test_missing_dataset_error_names_files_and_dir(tmp_path):
    root = tmp_path / 'empty'
    root.mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset('PubMed', root=root)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    expected_dir = root / 'Planetoid' / 'PubMed' / 'raw'
    assert f'in the directory: {expected_dir}' in msg
    for suffix in ('x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph',
                   'test.index'):
        assert f'ind.pubmed.{suffix}' in msg
    assert "'PubMed'" in msg and 'GAT_ZOO_DATA' in msg and 'root=' in msg
    assert err.directory == expected_dir and len(err.files) == 8
    assert not any(root.iterdir())


def test_missing_dataset_after_failed_download(tmp_path, monkeypatch):
    # Exercise the real download attempt, with the downloader failing the
    # way it does offline so the test is deterministic when online.
    import torch_geometric.datasets.planetoid as planetoid
    calls = []

    def failing_copy(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError('offline (test)')

    monkeypatch.delenv('GAT_ZOO_OFFLINE')
    # Planetoid downloads through `torch_geometric.io.fs.cp`.
    monkeypatch.setattr(planetoid.fs, 'cp', failing_copy)
    root = tmp_path / 'empty'
    root.mkdir()
    with pytest.raises(DatasetNotFoundError, match='download failed') as info:
        load_dataset('cora', root=root)
    assert calls, 'no download was attempted'
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert 'ind.cora.graph' in str(info.value)
    assert not any(root.iterdir())
    # No half-built entry is left to be trusted later.
    assert not list((tmp_path / 'cache').rglob('ind.cora.*'))


def test_missing_wiki_mentions_both_layouts(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset('squirrel', root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / 'heterophily' / 'squirrel' / 'raw') in msg
    assert 'squirrel_split_0.6_0.2_9.npz' in msg
    assert 'squirrel.npz' in msg
    assert str(tmp_path / 'heterophily' / 'yandex') in msg


# Chameleon / Squirrel layouts (synthetic files) ##############################


def _write_geom_gcn(raw: Path, prefix: str, num_nodes: int = 12,
                    seed: int = 0) -> np.ndarray:
    """Writes Geom-GCN style raw files; returns the directed edges."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True)
    lines = ['node_id\tfeature\tlabel']
    for i in range(num_nodes):
        feats = ','.join(str(int(v)) for v in rng.integers(0, 2, size=6))
        lines.append(f'{i}\t{feats}\t{i % 3}')
    (raw / 'out1_node_feature_label.txt').write_text('\n'.join(lines) + '\n')
    edges = np.array([[i, (i + 1) % num_nodes] for i in range(num_nodes)])
    (raw / 'out1_graph_edges.txt').write_text(
        'node_id\tnode_id\n' + ''.join(f'{a}\t{b}\n' for a, b in edges))
    for k in range(10):
        perm = rng.permutation(num_nodes)
        masks = {n: np.zeros(num_nodes, dtype=bool)
                 for n in ('train_mask', 'val_mask', 'test_mask')}
        masks['train_mask'][perm[:6]] = True
        masks['val_mask'][perm[6:9]] = True
        masks['test_mask'][perm[9:]] = True
        np.savez(raw / f'{prefix}_split_0.6_0.2_{k}.npz', **masks)
    return edges.T


def _write_yandex_npz(path: Path, num_nodes: int = 20) -> None:
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    masks = rng.random((3, 10, num_nodes)).argmax(0)
    np.savez(path, node_features=rng.random((num_nodes, 4)),
             node_labels=np.arange(num_nodes) % 5,
             edges=np.array([[i, i + 1] for i in range(num_nodes - 1)]),
             train_masks=masks == 0, val_masks=masks == 1,
             test_masks=masks == 2)


def test_wiki_npz_fallback_synthetic(tmp_path):
    from torch_geometric.utils import is_undirected
    _write_yandex_npz(tmp_path / 'heterophily/yandex/squirrel.npz')
    before = _snapshot(tmp_path)
    data = load_dataset('squirrel', root=tmp_path)
    assert data.name == 'Squirrel' and data.num_classes == 5
    assert data.x.shape == (20, 4) and data.x.dtype == torch.float32
    assert data.edge_index.size(1) == 2 * 19  # symmetrized path graph
    assert is_undirected(data.edge_index)
    assert data.train_mask.shape == (20, 10)
    assert bool((data.train_mask ^ data.val_mask ^ data.test_mask).all())
    assert _snapshot(tmp_path) == before


def test_wiki_geom_gcn_files_take_precedence(tmp_path):
    root = tmp_path / 'root'
    _write_yandex_npz(root / 'heterophily/yandex/chameleon.npz')
    edges = _write_geom_gcn(root / 'heterophily/chameleon/raw', 'chameleon')
    before = _snapshot(root)
    data = load_dataset('chameleon', root=root)
    # WikipediaNetwork(geom_gcn_preprocess=True) keeps the edges directed.
    assert data.num_nodes == 12 and data.x.shape == (12, 6)
    from torch_geometric.utils import coalesce
    assert torch.equal(data.edge_index, coalesce(torch.from_numpy(edges)))
    assert data.train_mask.shape == (12, 10)
    assert int(data.train_mask.sum()) == 60 and data.num_classes == 3
    assert _snapshot(root) == before
    assert list((tmp_path / 'cache').rglob('chameleon/geom_gcn/processed'))


# OGB #########################################################################


def test_ogbn_tiny_arxiv(tmp_path, no_prompt):
    tiny = write_tiny_ogbn(tmp_path / 'root', 'ogbn-arxiv', num_nodes=50)
    before = _snapshot(tmp_path / 'root')
    data = load_dataset('OGBN-ARXIV', root=tmp_path / 'root')
    assert data.name == 'ogbn-arxiv' and data.num_classes == 40
    assert data.num_nodes == 50
    assert data.x.dtype == torch.float32 and data.x.shape == (50, 8)
    assert torch.allclose(data.x, torch.from_numpy(tiny.x), atol=1e-5)
    assert data.y.shape == (50, ) and data.y.dtype == torch.long
    assert torch.equal(data.y, torch.from_numpy(tiny.y))
    # arxiv is stored directed and ogb does not add inverse edges.
    assert torch.equal(data.edge_index, torch.from_numpy(tiny.edge_index))
    for mask, key in (('train_mask', 'train'), ('val_mask', 'valid'),
                      ('test_mask', 'test')):
        assert data[mask].dtype == torch.bool and data[mask].shape == (50, )
        assert data[mask].nonzero().view(-1).tolist() == \
            tiny.split[key].tolist()
    assert _snapshot(tmp_path / 'root') == before


def test_ogbn_cache_reuse_and_invalidation(tmp_path, monkeypatch, no_prompt):
    from ogb.nodeproppred.dataset_pyg import PygNodePropPredDataset
    root = tmp_path / 'root'
    write_tiny_ogbn(root, 'ogbn-arxiv', seed=0)
    first = load_dataset('ogbn-arxiv', root=root)

    def fail(self):
        raise AssertionError('processed again instead of re-using')

    with monkeypatch.context() as m:
        m.setattr(PygNodePropPredDataset, 'process', fail)
        assert torch.equal(load_dataset('ogbn-arxiv', root=root).y, first.y)

    # Changed source files must not be served from the stale cache.
    tiny = write_tiny_ogbn(root, 'ogbn-arxiv', seed=1, num_nodes=40)
    data = load_dataset('ogbn-arxiv', root=root)
    assert data.num_nodes == 40
    assert torch.equal(data.y, torch.from_numpy(tiny.y))


def test_ogbn_half_written_cache_is_not_trusted(tmp_path, no_prompt):
    from gat_zoo.datasets._cache import work_root_for
    from gat_zoo.datasets._root import resolve_data_root as resolve
    root = tmp_path / 'root'
    tiny = write_tiny_ogbn(root, 'ogbn-arxiv')
    # Simulate a killed process: an entry without its completion marker,
    # holding garbage, plus an abandoned temporary build.
    work = work_root_for(resolve(root))
    entry = work / 'ogb' / 'ogbn_arxiv'
    (entry / 'processed').mkdir(parents=True)
    (entry / 'processed' / 'geometric_data_processed.pt').write_bytes(b'xx')
    (work / '.gat_zoo_tmp' / 'dead' / 'ogb').mkdir(parents=True)
    data = load_dataset('ogbn-arxiv', root=root)
    assert torch.equal(data.y, torch.from_numpy(tiny.y))
    assert (entry / '.gat_zoo_entry.json').is_file()


def test_ogbn_without_release_file_never_prompts(tmp_path, no_prompt):
    root = tmp_path / 'root'
    tiny = write_tiny_ogbn(root, 'ogbn-arxiv', write_release=False)
    before = _snapshot(root)
    with pytest.warns(UserWarning, match='RELEASE_v1.txt'):
        data = load_dataset('ogbn-arxiv', root=root)
    assert torch.equal(data.y, torch.from_numpy(tiny.y))
    assert _snapshot(root) == before


def test_ogbn_products_adds_inverse_edges(tmp_path, no_prompt):
    tiny = write_tiny_ogbn(tmp_path, 'ogbn-products', num_nodes=30)
    data = load_dataset('ogbn-products', root=tmp_path)
    assert data.num_classes == 47 and data.num_nodes == 30
    assert data.edge_index.size(1) == 2 * tiny.edge_index.shape[1]
    from torch_geometric.utils import is_undirected
    assert is_undirected(data.edge_index)


def test_ogbn_missing_error(tmp_path, no_prompt):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset('ogbn-arxiv', root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / 'ogb' / 'ogbn_arxiv') in msg
    for name in ('raw/edge.csv.gz', 'raw/node-feat.csv.gz',
                 'raw/node-label.csv.gz', 'raw/num-node-list.csv.gz',
                 'raw/num-edge-list.csv.gz', 'raw/node_year.csv.gz',
                 'split/time/train.csv.gz', 'split/time/valid.csv.gz',
                 'split/time/test.csv.gz'):
        assert name in msg


def test_ogbn_failed_download_never_prompts(tmp_path, monkeypatch,
                                            no_prompt):
    import ogb.utils.url
    calls = []

    def failing(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError('offline (test)')

    monkeypatch.delenv('GAT_ZOO_OFFLINE')
    # Both the size check (which prompts above 1 GB) and the fetch.
    monkeypatch.setattr(ogb.utils.url, 'download_url', failing)
    monkeypatch.setattr(ogb.utils.url, 'decide_download', failing)
    with pytest.raises(DatasetNotFoundError, match='download failed'):
        load_dataset('ogbn-products', root=tmp_path / 'root')
    assert calls and 'products' in calls[0]


def _fake_ogb_download(monkeypatch, staging: Path, calls: list) -> None:
    """Serves a tiny ogbn-arxiv as ogb's ``arxiv.zip`` (top folder
    ``arxiv/``) through a patched ``ogb.utils.url.download_url``."""
    import zipfile

    import ogb.utils.url
    tiny = write_tiny_ogbn(staging, 'ogbn-arxiv', num_nodes=25)

    def fake_download(url, folder, log=True):
        calls.append(url)
        path = Path(folder) / url.rpartition('/')[2]
        with zipfile.ZipFile(path, 'w') as zf:
            for f in tiny.dir.rglob('*'):
                if f.is_file():
                    zf.write(f, 'arxiv/' + f.relative_to(tiny.dir).as_posix())
        return str(path)

    monkeypatch.delenv('GAT_ZOO_OFFLINE')
    monkeypatch.setattr(ogb.utils.url, 'download_url', fake_download)


def test_ogbn_download_into_cache(tmp_path, monkeypatch, no_prompt):
    calls: list = []
    _fake_ogb_download(monkeypatch, tmp_path / 'staging', calls)
    root = tmp_path / 'root'
    root.mkdir()
    data = load_dataset('ogbn-arxiv', root=root)
    assert data.num_nodes == 25 and calls == [
        'http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip'
    ]
    assert not any(root.iterdir())  # downloaded into the cache only
    again = load_dataset('ogbn-arxiv', root=root)  # served from the cache
    assert len(calls) == 1 and torch.equal(again.y, data.y)


def test_ogbn_download_into_default_root(tmp_path, monkeypatch, no_prompt):
    calls: list = []
    _fake_ogb_download(monkeypatch, tmp_path / 'staging', calls)
    data = load_dataset('ogbn-arxiv')  # per-user default root
    assert data.num_nodes == 25 and len(calls) == 1
    target = resolve_data_root() / 'ogb' / 'ogbn_arxiv'
    assert (target / 'raw' / 'edge.csv.gz').is_file()
    assert (target / 'processed').is_dir()
    assert not list(resolve_data_root().glob('.gat_zoo_tmp/*'))
    assert load_dataset('ogbn-arxiv').num_nodes == 25 and len(calls) == 1


def test_default_root_is_written_in_place(tmp_path, no_prompt):
    # The per-user default root is ours: process next to raw, no copy.
    default = resolve_data_root()
    assert default == tmp_path / 'xdg' / 'gat_zoo' / 'data'
    write_tiny_ogbn(default, 'ogbn-arxiv', num_nodes=20)
    data = load_dataset('ogbn-arxiv')
    assert data.num_nodes == 20
    assert (default / 'ogb' / 'ogbn_arxiv' / 'processed').is_dir()
    assert not (tmp_path / 'cache' / 'processed').exists()
