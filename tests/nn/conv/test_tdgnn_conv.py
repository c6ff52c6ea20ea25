"""TDGNNConv, the tree decomposition op and the TDGNN network: the dense
float64 oracle (values, per-layer pairs and weights, gradients) on graphs
with isolated nodes, self-loops and repeated edges, a hand-computed path
graph, fused against reference path, every adjacency layout, caching,
corner cases, bad input and the registered models."""
import math

import pytest
import torch
from reference import random_graph
from reference.dense_tdgnn import (
    dense_adjacency,
    dense_distances,
    dense_layer_matrices,
    dense_tdgnn,
)
from reference.gradients import assert_same_gradients
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

import gat_zoo
from gat_zoo.nn.conv import TDGNNConv
from gat_zoo.nn.models import TDGNN
from gat_zoo.ops import use_fused
from gat_zoo.ops.tree_decomposition import (
    clear_tree_decomposition_cache,
    tree_decomposition,
)

TOL = dict(atol=1e-10, rtol=0)
F64 = torch.float64
ISOLATED = (4, 9)


def _graph(n=13, num_edges=40, seed=0, undirected=False):
    """Random multigraph with self-loops, repeated edges and the fully
    isolated nodes ``ISOLATED``."""
    ei = random_graph(n, n, num_edges, seed=seed, isolated=ISOLATED)
    keep = ~torch.isin(ei[0], torch.tensor(ISOLATED))
    ei = ei[:, keep]
    if undirected:
        ei = torch.cat([ei, ei.flip(0)], dim=1)
    assert (ei[0] == ei[1]).any()  # a self-loop
    return ei


def _features(n, f=5, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=F64)


def _conv(aggregation, layers=(1, 2, 3), num_hops=4, seed=0, **kwargs):
    conv = TDGNNConv(num_hops=num_hops, layers=layers,
                     aggregation=aggregation, **kwargs).double()
    if conv.gamma is not None:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # distinct layer weights
            conv.gamma.copy_(torch.rand(conv.gamma.shape, generator=gen,
                                        dtype=F64) + 0.5)
    return conv


def _oracle(conv, x, edge_index):
    return dense_tdgnn(x, edge_index, conv.num_hops, conv.layers,
                       gamma=conv.gamma, include_self=conv.include_self,
                       reverse_dependency=conv.reverse_dependency)


# ---------------------------------------------------------------------------
# Dense oracle.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('aggregation', ['sum', 'weighted'])
@pytest.mark.parametrize('undirected', [False, True])
@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('reverse', [False, True])
@pytest.mark.parametrize('layers,num_hops', [((1, 2, 3), 4), ((2, 4), 5),
                                             ((1,), 1), ((3, 1), 3)])
def test_matches_dense_oracle(aggregation, undirected, fused, reverse,
                              layers, num_hops):
    clear_tree_decomposition_cache()
    n = 13
    edge_index = _graph(n, seed=len(layers) + num_hops,
                        undirected=undirected)
    x = _features(n).requires_grad_()
    conv = _conv(aggregation, layers, num_hops, reverse_dependency=reverse)
    with use_fused(fused):
        out = conv(x, edge_index)
    expected = _oracle(conv, x, edge_index)
    assert out.shape == (n, 5)
    assert torch.allclose(out, expected, **TOL)
    assert_same_gradients(conv, out, expected, [x])


@pytest.mark.parametrize('include_self', [True, False])
def test_include_self(include_self):
    n = 11
    edge_index = _graph(n, seed=3)
    x = _features(n).requires_grad_()
    conv = _conv('weighted', (1, 2), 3, include_self=include_self)
    assert conv.gamma.numel() == 2 + include_self
    out = conv(x, edge_index)
    expected = _oracle(conv, x, edge_index)
    assert torch.allclose(out, expected, **TOL)
    assert_same_gradients(conv, out, expected, [x])


