"""FAGCNConv and the FAGCN network: the dense float64 oracle (values,
signed coefficients, gradients), PyG's FAConv (state dicts and outputs),
every adjacency layout, corner cases, bad input and the registered model."""
import pytest
import torch
from reference import random_graph
from reference.dense_fagcn import dense_fagcn
from reference.gradients import assert_same_gradients
from torch_geometric.nn import FAConv

import gat_zoo
from gat_zoo.nn.conv import FAGCNConv
from gat_zoo.nn.models import FAGCN
from gat_zoo.ops import use_fused
from tests.reference.layouts import adjacency_layouts

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)


def _layer(channels=5, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = FAGCNConv(channels, **kwargs).double()
    with torch.no_grad():  # gates spread over (-1, 1), both signs
        layer.att_l.weight.mul_(2.0)
        layer.att_r.weight.mul_(2.0)
        if layer.att_bias is not None:
            layer.att_bias.fill_(0.2)
    return layer


def _features(n, c, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=gen, dtype=F64)


def _oracle(layer, x, x0, edge_index, edge_weight=None):
    return dense_fagcn(x, x0, edge_index, layer.att_l.weight,
                       layer.att_r.weight, layer.att_bias, layer.eps,
                       add_self_loops=layer.add_self_loops,
                       edge_weight=edge_weight, normalize=layer.normalize)


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('add_self_loops', [False, True])
@pytest.mark.parametrize('bias', [False, True])
@pytest.mark.parametrize('eps', [0.0, 0.3])
def test_matches_dense_oracle(fused, add_self_loops, bias, eps):
    n = 15
    # Isolated nodes, doubled self-loops and a duplicated edge included.
    edge_index = random_graph(n, n, 45, seed=int(10 * eps) + 2 * bias)
    layer = _layer(eps=eps, add_self_loops=add_self_loops, bias=bias)
    x = _features(n, 5).requires_grad_()
    x0 = _features(n, 5, seed=2).requires_grad_()
    with use_fused(fused):
        out, (index, alpha) = layer(x, x0, edge_index,
                                    return_attention_weights=True)
    ref, G = _oracle(layer, x, x0, edge_index)
    assert torch.allclose(out, ref, **TOL)
    # The signed coefficients of the edges used, both signs present.
    assert torch.allclose(alpha, G[index[1], index[0]], **TOL)
    assert (alpha.abs() < 1).all() and (alpha < 0).any() and (alpha > 0).any()
    loops = int((index[0] == index[1]).sum())
    if add_self_loops:  # one loop per node, the graph's own loops replaced
        assert loops == n and index.size(1) == int(
            (edge_index[0] != edge_index[1]).sum()) + n
    else:  # the graph as given, its loops and duplicates kept
        assert torch.equal(index, edge_index)
    inputs = [x, x0] if eps else [x]
    assert_same_gradients(layer, out, ref, inputs)


def test_fused_and_message_passing_paths_agree():
    n = 20
    edge_index = random_graph(n, n, 60, seed=8)
    layer = _layer(eps=0.3, bias=True).float()
    x = _features(n, 5).float().requires_grad_()
    fused = layer(x, x, edge_index)
    seen = []
    handle = layer.register_message_forward_hook(
        lambda module, inputs, output: seen.append(output.shape))
    hooked = layer(x, x, edge_index)
    handle.remove()
    assert len(seen) == 1 and fused.dtype == torch.float32
    assert torch.allclose(fused, hooked, atol=1e-5)
    ga, = torch.autograd.grad(fused.sum(), x)
    gb, = torch.autograd.grad(hooked.sum(), x)
    assert torch.allclose(ga, gb, atol=1e-5)


def test_edge_weights_and_unnormalized():
    n = 12
    edge_index = random_graph(n, n, 40, seed=5)
    weight = torch.rand(edge_index.size(1), dtype=F64,
                        generator=torch.Generator().manual_seed(2)) + 0.1
    x, x0 = _features(n, 5).requires_grad_(), _features(n, 5, seed=3)
    layer = _layer(eps=0.2, bias=True)
    out = layer(x, x0, edge_index, weight)
    ref, _ = _oracle(layer, x, x0, edge_index, weight)
    assert torch.allclose(out, ref, **TOL)
    assert_same_gradients(layer, out, ref, [x])
    raw = _layer(eps=0.2, normalize=False)
    out = raw(x, x0, edge_index, weight)
    ref, _ = _oracle(raw, x, x0, edge_index, weight)
    assert torch.allclose(out, ref, **TOL)
    assert_same_gradients(raw, out, ref, [x])


@pytest.mark.parametrize('add_self_loops', [False, True])
@pytest.mark.parametrize('ours_bias', [False, True])
def test_pyg_faconv_state_dict_loads_and_agrees(add_self_loops, ours_bias):
    """A FAConv state dict loads strictly (a layer with a gate bias takes
    it as a zero bias) and gives FAConv's output and coefficients."""
    n = 14
    edge_index = random_graph(n, n, 40, seed=7)
    torch.manual_seed(3)
    pyg = FAConv(6, eps=0.25, add_self_loops=add_self_loops).double()
    ours = FAGCNConv(6, eps=0.25, add_self_loops=add_self_loops,
                     bias=ours_bias).double()
    result = ours.load_state_dict(pyg.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    if ours_bias:
        assert ours.att_bias.item() == 0.0
    x, x0 = _features(n, 6).requires_grad_(), _features(n, 6, seed=4)
    a, (ia, alpha_a) = pyg(x, x0, edge_index, return_attention_weights=True)
    b, (ib, alpha_b) = ours(x, x0, edge_index, return_attention_weights=True)
    assert torch.allclose(a, b, **TOL)
    assert torch.equal(ia, ib) and torch.allclose(alpha_a, alpha_b, **TOL)
    ga, = torch.autograd.grad(a.sum(), x)
    gb, = torch.autograd.grad(b.sum(), x)
    assert torch.allclose(ga, gb, **TOL)
    # And back: our (bias-free) state dict loads into FAConv.
    if not ours_bias:
        back = FAConv(6, eps=0.25, add_self_loops=add_self_loops).double()
        back.load_state_dict(ours.state_dict(), strict=True)
        assert torch.allclose(back(x, x0, edge_index), b, **TOL)


def test_defaults_differ_from_pyg_on_self_loops():
    """The paper adds no self-loops; PyG's FAConv adds them by default."""
    n = 10
    edge_index = random_graph(n, n, 30, seed=1, self_loops=False)
    pyg = FAConv(5, eps=0.1).double()
    ours = FAGCNConv(5, eps=0.1).double()
    ours.load_state_dict(pyg.state_dict())
    assert pyg.add_self_loops and not ours.add_self_loops
    x = _features(n, 5)
    assert not torch.allclose(pyg(x, x, edge_index), ours(x, x, edge_index))
    plain = FAConv(5, eps=0.1, add_self_loops=False).double()
    plain.load_state_dict(pyg.state_dict())
    assert torch.allclose(plain(x, x, edge_index), ours(x, x, edge_index),
                          **TOL)


def test_default_initialisation_is_the_official_one():
    layer = FAGCNConv(50, bias=True)
    # Xavier-normal over the whole 2C-wide gate, gain sqrt(2).
    std = (2.0 * 2.0 / (2 * 50 + 1)) ** 0.5
    g = torch.cat([layer.att_l.weight, layer.att_r.weight], 1)
    assert 0.6 * std < g.std().item() < 1.4 * std
    assert abs(layer.att_bias.item()) <= 1 / 10




@pytest.mark.parametrize('add_self_loops', [False, True])
def test_adjacency_layouts_agree(add_self_loops):
    n = 14
    edge_index = random_graph(n, n, 40, seed=2, duplicates=False)
    layer = _layer(eps=0.3, add_self_loops=add_self_loops)
    x, x0 = _features(n, 5), _features(n, 5, seed=5)
    ref, G = _oracle(layer, x, x0, edge_index)
    for name, adj in adjacency_layouts(edge_index, n):
        out, att = layer(x, x0, adj, return_attention_weights=True)
        assert torch.allclose(out, ref, **TOL), name
        if name == 'SparseTensor':
            row, col, alpha = att.coo()
            assert torch.allclose(alpha, G[row, col], **TOL)
        elif name == 'torch.sparse':
            adj_att, alpha = att
            dense = adj_att.to_dense()
            mask = dense != 0
            assert torch.allclose(dense[mask], G[mask], **TOL)
        else:
            index, alpha = att
            assert torch.allclose(alpha, G[index[1], index[0]], **TOL)


def test_no_edges_and_isolated_nodes():
    n = 6
    layer = _layer(eps=0.4)
    x, x0 = _features(n, 5), _features(n, 5, seed=6)
    empty = torch.empty(2, 0, dtype=torch.long)
    out, (index, alpha) = layer(x, x0, empty, return_attention_weights=True)
    assert torch.allclose(out, 0.4 * x0, **TOL)
    assert index.shape == (2, 0) and alpha.shape == (0,)
    # Isolated nodes keep only the residual.
    edge_index = torch.tensor([[0, 1], [1, 0]])
    out = layer(x, x0, edge_index)
    assert torch.allclose(out[2:], 0.4 * x0[2:], **TOL)
    # Only self-loops: d_i = 1, so h'_i = eps x0_i + tanh(.) x_i.
    loops = torch.arange(n).expand(2, -1)
    _, G = _oracle(layer, x, x0, loops)
    out = layer(x, x0, loops)
    assert torch.allclose(out, 0.4 * x0 + G.diagonal()[:, None] * x, **TOL)
    # eps = 0 needs no x_0.
    bare = _layer(eps=0.0)
    assert torch.allclose(bare(x, None, empty), 0 * x, **TOL)


def test_edge_dropout_in_training_only():
    n = 12
    edge_index = random_graph(n, n, 40, seed=3, self_loops=False,
                              duplicates=False)
    layer = _layer(eps=0.1, dropout=0.5)
    x = _features(n, 5)
    layer.eval()
    ref = layer(x, x, edge_index)
    assert torch.allclose(ref, layer(x, x, edge_index), **TOL)
    layer.train()
    seen = []
    handle = layer.register_message_forward_hook(
        lambda module, inputs, output: seen.append(inputs[0]['alpha']))
    torch.manual_seed(0)
    out, (_, alpha) = layer(x, x, edge_index, return_attention_weights=True)
    handle.remove()
    coefficient = seen[0]
    dropped = coefficient == 0
    assert dropped.any() and not dropped.all()
    # The returned coefficients are before dropout; the kept ones are
    # scaled by 1 / (1 - p).
    assert (alpha != 0).all()
    _, G = _oracle(layer, x, x, edge_index)
    assert torch.allclose(alpha, G[edge_index[1], edge_index[0]], **TOL)
    assert not torch.allclose(out, ref)
    # The fused path drops coefficients too, and returns them undropped.
    with use_fused('on'):
        out, (_, alpha) = layer(x, x, edge_index,
                                return_attention_weights=True)
    assert not torch.allclose(out, ref)
    assert torch.allclose(alpha, G[edge_index[1], edge_index[0]], **TOL)


def test_cached_and_in_place_edits():
    n = 5
    x = _features(n, 5)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    layer = _layer(eps=0.1)
    first = layer(x, x, edge_index)
    edge_index[1, 1] = 3  # same object, new graph
    second = layer(x, x, edge_index)
    ref, _ = _oracle(layer, x, x, edge_index)
    assert torch.allclose(second, ref, **TOL)
    assert not torch.allclose(first, second)
    cached = _layer(eps=0.1, cached=True)
    cached(x, x, edge_index)
    other = torch.tensor([[4, 3], [0, 4]])
    assert torch.allclose(cached(x, x, other), second, **TOL)
    cached.reset_parameters()  # clears the cache
    layer.load_state_dict(cached.state_dict())
    assert torch.allclose(cached(x, x, other), layer(x, x, other), **TOL)


@pytest.mark.parametrize('edge_index, message', [
    (torch.tensor([[0, 1], [1, 9]]), 'range|out of'),
    (torch.tensor([[0, -1], [1, 2]]), 'negative|range'),
    (torch.tensor([[0.0, 1.0], [1.0, 2.0]]), 'integer|dtype'),
    (torch.tensor([0, 1, 2]), 'shape|2'),
])
def test_bad_edge_index_raises(edge_index, message):
    layer = _layer()
    x = _features(4, 5)
    with pytest.raises(ValueError, match=message):
        layer(x, x, edge_index)


def test_bad_input_raises():
    layer = _layer()
    x = _features(4, 5)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='features|expects'):
        layer(_features(4, 3), x, edge_index)
    with pytest.raises(ValueError, match='x_0'):
        layer(x, _features(3, 5), edge_index)
    with pytest.raises(ValueError, match='x_0'):
        layer(x, None, edge_index)
    with pytest.raises(ValueError, match='pair'):
        layer((x, x), x, edge_index)
    with pytest.raises(TypeError, match='x'):
        layer(x.numpy(), x, edge_index)
    with pytest.raises(ValueError, match='edge_weight'):
        layer(x, x, edge_index, torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match='normalize'):
        FAGCNConv(5, normalize=False)(x.float(), x.float(), edge_index)
    with pytest.raises(ValueError, match='channels'):
        FAGCNConv(0)
    with pytest.raises(ValueError, match='dropout'):
        FAGCNConv(5, dropout=1.0)
    with pytest.raises(ValueError, match='eps'):
        FAGCNConv(5, eps=float('nan'))
    with pytest.raises(ValueError, match='dropout'):
        FAGCN(5, 3, dropout=-0.1)
    with pytest.raises(ValueError, match='num_layers'):
        FAGCN(5, 3, num_layers=0)


def test_fagcn_network_and_registry():
    torch.manual_seed(0)
    config = gat_zoo.paper_config('fagcn', 'Cora')
    model = gat_zoo.create_model('fagcn', 8, 3, **config['model'])
    assert isinstance(model, FAGCN) and len(model.convs) == 5
    assert config['train']['selection'] == 'loss'
    assert gat_zoo.model_entry('fagcn').family == 'multi-channel'
    x = torch.rand(9, 8)
    edge_index = random_graph(9, 9, 20, seed=1)
    model.eval()
    logits, att = model(x, edge_index, return_attention_weights=True)
    assert logits.shape == (9, 3) and len(att) == 5
    assert all((alpha.abs() < 1).all() for _, alpha in att)
    # lin1 -> ReLU -> L layers, each with the eps-residual to h0 -> lin2.
    h0 = torch.relu(model.lin1(x))
    h = h0
    for conv in model.convs:
        h = conv(h, h0, edge_index)
    assert torch.allclose(logits, model.lin2(h), atol=1e-6)
    # Sparse bag-of-words input gives the same logits.
    assert torch.allclose(model(x.to_sparse_csr(), edge_index), logits,
                          atol=1e-6)
    assert 'num_layers=5' in repr(model)
    assert repr(model.convs[0]) == \
        'FAGCNConv(16, eps=0.3, add_self_loops=False)'
    assert gat_zoo.paper_result('fagcn', 'Cora')['mean'] == 84.1
    assert gat_zoo.paper_config('fagcn', 'film')['model']['symmetrize']


def test_symmetrize_is_the_official_preprocessing():
    torch.manual_seed(0)
    model = FAGCN(6, 3, hidden_channels=4, symmetrize=True).eval()
    plain = FAGCN(6, 3, hidden_channels=4).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.rand(7, 6)
    directed = torch.tensor([[0, 1, 1, 2, 3, 3, 5],
                             [1, 2, 2, 3, 3, 4, 6]])  # a loop, a duplicate
    simple = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 5, 6],
                           [1, 0, 2, 1, 3, 2, 4, 3, 6, 5]])
    assert torch.allclose(model(x, directed), plain(x, simple), atol=1e-6)
