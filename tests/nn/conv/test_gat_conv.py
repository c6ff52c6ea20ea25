"""GATConv and GATv2Conv: the dense float64 oracle (values and gradients, on
every kernel backend), PyG state-dict equivalence, every adjacency layout,
corner cases and bad input."""
import pytest
import torch
import torch_geometric.nn as pyg_nn
from reference import (
    dense_gat,
    dense_gatv2,
    edge_attention,
    gat_params_from_module,
    gatv2_params_from_module,
    random_graph,
)
from reference.gradients import assert_same_gradients as _compare_gradients
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn import GATConv, GATv2Conv
from gat_zoo.ops import available_backends, use_backend

LAYERS = {
    'gat': (GATConv, pyg_nn.GATConv, dense_gat, gat_params_from_module),
    'gatv2': (GATv2Conv, pyg_nn.GATv2Conv, dense_gatv2,
              gatv2_params_from_module),
}
TOL = dict(atol=1e-10, rtol=0)


def _features(n, f, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=torch.float64)


def _layer(kind, in_channels, out_channels, seed=0, **kwargs):
    torch.manual_seed(seed)
    return LAYERS[kind][0](in_channels, out_channels, **kwargs).double()


def _oracle(kind, layer, x_src, x_dst, edge_index, **kwargs):
    _, _, dense, params = LAYERS[kind]
    return dense(x_src, x_dst, edge_index, **params(layer), **kwargs)


# ---------------------------------------------------------------------------
# Dense oracle.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('backend', available_backends())
@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_matches_dense_oracle(backend, kind, heads, concat, add_self_loops):
    n = 14
    edge_index = random_graph(n, n, 50, seed=heads)
    x = _features(n, 6, seed=1).requires_grad_()
    layer = _layer(kind, 6, 5, heads=heads, concat=concat,
                   add_self_loops=add_self_loops, residual=True)
    with use_backend(backend):
        out, (ei, alpha) = layer(x, edge_index, return_attention_weights=True)
    expected, alpha_dense = _oracle(kind, layer, x, x, edge_index)
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(alpha, edge_attention(alpha_dense, ei), **TOL)
    with use_backend(backend):
        out = layer(x, edge_index)
    _compare_gradients(layer, out, expected, [x])


@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('sizes', [(9, 7), (6, 10)])
def test_bipartite_matches_dense_oracle(kind, sizes):
    n_src, n_dst = sizes
    edge_index = random_graph(n_src, n_dst, 30, seed=3)
    x_src = _features(n_src, 4, seed=2).requires_grad_()
    x_dst = _features(n_dst, 3, seed=3).requires_grad_()
    layer = _layer(kind, (4, 3), 5, heads=2)
    out = layer((x_src, x_dst), edge_index)
    expected, _ = _oracle(kind, layer, x_src, x_dst, edge_index)
    assert out.shape == (n_dst, 10)
    assert torch.allclose(out, expected, **TOL)
    _compare_gradients(layer, out, expected, [x_src, x_dst])


@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('fill_value', ['mean', 0.5, 'max'])
def test_edge_features_match_dense_oracle(kind, fill_value):
    n = 12
    edge_index = random_graph(n, n, 40, seed=5, duplicates=False)
    edge_attr = _features(edge_index.size(1), 3, seed=6).requires_grad_()
    x = _features(n, 4, seed=4).requires_grad_()
    layer = _layer(kind, 4, 3, heads=2, edge_dim=3, fill_value=fill_value)
    out = layer(x, edge_index, edge_attr)
    expected, _ = _oracle(kind, layer, x, x, edge_index, edge_attr=edge_attr)
    assert torch.allclose(out, expected, **TOL)
    _compare_gradients(layer, out, expected, [x, edge_attr])