def test_decomposition_matches_oracle_layers():
    """Per-layer pairs (source, target) and weights, against the
    Floyd–Warshall layers and the dense power sums."""
    n, num_hops, layers = 13, 5, (1, 2, 3, 4, 5)
    edge_index = _graph(n, seed=5)
    tree = tree_decomposition(edge_index, n, num_hops, layers, dtype=F64,
                              cache=False)
    mats = dense_layer_matrices(edge_index, n, num_hops, layers)
    covered = torch.zeros(n, n, dtype=torch.bool)
    for layer, ei, w in zip(tree.layers, tree.edge_index, tree.weight):
        dense = torch.zeros(n, n, dtype=F64)
        dense[ei[1], ei[0]] = w
        assert torch.allclose(dense, mats[layer], **TOL)
        # Exactly the members: every listed pair has a positive weight and
        # every oracle member is listed.
        assert (w > 0).all()
        assert int((mats[layer] > 0).sum()) == ei.size(1)
        assert not covered[ei[1], ei[0]].any()  # each pair in one layer
        covered[ei[1], ei[0]] = True
    # Pairs within K hops (and the nodes themselves) are all covered.
    dist = dense_distances(dense_adjacency(edge_index, n))
    assert torch.equal(covered, dist <= num_hops)


@pytest.mark.parametrize('undirected', [False, True])
def test_reverse_dependency(undirected):
    """The official code's reading: the same pairs, each weighed by the
    transposed power sum; identical to the default on undirected graphs,
    and zero for a pair of a directed path that cannot be walked back."""
    n, num_hops, layers = 13, 4, (1, 2, 3, 4)
    edge_index = _graph(n, seed=7, undirected=undirected)
    a = tree_decomposition(edge_index, n, num_hops, layers, dtype=F64,
                           cache=False)
    b = tree_decomposition(edge_index, n, num_hops, layers, dtype=F64,
                           cache=False, reverse_dependency=True)
    mats = dense_layer_matrices(edge_index, n, num_hops, layers,
                                reverse_dependency=True)
    for layer, ea, eb, wa, wb in zip(layers, a.edge_index, b.edge_index,
                                     a.weight, b.weight):
        assert torch.equal(ea, eb)
        dense = torch.zeros(n, n, dtype=F64)
        dense[eb[1], eb[0]] = wb
        assert torch.allclose(dense, mats[layer], **TOL)
        if undirected:
            assert torch.allclose(wa, wb, **TOL)
    path = torch.tensor([[0, 1], [1, 2]])
    tree = tree_decomposition(path, 3, 2, (1, 2), cache=False,
                              reverse_dependency=True)
    assert tree.edge_index[1].t().tolist() == [[0, 2]]
    assert tree.weight[1].tolist() == [0.0]


def test_block_size_does_not_change_the_result():
    n = 13
    edge_index = _graph(n, seed=6, undirected=True)
    a = tree_decomposition(edge_index, n, 4, (1, 2, 3), dtype=F64,
                           cache=False)
    b = tree_decomposition(edge_index, n, 4, (1, 2, 3), dtype=F64,
                           cache=False, block_elements=3 * n)
    for ea, eb, wa, wb in zip(a.edge_index, b.edge_index, a.weight,
                              b.weight):
        assert torch.equal(ea, eb)
        assert torch.allclose(wa, wb, **TOL)


