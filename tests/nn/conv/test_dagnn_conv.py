"""DAGNNConv and the DAGNN network: the dense float64 oracle (values,
retention scores, gradients) on both paths, every adjacency layout, corner
cases, bad input and the registered model."""
import pytest
import torch
from reference import random_graph
from reference.dense_dagnn import dense_dagnn, dense_gcn_operator
from reference.gradients import assert_same_gradients
from torch_geometric.nn.conv.gcn_conv import gcn_norm

import gat_zoo
from gat_zoo.nn.conv import DAGNNConv
from gat_zoo.nn.models import DAGNN
from gat_zoo.ops import normalized_propagation, use_fused
from tests.reference.layouts import adjacency_layouts

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)


def _layer(channels=5, K=4, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = DAGNNConv(channels, K=K, **kwargs).double()
    with torch.no_grad():  # scores spread over (0, 1), not all near 1/2
        layer.proj.weight.mul_(3.0)
        if layer.proj.bias is not None:
            layer.proj.bias.fill_(0.3)
    return layer


def _features(n, c, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=gen, dtype=F64)


def _oracle(layer, z, edge_index, edge_weight=None):
    return dense_dagnn(z, edge_index, layer.proj.weight, layer.proj.bias,
                       layer.K, add_self_loops=layer.add_self_loops,
                       edge_weight=edge_weight)


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('K', [0, 1, 6])
def test_matches_dense_oracle(fused, add_self_loops, K):
    n = 15
    # Isolated nodes, doubled self-loops and a duplicated edge included.
    edge_index = random_graph(n, n, 45, seed=K + 3 * add_self_loops)
    layer = _layer(K=K, add_self_loops=add_self_loops)
    z = _features(n, 5).requires_grad_()
    with use_fused(fused):
        out, att = layer(z, edge_index, return_attention_weights=True)
    ref, scores = _oracle(layer, z, edge_index)
    assert torch.allclose(out, ref, **TOL)
    assert att['hop'].shape == (n, K + 1)
    assert torch.allclose(att['hop'], scores, **TOL)
    # Independent sigmoids, not a softmax over hops (the survey's reading).
    if K > 0:
        assert not torch.allclose(att['hop'].sum(1), torch.ones(n, dtype=F64))
    assert_same_gradients(layer, out, ref, [z])


@pytest.mark.parametrize('fused', ['on', 'off'])
def test_edge_weights(fused):
    n = 12
    edge_index = random_graph(n, n, 40, seed=5)
    weight = torch.rand(edge_index.size(1), dtype=F64,
                        generator=torch.Generator().manual_seed(2)) + 0.1
    layer = _layer(K=3)
    z = _features(n, 5).requires_grad_()
    with use_fused(fused):
        out = layer(z, edge_index, weight)
    ref, _ = _oracle(layer, z, edge_index, weight)
    assert torch.allclose(out, ref, **TOL)
    assert_same_gradients(layer, out, ref, [z])


def test_operator_is_pyg_gcn_norm():
    """The official code normalises with gcn_norm; so do we."""
    n = 13
    edge_index = random_graph(n, n, 40, seed=9)
    index, weight = gcn_norm(edge_index, None, n, add_self_loops=True,
                             dtype=F64)
    expected = torch.zeros(n, n, dtype=F64)
    expected.index_put_((index[1], index[0]), weight, accumulate=True)
    ours = normalized_propagation(edge_index, n, dtype=F64).to_dense()
    assert torch.allclose(ours, expected, **TOL)
    assert torch.allclose(ours, dense_gcn_operator(edge_index, n), **TOL)


@pytest.mark.parametrize('r', [0.0, 0.5, 1.0])
@pytest.mark.parametrize('self_loops', ['remaining', 'remove', 'keep'])
def test_normalized_propagation_family(r, self_loops):
    n = 11
    edge_index = random_graph(n, n, 35, seed=4)
    src, dst = edge_index
    A = torch.zeros(n, n, dtype=F64)
    A.index_put_((dst, src), torch.ones(src.numel(), dtype=F64),
                 accumulate=True)
    if self_loops != 'keep':
        A.fill_diagonal_(0)
    if self_loops == 'remaining':
        A += torch.eye(n, dtype=F64)
    d = A.sum(1)
    left = torch.where(d > 0, d.clamp_min(1e-9) ** (r - 1), 0 * d)
    # d^0 = 1 even for a node without in-edges: r = 0 is a mean over the
    # in-neighbours whatever their own degree.
    right = torch.where(d > 0, d.clamp_min(1e-9) ** (-r),
                        torch.full_like(d, float(r == 0)))
    expected = left[:, None] * A * right[None, :]
    prop = normalized_propagation(edge_index, n, r=r, self_loops=self_loops,
                                  dtype=F64)
    assert torch.allclose(prop.to_dense(), expected, **TOL)
    x = _features(n, 3)
    hops = list(prop.powers(x, 3))
    assert len(hops) == 4
    assert torch.allclose(hops[3], torch.linalg.matrix_power(expected, 3) @ x,
                          **TOL)




def test_adjacency_layouts_agree():
    n = 14
    edge_index = random_graph(n, n, 40, seed=2, duplicates=False)
    layer = _layer(K=3)
    z = _features(n, 5)
    ref = layer(z, edge_index)
    for name, adj in adjacency_layouts(edge_index, n):
        out = layer(z, adj)
        assert torch.allclose(out, ref, **TOL), name


def test_no_edges_and_k_zero():
    n = 6
    layer = _layer(K=3)
    z = _features(n, 5)
    empty = torch.empty(2, 0, dtype=torch.long)
    out, att = layer(z, empty, return_attention_weights=True)
    # With only self-loops every hop is the node itself.
    s = att['hop'][:, 0]
    assert torch.allclose(att['hop'], s[:, None].expand(n, 4), **TOL)
    assert torch.allclose(out, 4 * s[:, None] * z, **TOL)
    layer0 = _layer(K=0)
    s0 = torch.sigmoid(z @ layer0.proj.weight.view(-1) + layer0.proj.bias)
    assert torch.allclose(layer0(z, empty), s0[:, None] * z, **TOL)
    # Without self-loops an edgeless graph propagates nothing.
    bare = _layer(K=2, add_self_loops=False)
    _, att = bare(z, empty, return_attention_weights=True)
    hops = torch.stack([z, 0 * z, 0 * z], 1)
    expected = (torch.sigmoid(hops @ bare.proj.weight.view(-1)
                              + bare.proj.bias)[..., None] * hops).sum(1)
    assert torch.allclose(bare(z, empty), expected, **TOL)


def test_float32_and_message_passing_path():
    n = 10
    edge_index = random_graph(n, n, 30, seed=8)
    layer = _layer(K=5).float()
    z = _features(n, 5).float()
    fused = layer(z, edge_index)
    seen = []
    handle = layer.register_message_forward_hook(
        lambda module, inputs, output: seen.append(output.shape))
    hooked = layer(z, edge_index)
    handle.remove()
    assert len(seen) == 5  # one message step per hop
    assert fused.dtype == torch.float32
    assert torch.allclose(fused, hooked, atol=1e-5)


@pytest.mark.parametrize('edge_index, message', [
    (torch.tensor([[0, 1], [1, 9]]), 'range|out of'),
    (torch.tensor([[0, -1], [1, 2]]), 'negative|range'),
    (torch.tensor([[0.0, 1.0], [1.0, 2.0]]), 'integer|dtype'),
    (torch.tensor([0, 1, 2]), 'shape|2'),
])
def test_bad_edge_index_raises(edge_index, message):
    layer = _layer(K=2)
    with pytest.raises(ValueError, match=message):
        layer(_features(4, 5), edge_index)


def test_bad_features_and_weights_raise():
    layer = _layer(K=2)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='5|channels|features'):
        layer(_features(4, 3), edge_index)
    with pytest.raises(ValueError, match='edge_weight'):
        layer(_features(4, 5), edge_index, torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match='K'):
        DAGNNConv(5, K=-1)
    with pytest.raises(ValueError, match='in_channels'):
        DAGNNConv(0)


