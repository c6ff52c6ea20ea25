"""AMGCNConv and the AM-GCN network: the dense float64 oracle (values, view
attention, gradients, constraints), adjacency layouts, corner cases, bad
input, the kNN feature graph and the registered model."""
import numpy as np
import pytest
import torch
from reference import random_graph
from reference.dense_amgcn import (
    dense_amgcn,
    dense_consistency,
    dense_hsic,
)
from reference.gradients import assert_same_gradients

import gat_zoo
from gat_zoo.nn.conv import AMGCNConv
from gat_zoo.nn.conv.amgcn_conv import knn_feature_graph
from gat_zoo.nn.models import AMGCN
from gat_zoo.nn.models.amgcn import consistency_loss, hsic
from gat_zoo.ops import use_fused
from tests.reference.layouts import adjacency_layouts

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)
R = {'sym': 0.5, 'row': 0.0}


def _layer(normalization='sym', seed=0, f=6, h=5, o=4):
    torch.manual_seed(seed)
    layer = AMGCNConv(f, h, o, dropout=0.0,
                      normalization=normalization).double()
    with torch.no_grad():  # attention spread away from uniform
        layer.att_lin.weight.mul_(3.0)
        layer.att_q.weight.mul_(3.0)
    return layer.eval()


def _features(n, c, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=gen, dtype=F64)


def _oracle(layer, x, ei, fei):
    params = {k: v for k, v in layer.weights.items()}
    return dense_amgcn(x, ei, fei, params, layer.att_lin.weight,
                       layer.att_lin.bias, layer.att_q.weight,
                       r=R[layer.normalization])


def _graphs(n, seed):
    # Isolated nodes, self-loops and duplicated edges in both graphs.
    return (random_graph(n, n, 40, seed=seed),
            random_graph(n, n, 30, seed=seed + 100,
                         isolated=[0, n - 2]))


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('normalization', ['sym', 'row'])
def test_matches_dense_oracle(fused, normalization):
    n = 14
    ei, fei = _graphs(n, seed=3)
    layer = _layer(normalization)
    x = _features(n, 6).requires_grad_()
    with use_fused(fused):
        out, att, views = layer(x, ei, fei, return_attention_weights=True,
                                return_views=True)
    ref, alpha, ref_views = _oracle(layer, x, ei, fei)
    assert torch.allclose(out, ref, **TOL)
    assert att['view'].shape == (n, 3)
    assert torch.allclose(att['view'], alpha, **TOL)
    assert torch.allclose(att['view'].sum(1), torch.ones(n, dtype=F64))
    assert not torch.allclose(att['view'], torch.full_like(alpha, 1 / 3),
                              atol=1e-3)
    for key, value in ref_views.items():
        assert torch.allclose(views[key], value, **TOL)
    assert_same_gradients(layer, out, ref, [x])


def test_normalizations_differ():
    n = 12
    ei, fei = _graphs(n, seed=5)
    x = _features(n, 6)
    a = _layer('sym')(x, ei, fei)
    b = _layer('row')(x, ei, fei)
    assert not torch.allclose(a, b, atol=1e-6)


def test_adjacency_layouts_agree():
    n = 11
    ei, fei = _graphs(n, seed=7)
    layer = _layer()
    x = _features(n, 6)
    base = layer(x, ei, fei)
    for (name, adj), (_, fadj) in zip(adjacency_layouts(ei, n),
                                      adjacency_layouts(fei, n)):
        out = layer(x, adj, fadj)
        assert torch.allclose(out, base, atol=1e-10), name


def test_no_edges_is_a_per_node_network():
    n = 7
    layer = _layer()
    x = _features(n, 6)
    empty = torch.empty(2, 0, dtype=torch.long)
    out, att = layer(x, empty, empty, return_attention_weights=True)
    ref, alpha, _ = _oracle(layer, x, empty, empty)
    assert torch.allclose(out, ref, **TOL)
    # Without edges each node sees only itself: permuting nodes commutes.
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(layer(x[perm], empty, empty), out[perm], **TOL)


def test_self_loops_replaced_and_duplicates_counted():
    n = 5
    layer = _layer()
    x = _features(n, 6)
    ei = torch.tensor([[0, 1], [1, 2]])
    loops = torch.tensor([[0, 1, 0, 0], [1, 2, 0, 0]])
    assert torch.allclose(layer(x, ei, ei), layer(x, loops, loops), **TOL)
    doubled = torch.tensor([[0, 0, 1], [1, 1, 2]])
    assert not torch.allclose(layer(x, ei, ei), layer(x, doubled, doubled),
                              atol=1e-8)


