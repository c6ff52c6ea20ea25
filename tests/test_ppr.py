"""Approximate personalized PageRank (gat_zoo.ops.ppr): the push against the
exact matrix inverse (within its epsilon * degree guarantee), top-k,
normalisations, orientation, determinism, the caches, every graph layout,
corner cases and bad input."""
import pytest
import torch
from reference import random_graph
from reference.dense_pprgat import adjacency, exact_ppr
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

import gat_zoo.ops.ppr as ppr_module
from gat_zoo.ops import (
    PPRMatrix,
    approximate_ppr,
    as_ppr_matrix,
    clear_ppr_cache,
    ppr_edge_values,
)

F64 = torch.float64


def _undirected(n, num_edges, seed, **kwargs):
    """A symmetric multigraph with self-loops, duplicates and isolated
    nodes."""
    ei = random_graph(n, n, num_edges, seed=seed, **kwargs)
    return torch.cat([ei, ei.flip(0)], dim=1)


def _ppr(edge_index, n, **kwargs):
    kwargs.setdefault('cache', False)
    kwargs.setdefault('dtype', F64)
    return approximate_ppr(edge_index, n, **kwargs)


def _degree(edge_index, n):
    return adjacency(edge_index, n).sum(dim=1)


# ---------------------------------------------------------------------------
# Against the exact PPR.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('eps', [1e-2, 1e-3, 1e-5])
@pytest.mark.parametrize('alpha', [0.1, 0.25])
def test_push_error_is_within_the_guarantee(seed, eps, alpha):
    n = 30
    ei = _undirected(n, 45, seed)
    approx = _ppr(ei, n, alpha=alpha, eps=eps, topk=None,
                  normalization='row').to_dense()
    exact = exact_ppr(ei, n, alpha, 'row')
    gap = exact - approx
    # The push only ever moves mass that is there: p <= pi ...
    assert gap.min() >= -1e-12
    # ... and stops once every residual is below alpha*eps*d, which
    # bounds the gap by eps * d_t on an undirected graph.
    bound = eps * _degree(ei, n).view(1, -1)
    assert (gap <= bound + 1e-12).all()
    if eps == 1e-2:  # not trivially exact: the bound is what is tested
        assert gap.max() > 1e-4
    if eps == 1e-5:
        assert gap.max() < 1e-3


def test_error_shrinks_with_eps_and_rows_approach_one():
    n = 40
    ei = _undirected(n, 70, seed=3, self_loops=False, isolated=())
    exact = exact_ppr(ei, n, 0.25)
    errors = []
    for eps in (1e-2, 1e-3, 1e-4, 1e-6):
        approx = _ppr(ei, n, eps=eps, topk=None, normalization='row')
        errors.append(float((exact - approx.to_dense()).abs().max()))
        assert approx.value.sum() <= n + 1e-9
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-5
    rows = _ppr(ei, n, eps=1e-7, topk=None, normalization='row')
    # Rows are distributions; a node without edges keeps only its restart
    # mass alpha.
    expected = torch.where(_degree(ei, n) > 0, 1.0, 0.25).to(F64)
    assert torch.allclose(rows.to_dense().sum(1), expected, atol=1e-5)


def test_directed_graph_follows_edge_direction():
    # 0 -> 1 -> 2 -> 3 (3 has no out-edge and absorbs), 4 -> 0.
    ei = torch.tensor([[0, 1, 2, 4], [1, 2, 3, 0]])
    ppr = _ppr(ei, 5, eps=1e-9, topk=None, normalization='row')
    dense = ppr.to_dense()
    assert torch.allclose(dense, exact_ppr(ei, 5, 0.25), atol=1e-12)
    assert dense[0, 1] > 0 and dense[1, 0] == 0 and dense[0, 4] == 0
    assert dense[3, 3] == 0.25 and dense[3].sum() == 0.25
    # The edge j -> i reads pi(j, i).
    assert torch.equal(ppr_edge_values(ppr, ei), dense[ei[0], ei[1]])


@pytest.mark.parametrize('normalization', ['sym', 'col'])
def test_normalisations_rescale_the_row_values(normalization):
    n = 25
    ei = _undirected(n, 40, seed=4)
    row = _ppr(ei, n, topk=6, normalization='row')
    other = _ppr(ei, n, topk=6, normalization=normalization)
    assert torch.equal(row.index, other.index)
    d = _degree(ei, n).clamp(min=1)
    if normalization == 'sym':
        d = d.sqrt()
    expected = row.value * d[row.index[0]] / d[row.index[1]]
    assert torch.allclose(other.value, expected, atol=1e-15, rtol=1e-13)
    exact = exact_ppr(ei, n, 0.25, normalization)
    assert torch.allclose(exact.to(F64), exact_ppr(ei, n, 0.25, 'row') *
                          d.view(-1, 1) / d.view(1, -1), atol=1e-13)


