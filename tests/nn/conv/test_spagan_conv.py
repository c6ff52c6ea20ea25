"""SPAGANConv: the dense float64 oracle (values, path and length attention,
gradients) on shortest paths of random multigraphs, every adjacency layout
as one-hop paths, corner cases and bad input."""
import pytest
import torch
from reference import random_graph
from reference.dense_spagan import dense_spagan, spagan_params_from_module
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.spagan_conv import SPAGANAttention, SPAGANConv
from gat_zoo.ops.paths import PathSet, shortest_paths

TOL = dict(atol=1e-9, rtol=0)
F64 = torch.float64


def _features(n, f, seed):
    return torch.randn(n, f, generator=torch.Generator().manual_seed(seed),
                       dtype=F64)


def _layer(*args, seed=0, **kwargs):
    torch.manual_seed(seed)
    return SPAGANConv(*args, **kwargs).double()


def _paths(n, seed, max_hops=3):
    # Isolated nodes, self-loops and duplicate edges (random_graph's
    # defaults); integer costs give ties.
    edge_index = random_graph(n, n, 3 * n, seed=seed)
    cost = torch.randint(0, 4, (edge_index.size(1), ),
                         generator=torch.Generator().manual_seed(seed)).to(F64)
    return edge_index, shortest_paths(edge_index, cost, n, max_hops,
                                      degree_ratio=1.0, cache=False)


def _grads(layer, out, inputs, seed=11):
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(
        seed), dtype=out.dtype)
    return torch.autograd.grad((out * weight).sum(),
                               inputs + list(layer.parameters()),
                               allow_unused=True, retain_graph=True)


@pytest.mark.parametrize('pooling', ['mean', 'max'])
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (2, False)])
@pytest.mark.parametrize('add_self_paths', [True, False])
def test_matches_dense_oracle(pooling, heads, concat, add_self_paths):
    n = 12
    _, paths = _paths(n, seed=heads + 7)
    assert all(k > 0 for k in paths.num_paths())  # every length is used
    x = _features(n, 5, seed=1).requires_grad_()
    layer = _layer(5, 4, heads=heads, concat=concat, max_hops=3,
                   pooling=pooling, add_self_paths=add_self_paths)
    with torch.no_grad():
        layer.bias.normal_()
    out, att = layer(x, paths=paths, return_attention_weights=True)
    expected, alphas, beta = dense_spagan(x, paths.paths,
                                          **spagan_params_from_module(layer))
    assert isinstance(att, SPAGANAttention)
    assert torch.allclose(out, expected, **TOL)
    for ours, theirs in zip(att.path_alpha, alphas):
        assert torch.allclose(ours, theirs, **TOL)
    assert torch.allclose(att.length_alpha, beta, **TOL)
    for u, v in zip(_grads(layer, out, [x]), _grads(layer, expected, [x])):
        assert (u is None) == (v is None)
        if u is not None:
            assert torch.allclose(u, v, **TOL)
    # Both attention levels are live.
    for name in ('att_path', 'att_len'):
        grad = torch.autograd.grad(out.sum() * 0 + (out ** 2).sum(),
                                   getattr(layer, name), retain_graph=True)
        assert grad[0].abs().max() > 0


def test_attention_is_normalised_per_node_and_length():
    n = 10
    _, paths = _paths(n, seed=3)
    layer = _layer(4, 3, heads=2, max_hops=3).eval()
    _, att = layer(_features(n, 4, 0), paths=paths,
                   return_attention_weights=True)
    for c, alpha in enumerate(att.path_alpha, start=1):
        owner = att.paths.paths[c - 1][:, 0]
        sums = torch.zeros(n, 2, dtype=F64).index_add_(0, owner, alpha)
        assert torch.allclose(sums, torch.ones_like(sums))  # self paths
    assert torch.allclose(att.length_alpha.sum(1), torch.ones(n, 2,
                                                               dtype=F64))


