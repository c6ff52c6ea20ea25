"""PPRGATConv and PPRGATv2Conv: the dense float64 oracle (values, attention
and gradients), fused against reference path, every adjacency layout, the
ways of passing PPR, bipartite input, the attention penalty, PyG state
dicts, corner cases and bad input."""
import copy
import pickle

import pytest
import torch
import torch_geometric.nn as pyg_nn
from reference import edge_attention, random_graph
from reference.dense_pprgat import (
    dense_pprgat,
    dense_pprgatv2,
    pprgat_params_from_module,
    pprgatv2_params_from_module,
)
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

import gat_zoo.ops.ppr as ppr_module
from gat_zoo.nn.conv.pprgat_conv import (
    PPRGAT_L1_WEIGHT,
    PPRGATConv,
    PPRGATv2Conv,
)
from gat_zoo.ops import (
    PPRMatrix,
    approximate_ppr,
    clear_ppr_cache,
    ppr_edge_values,
    use_fused,
)

LAYERS = {
    'pprgat': (PPRGATConv, dense_pprgat, pprgat_params_from_module),
    'pprgatv2': (PPRGATv2Conv, dense_pprgatv2, pprgatv2_params_from_module),
}
TOL = dict(atol=1e-9, rtol=0)
F64 = torch.float64


def _features(n, f, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=F64)


def _layer(kind, in_channels, out_channels, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = LAYERS[kind][0](in_channels, out_channels, **kwargs).double()
    with torch.no_grad():  # a PPR term that matters
        layer.att_ppr.copy_(torch.linspace(2.0, 6.0, layer.heads).view(
            1, -1, 1))
    return layer


def _oracle(kind, layer, x_src, x_dst, edge_index, ppr_dense):
    _, dense, params = LAYERS[kind]
    return dense(x_src, x_dst, edge_index, ppr_dense, **params(layer))


def _grads(layer, out, inputs, seed=11):
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(
        seed), dtype=out.dtype)
    return torch.autograd.grad((out * weight).sum(),
                               inputs + list(layer.parameters()),
                               allow_unused=True, retain_graph=True)


def _assert_same_grads(a, b):
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
        else:
            assert torch.allclose(u, v, **TOL)


# ---------------------------------------------------------------------------
# Dense oracle.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('fused', ['on', 'off'])
def test_matches_dense_oracle(kind, heads, concat, add_self_loops, fused):
    n = 14
    # Self-loops, duplicate edges and isolated nodes included.
    edge_index = random_graph(n, n, 50, seed=heads)
    x = _features(n, 6, seed=1).requires_grad_()
    layer = _layer(kind, 6, 5, heads=heads, concat=concat,
                   add_self_loops=add_self_loops, residual=True)
    with use_fused(fused):
        out, (ei, alpha) = layer(x, edge_index,
                                 return_attention_weights=True)
    ppr = layer.compute_ppr(edge_index, n)
    expected, alpha_dense = _oracle(kind, layer, x, x, edge_index,
                                    ppr.to_dense())
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(alpha, edge_attention(alpha_dense, ei), **TOL)
    ours, theirs = _grads(layer, out, [x]), _grads(layer, expected, [x])
    _assert_same_grads(ours, theirs)
    # The PPR term is live: its parameter gets gradient, and without it
    # the output changes.
    names = [name for name, _ in layer.named_parameters()]
    grad_ppr = ours[1 + names.index('att_ppr')]
    assert grad_ppr.abs().max() > 1e-6
    with torch.no_grad():
        layer.att_ppr.zero_()
    assert not torch.allclose(layer(x, edge_index), out, atol=1e-6)