# ---------------------------------------------------------------------------
# A hand-computed case.
# ---------------------------------------------------------------------------
def test_path_graph_by_hand():
    r"""Undirected path 0 - 1 - 2, K = 2: degrees with loops (2, 3, 2),

    Â = [[1/2, 1/√6, 0], [1/√6, 1/3, 1/√6], [0, 1/√6, 1/2]],
    Â²[0, 0] = 1/4 + 1/6 = 5/12, Â²[0, 1] = 5/(6√6), Â²[0, 2] = 1/6,
    Â²[1, 1] = 1/6 + 1/9 + 1/6 = 4/9.

    Node 0: layer 1 = {0, 1} with w(0,0) = 1/2 + 5/12 = 11/12 and
    w(0,1) = 1/√6 + 5/(6√6) = 11/(6√6); layer 2 = {2} with w = 1/6.
    Node 1: layer 1 = {0, 1, 2}, w(1,1) = 1/3 + 4/9 = 7/9; layer 2 empty.
    """
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    tree = tree_decomposition(edge_index, 3, 2, (1, 2), dtype=F64,
                              cache=False)
    s6 = math.sqrt(6.0)
    w01 = 11 / (6 * s6)
    layer1 = {(j, i): w for (j, i), w in zip(
        tree.edge_index[0].t().tolist(), tree.weight[0].tolist())}
    expected1 = {(0, 0): 11 / 12, (1, 0): w01, (0, 1): w01,
                 (1, 1): 7 / 9, (2, 1): w01, (1, 2): w01, (2, 2): 11 / 12}
    assert layer1.keys() == expected1.keys()
    for key, value in expected1.items():
        assert layer1[key] == pytest.approx(value, abs=1e-12)
    assert tree.edge_index[1].t().tolist() == [[2, 0], [0, 2]]
    assert tree.weight[1].tolist() == pytest.approx([1 / 6, 1 / 6],
                                                    abs=1e-12)

    # TDGNN-s on one-hot features reads the weights back: column j of the
    # output is Z_j's weight at every node, plus 1 on the diagonal.
    conv = TDGNNConv(num_hops=2, layers=(1, 2)).double()
    out = conv(torch.eye(3, dtype=F64), edge_index)
    expected = torch.tensor([[1 + 11 / 12, w01, 1 / 6],
                             [w01, 1 + 7 / 9, w01],
                             [1 / 6, w01, 1 + 11 / 12]], dtype=F64)
    assert torch.allclose(out, expected, **TOL)


def test_directed_path_follows_edge_direction():
    """0 -> 1 -> 2: node 2 hears from 0 at distance 2, node 0 from nobody.
    """
    edge_index = torch.tensor([[0, 1], [1, 2]])
    tree = tree_decomposition(edge_index, 3, 3, (1, 2, 3), cache=False)
    assert sorted(map(tuple, tree.edge_index[1].t().tolist())) == [(0, 2)]
    assert tree.edge_index[2].numel() == 0
    layer1 = sorted(map(tuple, tree.edge_index[0].t().tolist()))
    assert layer1 == [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)]


