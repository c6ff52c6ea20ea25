"""UAGConv and the UAG network: the dense float64 oracle (outputs,
variances, attention, gate, uncertainty, gradients), every adjacency
layout, the GAT special case, the gate's effect, corner cases, bad input
and the registered model."""
import pytest
import torch
from reference import random_graph
from reference.dense_gat import edge_attention
from reference.dense_uag import dense_uag
from reference.gradients import assert_same_gradients
from torch_geometric.nn import GATConv as PyGGATConv

import gat_zoo
from gat_zoo.nn.conv import UAGConv
from gat_zoo.nn.models import UAG
from tests.reference.layouts import adjacency_layouts

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)


def _layer(fin=6, fout=4, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('alpha_tau', 4.0)   # a gate spread over (0, 1) on
    kwargs.setdefault('beta_tau', 1.2)    # random data, not all ~1
    layer = UAGConv(fin, fout, **kwargs).double()
    with torch.no_grad():
        layer.att_src.mul_(2.0)
        if layer.bias is not None:
            layer.bias.normal_()
    return layer.eval()


def _features(n, c, seed=1, positive=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, generator=gen, dtype=F64)
    return x.abs() if positive else x


def _oracle(layer, x, edge_index, variance=None):
    return dense_uag(x, edge_index, layer.lin.weight, layer.att_src,
                     layer.att_dst, layer.bias, p=layer.mc_dropout,
                     alpha_tau=layer.alpha_tau, beta_tau=layer.beta_tau,
                     negative_slope=layer.negative_slope,
                     add_self_loops=layer.add_self_loops, variance=variance,
                     uncertainty_aware=layer.uncertainty_aware)


@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('p', [0.0, 0.5])
@pytest.mark.parametrize('with_variance', [False, True])
def test_matches_dense_oracle(add_self_loops, p, with_variance):
    n = 16
    # Isolated nodes, doubled self-loops and a duplicated edge included.
    edge_index = random_graph(n, n, 48, seed=3 + 2 * add_self_loops)
    layer = _layer(mc_dropout=p, add_self_loops=add_self_loops)
    x = _features(n, 6).requires_grad_()
    variance = (_features(n, 6, seed=4, positive=True).requires_grad_()
                if with_variance else None)
    out, var, att = layer(x, edge_index, variance=variance,
                          return_variance=True, return_attention_weights=True)
    ref, ref_var, parts = _oracle(layer, x, edge_index, variance)
    assert torch.allclose(out, ref, **TOL)
    assert torch.allclose(var, ref_var, **TOL)
    index, alpha = att['edge']
    assert torch.allclose(alpha, edge_attention(
        parts['per_edge'].unsqueeze(-1), index).squeeze(-1), **TOL)
    assert torch.allclose(att['gate'], parts['gate'], **TOL)
    assert torch.allclose(att['uncertainty'], parts['uncertainty'], **TOL)
    if p > 0 or with_variance:  # the gate really varies
        assert att['gate'].max() - att['gate'].min() > 0.1
    assert (var >= 0).all()
    inputs = [x] + ([variance] if with_variance else [])
    assert_same_gradients(layer, torch.cat([out, var], 1),
                          torch.cat([ref, ref_var], 1), inputs)


def test_attention_sums_to_one_and_uses_self_loops():
    n = 12
    edge_index = random_graph(n, n, 30, seed=7)
    layer = _layer(mc_dropout=0.3)
    x = _features(n, 6)
    _, att = layer(x, edge_index, return_attention_weights=True)
    index, alpha = att['edge']
    sums = torch.zeros(n, dtype=F64).index_add_(0, index[1], alpha)
    assert torch.allclose(sums, torch.ones(n, dtype=F64), **TOL)
    loops = index[0] == index[1]
    assert int(loops.sum()) == n  # exactly one loop per node


def test_reduces_to_gat_without_uncertainty():
    """p = 0 and no input variance: every u_j = 0, the gate is constant and
    the layer is single-head GAT (PyG's GATConv with the same weights)."""
    n = 14
    edge_index = random_graph(n, n, 40, seed=9)
    layer = _layer(mc_dropout=0.0)
    gat = PyGGATConv(6, 4, heads=1).double()
    gat.lin.weight.data.copy_(layer.lin.weight.data)
    gat.att_src.data.copy_(layer.att_src.data.view(1, 1, 4))
    gat.att_dst.data.copy_(layer.att_dst.data.view(1, 1, 4))
    gat.bias.data.copy_(layer.bias.data)
    x = _features(n, 6)
    out, var = layer(x, edge_index, return_variance=True)
    assert torch.allclose(out, gat(x, edge_index), atol=1e-10)
    # The variance is then the neighbourhood's dispersion only.
    assert (var >= 0).all() and var.abs().sum() > 0


def test_gate_suppresses_uncertain_neighbour():
    """A neighbour whose input variance is far above the average gets
    (almost) no attention; without the gate it keeps its GAT weight."""
    n = 6
    edge_index = torch.tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]])
    x = _features(n, 6)
    variance = torch.full((n, 6), 0.01, dtype=F64)
    variance[3] = 10.0
    gated = _layer(mc_dropout=0.0, alpha_tau=15.0, beta_tau=2.5)
    plain = _layer(mc_dropout=0.0, uncertainty_aware=False)
    _, att = gated(x, edge_index, variance=variance,
                   return_attention_weights=True)
    _, att_plain = plain(x, edge_index, variance=variance,
                         return_attention_weights=True)
    index, alpha = att['edge']
    edge = ((index[0] == 3) & (index[1] == 0)).nonzero().item()
    assert alpha[edge] < 1e-6 and att['gate'][3] < 1e-6
    assert att_plain['edge'][1][edge] > 0.01
    assert (att['gate'][[0, 1, 2, 4, 5]] > 0.999).all()