@pytest.mark.parametrize('kind', LAYERS)
def test_gatv2_variant_puts_ppr_outside_the_nonlinearity(kind):
    # With the PPR term alone (zero features) the logit is
    # LeakyReLU(a_ppr * pi) for GAT but a_ppr * pi for GATv2.
    n = 8
    edge_index = random_graph(n, n, 20, seed=3, self_loops=False)
    layer = _layer(kind, 3, 2, heads=1)
    with torch.no_grad():
        layer.att_ppr.fill_(-5.0)
    x = torch.zeros(n, 3, dtype=F64)
    _, (ei, alpha) = layer(x, edge_index, return_attention_weights=True)
    ppr = ppr_edge_values(layer.compute_ppr(edge_index, n), ei).double()
    logit = -5.0 * ppr
    if kind == 'pprgat':
        logit = torch.nn.functional.leaky_relu(logit, 0.2)
    weights = torch.exp(logit)
    norm = torch.zeros(n, dtype=F64).index_add_(0, ei[1], weights)
    assert torch.allclose(alpha.view(-1), weights / norm[ei[1]], **TOL)


# ---------------------------------------------------------------------------
# Fused against reference path; layouts.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
def test_fused_matches_reference_with_dropout_masks(kind):
    n = 16
    edge_index = random_graph(n, n, 60, seed=5)
    x = _features(n, 5, seed=2).requires_grad_()
    layer = _layer(kind, 5, 3, heads=2, dropout=0.4).train()
    results = {}
    for mode in ('on', 'off'):
        torch.manual_seed(7)
        with use_fused(mode):
            out, (_, alpha) = layer(x, edge_index,
                                    return_attention_weights=True)
        results[mode] = (out, alpha, _grads(layer, out, [x]),
                         layer.attention_penalty())
    (a, wa, ga, pa), (b, wb, gb, pb) = results['on'], results['off']
    assert torch.allclose(a, b, **TOL) and torch.allclose(wa, wb, **TOL)
    _assert_same_grads(ga, gb)
    assert torch.allclose(pa, pb, **TOL)


@pytest.mark.parametrize('kind', LAYERS)
def test_adjacency_layouts_agree(kind):
    n = 12
    edge_index = random_graph(n, n, 40, seed=4, duplicates=False)
    x = _features(n, 5, seed=5)
    layer = _layer(kind, 5, 4, heads=2).eval()
    expected, (ei, alpha) = layer(x, edge_index,
                                  return_attention_weights=True)
    lookup = {(int(s), int(t)): a for (s, t), a in zip(ei.t(), alpha)}

    adj = torch.sparse_coo_tensor(edge_index.flip(0),
                                  torch.ones(edge_index.size(1)), (n, n))
    layouts = [adj.coalesce(), adj.to_sparse_csr(),
               EdgeIndex(edge_index, sparse_size=(n, n)).sort_by('col')[0],
               edge_index.int()]
    if WITH_TORCH_SPARSE:
        layouts.append(SparseTensor.from_edge_index(
            edge_index, sparse_sizes=(n, n)).t())
    for layout in layouts:
        for mode in ('on', 'off'):
            with use_fused(mode):
                out, att = layer(x, layout, return_attention_weights=True)
            assert torch.allclose(out, expected, **TOL)
            if isinstance(att, tuple):
                pairs, weights = att
                if pairs.layout != torch.strided:  # torch sparse
                    pairs = pairs.to_sparse_coo().coalesce().indices().flip(0)
            else:
                row, col, weights = att.coo()
                pairs = torch.stack([col, row])
            for (s, t), w in zip(pairs.t(), weights):
                assert torch.allclose(w, lookup[(int(s), int(t))], **TOL)
    assert torch.allclose(layer(x, edge_index, size=(n, n)), expected, **TOL)


def test_edge_order_does_not_matter():
    n = 12
    edge_index = random_graph(n, n, 40, seed=6)
    perm = torch.randperm(edge_index.size(1),
                          generator=torch.Generator().manual_seed(0))
    layer = _layer('pprgat', 5, 4, heads=2)
    x = _features(n, 5, seed=7)
    assert torch.allclose(layer(x, edge_index), layer(x, edge_index[:, perm]),
                          **TOL)