@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('fill_value', ['mean', 'add', 0.5])
def test_bipartite_edge_features_with_more_targets(kind, fill_value):
    # PyG's own self-loop helper indexes out of bounds here (n_dst > n_src
    # with a string fill_value); ours must give the oracle's answer.
    edge_index = random_graph(6, 10, 25, seed=13, duplicates=False)
    edge_attr = _features(edge_index.size(1), 2, seed=14)
    x_src, x_dst = _features(6, 4, seed=15), _features(10, 3, seed=16)
    layer = _layer(kind, (4, 3), 3, heads=2, edge_dim=2,
                   fill_value=fill_value)
    out = layer((x_src, x_dst), edge_index, edge_attr)
    expected, _ = _oracle(kind, layer, x_src, x_dst, edge_index,
                          edge_attr=edge_attr)
    assert torch.allclose(out, expected, **TOL)


# ---------------------------------------------------------------------------
# PyG drop-in equivalence.
# ---------------------------------------------------------------------------
CONFIGS = [
    dict(heads=2),
    dict(heads=3, concat=False),
    dict(heads=2, add_self_loops=False),
    dict(heads=2, residual=True, bias=False),
    dict(heads=2, edge_dim=3),
    dict(heads=2, edge_dim=3, fill_value=1.5, concat=False),
]


@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('config', CONFIGS, ids=str)
def test_pyg_state_dict_gives_same_output(kind, config):
    ours_cls, pyg_cls = LAYERS[kind][:2]
    extra = dict(share_weights=True) if kind == 'gatv2' and config.get(
        'concat', True) is False else {}
    torch.manual_seed(0)
    theirs = pyg_cls(5, 4, **config, **extra).double().eval()
    ours = ours_cls(5, 4, **config, **extra).double().eval()
    ours.load_state_dict(theirs.state_dict())
    n = 11
    edge_index = random_graph(n, n, 36, seed=8,
                              duplicates='edge_dim' not in config)
    x = _features(n, 5, seed=9)
    edge_attr = (_features(edge_index.size(1), 3, seed=10)
                 if 'edge_dim' in config else None)
    a, (ei_a, w_a) = theirs(x, edge_index, edge_attr,
                            return_attention_weights=True)
    b, (ei_b, w_b) = ours(x, edge_index, edge_attr,
                          return_attention_weights=True)
    assert torch.allclose(a, b, atol=1e-9, rtol=0)
    assert torch.equal(ei_a, ei_b)
    assert torch.allclose(w_a, w_b, atol=1e-9, rtol=0)


@pytest.mark.parametrize('kind', LAYERS)
def test_pyg_state_dict_bipartite(kind):
    ours_cls, pyg_cls = LAYERS[kind][:2]
    torch.manual_seed(1)
    theirs = pyg_cls((6, 4), 3, heads=2, residual=True).double()
    ours = ours_cls((6, 4), 3, heads=2, residual=True).double()
    ours.load_state_dict(theirs.state_dict())
    edge_index = random_graph(8, 5, 20, seed=12)
    x = (_features(8, 6, seed=1), _features(5, 4, seed=2))
    a, (_, w_a) = theirs(x, edge_index, return_attention_weights=True)
    b, (_, w_b) = ours(x, edge_index, return_attention_weights=True)
    assert torch.allclose(a, b, atol=1e-9, rtol=0)
    assert torch.allclose(w_a, w_b, atol=1e-9, rtol=0)
    if kind == 'gat':  # (x_src, None) with an explicit size
        a = theirs((x[0], None), edge_index, size=(8, 5))
        b = ours((x[0], None), edge_index, size=(8, 5))
        assert torch.allclose(a, b, atol=1e-9, rtol=0)


def test_repr_and_state_dict_keys_match_pyg():
    for ours_cls, pyg_cls, _, _ in LAYERS.values():
        for args in [(8, 32), ((8, 16), 32)]:
            ours, theirs = ours_cls(*args, heads=2, edge_dim=2), pyg_cls(
                *args, heads=2, edge_dim=2)
            assert str(ours) == str(theirs)
            assert list(ours.state_dict()) == list(theirs.state_dict())
    assert str(GATConv((8, 16), 32, heads=2)) == 'GATConv((8, 16), 32, heads=2)'


