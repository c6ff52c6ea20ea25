"""ACMConv and the ACM-GCN network: the dense float64 oracle (values,
channel weights, gradients) for both variants, both normalisations, both
paths, every adjacency layout, corner cases, bad input and the registered
models."""
import pytest
import torch
from reference import random_graph
from reference.dense_acm import dense_acm, dense_filter
from reference.gradients import assert_same_gradients
from torch_geometric.utils import to_undirected

import gat_zoo
from gat_zoo.nn.conv import ACMConv
from gat_zoo.nn.models import ACMGCN
from gat_zoo.ops import normalized_propagation, use_fused
from tests.reference.layouts import adjacency_layouts

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)


def _layer(fin=6, fout=5, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = ACMConv(fin, fout, **kwargs).double()
    with torch.no_grad():  # spread the mixing weights away from 1/3
        layer.mix.mul_(6.0)
        layer.att.mul_(2.0)
        if layer.norms is not None:
            for norm in layer.norms:
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.3, 0.3)
    return layer


def _features(n, c, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=gen, dtype=F64)


def _oracle(layer, x, edge_index, edge_weight=None):
    C = layer.out_channels
    W = layer.lin.weight
    norms = None if layer.norms is None else [
        (m.weight, m.bias, m.eps) for m in layer.norms]
    return dense_acm(x, edge_index, W[:C].t(), W[C:2 * C].t(),
                     W[2 * C:].t(), list(layer.att), layer.mix,
                     variant=layer.variant,
                     normalization=layer.normalization,
                     temperature=layer.temperature, scale=layer.scale,
                     add_self_loops=layer.add_self_loops,
                     edge_weight=edge_weight, layer_norms=norms)


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('variant', ['acm', 'acmii'])
@pytest.mark.parametrize('normalization', ['rw', 'sym'])
@pytest.mark.parametrize('layer_norm', [False, True])
def test_matches_dense_oracle(fused, variant, normalization, layer_norm):
    n = 15
    # Isolated nodes, self-loops and duplicated edges included.
    edge_index = random_graph(n, n, 45, seed=3 + layer_norm)
    layer = _layer(variant=variant, normalization=normalization,
                   layer_norm=layer_norm, scale=3.0 if layer_norm else 1.0)
    x = _features(n, 6).requires_grad_()
    with use_fused(fused):
        out, att = layer(x, edge_index, return_attention_weights=True)
    ref, alpha = _oracle(layer, x, edge_index)
    assert out.shape == (n, 5)
    assert torch.allclose(out, ref, **TOL)
    assert set(att) == {'channel'} and att['channel'].shape == (n, 3)
    assert torch.allclose(att['channel'], alpha, **TOL)
    assert torch.allclose(alpha.sum(1), torch.ones(n, dtype=F64), **TOL)
    # Node-wise mixing: the weights differ between nodes.
    assert alpha.std(0).max() > 1e-3
    assert_same_gradients(layer, out, ref, [x])


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_edge_weights_and_no_self_loops(fused, add_self_loops):
    n = 12
    edge_index = random_graph(n, n, 40, seed=5)
    weight = torch.rand(edge_index.size(1), dtype=F64,
                        generator=torch.Generator().manual_seed(2)) + 0.1
    layer = _layer(add_self_loops=add_self_loops)
    x = _features(n, 6).requires_grad_()
    with use_fused(fused):
        out = layer(x, edge_index, weight)
    ref, _ = _oracle(layer, x, edge_index, weight)
    assert torch.allclose(out, ref, **TOL)
    assert_same_gradients(layer, out, ref, [x])


@pytest.mark.parametrize('normalization, r', [('rw', 0.0), ('sym', 0.5)])
def test_filters_are_a_filterbank(normalization, r):
    """H_LP + H_HP = I, and H_LP is the shared propagation kernel."""
    n = 11
    edge_index = random_graph(n, n, 35, seed=4)
    low = normalized_propagation(edge_index, n, r=r, dtype=F64).to_dense()
    assert torch.allclose(low, dense_filter(edge_index, n,
                                            normalization=normalization),
                          **TOL)
    if normalization == 'rw':  # rows of D^-1 (A + I) sum to one
        assert torch.allclose(low.sum(1), torch.ones(n, dtype=F64), **TOL)
    # The layer's high-pass channel is (I - A_hat) X W_H.
    layer = _layer(normalization=normalization, variant='acmii')
    x = _features(n, 6).abs()
    with torch.no_grad():
        layer.lin.weight.abs_()  # ReLU(X W) = X W: ACMII is then linear
    out, _ = layer(x, edge_index, return_attention_weights=True)
    C = layer.out_channels
    z = x @ layer.lin.weight.t()
    eye = torch.eye(n, dtype=F64)
    chans = [low @ z[:, :C], (eye - low) @ z[:, C:2 * C], z[:, 2 * C:]]
    alpha = layer.channel_weights(torch.stack(chans, 1))
    mixed = sum(alpha[:, k:k + 1] * chans[k] for k in range(3))
    assert torch.allclose(out, mixed, **TOL)




