"""AIFB / MUTAG entity-classification data (PyG ``Entities`` via gat_zoo's
read-only-root cache). The real-data test needs ``GAT_ZOO_DATA`` (or the
sibling ``../shared/data``) holding ``Entities/aifb/raw``; it is skipped
otherwise."""
import os
from pathlib import Path

import pytest
import torch

from gat_zoo.datasets import DatasetNotFoundError
from gat_zoo.datasets.entities import load_entities

_env = os.environ.get('GAT_ZOO_DATA', '').strip()
_sibling = Path(__file__).resolve().parents[2] / 'shared' / 'data'
SHARED_ROOT = Path(_env) if _env else (_sibling if _sibling.is_dir() else
                                        None)

pytestmark = pytest.mark.usefixtures('isolated_env')


def _aifb_root() -> Path:
    if SHARED_ROOT is None:
        pytest.skip('no data root: set GAT_ZOO_DATA (e.g. /work/shared/data)')
    if not (SHARED_ROOT / 'Entities/aifb/raw/aifb_stripped.nt.gz').is_file():
        pytest.skip(f'Entities/aifb/raw not found under {SHARED_ROOT}')
    pytest.importorskip('rdflib')
    return SHARED_ROOT


def _snapshot(path: Path):
    return {(p.relative_to(path).as_posix(), p.stat().st_size)
            for p in path.rglob('*')}


def test_aifb():
    root = _aifb_root()
    before = _snapshot(root / 'Entities' / 'aifb')
    data = load_entities('aifb', root=root)
    assert data.name == 'AIFB' and data.num_classes == 4
    assert data.num_nodes == 8285
    assert data.edge_index.shape == (2, 58086)
    assert data.edge_type.shape == (58086, )
    assert data.num_relations == 90
    assert int(data.edge_type.min()) == 0 and int(data.edge_type.max()) == 89
    assert data.x is None
    # RGCN's split: 140 training entities (a fifth held out), 36 test.
    assert len(data.train_idx) + len(data.val_idx) == 140
    assert len(data.val_idx) == 28 and len(data.test_idx) == 36
    splits = [set(data.train_idx.tolist()), set(data.val_idx.tolist()),
              set(data.test_idx.tolist())]
    assert not (splits[0] & splits[1] or splits[0] & splits[2]
                or splits[1] & splits[2])
    assert [int(data[f'{s}_mask'].sum()) for s in ('train', 'val', 'test')
            ] == [112, 28, 36]
    assert torch.equal(data.y[data.test_idx], data.test_y)
    assert int((data.y >= 0).sum()) == 176
    # Nothing written into the data root; the cached copy serves again.
    assert _snapshot(root / 'Entities' / 'aifb') == before
    full = load_entities('AIFB', root=root, validation=False)
    assert len(full.train_idx) == 140 and len(full.val_idx) == 0
    assert torch.equal(full.train_idx[28:], data.train_idx)
    assert torch.equal(full.train_idx[:28], data.val_idx)


def test_unknown_name():
    with pytest.raises(ValueError, match='AIFB, MUTAG'):
        load_entities('BGS')


def test_missing_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match='trainingSet.tsv'):
        load_entities('MUTAG', root=tmp_path)