# ---------------------------------------------------------------------------
# Adjacency layouts.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
def test_adjacency_layouts_agree(kind):
    n = 10
    edge_index = random_graph(n, n, 30, seed=4, duplicates=False)
    x = _features(n, 5, seed=5)
    layer = _layer(kind, 5, 4, heads=2).eval()
    expected, (ei, alpha) = layer(x, edge_index,
                                  return_attention_weights=True)

    adj = torch.sparse_coo_tensor(edge_index.flip(0),
                                  torch.ones(edge_index.size(1)), (n, n))
    for sparse in (adj.coalesce(), adj.to_sparse_csr()):
        out = layer(x, sparse)
        assert torch.allclose(out, expected, **TOL)

    sorted_index = EdgeIndex(edge_index, sparse_size=(n, n)).sort_by('col')[0]
    assert torch.allclose(layer(x, sorted_index), expected, **TOL)
    assert torch.allclose(layer(x, edge_index, size=(n, n)), expected, **TOL)

    if WITH_TORCH_SPARSE:
        adj_t = SparseTensor.from_edge_index(edge_index,
                                             sparse_sizes=(n, n)).t()
        out, adj_alpha = layer(x, adj_t, return_attention_weights=True)
        assert torch.allclose(out, expected, **TOL)
        assert adj_alpha.nnz() == ei.size(1)
        row, col, value = adj_alpha.coo()
        # Same attention per (target, source) pair as the dense index gave.
        lookup = {(int(t), int(s)): a for (s, t), a in zip(ei.t(), alpha)}
        for t, s, v in zip(row, col, value):
            assert torch.allclose(v, lookup[(int(t), int(s))], **TOL)


def test_edge_order_does_not_matter():
    n = 12
    edge_index = random_graph(n, n, 40, seed=6)
    x = _features(n, 5, seed=7)
    layer = _layer('gat', 5, 4, heads=2)
    perm = torch.randperm(edge_index.size(1),
                          generator=torch.Generator().manual_seed(0))
    assert torch.allclose(layer(x, edge_index), layer(x, edge_index[:, perm]),
                          **TOL)


# ---------------------------------------------------------------------------
# Corner cases.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_empty_graph(kind, add_self_loops):
    layer = _layer(kind, 8, 4, heads=2, add_self_loops=add_self_loops)
    empty = torch.empty(2, 0, dtype=torch.long)
    assert layer(torch.randn(0, 8, dtype=torch.float64), empty).shape == (0, 8)
    x = _features(5, 8, seed=0)
    out = layer(x, empty)
    expected, _ = _oracle(kind, layer, x, x, empty)
    assert torch.allclose(out, expected, **TOL)


def test_return_attention_weights_is_truthy_only():
    layer = _layer('gat', 4, 2, heads=2)
    x, edge_index = _features(4, 4, 0), torch.tensor([[0, 1], [1, 2]])
    assert isinstance(layer(x, edge_index, return_attention_weights=False),
                      torch.Tensor)
    out, (ei, alpha) = layer(x, edge_index, return_attention_weights=True)
    assert ei.shape == (2, 6) and alpha.shape == (6, 2)
    assert ((alpha >= 0) & (alpha <= 1)).all()


def test_attention_dropout_only_in_training():
    layer = _layer('gat', 4, 2, heads=2, dropout=0.5)
    x, edge_index = _features(6, 4, 0), random_graph(6, 6, 20, seed=1)
    layer.eval()
    assert torch.equal(layer(x, edge_index), layer(x, edge_index))
    layer.train()
    torch.manual_seed(0)
    a = layer(x, edge_index)
    torch.manual_seed(1)
    assert not torch.allclose(a, layer(x, edge_index))


def test_int32_edge_index_is_accepted():
    layer = _layer('gat', 4, 2)
    x, edge_index = _features(5, 4, 0), random_graph(5, 5, 12, seed=2)
    assert torch.allclose(layer(x, edge_index),
                          layer(x, edge_index.int()), **TOL)


