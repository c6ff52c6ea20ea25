"""Every layer and model given the same graph as an ``edge_index``, an
``EdgeIndex`` and a ``SparseTensor`` (relation ids as its values) computes
the same output; a sparse adjacency whose size disagrees with the features,
or relation ids given beside one, is refused."""
from dataclasses import replace

import pytest
import torch
from reliability.zoo import all_cases, random_graph
from torch_geometric import EdgeIndex

try:
    from torch_sparse import SparseTensor
except ImportError:  # pragma: no cover - torch_sparse is optional
    SparseTensor = None

CASES = [c for c in all_cases() if c.graph_input]


def _sparse(case, graph, size=None):
    """The target-major SparseTensor of ``graph``; a relational case gets
    its relation ids as the values (and no separate ``edge_type``)."""
    n = graph.num_nodes if size is None else size
    src, dst = graph.edge_index
    value = graph.edge_type if case.relational else None
    adj = SparseTensor(row=dst, col=src, value=value, sparse_sizes=(n, n))
    return replace(graph, edge_index=adj,
                   edge_type=None if case.relational else graph.edge_type)


def _run(case, graph):
    with torch.no_grad():
        return case.call(case.module(torch.float64), graph)


@pytest.mark.parametrize('case', CASES, ids=str)
def test_layouts_agree(case):
    graph = random_graph(14, 45, seed=8).to(torch.float64)
    expected = _run(case, graph)
    as_edge_index = replace(graph, edge_index=EdgeIndex(
        graph.edge_index, sparse_size=(14, 14)))
    torch.testing.assert_close(_run(case, as_edge_index), expected)
    if SparseTensor is None:
        pytest.skip('torch_sparse is not installed')
    if 'sparse' in case.not_applicable:  # then it must say so clearly
        with pytest.raises((ValueError, TypeError), match='edge_index'):
            _run(case, _sparse(case, graph))
        return
    torch.testing.assert_close(_run(case, _sparse(case, graph)), expected,
                               rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(SparseTensor is None, reason='needs torch_sparse')
@pytest.mark.parametrize('case', CASES, ids=str)
def test_sparse_adjacency_of_the_wrong_size_is_refused(case):
    graph = random_graph(14, 45, seed=8).to(torch.float64)
    pattern = 'size|shape|nodes|edge_index'
    with pytest.raises((ValueError, TypeError), match=pattern):
        _run(case, _sparse(case, graph, size=17))


@pytest.mark.skipif(SparseTensor is None, reason='needs torch_sparse')
@pytest.mark.parametrize('case', [c for c in CASES if c.relational],
                         ids=str)
def test_relation_ids_beside_a_sparse_adjacency_are_refused(case):
    graph = random_graph(14, 45, seed=8).to(torch.float64)
    untyped = replace(graph, edge_index=SparseTensor(
        row=graph.edge_index[1], col=graph.edge_index[0],
        sparse_sizes=(14, 14)))
    with pytest.raises(ValueError, match='beside a sparse'):
        _run(case, untyped)