@pytest.mark.parametrize('kind', LAYERS)
def test_edge_features_fused_matches_reference(kind):
    n = 12
    edge_index = random_graph(n, n, 40, seed=14, duplicates=False)
    edge_attr = _features(edge_index.size(1), 3, seed=15).requires_grad_()
    x = _features(n, 4, seed=16).requires_grad_()
    layer = _layer(kind, 4, 3, heads=2, edge_dim=3)
    results = []
    for mode in ('on', 'off'):
        with use_fused(mode):
            out = layer(x, edge_index, edge_attr=edge_attr)
        results.append((out, _grads(layer, out, [x, edge_attr])))
    assert torch.allclose(results[0][0], results[1][0], **TOL)
    _assert_same_grads(results[0][1], results[1][1])
    without = _layer(kind, 4, 3, heads=2, edge_dim=3)
    without.load_state_dict(layer.state_dict())
    with torch.no_grad():
        without.lin_edge.weight.zero_()
    assert not torch.allclose(without(x, edge_index, edge_attr=edge_attr),
                              results[0][0], atol=1e-6)


# ---------------------------------------------------------------------------
# Ways of passing PPR.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
def test_precomputed_ppr_forms_agree(kind):
    n = 13
    edge_index = random_graph(n, n, 40, seed=8)
    x = _features(n, 4, seed=3)
    layer = _layer(kind, 4, 3, heads=2, ppr_topk=5, ppr_alpha=0.15)
    expected = layer(x, edge_index)
    ppr = approximate_ppr(edge_index, n, alpha=0.15, topk=5)
    forms = [ppr, ppr.to_torch_sparse(), ppr.to_torch_sparse(
        torch.sparse_csr)]
    if WITH_TORCH_SPARSE:
        forms.append(ppr.to_sparse_tensor())
    for form in forms:
        for mode in ('on', 'off'):
            with use_fused(mode):
                assert torch.allclose(layer(x, edge_index, form), expected,
                                      **TOL)
    # Another PPR gives another output.
    other = approximate_ppr(edge_index, n, alpha=0.5, topk=5)
    assert not torch.allclose(layer(x, edge_index, other), expected,
                              atol=1e-6)


@pytest.mark.parametrize('kind', LAYERS)
def test_per_edge_values(kind):
    n = 13
    edge_index = random_graph(n, n, 40, seed=9)
    x = _features(n, 4, seed=4).requires_grad_()
    layer = _layer(kind, 4, 3, heads=2, add_self_loops=False)
    ppr = layer.compute_ppr(edge_index, n)
    expected = layer(x, edge_index, ppr)
    values = ppr_edge_values(ppr, edge_index)
    for given in (values, values.view(-1, 1), values.double()):
        for mode in ('on', 'off'):
            with use_fused(mode):
                out = layer(x, edge_index, given)
            assert torch.allclose(out, expected, **TOL)
    if WITH_TORCH_SPARSE:  # the SparseTensor's own (row-major) edge order
        adj_t = SparseTensor.from_edge_index(
            edge_index, sparse_sizes=(n, n)).t()
        row, col, _ = adj_t.coo()
        values_t = ppr.lookup(col, row)
        for mode in ('on', 'off'):
            with use_fused(mode):
                assert torch.allclose(layer(x, adj_t, values_t), expected,
                                      **TOL)
    with pytest.raises(ValueError, match='self-loops'):
        _layer(kind, 4, 3)(x, edge_index, values)


@pytest.mark.parametrize('kind', LAYERS)
def test_bipartite_needs_given_ppr(kind):
    n_src, n_dst = 9, 6
    edge_index = random_graph(n_src, n_dst, 25, seed=10, duplicates=False)
    x_src = _features(n_src, 4, seed=5).requires_grad_()
    x_dst = _features(n_dst, 3, seed=6).requires_grad_()
    layer = _layer(kind, (4, 3), 5, heads=2, add_self_loops=False)
    with pytest.raises(ValueError, match='bipartite'):
        layer((x_src, x_dst), edge_index)
    values = torch.rand(edge_index.size(1),
                        generator=torch.Generator().manual_seed(0),
                        dtype=F64)
    dense = torch.zeros(n_src, n_dst, dtype=F64)
    dense[edge_index[0], edge_index[1]] = values
    expected, _ = _oracle(kind, layer, x_src, x_dst, edge_index, dense)
    theirs = _grads(layer, expected, [x_src, x_dst])
    for mode in ('on', 'off'):
        with use_fused(mode):
            out = layer((x_src, x_dst), edge_index, values)
        assert out.shape == (n_dst, 10)
        assert torch.allclose(out, expected, **TOL)
        _assert_same_grads(_grads(layer, out, [x_src, x_dst]), theirs)
    # A PPR matrix covering both sides is looked up as well.
    matrix = PPRMatrix(edge_index, values, n_src)
    assert torch.allclose(layer((x_src, x_dst), edge_index, matrix),
                          expected, **TOL)
    if kind == 'pprgat':  # (x_src, None) with an explicit size
        out = layer((x_src, None), edge_index, values, size=(n_src, n_dst))
        assert out.shape == (n_dst, 10)