def test_edge_index_is_one_hop_paths_and_layouts_agree():
    n = 9
    edge_index = random_graph(n, n, 25, seed=4)
    x = _features(n, 3, 2)
    layer = _layer(3, 2, heads=2, max_hops=2)
    out = layer(x, edge_index)
    out_paths = layer(x, paths=PathSet.from_edge_index(edge_index, n))
    assert torch.allclose(out, out_paths, **TOL)
    assert torch.allclose(layer(x, EdgeIndex(edge_index,
                                             sparse_size=(n, n))), out,
                          **TOL)
    # With a single length the layer is GAT with its own attention vector.
    expected, _, beta = dense_spagan(
        x, [PathSet.from_edge_index(edge_index, n).paths[0]],
        **spagan_params_from_module(layer))
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(beta, torch.ones_like(beta))
    if WITH_TORCH_SPARSE:
        # PyG's transposed adjacency (row = target); duplicates kept.
        adj = SparseTensor(row=edge_index[1], col=edge_index[0],
                           sparse_sizes=(n, n))
        assert adj.nnz() == edge_index.size(1)
        assert torch.allclose(layer(x, adj), out, **TOL)


def test_isolated_nodes_without_self_paths_give_zero():
    n = 6
    edge_index = torch.tensor([[1, 2], [0, 0]])
    layer = _layer(3, 2, add_self_paths=False, bias=False)
    out = layer(_features(n, 3, 0), edge_index)
    assert torch.all(out[1:] == 0)
    assert torch.isfinite(out).all()


def test_empty_graph_and_no_nodes():
    layer = _layer(3, 2, heads=2, max_hops=2)
    x = _features(5, 3, 0).requires_grad_()
    empty = torch.empty(2, 0, dtype=torch.long)
    out = layer(x, empty)
    # Only self-paths: every node's output is its own projection.
    h = (x @ layer.lin.weight.t())
    assert torch.allclose(out, h + layer.bias, **TOL)
    out.sum().backward()
    ps = shortest_paths(empty, None, 5, 2)
    assert ps.num_paths() == [0, 0]
    assert layer(x, paths=ps).shape == (5, 4)
    none = layer(torch.empty(0, 3, dtype=F64), empty)
    assert none.shape == (0, 4)


def test_dropout_only_in_training():
    n = 8
    _, paths = _paths(n, seed=5, max_hops=2)
    layer = _layer(3, 2, heads=2, max_hops=2, dropout=0.5)
    x = _features(n, 3, 0)
    layer.eval()
    assert torch.allclose(layer(x, paths=paths), layer(x, paths=paths))
    layer.train()
    torch.manual_seed(0)
    a = layer(x, paths=paths)
    torch.manual_seed(1)
    assert not torch.allclose(a, layer(x, paths=paths))


def test_sparse_features_match_dense():
    from gat_zoo.nn.functional import sparse_features
    n = 8
    _, paths = _paths(n, seed=6, max_hops=2)
    x = torch.zeros(n, 20, dtype=F64)
    x[torch.arange(n), torch.arange(n) % 20] = 1.0
    layer = _layer(20, 3, heads=2, max_hops=2)
    assert torch.allclose(layer(sparse_features(x, max_density=0.5),
                                paths=paths), layer(x, paths=paths), **TOL)


def test_bad_input():
    layer = _layer(3, 2, max_hops=2)
    x = _features(4, 3, 0)
    with pytest.raises(ValueError, match="out of range"):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match="negative"):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match="integers"):
        layer(x, torch.tensor([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="features per node"):
        layer(_features(4, 5, 0), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="'edge_index' or 'paths'"):
        layer(x)
    with pytest.raises(ValueError, match="bipartite"):
        layer((x, x), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="3 hops"):
        layer(x, paths=shortest_paths(torch.tensor([[0, 1, 2], [1, 2, 3]]),
                                      None, 4, 3, cache=False))
    with pytest.raises(ValueError, match="6 nodes"):
        layer(x, paths=PathSet([torch.tensor([[0, 1]])], 6))
    with pytest.raises(TypeError, match="PathSet"):
        layer(x, paths=[torch.tensor([[0, 1]])])
    with pytest.raises(ValueError, match="shape"):
        PathSet([torch.tensor([[0, 1, 2]])], 4)
    with pytest.raises(ValueError, match="outside"):
        PathSet([torch.tensor([[0, 9]])], 4)
    with pytest.raises(ValueError, match="pooling"):
        SPAGANConv(3, 2, pooling='lstm')
    with pytest.raises(ValueError, match="max_hops"):
        SPAGANConv(3, 2, max_hops=0)


def test_reset_parameters_and_repr():
    layer = _layer(3, 2, heads=2, max_hops=3, pooling='max')
    before = layer.att_path.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.att_path)
    assert repr(layer) == ("SPAGANConv(3, 2, heads=2, max_hops=3, "
                           "pooling='max')")