def test_bad_input():
    layer = _layer()
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError):
        layer(_features(3, 5), ei, ei)          # wrong feature size
    with pytest.raises(ValueError):
        layer(_features(2, 6), torch.tensor([[0, 5], [1, 0]]), ei)
    with pytest.raises((ValueError, TypeError)):
        layer(_features(2, 6), ei.float(), ei)
    with pytest.raises(ValueError):
        AMGCNConv(6, 5, 4, normalization='col')
    with pytest.raises(ValueError):
        AMGCNConv(6, 0, 4)
    with pytest.raises(ValueError):
        AMGCNConv(6, 5, 4, dropout=1.5)
    with pytest.raises(ValueError):
        AMGCN(6, 3, k=0)
    with pytest.raises(ValueError):
        knn_feature_graph(_features(4, 3), 0)


def test_repr_and_reset():
    layer = _layer()
    assert 'AMGCNConv(6, 5, 4' in repr(layer)
    before = layer.weights['common_w1'].detach().clone()
    layer.reset_parameters()
    assert not torch.allclose(before, layer.weights['common_w1'])


def test_constraints_match_dense():
    gen = torch.Generator().manual_seed(3)
    z1 = torch.randn(13, 4, generator=gen, dtype=F64, requires_grad=True)
    z2 = torch.randn(13, 4, generator=gen, dtype=F64, requires_grad=True)
    for ours, ref in ((consistency_loss, dense_consistency),
                      (hsic, dense_hsic)):
        a, b = ours(z1, z2), ref(z1, z2)
        assert torch.allclose(a, b, atol=1e-10, rtol=1e-10)
        ga = torch.autograd.grad(a, [z1, z2])
        gb = torch.autograd.grad(b, [z1, z2])
        for x, y in zip(ga, gb):
            assert torch.allclose(x, y, atol=1e-9, rtol=1e-9)
    # Identical embeddings are consistent; centred HSIC ignores offsets.
    assert consistency_loss(z1, z1).abs() < 1e-12
    assert torch.allclose(hsic(z1 + 5.0, z2), hsic(z1, z2), atol=1e-9)


def test_model_auxiliary_loss_and_attention():
    n = 12
    ei, fei = _graphs(n, seed=9)
    torch.manual_seed(0)
    model = AMGCN(6, 3, hidden_channels=5, embedding_channels=4,
                  dropout=0.0, consistency_weight=0.1,
                  disparity_weight=0.01).double()
    x = _features(n, 6)
    model.train()
    logits = model(x, ei, fei)
    assert logits.shape == (n, 3)
    _, _, v = _oracle(model.conv, x, ei, fei)
    expected = 0.1 * dense_consistency(v['common_topology'],
                                       v['common_feature']) + 0.01 * 0.5 * (
        dense_hsic(v['topology'], v['common_topology'])
        + dense_hsic(v['feature'], v['common_feature']))
    assert torch.allclose(model.auxiliary_loss(), expected, atol=1e-10)
    model.eval()
    _, att = model(x, ei, fei, return_attention_weights=True)
    assert set(att) == {'view'} and att['view'].shape == (n, 3)
    off = AMGCN(6, 3, consistency_weight=0, disparity_weight=0)
    off.train()
    off(x.float(), ei, fei)
    assert off.auxiliary_loss() is None


def test_model_builds_and_caches_knn_graph():
    x = _features(20, 6).float()
    model = AMGCN(6, 3, hidden_channels=5, embedding_channels=4, k=3)
    ei = random_graph(20, 20, 30, seed=1)
    model(x, ei)
    first = model.knn_graph(x)
    model(x, ei)
    assert model.knn_graph(x) is first  # cached for this tensor
    assert torch.equal(first, knn_feature_graph(x, 3))
    assert model.knn_graph(x.clone()) is not first  # another tensor
    x[0] = -x[0]  # edited in place: recomputed
    assert model.knn_graph(x) is not first
    model.feature_graph = ei
    out_a = model.eval()(x, ei)
    out_b = model(x, ei, ei)
    assert torch.allclose(out_a, out_b)