def test_operator_cache_follows_in_place_edits():
    n = 5
    layer = _layer(K=1)
    z = _features(n, 5)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    first = layer(z, edge_index)
    edge_index[1, 1] = 3  # same object, new graph
    second = layer(z, edge_index)
    ref, _ = _oracle(layer, z, edge_index)
    assert torch.allclose(second, ref, **TOL)
    assert not torch.allclose(first, second)


def test_dagnn_network_and_registry():
    torch.manual_seed(0)
    model = gat_zoo.create_model(
        'dagnn', 8, 3, **gat_zoo.paper_config('dagnn', 'Cora')['model'])
    assert isinstance(model, DAGNN) and model.prop.K == 10
    x = torch.rand(9, 8)
    edge_index = random_graph(9, 9, 20, seed=1)
    model.eval()
    logits, att = model(x, edge_index, return_attention_weights=True)
    assert logits.shape == (9, 3) and att['hop'].shape == (9, 11)
    assert ((att['hop'] > 0) & (att['hop'] < 1)).all()
    # The MLP then the layer, nothing else.
    z = model.lin2(torch.relu(model.lin1(x)))
    assert torch.allclose(logits, model.prop(z, edge_index), atol=1e-6)
    # Sparse bag-of-words input gives the same logits.
    sparse = x.to_sparse_csr()
    assert torch.allclose(model(sparse, edge_index), logits, atol=1e-6)
    assert 'K=10' in repr(model) and repr(model.prop) == 'DAGNNConv(3, K=10)'
    config = gat_zoo.paper_config('dagnn', 'CiteSeer')
    assert config['train']['weight_decay'] == 0.02
    assert gat_zoo.paper_result('dagnn', 'Cora')['mean'] == 84.4
