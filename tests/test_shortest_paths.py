"""gat_zoo.ops.paths: brute-force enumeration on small multigraphs
(ties, zero costs, isolated nodes, self-loops, duplicates), attention
costs, caching, layouts and bad input."""
import pytest
import torch
from reference import random_graph
from reference.dense_spagan import brute_force_shortest_paths
from torch_geometric import EdgeIndex

import gat_zoo.ops.paths as sp_module
from gat_zoo.ops.paths import (
    PathSet,
    attention_costs,
    clear_shortest_path_cache,
    shortest_paths,
)

F64 = torch.float64


def _cost(kind, num_edges, seed):
    gen = torch.Generator().manual_seed(seed)
    if kind == 'unit':
        return None
    if kind == 'ties':  # small integers: many equal-cost paths, zeros
        return torch.randint(0, 3, (num_edges, ), generator=gen).to(F64)
    return torch.rand(num_edges, generator=gen, dtype=F64)


def _as_lists(paths):
    return [[tuple(r) for r in p.tolist()] for p in paths.paths]


@pytest.mark.parametrize('kind', ['unit', 'ties', 'random'])
@pytest.mark.parametrize('max_hops', [1, 2, 3])
@pytest.mark.parametrize('ratios', [(None, None), (0.5, 1.0), (1.0, 0.5)])
def test_matches_brute_force(kind, max_hops, ratios):
    for seed in range(8):
        n = 4 + seed % 5
        edge_index = random_graph(n, n, 3 * n, seed=seed)
        cost = _cost(kind, edge_index.size(1), seed)
        ours = shortest_paths(edge_index, cost, n, max_hops, *ratios,
                              cache=False)
        paths, costs = brute_force_shortest_paths(
            edge_index, None if cost is None else cost.tolist(), n,
            max_hops, *ratios)
        assert ours.max_hops == max_hops
        assert _as_lists(ours) == paths
        assert [c.tolist() for c in ours.cost] == costs


def test_shortest_path_may_be_longer_than_the_edge():
    # 0 <- 1 costs 5, but 0 <- 2 <- 1 costs 2: node 1 is a two-hop
    # neighbour of 0, not a one-hop one.
    edge_index = torch.tensor([[1, 2, 1], [0, 0, 2]])
    cost = torch.tensor([5.0, 1.0, 1.0], dtype=F64)
    ps = shortest_paths(edge_index, cost, 3, 2, None, None, cache=False)
    assert ps.paths[0].tolist() == [[0, 2], [2, 1]]
    assert ps.paths[1].tolist() == [[0, 2, 1]]
    assert ps.cost[1].tolist() == [2.0]
    # With one hop allowed, the pair is dropped rather than replaced.
    ps1 = shortest_paths(edge_index, cost, 3, 1, None, None, cache=False)
    assert ps1.paths[0].tolist() == [[0, 2], [2, 1]]


def test_zero_cost_edges_are_edges_for_dijkstra():
    # A longer zero-cost route must beat a direct positive edge.
    edge_index = torch.tensor([[3, 1, 2, 3], [0, 0, 1, 2]])
    cost = torch.tensor([0.5, 0.0, 0.0, 0.0], dtype=F64)
    ps = shortest_paths(edge_index, cost, 4, 2, None, None, cache=False)
    assert [0, 3] not in ps.paths[0].tolist()
    assert [0, 1, 2] in ps.paths[1].tolist()
    # Node 3 is three hops away from 0 at cost 0: not kept at 2 hops.
    assert all(row[-1] != 3 for row in ps.paths[1].tolist() if row[0] == 0)


def test_top_k_rule():
    # A star: center 0 with 4 neighbours, each with 3 private leaves.
    src, dst = [], []
    leaf = 5
    for j in range(1, 5):
        src += [j, 0]
        dst += [0, j]
        for _ in range(3):
            src += [leaf, j]
            dst += [j, leaf]
            leaf += 1
    edge_index = torch.tensor([src, dst])
    n = leaf
    cost = torch.linspace(0.1, 1.0, edge_index.size(1), dtype=F64)
    full = shortest_paths(edge_index, cost, n, 2, None, None, cache=False)
    sampled = shortest_paths(edge_index, cost, n, 2, 0.5, 1.0, cache=False)
    mine = full.paths[1][full.paths[1][:, 0] == 0]
    assert mine.size(0) == 12
    kept = sampled.paths[1][sampled.paths[1][:, 0] == 0]
    assert kept.size(0) == 2  # floor(0.5 * degree 4)
    cheapest = full.cost[1][full.paths[1][:, 0] == 0].sort().values[:2]
    assert torch.equal(sampled.cost[1][sampled.paths[1][:, 0] == 0].sort()
                       .values, cheapest)
    assert torch.equal(sampled.paths[0], full.paths[0])  # one hop: all