def _brute_knn(x: np.ndarray, k: int):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = xn @ xn.T
    np.fill_diagonal(sim, -np.inf)
    pairs = set()
    for i in range(len(x)):
        for j in np.argsort(-sim[i], kind='stable')[:k]:
            pairs.add((i, int(j)))
            pairs.add((int(j), i))
    return pairs


def test_knn_graph_matches_brute_force():
    x = _features(40, 8, seed=4).abs()
    index = knn_feature_graph(x, 4)
    ours = {(int(t), int(s)) for s, t in index.t().tolist()}
    assert ours == _brute_knn(x.numpy(), 4)
    assert not bool((index[0] == index[1]).any())
    # Every node has at least k neighbours after symmetrisation.
    assert torch.bincount(index[1], minlength=40).min() >= 4


def test_knn_graph_matches_official_files():
    """Our kNN (scikit-learn) against the repo's ``acm/knn/c5.txt``: the
    file keeps the pairs ``i < j`` with ``j`` among the top-5 cosine
    neighbours of ``i``."""
    loader = pytest.importorskip('gat_zoo.datasets.amgcn')
    try:
        raw = loader.read_amgcn_raw('acm')
    except FileNotFoundError:
        pytest.skip('AM-GCN data not available')
    x = torch.from_numpy(raw['features'])
    index = knn_feature_graph(x, 5, symmetric=False)
    directed = {(int(t), int(s)) for s, t in index.t().tolist()}
    ours = {(i, j) for i, j in directed if i < j}
    theirs = {tuple(p) for p in raw['knn'][5].tolist()}
    # Ties among equal cosine similarities may be broken differently.
    agree = len(ours & theirs) / len(theirs)
    assert agree > 0.97, agree


def test_registered():
    model = gat_zoo.create_model('amgcn', 6, 3, hidden_channels=5,
                                 embedding_channels=4, k=2)
    assert isinstance(model, AMGCN)
    assert gat_zoo.registry.model_entry('amgcn').family == 'multi-view'


def test_loader_paper_splits():
    loader = pytest.importorskip('gat_zoo.datasets.amgcn')
    try:
        data = loader.load_amgcn('acm', 20, num_splits=2)
    except FileNotFoundError:
        pytest.skip('AM-GCN data not available')
    assert data.x.shape == (3025, 1870) and data.num_classes == 3
    # 13,128 undirected PAP edges, both directions, as the manifest says.
    assert data.edge_index.size(1) == 26256
    train, val, test = (data.train_mask[:, 1], data.val_mask[:, 1],
                        data.test_mask[:, 1])
    assert int(train.sum()) == 60 and int(test.sum()) == 1000
    assert int(val.sum()) == 500
    assert not bool((train & val).any() or (train & test).any()
                    or (val & test).any())
    assert torch.bincount(data.y[train]).tolist() == [20, 20, 20]
    # The kNN graph is undirected and loop-free.
    knn = data.knn_edge_index
    pairs = {tuple(p) for p in knn.t().tolist()}
    assert all((j, i) in pairs for i, j in pairs)
    assert not bool((knn[0] == knn[1]).any())
    with pytest.raises(ValueError):
        loader.load_amgcn('acm', 30)


def test_loader_citeseer_follows_the_authors_split_rule():
    """CiteSeer: the first ``rate`` nodes of each class in index order for
    training, Planetoid's public test set, and a kNN graph kept sparse by
    the official file rule (each pair from its smaller end)."""
    loader = pytest.importorskip('gat_zoo.datasets.amgcn')
    try:
        data = loader.load_amgcn('citeseer', 40, num_splits=2)
    except FileNotFoundError:
        pytest.skip('CiteSeer not available')
    from gat_zoo.datasets import load_dataset
    base = load_dataset('citeseer')
    train = data.train_mask[:, 0]
    for c in range(6):
        members = (data.y == c).nonzero().view(-1)
        assert bool(train[members[:40]].all())
        assert not bool(train[members[40:]].any())
    assert torch.equal(data.test_mask[:, 1], base.test_mask)
    val = data.val_mask
    assert int(val[:, 0].sum()) == 500 and not torch.equal(val[:, 0],
                                                           val[:, 1])
    assert not bool((val & (data.train_mask | data.test_mask)).any())
    directed = knn_feature_graph(data.x, 7, symmetric=False)
    kept = directed[:, directed[0] < directed[1]]
    assert data.knn_edge_index.size(1) == 2 * kept.size(1)