# ---------------------------------------------------------------------------
# Adjacency layouts, corner cases, caching.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('aggregation', ['sum', 'weighted'])
def test_adjacency_layouts_agree(aggregation):
    n = 12
    edge_index = _graph(n, seed=8)
    x = _features(n)
    conv = _conv(aggregation, (1, 2), 3)
    expected = conv(x, edge_index)
    unique = torch.unique(edge_index[1] * n + edge_index[0])
    coalesced = torch.stack([unique % n, unique // n])
    layouts = [EdgeIndex(edge_index, sparse_size=(n, n)),
               edge_index.int(),
               torch.sparse_coo_tensor(coalesced.flip(0),
                                       torch.ones(coalesced.size(1)),
                                       (n, n))]
    if WITH_TORCH_SPARSE:
        layouts.append(SparseTensor(row=edge_index[1], col=edge_index[0],
                                    sparse_sizes=(n, n)))
    for adj in layouts:
        for fused in ('on', 'off'):
            with use_fused(fused):
                assert torch.allclose(conv(x, adj), expected, **TOL), \
                    type(adj)


@pytest.mark.parametrize('aggregation', ['sum', 'weighted'])
@pytest.mark.parametrize('fused', ['on', 'off'])
def test_graph_without_edges(aggregation, fused):
    """Every node is alone: layer 1 holds the node itself with weight
    sum_{k=1}^K 1 = K, the other layers are empty."""
    n, num_hops = 5, 4
    x = _features(n).requires_grad_()
    conv = _conv(aggregation, (1, 3), num_hops)
    with use_fused(fused):
        out = conv(x, torch.empty(2, 0, dtype=torch.long))
    g = conv.gamma if conv.gamma is not None else torch.ones(3, dtype=F64)
    assert torch.allclose(out, (g[0] + g[1] * num_hops) * x, **TOL)
    out.sum().backward()
    assert x.grad is not None
    # Only layers without members: just the layer-0 term.
    conv = _conv(aggregation, (2, 3), num_hops)
    with use_fused(fused):
        out = conv(x.detach(), torch.empty(2, 0, dtype=torch.long))
    g0 = conv.gamma[0] if conv.gamma is not None else 1.0
    assert torch.allclose(out, g0 * x.detach(), **TOL)


def test_decomposition_is_cached_and_invalidated():
    clear_tree_decomposition_cache()
    n = 10
    edge_index = _graph(n, seed=9)
    a = tree_decomposition(edge_index, n, 3, (1, 2))
    assert tree_decomposition(edge_index, n, 3, (1, 2)) is a
    assert tree_decomposition(edge_index, n, 3, (1, 3)) is not a
    edge_index[0, 0] = (edge_index[0, 0] + 1) % n  # in-place edit
    assert tree_decomposition(edge_index, n, 3, (1, 2)) is not a
    # The layer reuses its operator while the graph object stays the same.
    conv = TDGNNConv(num_hops=3, layers=(1, 2))
    x = torch.randn(n, 4)
    conv(x, edge_index)
    first = conv._graphs['last']
    conv(x, edge_index)
    assert conv._graphs['last'] is first


def test_float32_matches_float64():
    n = 13
    edge_index = _graph(n, seed=10, undirected=True)
    x = _features(n)
    conv = _conv('weighted', (1, 2, 3), 4)
    expected = conv(x, edge_index)
    out = conv.float()(x.float(), edge_index)
    assert out.dtype == torch.float32
    assert torch.allclose(out.double(), expected, atol=1e-5)


def test_return_attention_weights():
    n = 12
    edge_index = _graph(n, seed=11)
    x = _features(n)
    for aggregation in ('sum', 'weighted'):
        conv = _conv(aggregation, (2, 1), 3)
        out, info = conv(x, edge_index, return_attention_weights=True)
        assert torch.allclose(out, conv(x, edge_index), **TOL)
        assert info['layers'] == (0, 2, 1)
        if aggregation == 'weighted':
            assert info['layer_weights'] is conv.gamma
        else:
            assert torch.equal(info['layer_weights'], torch.ones(3,
                                                                 dtype=F64))
        mats = dense_layer_matrices(edge_index, n, 3, (2, 1))
        assert len(info['tree']) == 2
        for layer, (ei, w) in zip((2, 1), info['tree']):
            dense = torch.zeros(n, n, dtype=F64)
            dense[ei[1], ei[0]] = w
            assert torch.allclose(dense, mats[layer], **TOL)


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
def test_bad_input_raises():
    n = 6
    x = torch.randn(n, 3)
    conv = TDGNNConv(num_hops=3, layers=(1, 2))
    good = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='out of range'):
        conv(x, torch.tensor([[0, 6], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        conv(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='integers'):
        conv(x, good.float())
    with pytest.raises(ValueError, match=r'shape \[2, num_edges\]'):
        conv(x, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="'x'"):
        conv(torch.randn(n), good)
    with pytest.raises(ValueError, match="'x'"):
        conv(torch.ones(n, 3, dtype=torch.long), good)
    with pytest.raises(ValueError, match='pair'):
        conv((x, x), good)
    with pytest.raises(ValueError, match='shape'):
        conv(x, torch.sparse_coo_tensor(good, torch.ones(2), (n + 1, n)))
    if WITH_TORCH_SPARSE:
        with pytest.raises(ValueError, match='sizes'):
            conv(x, SparseTensor(row=good[1], col=good[0],
                                 sparse_sizes=(n, n + 2)))
    with pytest.raises(ValueError, match='layer'):
        TDGNNConv(num_hops=3, layers=(0, 1))
    with pytest.raises(ValueError, match='layer'):
        TDGNNConv(num_hops=3, layers=(4,))
    with pytest.raises(ValueError, match='repeated'):
        TDGNNConv(num_hops=3, layers=(1, 1))
    with pytest.raises(ValueError, match='at least one'):
        TDGNNConv(num_hops=3, layers=())
    with pytest.raises(ValueError, match='num_hops'):
        TDGNNConv(num_hops=0, layers=(1,))
    with pytest.raises(ValueError, match='aggregation'):
        TDGNNConv(aggregation='mean')
    with pytest.raises(ValueError, match='group_weight_decay'):
        TDGNN(3, 2, group_weight_decay=(0.1,))
    with pytest.raises(ValueError, match='dropout'):
        TDGNN(3, 2, dropout=1.0)


def test_repr_and_reset():
    conv = TDGNNConv(num_hops=10, layers=(2, 3), aggregation='weighted')
    assert repr(conv) == ("TDGNNConv(num_hops=10, layers=[2, 3], "
                          "aggregation='weighted')")
    with torch.no_grad():
        conv.gamma.mul_(3.0)
    conv.reset_parameters()
    assert torch.equal(conv.gamma, torch.ones(3))
    assert 'TDGNN(' in repr(TDGNN(4, 2))


# ---------------------------------------------------------------------------
# The network.
# ---------------------------------------------------------------------------
def test_model_matches_mlp_then_oracle():
    n = 12
    edge_index = _graph(n, seed=12, undirected=True)
    x = _features(n, 7)
    torch.manual_seed(0)
    model = TDGNN(7, 3, hidden_channels=8, num_hops=4, layers=(1, 3),
                  aggregation='weighted').double().eval()
    z = model.lin2(torch.relu(model.lin1(x)))
    expected = dense_tdgnn(z, edge_index, 4, (1, 3), model.prop.gamma)
    out = model(x, edge_index)
    assert torch.allclose(out, expected, **TOL)
    # Sparse CSR features give the same logits.
    out_sparse = model(x.to_sparse_csr(), edge_index)
    assert torch.allclose(out_sparse, expected, **TOL)


def test_group_weight_decay_equals_adam_parameter_groups():
    """The auxiliary L2 loss with trainer weight decay 0 takes the same Adam
    steps as the official code's three parameter groups."""
    n = 10
    edge_index = _graph(n, seed=13, undirected=True)
    x, y = _features(n, 6), torch.arange(n) % 3
    wds = (0.01, 0.03, 0.2)
    torch.manual_seed(0)
    a = TDGNN(6, 3, hidden_channels=5, num_hops=3, layers=(1, 2),
              aggregation='weighted', dropout=0.0, hidden_dropout=0.0,
              group_weight_decay=wds).double()
    b = TDGNN(6, 3, hidden_channels=5, num_hops=3, layers=(1, 2),
              aggregation='weighted', dropout=0.0,
              hidden_dropout=0.0).double()
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.Adam(a.parameters(), lr=0.05, weight_decay=0.0)
    opt_b = torch.optim.Adam([
        dict(params=b.lin1.parameters(), weight_decay=wds[0]),
        dict(params=b.lin2.parameters(), weight_decay=wds[1]),
        dict(params=b.prop.parameters(), weight_decay=wds[2])], lr=0.05)
    ce = torch.nn.functional.cross_entropy
    for _ in range(5):
        opt_a.zero_grad()
        (ce(a(x, edge_index), y) + a.auxiliary_loss()).backward()
        opt_a.step()
        opt_b.zero_grad()
        ce(b(x, edge_index), y).backward()
        opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-12)
    assert b.auxiliary_loss() is None


@pytest.mark.parametrize('name', ['tdgnn_s', 'tdgnn_w'])
def test_registered_models(name):
    entry = gat_zoo.model_entry(name)
    assert entry.family == 'multi-level' and entry.conv is TDGNNConv
    for dataset in ('Cora', 'CiteSeer', 'cornell', 'texas', 'wisconsin',
                    'film'):
        config = gat_zoo.paper_config(name, dataset)
        assert config['from_paper']
        model = gat_zoo.create_model(name, 6, 3, **config['model'])
        expected = 'sum' if name == 'tdgnn_s' else 'weighted'
        assert model.prop.aggregation == expected
        assert config['train']['selection'] == 'loss'
        # The directed heterophily graphs use the official code's reading.
        assert model.prop.reverse_dependency == (dataset not in (
            'Cora', 'CiteSeer'))
    assert gat_zoo.paper_result(name, 'cora')['mean'] in (85.35, 84.42)
    assert gat_zoo.paper_result(name, 'cornell:split=0.6/0.2') is not None
