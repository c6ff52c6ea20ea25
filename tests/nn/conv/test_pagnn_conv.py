"""PaGNNConv and the PaGNN pair scorer against their dense float64 oracles
(values and gradients), adjacency layouts, corner cases and bad input.

The models are imported inside the tests: importing
``gat_zoo.nn.models.pagnn`` registers ``task='link'`` models, which the
node-classification registry sweep must not see at collection time."""
import pytest
import torch
from reference import random_graph
from reference.dense_pagnn import (
    dense_pagnn_conv,
    dense_pagnn_logits,
    pagnn_conv_params,
    pagnn_model_params,
)
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.pagnn_conv import PaGNNConv
from gat_zoo.ops import available_backends, use_backend

TOL = dict(atol=1e-10, rtol=0)


def _features(n, f, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=torch.float64)


def _conv(in_channels, out_channels, seed=0, **kwargs):
    torch.manual_seed(seed)
    conv = PaGNNConv(in_channels, out_channels, **kwargs).double()
    with torch.no_grad():  # a non-zero bias, so that it is checked too
        if conv.bias is not None:
            conv.bias.normal_()
    return conv


def _frontier(n, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=gen) < 0.4


def _grads(out, ref, inputs):
    weight = torch.randn(out.shape, dtype=out.dtype,
                         generator=torch.Generator().manual_seed(5))
    a = torch.autograd.grad((out * weight).sum(), inputs, allow_unused=True)
    b = torch.autograd.grad((ref * weight).sum(), inputs, allow_unused=True)
    for ga, gb in zip(a, b):
        if ga is None or gb is None:
            assert ga is None and gb is None
        else:
            assert torch.allclose(ga, gb, **TOL)


# ---------------------------------------------------------------------------
# The layer.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('backend', available_backends())
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('with_frontier', [False, True])
def test_conv_matches_dense_oracle(backend, heads, concat, add_self_loops,
                                   with_frontier):
    n = 13
    # random_graph: isolated targets, doubled self-loops, a doubled edge.
    edge_index = random_graph(n, n, 45, seed=heads)
    x = _features(n, 5, seed=1).requires_grad_()
    conv = _conv(5, 4, heads=heads, concat=concat,
                 add_self_loops=add_self_loops)
    frontier = _frontier(n, 2) if with_frontier else None
    with use_backend(backend):
        out, (ei, alpha) = conv(x, edge_index, frontier=frontier,
                                return_attention_weights=True)
    ref, dense_alpha = dense_pagnn_conv(x, x, edge_index, frontier=frontier,
                                        **pagnn_conv_params(conv))
    assert out.shape == (n, heads * 4 if concat else 4)
    assert torch.allclose(out, ref, **TOL)
    assert torch.allclose(alpha, dense_alpha[ei[1], ei[0]], **TOL)
    if frontier is not None:  # only frontier edges and self terms took part
        assert bool((frontier[ei[0]] | (ei[0] == ei[1])).all())
    _grads(out, ref, [x] + list(conv.parameters()))


def test_conv_bipartite_matches_dense_oracle():
    edge_index = random_graph(9, 6, 25, seed=3)
    x_src = _features(9, 4, seed=4).requires_grad_()
    x_dst = _features(6, 3, seed=5).requires_grad_()
    conv = _conv((4, 3), 5, heads=2)
    frontier = _frontier(9, 6)
    out = conv((x_src, x_dst), edge_index, frontier=frontier)
    ref, _ = dense_pagnn_conv(x_src, x_dst, edge_index, frontier=frontier,
                              **pagnn_conv_params(conv))
    assert out.shape == (6, 10)
    assert torch.allclose(out, ref, **TOL)
    _grads(out, ref, [x_src, x_dst] + list(conv.parameters()))


def test_conv_attention_is_a_distribution_per_target():
    n = 10
    edge_index = random_graph(n, n, 30, seed=7)
    conv = _conv(3, 2, heads=2)
    _, (ei, alpha) = conv(_features(n, 3, 8), edge_index,
                          return_attention_weights=True)
    sums = torch.zeros(n, 2, dtype=alpha.dtype).index_add_(0, ei[1], alpha)
    assert torch.allclose(sums, torch.ones_like(sums), **TOL)