def test_attention_costs():
    edge_index = torch.tensor([[1, 2, 0, 0], [0, 0, 0, 1]])
    alpha = torch.tensor([[0.2, 0.4], [0.6, 0.8], [5.0, 5.0], [0.5, 0.5]])
    cost = attention_costs(edge_index, alpha)
    # Head means 0.3, 0.7, (self-loop), 0.5: min-max of the negation.
    assert torch.allclose(cost, torch.tensor([1.0, 0.0, 0.0, 0.5],
                                             dtype=F64))
    assert cost.dtype == F64
    same = attention_costs(edge_index, torch.full((4, ), 0.3))
    assert torch.equal(same, torch.tensor([1.0, 1.0, 0.0, 1.0],
                                          dtype=F64))
    with pytest.raises(ValueError, match="shape"):
        attention_costs(edge_index, torch.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        attention_costs(edge_index, torch.tensor([0.1, float('nan'),
                                                  0.2, 0.3]))


def test_layouts_and_one_hop_paths():
    n = 7
    edge_index = random_graph(n, n, 18, seed=2)
    ref = shortest_paths(edge_index, None, n, 2, cache=False)
    for graph in (EdgeIndex(edge_index, sparse_size=(n, n)),
                  torch.sparse_coo_tensor(edge_index.flip(0),
                                          torch.ones(18), (n, n))):
        out = shortest_paths(graph, None, n, 2, cache=False)
        assert _as_lists(out) == _as_lists(ref)
    one = PathSet.from_edge_index(edge_index, n)
    loops = edge_index[0] == edge_index[1]
    assert one.paths[0].tolist() == edge_index[:, ~loops].flip(0).t() \
        .tolist()


def test_empty_and_isolated():
    empty = torch.empty(2, 0, dtype=torch.long)
    ps = shortest_paths(empty, torch.empty(0, dtype=F64), 4, 3)
    assert ps.num_paths() == [0, 0, 0]
    assert ps.paths[2].shape == (0, 4)
    zero = shortest_paths(empty, None, 0, 2)
    assert zero.num_nodes == 0 and zero.num_paths() == [0, 0]


def test_cache(monkeypatch, tmp_path):
    clear_shortest_path_cache()
    n = 8
    edge_index = random_graph(n, n, 20, seed=1)
    cost = torch.rand(20, dtype=F64)
    first = shortest_paths(edge_index, cost, n, 2)
    assert shortest_paths(edge_index, cost, n, 2) is first
    # Another cost tensor (even equal) or in-place edits recompute.
    assert shortest_paths(edge_index, cost.clone(), n, 2) is not first
    cost.add_(1.0)
    assert shortest_paths(edge_index, cost, n, 2) is not first
    calls = []
    original = sp_module._compute
    monkeypatch.setattr(sp_module, '_compute',
                        lambda *a: calls.append(1) or original(*a))
    a = shortest_paths(edge_index, cost, n, 2, cache=False,
                       disk_cache=tmp_path)
    b = shortest_paths(edge_index, cost, n, 2, cache=False,
                       disk_cache=tmp_path)
    assert len(calls) == 1
    assert _as_lists(a) == _as_lists(b)
    assert [c.tolist() for c in a.cost] == [c.tolist() for c in b.cost]
    clear_shortest_path_cache()


def test_bad_input():
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="max_hops"):
        shortest_paths(edge_index, None, 3, 0)
    with pytest.raises(ValueError, match="non-negative"):
        shortest_paths(edge_index, torch.tensor([1.0, -1.0]), 3)
    with pytest.raises(ValueError, match="NaN"):
        shortest_paths(edge_index, torch.tensor([1.0, float('inf')]), 3)
    with pytest.raises(ValueError, match="shape"):
        shortest_paths(edge_index, torch.ones(3), 3)
    with pytest.raises(ValueError, match="floating"):
        shortest_paths(edge_index, torch.ones(2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="out of range"):
        shortest_paths(edge_index, None, 2)
    with pytest.raises(ValueError, match="negative"):
        shortest_paths(torch.tensor([[0, -1], [1, 2]]), None, 3)
    with pytest.raises(ValueError, match="degree_ratio"):
        shortest_paths(edge_index, None, 3, 2, degree_ratio=-1.0)