# ---------------------------------------------------------------------------
# Corner cases.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_empty_graph(kind, add_self_loops):
    layer = _layer(kind, 8, 4, heads=2, add_self_loops=add_self_loops)
    empty = torch.empty(2, 0, dtype=torch.long)
    assert layer(torch.randn(0, 8, dtype=F64), empty).shape == (0, 8)
    x = _features(5, 8, seed=0)
    for mode in ('on', 'off'):
        with use_fused(mode):
            out = layer(x, empty)
        ppr = 0.25 * torch.eye(5, dtype=F64)  # isolated nodes: pi_ii = alpha
        expected, _ = _oracle(kind, layer, x, x, empty, ppr)
        assert torch.allclose(out, expected, **TOL)


def test_isolated_nodes_attend_to_themselves_only():
    n = 7
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    layer = _layer('pprgat', 3, 2, heads=2)
    _, (ei, alpha) = layer(_features(n, 3, 0), edge_index,
                           return_attention_weights=True)
    for node in range(3, n):
        mask = ei[1] == node
        assert ei[0][mask].tolist() == [node]
        assert torch.allclose(alpha[mask], torch.ones(1, 2, dtype=F64))


# ---------------------------------------------------------------------------
# The attention penalty.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
def test_attention_penalty(kind):
    n = 15
    edge_index = random_graph(n, n, 45, seed=12)
    x = _features(n, 4, seed=8)
    layer = _layer(kind, 4, 3, heads=3, dropout=0.5)
    with pytest.raises(RuntimeError, match='forward'):
        layer.attention_penalty()
    # Without dropout: the coefficients of a node sum to one per head, so
    # the L1 norm is the constant H * (number of nodes with neighbours).
    layer.eval()
    _, (ei, alpha) = layer(x, edge_index, return_attention_weights=True)
    penalty = layer.attention_penalty()
    assert penalty.dim() == 0
    assert torch.allclose(penalty, alpha.abs().sum(), **TOL)
    assert torch.allclose(penalty, torch.tensor(3.0 * n, dtype=F64), **TOL)
    # With attention dropout it is the norm of what the layer returned, and
    # it has a gradient.
    layer.train()
    for mode in ('on', 'off'):
        torch.manual_seed(3)
        with use_fused(mode):
            _, (_, alpha) = layer(x, edge_index,
                                  return_attention_weights=True)
        penalty = layer.attention_penalty()
        assert torch.allclose(penalty, torch.norm(alpha, 1), **TOL)
        assert not torch.allclose(penalty, torch.tensor(3.0 * n, dtype=F64))
        grads = torch.autograd.grad(PPRGAT_L1_WEIGHT * penalty,
                                    [layer.att_ppr])
        assert grads[0].abs().max() > 0
    # The remembered coefficients are not copied or pickled along.
    clone = copy.deepcopy(layer)
    assert clone._penalty_alpha is None and layer._penalty_alpha is not None
    restored = pickle.loads(pickle.dumps(layer.eval()))
    assert restored._penalty_alpha is None
    assert torch.allclose(restored(x, edge_index), layer(x, edge_index),
                          **TOL)


# ---------------------------------------------------------------------------
# Parameters and PyG state dicts.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind,pyg_cls', [('pprgat', pyg_nn.GATConv),
                                          ('pprgatv2', pyg_nn.GATv2Conv)])