@pytest.mark.skipif(not WITH_TORCH_SPARSE, reason='torch_sparse missing')
def test_conv_adjacency_layouts_agree():
    n = 10
    edge_index = random_graph(n, n, 30, seed=4, duplicates=False)
    x = _features(n, 4, seed=2)
    conv = _conv(4, 3, heads=2)
    frontier = _frontier(n, 9)
    expected = conv(x, edge_index, frontier=frontier)
    adj = SparseTensor.from_edge_index(edge_index, sparse_sizes=(n, n)).t()
    layouts = [
        adj,
        adj.to_torch_sparse_coo_tensor(),
        EdgeIndex(edge_index, sparse_size=(n, n)),
        edge_index.int(),
    ]
    for layout in layouts:
        out = conv(x, layout, frontier=frontier)
        assert torch.allclose(out, expected, **TOL), type(layout)


def test_conv_empty_graph_and_empty_frontier():
    n = 6
    x = _features(n, 4, seed=3)
    empty = torch.empty(2, 0, dtype=torch.long)
    conv = _conv(4, 3)
    # Only the self term: x'_i = tanh(Theta x_i + b).
    expected = torch.tanh(x @ conv.lin.weight.t() + conv.bias)
    assert torch.allclose(conv(x, empty), expected, **TOL)
    edge_index = random_graph(n, n, 15, seed=1)
    none = torch.zeros(n, dtype=torch.bool)
    assert torch.allclose(conv(x, edge_index, frontier=none), expected, **TOL)
    # Without self terms nothing arrives: tanh(b).
    bare = _conv(4, 3, add_self_loops=False)
    assert torch.allclose(bare(x, empty),
                          torch.tanh(bare.bias).expand(n, 3), **TOL)