def test_symmetric_normalisation_is_symmetric_up_to_the_approximation():
    n = 30
    ei = _undirected(n, 50, seed=5)
    exact = exact_ppr(ei, n, 0.25, 'sym')
    assert torch.allclose(exact, exact.t(), atol=1e-12)
    approx = _ppr(ei, n, eps=1e-4, topk=None).to_dense()
    d = _degree(ei, n)
    gap = exact - approx
    assert gap.min() >= -1e-12
    assert (gap <= 1e-4 * (d.view(-1, 1) * d.view(1, -1)).sqrt() +
            1e-12).all()


@pytest.mark.parametrize('topk', [1, 3, 8])
def test_topk_keeps_the_largest_entries(topk):
    n = 35
    ei = _undirected(n, 60, seed=6)
    full = _ppr(ei, n, eps=1e-4, topk=None, normalization='row')
    kept = _ppr(ei, n, eps=1e-4, topk=topk, normalization='row')
    dense_full, dense_kept = full.to_dense(), kept.to_dense()
    counts = torch.bincount(kept.index[0], minlength=n)
    assert (counts == torch.bincount(full.index[0], minlength=n).clamp(
        max=topk)).all()
    # Kept values are the full computation's values ...
    assert torch.equal(kept.value, dense_full[kept.index[0], kept.index[1]])
    # ... and no dropped entry of a row beats a kept one.
    for s in range(n):
        mask = dense_kept[s] > 0
        dropped = dense_full[s][~mask]
        if mask.any() and dropped.numel():
            assert dense_kept[s][mask].min() >= dropped.max()
    # Top-k is taken before the symmetric normalisation (as PPRGo does).
    sym = _ppr(ei, n, eps=1e-4, topk=topk)
    assert torch.equal(sym.index, kept.index)


def test_topk_ties_go_to_the_smaller_node():
    # A star: the centre's neighbours all get the same score.
    ei = torch.tensor([[0, 0, 0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 0, 0, 0, 0]])
    ppr = _ppr(ei, 5, topk=3, normalization='row')
    assert ppr.index[1][ppr.index[0] == 0].tolist() == [0, 1, 2]


# ---------------------------------------------------------------------------
# Output format, determinism, subsets.
# ---------------------------------------------------------------------------
def test_output_is_sorted_unique_and_float32_by_default():
    n = 20
    ei = _undirected(n, 30, seed=7)
    ppr = approximate_ppr(ei, n, cache=False)
    assert ppr.value.dtype == torch.float32 and ppr.index.dtype == torch.long
    keys = ppr.index[0] * n + ppr.index[1]
    assert (keys[1:] > keys[:-1]).all()
    assert (ppr.value > 0).all()
    assert (ppr.alpha, ppr.eps, ppr.topk, ppr.normalization) == (0.25, 1e-4,
                                                                 32, 'sym')


def test_deterministic_and_independent_of_batching():
    n = 45
    ei = _undirected(n, 80, seed=8)
    reference = _ppr(ei, n, eps=1e-5, topk=10)
    for kwargs in (dict(), dict(batch_size=1), dict(batch_size=7),
                   dict(max_entries=3 * n)):
        again = _ppr(ei, n, eps=1e-5, topk=10, **kwargs)
        assert torch.equal(again.index, reference.index)
        assert torch.equal(again.value, reference.value)


def test_node_subset_gives_those_rows():
    n = 30
    ei = _undirected(n, 50, seed=9)
    full = _ppr(ei, n, topk=5)
    nodes = torch.tensor([17, 3, 25])
    part = _ppr(ei, n, topk=5, nodes=nodes)
    assert set(part.index[0].tolist()) == {3, 17, 25}
    mask = torch.isin(full.index[0], nodes)
    assert torch.equal(part.index, full.index[:, mask])
    assert torch.equal(part.value, full.value[mask])


def test_duplicates_count_once_and_edge_order_does_not_matter():
    n = 20
    ei = _undirected(n, 30, seed=10, duplicates=False)
    doubled = torch.cat([ei, ei[:, :7]], dim=1)
    perm = torch.randperm(doubled.size(1),
                          generator=torch.Generator().manual_seed(0))
    a, b = _ppr(ei, n), _ppr(doubled[:, perm], n)
    assert torch.equal(a.index, b.index) and torch.equal(a.value, b.value)