def test_explainer_sees_alpha():
    """PyG's AttentionExplainer reads the message kwarg named ``alpha``."""
    from torch_geometric.explain import Explainer
    from torch_geometric.explain.algorithm import AttentionExplainer

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = GATConv(4, 3, heads=2, concat=False)

        def forward(self, x, edge_index):
            return self.conv(x, edge_index)

    explainer = Explainer(Net(), AttentionExplainer(), explanation_type='model',
                          edge_mask_type='object', model_config=dict(
                              mode='multiclass_classification',
                              task_level='node', return_type='raw'))
    x, edge_index = torch.randn(6, 4), random_graph(6, 6, 14, seed=3,
                                                    self_loops=False)
    explanation = explainer(x, edge_index, index=2)
    assert explanation.edge_mask.shape == (edge_index.size(1), )
    assert explanation.edge_mask.sum() > 0


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
BAD_EDGE_INDEX = [
    (torch.tensor([[0, 7], [1, 2]]), 'out of range'),
    (torch.tensor([[0, 1], [1, 5]]), 'out of range'),
    (torch.tensor([[0, -1], [1, 2]]), 'negative'),
    (torch.tensor([[0., 1.], [1., 2.]]), 'integers'),
    (torch.tensor([[0, 1, 2]]), r'shape \[2, num_edges\]'),
    (torch.tensor([0, 1, 2, 3]), r'shape \[2, num_edges\]'),
    (torch.tensor([[[0, 1]], [[1, 2]]]), r'shape \[2, num_edges\]'),
]


@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('edge_index,message', BAD_EDGE_INDEX)
def test_bad_edge_index_raises(kind, edge_index, message):
    layer = _layer(kind, 4, 2)
    with pytest.raises(ValueError, match=message):
        layer(_features(5, 4, 0), edge_index)


@pytest.mark.parametrize('kind', LAYERS)
def test_bad_features_raise(kind):
    layer = _layer(kind, 4, 2)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='features per node'):
        layer(_features(5, 3, 0), edge_index)
    with pytest.raises(ValueError, match='two-dimensional'):
        layer(torch.randn(5, 4, 2, dtype=torch.float64), edge_index)
    with pytest.raises(ValueError, match='two-dimensional'):
        layer(torch.randn(5, dtype=torch.float64), edge_index)
    with pytest.raises(ValueError, match='floating-point'):
        layer(torch.ones(5, 4, dtype=torch.long), edge_index)
    with pytest.raises(ValueError, match='rows'):  # x rows vs size
        layer(_features(5, 4, 0), edge_index, size=(6, 6))
    with pytest.raises(ValueError, match='out of range'):  # too few rows
        layer(_features(2, 4, 0), edge_index)
    with pytest.raises(TypeError):
        layer(_features(5, 4, 0), [[0, 1], [1, 2]])


def test_bad_edge_attr_raises():
    layer = _layer('gat', 4, 2, edge_dim=3)
    x, edge_index = _features(5, 4, 0), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='edges'):
        layer(x, edge_index, torch.randn(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match='edge_dim'):
        layer(x, edge_index, torch.randn(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match='edge_dim'):
        _layer('gat', 4, 2)(x, edge_index,
                            torch.randn(2, 3, dtype=torch.float64))


def test_bad_sparse_adjacency_raises():
    layer = _layer('gat', 4, 2)
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 2]]),
                                  torch.ones(2), (7, 7))
    with pytest.raises(ValueError, match='shape'):
        layer(_features(5, 4, 0), adj)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('kind', LAYERS)
def test_cuda_matches_cpu(kind):
    layer = _layer(kind, 5, 4, heads=2)
    x, edge_index = _features(10, 5, 0), random_graph(10, 10, 30, seed=1)
    expected = layer(x, edge_index)
    out = layer.cuda()(x.cuda(), edge_index.cuda())
    assert torch.allclose(out.cpu(), expected, atol=1e-10)
    with pytest.raises(ValueError, match='on'):
        layer(x.cuda(), edge_index)