def test_adjacency_layouts_and_sparse_features_agree():
    n = 14
    edge_index = random_graph(n, n, 40, seed=2, duplicates=False)
    layer = _layer()
    x = _features(n, 6)
    ref = layer(x, edge_index)
    for name, adj in adjacency_layouts(edge_index, n):
        out = layer(x, adj)
        assert torch.allclose(out, ref, **TOL), name
    layer32 = _layer().float()
    xs = torch.relu(_features(n, 6)).float()
    dense = layer32(xs, edge_index)
    assert torch.allclose(layer32(xs.to_sparse_csr(), edge_index), dense,
                          atol=1e-6)


def test_no_edges():
    """With only self-loops A_hat = I: the high-pass channel is zero and the
    low-pass channel is ReLU(X W_L)."""
    n = 6
    layer = _layer()
    x = _features(n, 6)
    empty = torch.empty(2, 0, dtype=torch.long)
    out, att = layer(x, empty, return_attention_weights=True)
    C = layer.out_channels
    z = x @ layer.lin.weight.t()
    chans = torch.stack([torch.relu(z[:, :C]), torch.zeros(n, C, dtype=F64),
                         torch.relu(z[:, 2 * C:])], 1)
    assert torch.allclose(att['channel'], layer.channel_weights(chans),
                          **TOL)
    assert torch.allclose(out, torch.einsum('nk,nkc->nc', att['channel'],
                                            chans), **TOL)
    ref, _ = _oracle(layer, x, empty)
    assert torch.allclose(out, ref, **TOL)
    # Without self-loops nothing reaches a node: A_hat = 0, H_HP = I.
    bare = _layer(add_self_loops=False)
    ref, _ = _oracle(bare, x, empty)
    assert torch.allclose(bare(x, empty), ref, **TOL)


def test_temperature_and_scale():
    n = 10
    edge_index = random_graph(n, n, 30, seed=6)
    x = _features(n, 6)
    hot = _layer(temperature=0.05)
    cold = _layer(temperature=100.0)
    _, a_hot = hot(x, edge_index, return_attention_weights=True)
    _, a_cold = cold(x, edge_index, return_attention_weights=True)
    # A large T flattens the mix towards 1/3 each; a small T sharpens it.
    assert (a_cold['channel'] - 1 / 3).abs().max() < 0.05
    assert a_hot['channel'].max() > 0.9
    one = _layer()
    three = _layer(scale=3.0)
    assert torch.allclose(three(x, edge_index), 3 * one(x, edge_index),
                          **TOL)


def test_float32_and_message_passing_path():
    n = 10
    edge_index = random_graph(n, n, 30, seed=8)
    layer = _layer().float()
    x = _features(n, 6).float()
    fused = layer(x, edge_index)
    seen = []
    handle = layer.register_message_forward_hook(
        lambda module, inputs, output: seen.append(output.shape))
    hooked = layer(x, edge_index)
    handle.remove()
    assert len(seen) == 1  # one product for the low- and high-pass inputs
    assert fused.dtype == torch.float32
    assert torch.allclose(fused, hooked, atol=1e-5)


@pytest.mark.parametrize('edge_index, message', [
    (torch.tensor([[0, 1], [1, 9]]), 'range|out of'),
    (torch.tensor([[0, -1], [1, 2]]), 'negative|range'),
    (torch.tensor([[0.0, 1.0], [1.0, 2.0]]), 'integer|dtype'),
    (torch.tensor([0, 1, 2]), 'shape|2'),
])
def test_bad_edge_index_raises(edge_index, message):
    layer = _layer()
    with pytest.raises(ValueError, match=message):
        layer(_features(4, 6), edge_index)


def test_bad_arguments_raise():
    layer = _layer()
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='6|features'):
        layer(_features(4, 3), edge_index)
    with pytest.raises(TypeError, match='torch.Tensor'):
        layer([[0.0] * 6] * 4, edge_index)
    with pytest.raises(ValueError, match='floating'):
        layer(torch.ones(4, 6, dtype=torch.long), edge_index)
    with pytest.raises(ValueError, match='edge_weight'):
        layer(_features(4, 6), edge_index, torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match='variant'):
        ACMConv(4, 4, variant='acm++')
    with pytest.raises(ValueError, match='normalization'):
        ACMConv(4, 4, normalization='left')
    with pytest.raises(ValueError, match='temperature'):
        ACMConv(4, 4, temperature=0.0)
    with pytest.raises(ValueError, match='out_channels'):
        ACMConv(4, 0)


