"""Meta-path graphs by sparse products, HAN's datasets and the KNN
embedding protocol."""
import os
from pathlib import Path

import pytest
import torch

import gat_zoo.ops.metapaths as metapaths_module
from gat_zoo.bench.embedding import knn_f1
from gat_zoo.datasets.hetero import load_hetero
from gat_zoo.ops.metapaths import metapath_adjacency, metapath_edge_index

DATA = Path(os.environ.get('GAT_ZOO_DATA', Path(__file__).resolve()
                           .parents[2] / 'shared' / 'data'))


def _hetero_graph(seed=0):
    gen = torch.Generator().manual_seed(seed)
    sizes = {'paper': 9, 'author': 6, 'subject': 3}
    pa = torch.stack([torch.randint(9, (20, ), generator=gen),
                      torch.randint(6, (20, ), generator=gen)])
    pa = torch.cat([pa, pa[:, :2]], dim=1)  # duplicated relation edges
    ps = torch.stack([torch.arange(9), torch.arange(9) % 3])
    edges = {('paper', 'writes', 'author'): pa,
             ('author', 'wrote', 'paper'): pa.flip(0),
             ('paper', 'about', 'subject'): ps,
             ('subject', 'of', 'paper'): ps.flip(0)}
    return edges, sizes


def _dense(edge_index, n_src, n_dst):
    m = torch.zeros(n_src, n_dst, dtype=torch.float64)
    m[edge_index[0], edge_index[1]] = 1.0  # binary
    return m


@pytest.mark.parametrize('with_torch_sparse', [True, False])
def test_metapath_adjacency_is_the_binary_product(with_torch_sparse,
                                                  monkeypatch):
    if with_torch_sparse and not metapaths_module.WITH_TORCH_SPARSE:
        pytest.skip('torch_sparse is not installed')
    monkeypatch.setattr(metapaths_module, 'WITH_TORCH_SPARSE',
                        with_torch_sparse)
    edges, sizes = _hetero_graph()
    pap = [('paper', 'writes', 'author'), ('author', 'wrote', 'paper')]
    edge_index, counts = metapath_adjacency(edges, pap, sizes)
    dense = _dense(edges[pap[0]], 9, 6) @ _dense(edges[pap[1]], 6, 9)
    expected = torch.nonzero(dense).t()
    got = torch.zeros(9, 9, dtype=torch.float64)
    got[edge_index[0], edge_index[1]] = counts.double()
    assert torch.equal(got, dense)
    assert edge_index.size(1) == expected.size(1)
    # target-major order, each pair once
    keys = edge_index[1] * 9 + edge_index[0]
    assert torch.all(keys[1:] > keys[:-1])
    # three hops, dropping loops
    psp = [('paper', 'about', 'subject'), ('subject', 'of', 'paper')]
    ei, _ = metapath_adjacency(edges, psp, sizes, drop_self_loops=True)
    assert not bool((ei[0] == ei[1]).any())
    assert ei.size(1) == 3 * 3 * 2  # 3 subjects x 3 papers each, no loops


def test_metapath_errors_and_keys():
    edges, sizes = _hetero_graph()
    with pytest.raises(ValueError, match='do not chain'):
        metapath_adjacency(edges, [('paper', 'writes', 'author'),
                                   ('subject', 'of', 'paper')], sizes)
    with pytest.raises(KeyError, match='not in the graph'):
        metapath_adjacency(edges, [('paper', 'x', 'author')], sizes)
    with pytest.raises(ValueError, match='at least one'):
        metapath_adjacency(edges, [], sizes)
    bad = dict(edges)
    bad[('paper', 'writes', 'author')] = torch.tensor([[0], [6]])
    with pytest.raises(ValueError, match='outside'):
        metapath_adjacency(bad, [('paper', 'writes', 'author')], sizes)
    bad[('paper', 'writes', 'author')] = torch.tensor([[0.0], [1.0]])
    with pytest.raises(TypeError, match='integer'):
        metapath_adjacency(bad, [('paper', 'writes', 'author')], sizes)
    out = metapath_edge_index(edges, [[('paper', 'writes', 'author'),
                                       ('author', 'wrote', 'paper')]], sizes)
    assert list(out) == [('paper', 'metapath_0', 'paper')]


def test_knn_f1_protocol():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    separable = torch.nn.functional.one_hot(y).float() * 10 + \
        0.01 * torch.randn(200, 4, generator=gen)
    scores = knn_f1(separable, y, (0.2, 0.8), repeats=3)
    assert scores[0.2].macro_f1 == pytest.approx(100.0)
    assert scores[0.8].micro_f1 == pytest.approx(100.0)
    noise = torch.randn(200, 4, generator=gen)
    first = knn_f1(noise, y, (0.4, ), repeats=3)[0.4]
    again = knn_f1(noise, y, (0.4, ), repeats=3)[0.4]
    assert first == again  # deterministic splits
    assert first.macro_f1 < 60  # chance is 25 %
    with pytest.raises(ValueError, match='NaN'):
        knn_f1(noise.masked_fill(noise > 2, float('nan')), y)
    with pytest.raises(ValueError, match='Train ratios'):
        knn_f1(noise, y, (1.0, ))
    with pytest.raises(ValueError, match='Expected embeddings'):
        knn_f1(noise, y[:-1])


@pytest.mark.skipif(not (DATA / 'hetero' / 'ACM3025').is_dir(),
                    reason='ACM3025 not in the data root')
def test_acm3025_matches_the_paper():
    data = load_hetero('acm', root=DATA)
    assert data.x.shape == (3025, 1870) and data.num_classes == 3
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask,
                                   data.test_mask)] == [600, 300, 2125]
    assert data.metapath_names == ['PAP', 'PLP']
    for m in data.metapaths:
        assert not bool((m[0] == m[1]).any())
        # symmetric
        key = set((m[0] * 3025 + m[1]).tolist())
        assert key == set((m[1] * 3025 + m[0]).tolist())
    # DGL's HAN numbers: PAP nnz 29,281 and PLP nnz 2,210,761 with loops
    assert data.metapaths[0].size(1) + 3025 == 29281
    assert data.metapaths[1].size(1) + 3025 == 2210761


@pytest.mark.skipif(not (DATA / 'hetero' / 'IMDB' / 'raw').is_dir(),
                    reason='IMDB not in the data root')
def test_imdb_metapaths_from_the_hetero_graph():
    data = load_hetero('IMDB', root=DATA)
    assert data.x.shape == (4278, 3066) and data.target == 'movie'
    assert data.metapath_names == ['MAM', 'MDM']
    h = data.hetero
    # MDM: movies sharing a director (each movie has exactly one)
    director = h['movie', 'to', 'director'].edge_index
    owner = torch.full((4278, ), -1)
    owner[director[0]] = director[1]
    mdm = data.metapaths[1]
    assert bool((owner[mdm[0]] == owner[mdm[1]]).all())
    same = torch.bincount(owner, minlength=int(owner.max()) + 1)
    assert mdm.size(1) == int((same * (same - 1)).sum())
    with pytest.raises(ValueError, match='Unknown heterogeneous'):
        load_hetero('Freebase', root=DATA)