def test_conv_bad_input():
    conv = PaGNNConv(4, 3)
    x = torch.randn(5, 4)
    good = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='out of range|num'):
        conv(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        conv(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='integers'):
        conv(x, good.float())
    with pytest.raises(ValueError, match='shape'):
        conv(x, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError):
        conv(torch.randn(5, 6), good)
    with pytest.raises(ValueError, match='frontier'):
        conv(x, good, frontier=torch.ones(5))
    with pytest.raises(ValueError, match='frontier'):
        conv(x, good, frontier=torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match='activation'):
        PaGNNConv(4, 3, act='relu')
    with pytest.raises(ValueError, match='positive'):
        PaGNNConv(4, 3, heads=0)


def test_conv_repr_and_reset():
    conv = PaGNNConv(8, 4, heads=2)
    assert str(conv) == 'PaGNNConv(8, 4, heads=2)'
    assert str(PaGNNConv((8, 6), 4)) == 'PaGNNConv((8, 6), 4, heads=1)'
    before = conv.att_src.detach().clone()
    conv.reset_parameters()
    assert not torch.equal(before, conv.att_src)


# ---------------------------------------------------------------------------
# The pair scorer (broadcast + aggregation) against the whole-graph oracle.
# ---------------------------------------------------------------------------
def _pairs(n, isolated):
    gen = torch.Generator().manual_seed(3)
    pairs = torch.randint(n, (2, 9), generator=gen)
    extra = torch.tensor([[isolated, 0, 2, 4], [1, isolated, 2, 4]])
    return torch.cat([pairs, extra], 1)  # isolated ends and s == t


@pytest.mark.parametrize('num_hops,decoder', [(1, 'concat'), (2, 'concat'),
                                              (3, 'concat'),
                                              (2, 'concat_hadamard')])
@pytest.mark.parametrize('exclude', [True, False])
def test_pagnn_matches_dense_oracle(num_hops, decoder, exclude):
    from gat_zoo.nn.models.pagnn import PaGNN

    n = 12
    edge_index = random_graph(n, n, 40, seed=num_hops)  # directed multigraph
    isolated = n - 1  # random_graph's isolated target; also give it no out-
    edge_index = edge_index[:, edge_index[0] != isolated]  # edges
    x = _features(n, 5, seed=2).requires_grad_()
    torch.manual_seed(num_hops)
    model = PaGNN(5, 4, num_hops=num_hops, heads=2, decoder=decoder,
                  exclude_target_edge=exclude).double().eval()
    pairs = _pairs(n, isolated)
    # training positives: pairs that are edges of the graph
    pairs = torch.cat([pairs, edge_index[:, :4]], 1)
    out = model(x, edge_index, pairs)
    ref = dense_pagnn_logits(x, edge_index, pairs,
                             params=pagnn_model_params(model))
    assert out.shape == (pairs.size(1), )
    assert torch.allclose(out, ref, **TOL)
    _grads(out, ref, [x] + list(model.parameters()))


def test_pagnn_batching_and_cache_do_not_change_scores():
    from gat_zoo.nn.models.pagnn import PaGNN

    n = 15
    edge_index = random_graph(n, n, 50, seed=5)
    x = _features(n, 3, seed=6)
    torch.manual_seed(0)
    model = PaGNN(3, 4).double().eval()
    # repeated sources share one broadcast (the cache)
    pairs = torch.tensor([[0, 0, 0, 3, 3, 7], [1, 5, 9, 0, 3, 2]])
    together = model(x, edge_index, pairs)
    alone = torch.cat([model(x, edge_index, pairs[:, i:i + 1])
                       for i in range(pairs.size(1))])
    assert torch.allclose(together, alone, **TOL)
    assert model(x, edge_index, pairs[:, :0]).shape == (0, )


def test_pagnn_target_edge_is_removed_for_its_pair_only():
    from gat_zoo.nn.models.pagnn import PaGNN

    x = _features(6, 3, seed=1)
    ring = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    ring = torch.cat([ring, ring.flip(0)], 1)
    torch.manual_seed(0)
    model = PaGNN(3, 4, num_hops=1).double().eval()
    without = ring[:, ~(((ring[0] == 0) & (ring[1] == 1)) |
                        ((ring[0] == 1) & (ring[1] == 0)))]
    pair = torch.tensor([[0], [1]])
    assert torch.allclose(model(x, ring, pair), model(x, without, pair),
                          **TOL)
    model.exclude_target_edge = False
    assert not torch.allclose(model(x, ring, pair), model(x, without, pair))


def test_pagnn_sparse_adjacency_and_bad_input():
    from gat_zoo.nn.models.pagnn import PaGNN

    n = 8
    edge_index = random_graph(n, n, 20, seed=2, duplicates=False)
    x = torch.randn(n, 3)
    model = PaGNN(3, 4).eval()
    pairs = torch.tensor([[0, 1], [2, 3]])
    expected = model(x, edge_index, pairs)
    if WITH_TORCH_SPARSE:
        adj = SparseTensor.from_edge_index(edge_index,
                                           sparse_sizes=(n, n)).t()
        assert torch.allclose(model(x, adj, pairs), expected, atol=1e-6)
    assert torch.allclose(
        model(x, EdgeIndex(edge_index, sparse_size=(n, n)), pairs), expected,
        atol=1e-6)
    with pytest.raises(ValueError, match='pairs'):
        model(x, edge_index, torch.tensor([[0, 9], [1, 2]]))
    with pytest.raises(ValueError, match='pairs'):
        model(x, edge_index, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match='pairs'):
        model(x, edge_index, pairs.float())
    with pytest.raises(ValueError, match='x'):
        model(torch.randn(n, 5), edge_index, pairs)
    with pytest.raises(ValueError, match='out of range|num'):
        model(x, torch.tensor([[0, 20], [1, 2]]), pairs)
    with pytest.raises(ValueError, match='num_hops'):
        PaGNN(3, 4, num_hops=0)
    with pytest.raises(ValueError, match='decoder'):
        PaGNN(3, 4, decoder='dot')


def test_pagnn_gradients_reach_every_parameter_in_training():
    from gat_zoo.nn.models.pagnn import PaGNN

    n = 10
    edge_index = random_graph(n, n, 40, seed=8)
    model = PaGNN(4, 6, num_hops=2, dropout=0.1, attention_dropout=0.1)
    model.train()
    out = model(torch.randn(n, 4), edge_index,
                torch.tensor([[0, 1, 2, 4], [3, 4, 5, 0]]))
    assert torch.isfinite(out).all()
    out.sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