def test_operator_cache_follows_in_place_edits():
    n = 5
    layer = _layer()
    x = _features(n, 6)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    first = layer(x, edge_index)
    edge_index[1, 1] = 3  # same object, new graph
    second = layer(x, edge_index)
    ref, _ = _oracle(layer, x, edge_index)
    assert torch.allclose(second, ref, **TOL)
    assert not torch.allclose(first, second)


def test_reset_parameters_and_repr():
    layer = ACMConv(8, 4, layer_norm=True)
    before = [p.detach().clone() for p in layer.parameters()]
    layer.reset_parameters()
    after = list(layer.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    assert layer.mix.abs().max() <= 3 ** -0.5
    assert layer.lin.weight.abs().max() <= 0.5
    assert repr(layer) == ("ACMConv(8, 4, variant='acm', "
                           "normalization='rw', layer_norm=True)")


def test_acm_gcn_network_and_registry():
    torch.manual_seed(0)
    # Table 12: the random-split setting; Table 14: the fixed splits'.
    config = gat_zoo.paper_config('acm_gcn', 'chameleon:split=0.6/0.2')
    assert config['model']['dropout'] == 0.8
    assert config['train']['lr'] == 0.01
    fixed = gat_zoo.paper_config('acm_gcn', 'chameleon')
    assert (fixed['model']['dropout'], fixed['train']['lr']) == (0.7, 0.05)
    model = gat_zoo.create_model('acm_gcn', 8, 3, **config['model'])
    assert isinstance(model, ACMGCN) and model.conv1.scale == 3.0
    x = torch.rand(9, 8)
    edge_index = random_graph(9, 9, 20, seed=1)
    model.eval()
    logits, att = model(x, edge_index, return_attention_weights=True)
    assert logits.shape == (9, 3)
    assert set(att) == {'channel', 'hidden_channel'}
    assert att['channel'].shape == att['hidden_channel'].shape == (9, 3)
    # The official pipeline: symmetrise, layer, ReLU, layer.
    und = to_undirected(edge_index, num_nodes=9)
    h = torch.relu(model.conv1(x, und))
    assert torch.allclose(logits, model.conv2(h, und), atol=1e-6)
    # The directed graph differs from its symmetrisation unless asked.
    model.to_undirected = False
    assert not torch.allclose(model(x, edge_index), logits, atol=1e-4)
    model.to_undirected = True
    assert torch.allclose(model(x.to_sparse_csr(), edge_index), logits,
                          atol=1e-6)
    # The symmetrised graph is cached per edge_index object and version.
    cached, _ = model._graph(edge_index, None, 9)
    assert model._graph(edge_index, None, 9)[0] is cached
    edge_index[0, 0] = (edge_index[0, 0] + 1) % 9
    assert model._graph(edge_index, None, 9)[0] is not cached
    ii_config = gat_zoo.paper_config('acmii_gcn', 'cora:split=0.6/0.2')
    ii = gat_zoo.create_model('acmii_gcn', 8, 3, **ii_config['model'])
    assert ii.conv1.variant == ii.conv2.variant == 'acmii'
    assert 'acmii' in repr(ii)
    plus = gat_zoo.create_model('acm_gcn_plus', 8, 3,
                                **gat_zoo.paper_config(
                                    'acm_gcn_plus',
                                    'texas:split=0.6/0.2')['model'])
    assert plus.conv1.layer_norm and plus.conv2.layer_norm
    assert plus.dropout == 0.3
    assert gat_zoo.paper_config('acm_gcn_plus', 'texas:split=0.6/0.2')[
        'train'] \
        ['weight_decay'] == 0.001
    assert gat_zoo.model_entry('acm_gcn').family == 'multi-channel'
    # The paper's random splits follow the class-balanced rule.
    assert gat_zoo.paper_result('acm_gcn', 'chameleon:split=0.6/0.2') is None
    result = gat_zoo.paper_result('acm_gcn',
                                  'chameleon:split=0.6/0.2:rule=balanced')
    assert (result['mean'], result['std']) == (69.04, 1.74)
    assert gat_zoo.paper_result(
        'acm_gcn', 'cora:split=0.6/0.2:rule=balanced')['mean'] == 88.62
    assert gat_zoo.paper_result('acm_gcn', 'cornell')['mean'] == 85.14