def test_pyg_state_dict_loads_without_att_ppr(kind, pyg_cls):
    torch.manual_seed(0)
    theirs = pyg_cls(5, 4, heads=2).double().eval()
    ours = LAYERS[kind][0](5, 4, heads=2).double().eval()
    result = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert result.missing_keys == ['att_ppr'] and not result.unexpected_keys
    assert ours.att_ppr.shape == (1, 2, 1)
    n = 11
    edge_index = random_graph(n, n, 36, seed=8)
    x = _features(n, 5, seed=9)
    with torch.no_grad():
        ours.att_ppr.zero_()  # no PPR term: exactly the base layer
    assert torch.allclose(ours(x, edge_index), theirs(x, edge_index), **TOL)


def test_defaults_repr_and_reset():
    layer = PPRGATConv(8, 4, heads=3)
    assert (layer.ppr_alpha, layer.ppr_eps, layer.ppr_topk,
            layer.ppr_normalization) == (0.25, 1e-4, 32, 'sym')
    assert str(layer) == 'PPRGATConv(8, 4, heads=3)'
    assert str(PPRGATv2Conv(8, 4)) == 'PPRGATv2Conv(8, 4, heads=1)'
    before = layer.att_ppr.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.att_ppr)
    assert layer.att_ppr.abs().max() > 0


def test_ppr_is_computed_once_per_graph(monkeypatch):
    calls = []
    compute = ppr_module._compute

    def counting(*args, **kwargs):
        calls.append(1)
        return compute(*args, **kwargs)

    monkeypatch.setattr(ppr_module, '_compute', counting)
    clear_ppr_cache()
    n = 12
    edge_index = random_graph(n, n, 30, seed=13)
    x = _features(n, 4, seed=1)
    first, second = _layer('pprgat', 4, 3), _layer('pprgatv2', 4, 3)
    a = first(x, edge_index)
    second(x, edge_index)
    first(x, edge_index)
    assert len(calls) == 1
    edge_index[0, 0] = (int(edge_index[0, 0]) + 1) % n  # edited in place
    b = first(x, edge_index)
    assert len(calls) == 2 and not torch.allclose(a, b)
    clear_ppr_cache()


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', LAYERS)
def test_bad_input_raises(kind):
    layer = _layer(kind, 4, 2)
    x = _features(5, 4, 0)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='out of range'):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='features per node'):
        layer(_features(5, 3, 0), edge_index)
    with pytest.raises(ValueError, match='nodes'):  # PPR of another graph
        layer(x, edge_index, approximate_ppr(edge_index, 9))
    with pytest.raises(ValueError, match='one value per edge'):
        layer(x, edge_index, torch.rand(5, 5, dtype=F64))
    plain = _layer(kind, 4, 2, add_self_loops=False)
    with pytest.raises(ValueError, match='3 values but the graph has 2'):
        plain(x, edge_index, torch.rand(3, dtype=F64))
    with pytest.raises(ValueError, match='floating-point'):
        plain(x, edge_index, torch.ones(2, dtype=torch.long))
    with pytest.raises(TypeError):
        layer(x, edge_index, [0.1, 0.2])
    for bad in (dict(ppr_alpha=1.5), dict(ppr_eps=-1.0), dict(ppr_topk=0),
                dict(ppr_normalization='none')):
        with pytest.raises(ValueError):
            LAYERS[kind][0](4, 2, **bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('kind', LAYERS)
def test_cuda_matches_cpu(kind):  # pragma: no cover - GPU only
    n = 12
    edge_index = random_graph(n, n, 40, seed=1)
    layer = _layer(kind, 5, 4, heads=2)
    x = _features(n, 5, 0)
    expected = layer(x, edge_index)
    cpu_ppr = approximate_ppr(edge_index, n, cache=False)
    gpu_ppr = approximate_ppr(edge_index.cuda(), n, cache=False)
    assert torch.equal(gpu_ppr.index.cpu(), cpu_ppr.index)
    assert torch.allclose(gpu_ppr.value.cpu(), cpu_ppr.value, atol=1e-6)
    layer = layer.cuda()
    for mode in ('auto', 'on'):
        with use_fused(mode):
            out = layer(x.cuda(), edge_index.cuda(), cpu_ppr.to('cuda'))
        assert torch.allclose(out.cpu(), expected, atol=1e-6)
    with pytest.raises(ValueError, match='on'):
        layer(x.cuda(), edge_index.cuda(), cpu_ppr)