def test_isolated_nodes_empty_and_tiny_graphs():
    ei = torch.tensor([[0, 1], [1, 0]])
    ppr = _ppr(ei, 4, topk=None, normalization='row')
    dense = ppr.to_dense()
    for isolated in (2, 3):  # only itself, with the restart mass alpha
        assert dense[isolated, isolated] == 0.25
        assert dense[isolated].sum() == 0.25 and dense[:, isolated].sum() == (
            0.25)
    for normalization in ('sym', 'row', 'col'):
        empty = _ppr(torch.empty(2, 0, dtype=torch.long), 3,
                     normalization=normalization)
        assert torch.equal(empty.to_dense(), 0.25 * torch.eye(3, dtype=F64))
    none = _ppr(torch.empty(2, 0, dtype=torch.long), 0)
    assert none.nnz == 0 and none.index.shape == (2, 0)
    assert _ppr(torch.empty(2, 0, dtype=torch.long), None).num_nodes == 0


def test_self_loops_are_walk_edges():
    ei = torch.tensor([[0, 1, 1], [1, 0, 1]])
    approx = _ppr(ei, 2, eps=1e-10, topk=None, normalization='row')
    assert torch.allclose(approx.to_dense(), exact_ppr(ei, 2, 0.25),
                          atol=1e-9)
    assert not torch.allclose(approx.to_dense(),
                              exact_ppr(ei[:, :2], 2, 0.25), atol=1e-3)


# ---------------------------------------------------------------------------
# Layouts.
# ---------------------------------------------------------------------------
def test_every_graph_layout_gives_the_same_matrix():
    n = 18
    ei = random_graph(n, n, 50, seed=11)  # directed
    expected = _ppr(ei, n, topk=6)
    adj_t = torch.sparse_coo_tensor(ei.flip(0), torch.ones(ei.size(1)),
                                    (n, n))
    layouts = [EdgeIndex(ei, sparse_size=(n, n)), adj_t,
               adj_t.coalesce().to_sparse_csr(), ei.int()]
    if WITH_TORCH_SPARSE:
        layouts.append(SparseTensor.from_edge_index(
            ei, sparse_sizes=(n, n)).t())
    for layout in layouts:
        got = _ppr(layout, n, topk=6)
        assert torch.equal(got.index, expected.index)
        assert torch.equal(got.value, expected.value)


def test_ppr_matrix_conversions_and_lookup():
    n = 15
    ei = _undirected(n, 25, seed=12)
    ppr = _ppr(ei, n, topk=4)
    dense = ppr.to_dense()
    for sparse in (ppr.to_torch_sparse(),
                   ppr.to_torch_sparse(torch.sparse_csr)):
        back = PPRMatrix.from_sparse(sparse)
        assert torch.equal(back.index, ppr.index)
        assert torch.equal(back.value, ppr.value)
    if WITH_TORCH_SPARSE:
        back = PPRMatrix.from_sparse(ppr.to_sparse_tensor())
        assert torch.equal(back.to_dense(), dense)
    # Unsorted input is sorted; lookups of absent pairs read 0.
    perm = torch.randperm(ppr.nnz, generator=torch.Generator().manual_seed(1))
    shuffled = PPRMatrix(ppr.index[:, perm], ppr.value[perm], n)
    assert torch.equal(shuffled.index, ppr.index)
    pairs = torch.cartesian_prod(torch.arange(n), torch.arange(n)).t()
    assert torch.equal(ppr_edge_values(shuffled, pairs),
                       dense[pairs[0], pairs[1]])
    assert ppr_edge_values(ppr, torch.empty(2, 0, dtype=torch.long)).numel(
    ) == 0
    assert as_ppr_matrix(ppr) is ppr
    sparse = ppr.to_torch_sparse()
    assert as_ppr_matrix(sparse) is as_ppr_matrix(sparse)
    assert torch.equal(ppr.to(torch.float32).value, ppr.value.float())


# ---------------------------------------------------------------------------
# Caches.
# ---------------------------------------------------------------------------
@pytest.fixture
def counted(monkeypatch):
    calls = []
    compute = ppr_module._compute

    def counting(*args, **kwargs):
        calls.append(1)
        return compute(*args, **kwargs)

    monkeypatch.setattr(ppr_module, '_compute', counting)
    clear_ppr_cache()
    yield calls
    clear_ppr_cache()