def test_adjacency_layouts_agree():
    n = 13
    edge_index = random_graph(n, n, 36, seed=2, duplicates=False)
    layer = _layer(mc_dropout=0.5)
    x = _features(n, 6)
    ref, ref_var = layer(x, edge_index, return_variance=True)
    for name, adj in adjacency_layouts(edge_index, n):
        out, var = layer(x, adj, return_variance=True)
        assert torch.allclose(out, ref, **TOL), name
        assert torch.allclose(var, ref_var, **TOL), name


def test_no_edges():
    n = 5
    x = _features(n, 6)
    empty = torch.empty(2, 0, dtype=torch.long)
    layer = _layer(mc_dropout=0.5)
    out, var = layer(x, empty, return_variance=True)
    h = x @ layer.lin.weight.t()
    v = (x * x) @ (layer.lin.weight ** 2).t()  # p / (1 - p) = 1
    assert torch.allclose(out, h + layer.bias, **TOL)   # only self-loops
    assert torch.allclose(var, v, **TOL)
    bare = _layer(mc_dropout=0.5, add_self_loops=False)
    out, var = bare(x, empty, return_variance=True)
    assert torch.allclose(out, bare.bias.expand(n, 4), **TOL)
    assert torch.equal(var, torch.zeros(n, 4, dtype=F64))
    # Zero nodes.
    out = layer(x[:0], empty)
    assert out.shape == (0, 4)


def test_training_mode_dropout_and_eval_determinism():
    n = 10
    edge_index = random_graph(n, n, 30, seed=1)
    layer = _layer(mc_dropout=0.5)
    x = _features(n, 6)
    a, b = layer(x, edge_index), layer(x, edge_index)
    assert torch.equal(a, b)
    layer.train()
    torch.manual_seed(0)
    c = layer(x, edge_index)
    assert not torch.allclose(a, c)
    # The variance does not depend on the sampled mask.
    torch.manual_seed(1)
    _, v1 = layer(x, edge_index, return_variance=True)
    layer.eval()
    _, v0 = layer(x, edge_index, return_variance=True)
    assert v1.shape == v0.shape


def test_float32_and_repr():
    n = 9
    edge_index = random_graph(n, n, 25, seed=4)
    layer = _layer().float()
    out = layer(_features(n, 6).float(), edge_index)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert repr(layer) == 'UAGConv(6, 4, alpha_tau=4, beta_tau=1.2)'
    layer.reset_parameters()
    assert torch.equal(layer.bias, torch.zeros(4))


@pytest.mark.parametrize('kwargs, message', [
    (dict(in_channels=0, out_channels=3), 'in_channels'),
    (dict(in_channels=3, out_channels=True), 'out_channels'),
    (dict(in_channels=3, out_channels=3, mc_dropout=1.0), 'mc_dropout'),
    (dict(in_channels=3, out_channels=3, dropout=-0.1), 'dropout'),
    (dict(in_channels=3, out_channels=3, alpha_tau=-1), 'alpha_tau'),
])
def test_bad_constructor_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UAGConv(**kwargs)


def test_bad_input_raises():
    layer = _layer()
    x = _features(5, 6)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='features per node'):
        layer(_features(5, 3), edge_index)
    with pytest.raises(TypeError):
        layer(x.numpy(), edge_index)
    with pytest.raises(ValueError, match='out of range'):
        layer(x, torch.tensor([[0, 9], [1, 2]]))
    with pytest.raises(ValueError, match='integers'):
        layer(x, edge_index.double())
    with pytest.raises(ValueError, match='variance'):
        layer(x, edge_index, variance=_features(4, 6))
    with pytest.raises(ValueError, match='bipartite'):
        layer((x, x), edge_index)


def test_uag_network_and_registry():
    torch.manual_seed(0)
    config = gat_zoo.paper_config('uag', 'Cora')
    assert config['model']['alpha_tau'] == 15.0
    assert config['model']['beta_tau'] == 2.5
    assert config['from_paper'] is False
    model = gat_zoo.create_model('uag', 8, 3, **config['model'])
    assert isinstance(model, UAG)
    assert gat_zoo.model_entry('uag').family == 'multi-channel'
    x = torch.rand(9, 8)
    edge_index = random_graph(9, 9, 20, seed=1)
    model.eval()
    logits, att = model(x, edge_index, return_attention_weights=True)
    assert logits.shape == (9, 3)
    assert set(att) == {'layer1', 'layer2'}
    assert set(att['layer2']) == {'edge', 'gate', 'uncertainty'}
    # Layer 2 gets layer 1's variance (through the ReLU rule).
    h, var = model.conv1(x, edge_index, return_variance=True)
    ref = model.conv2(torch.relu(h), edge_index,
                      variance=var * (h > 0).float())
    assert torch.allclose(logits, ref, atol=1e-6)
    model.train()
    loss = model(x, edge_index).logsumexp(-1).sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert 'hidden=16' in repr(model)


def test_sparse_features_give_the_same_layer():
    n = 11
    edge_index = random_graph(n, n, 30, seed=6)
    layer = _layer(mc_dropout=0.5)
    x = _features(n, 6)
    x = x * (x > 0.8)
    ref, ref_var = layer(x, edge_index, return_variance=True)
    out, var = layer(x.to_sparse_csr(), edge_index, return_variance=True)
    assert torch.allclose(out, ref, **TOL)
    assert torch.allclose(var, ref_var, **TOL)
    assert UAG.supports_sparse_features