def test_cache_hit_and_invalidation(counted):
    n = 16
    ei = _undirected(n, 25, seed=13, self_loops=False)
    first = approximate_ppr(ei, n)
    assert approximate_ppr(ei, n) is first and len(counted) == 1
    # Other parameters are other entries.
    other = approximate_ppr(ei, n, topk=3)
    assert other is not first and len(counted) == 2
    assert approximate_ppr(ei, n, topk=3) is other and len(counted) == 2
    # An equal but distinct tensor is not the same key (identity cache).
    approximate_ppr(ei.clone(), n)
    assert len(counted) == 3
    # An in-place edit invalidates.
    ei[1, 0] = (int(ei[1, 0]) + 1) % n
    edited = approximate_ppr(ei, n)
    assert len(counted) == 4 and edited is not first
    assert not (edited.index.shape == first.index.shape and torch.equal(
        edited.value, first.value))
    # No cache when asked.
    approximate_ppr(ei, n, cache=False)
    assert len(counted) == 5
    # A dead graph's entry goes away with it.
    before = len(ppr_module._cache)
    del ei
    assert len(ppr_module._cache) < before


def test_disk_cache(counted, tmp_path):
    n = 16
    ei = _undirected(n, 25, seed=14)
    first = approximate_ppr(ei, n, cache=False, disk_cache=tmp_path)
    files = list(tmp_path.glob('*.pt'))
    assert len(counted) == 1 and len(files) == 1
    # Same graph, other order and tensor: read from disk, not recomputed.
    perm = torch.randperm(ei.size(1), generator=torch.Generator().manual_seed(
        2))
    again = approximate_ppr(ei[:, perm], n, cache=False, disk_cache=tmp_path)
    assert len(counted) == 1
    assert torch.equal(again.index, first.index)
    assert torch.equal(again.value, first.value)
    assert again.topk == 32 and again.normalization == 'sym'
    # Other parameters: another file. A damaged file is recomputed.
    approximate_ppr(ei, n, cache=False, disk_cache=tmp_path, alpha=0.2)
    assert len(counted) == 2 and len(list(tmp_path.glob('*.pt'))) == 2
    files[0].write_bytes(b'garbage')
    approximate_ppr(ei, n, cache=False, disk_cache=tmp_path)
    assert len(counted) == 3


def test_disk_cache_true_uses_gat_zoo_cache(counted, isolated_env, tmp_path):
    ei = _undirected(10, 12, seed=15)
    approximate_ppr(ei, 10, cache=False, disk_cache=True)
    assert len(list((tmp_path / 'cache' / 'ppr').glob('*.pt'))) == 1


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs,message', [
    (dict(alpha=0.0), 'alpha'),
    (dict(alpha=1.0), 'alpha'),
    (dict(eps=0.0), 'eps'),
    (dict(topk=0), 'topk'),
    (dict(normalization='left'), 'normalization'),
    (dict(num_nodes=3), 'out of range'),
    (dict(nodes=torch.tensor([9])), "'nodes' out of range"),
])
def test_bad_parameters_raise(kwargs, message):
    ei = torch.tensor([[0, 1, 4], [1, 2, 0]])
    kwargs.setdefault('num_nodes', 5)
    with pytest.raises(ValueError, match=message):
        approximate_ppr(ei, cache=False, **kwargs)


@pytest.mark.parametrize('edge_index,message', [
    (torch.tensor([[0, -1], [1, 2]]), 'negative'),
    (torch.tensor([[0., 1.], [1., 2.]]), 'integers'),
    (torch.tensor([[0, 1, 2]]), r'shape \[2, num_edges\]'),
])
def test_bad_graphs_raise(edge_index, message):
    with pytest.raises(ValueError, match=message):
        approximate_ppr(edge_index, 5, cache=False)
    with pytest.raises(TypeError):
        approximate_ppr([[0, 1], [1, 0]], 5, cache=False)


def test_bad_matrices_raise():
    with pytest.raises(ValueError, match='shape'):
        PPRMatrix(torch.zeros(3, 2, dtype=torch.long), torch.zeros(2), 4)
    with pytest.raises(ValueError, match='out of range'):
        PPRMatrix(torch.tensor([[0], [4]]), torch.ones(1), 4)
    with pytest.raises(ValueError, match='square'):
        PPRMatrix.from_sparse(torch.eye(3, 4).to_sparse())
    with pytest.raises(TypeError):
        PPRMatrix.from_sparse(torch.eye(3))
    ppr = PPRMatrix(torch.tensor([[0], [1]]), torch.ones(1), 4)
    with pytest.raises(ValueError, match='only 4 nodes'):
        ppr_edge_values(ppr, torch.tensor([[0], [4]]))
