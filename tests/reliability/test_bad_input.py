"""The bad-input battery, swept over every layer of :mod:`gat_zoo.nn.conv`
and every registered model: a malformed input raises
:class:`ValueError`/:class:`TypeError` with a message naming the problem,
and a valid corner case (no nodes, no edges, isolated nodes, duplicate
edges, a node of degree 10^5) gives the right result, never a crash, a hang
or a silent NaN."""
from dataclasses import replace

import pytest
import torch
from reliability.zoo import (
    NUM_RELATIONS,
    all_cases,
    make_graph,
    random_graph,
    uncovered,
)

CASES = all_cases()
GRAPH_CASES = [c for c in CASES if c.graph_input]
RELATIONAL_CASES = [c for c in CASES if c.relational]
NODE_CASES = [c for c in CASES if c.output == 'nodes' and c.graph_input]


def _graph():
    return random_graph(12, 30, seed=0)


def _set(t, index, value):
    t = t.clone()
    t[index] = value
    return t


def _edges(fn):
    return lambda g: replace(g, edge_index=fn(g.edge_index))


def _features(fn):
    return lambda g: replace(g, x=fn(g.x))


def _types(fn):
    return lambda g: replace(g, edge_type=fn(g.edge_type))


#: name: (corruption, regex the error message must match).
BAD_EDGE_INDEX = {
    'source out of range': (_edges(lambda e: _set(e, (0, 3), 12)),
                            'out of range'),
    'target out of range': (_edges(lambda e: _set(e, (1, 3), 17)),
                            'out of range'),
    'negative index': (_edges(lambda e: _set(e, (1, 2), -1)), 'negative'),
    'float dtype': (_edges(lambda e: e.float()), 'integers'),
    'bool dtype': (_edges(lambda e: e > 3), 'integers'),
    'three rows': (_edges(lambda e: torch.cat([e, e[:1]])),
                   r'shape \[2, num_edges\]'),
    'one-dimensional': (_edges(lambda e: e[0]), r'shape \[2, num_edges\]'),
    # The meta device stands for "another device" on a CPU-only machine.
    'wrong device': (_edges(lambda e: e.to('meta')), 'meta'),
    # A nested list is a list of meta-path graphs to HAN.
    'not a tensor': (_edges(lambda e: e.tolist()),
                     'Tensor|tensor|meta-path'),
}
BAD_FEATURES = {
    'too few rows': (_features(lambda x: x[:4]),
                     'out of range|nodes|rows'),
    'wrong feature count': (_features(lambda x: x[:, :-1]),
                            'features|width|shape'),
    'one-dimensional': (_features(lambda x: x[:, 0]),
                        'dimension|2-D|shape|expects'),
    'three-dimensional': (_features(lambda x: x[None]),
                          'dimension|2-D|shape|expects'),
    'NaN': (_features(lambda x: _set(x, (3, 1), float('nan'))), 'NaN'),
    'inf': (_features(lambda x: _set(x, (3, 1), float('inf'))), 'infinite'),
    '-inf': (_features(lambda x: _set(x, (5, 0), float('-inf'))),
             'infinite'),
    'integer dtype': (_features(lambda x: x.long()),
                      'floating|one-dimensional'),
}
BAD_EDGE_TYPE = {
    'relation id too large': (_types(lambda t: _set(t, 0, NUM_RELATIONS)),
                              'edge_type'),
    'negative relation id': (_types(lambda t: _set(t, 0, -1)), 'edge_type'),
    'wrong length': (_types(lambda t: t[:-1]), 'edge_type'),
    'float relation ids': (_types(lambda t: t.float()), 'edge_type'),
}

#: Corruptions a case cannot see, with the reason.
NOT_APPLICABLE = {
    # Parameter-free: any feature width is valid.
    ('TDGNNConv', 'wrong feature count'),
    # Graph-free layers: any number of rows is a valid set of nodes.
    ('HopAttention', 'too few rows'),
    ('TemporalSelfAttention', 'too few rows'),
}


def _expect_error(case, graph, pattern):
    module = case.module()
    with pytest.raises((ValueError, TypeError), match=pattern):
        case.call(module, graph)


def test_every_layer_and_model_is_swept():
    assert uncovered() == []
    assert len(CASES) >= 50


@pytest.mark.parametrize('problem', BAD_EDGE_INDEX)
@pytest.mark.parametrize('case', GRAPH_CASES, ids=str)
def test_bad_edge_index_is_reported(case, problem):
    corrupt, pattern = BAD_EDGE_INDEX[problem]
    _expect_error(case, corrupt(_graph()), pattern)


@pytest.mark.parametrize('problem', BAD_FEATURES)
@pytest.mark.parametrize('case', CASES, ids=str)
def test_bad_features_are_reported(case, problem):
    if (case.name, problem) in NOT_APPLICABLE:
        pytest.skip('not applicable: see NOT_APPLICABLE')
    corrupt, pattern = BAD_FEATURES[problem]
    _expect_error(case, corrupt(_graph()), pattern)


@pytest.mark.parametrize('problem', BAD_EDGE_TYPE)
@pytest.mark.parametrize('case', RELATIONAL_CASES, ids=str)
def test_bad_relation_ids_are_reported(case, problem):
    corrupt, pattern = BAD_EDGE_TYPE[problem]
    _expect_error(case, corrupt(_graph()), pattern)


def test_not_applicable_list_is_current():
    names = {c.name for c in CASES}
    for name, problem in NOT_APPLICABLE:
        assert name in names and problem in BAD_FEATURES


# Valid corner cases ##########################################################

_EXPECTED_ROWS = {'nodes': lambda g: g.num_nodes,
                  'pairs': lambda g: g.pairs.size(1),
                  'queries': lambda g: g.queries.size(1)}


def _run(case, graph, dtype=torch.float32):
    module = case.module(dtype)
    with torch.no_grad():
        return case.call(module, graph.to(dtype))


@pytest.mark.parametrize('case', CASES, ids=str)
def test_zero_nodes(case):
    graph = make_graph(0, torch.zeros(2, 0, dtype=torch.long))
    out = _run(case, graph)
    assert out.size(0) == _EXPECTED_ROWS[case.output](graph)
    if case.output == 'queries':
        assert out.shape == (0, 0)


@pytest.mark.parametrize('case', NODE_CASES, ids=str)
def test_zero_edges_treats_every_node_alone(case):
    """Without edges nothing is mixed between nodes: each node's output is
    its output in a graph of its own (the case with no neighbours at all,
    where a softmax over an empty set must give zeros, not NaN)."""
    if case.name == 'model:amgcn':
        pytest.skip('AM-GCN adds a kNN graph built from the features')
    graph = make_graph(7, torch.zeros(2, 0, dtype=torch.long), seed=3)
    out = _run(case, graph, torch.float64)
    assert out.size(0) == 7 and torch.isfinite(out).all()
    for i in (0, 4, 6):
        alone = make_graph(1, torch.zeros(2, 0, dtype=torch.long))
        alone = replace(alone, x=graph.x[i:i + 1])
        single = _run(case, alone, torch.float64)
        torch.testing.assert_close(out[i], single[0], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('case', CASES, ids=str)
def test_isolated_nodes_duplicates_and_self_loops_are_finite(case):
    graph = random_graph(15, 40, seed=1)  # node 14 isolated
    out = _run(case, graph)
    assert out.size(0) == _EXPECTED_ROWS[case.output](graph)
    assert torch.isfinite(out).all()


def _hub_graph(degree=100_000, num_nodes=400, seed=0):
    """Node 0 receives ``degree`` edges (multi-edges from 399 sources);
    a sparse random background keeps the rest of the graph non-trivial."""
    gen = torch.Generator().manual_seed(seed)
    hub = torch.stack([torch.randint(1, num_nodes, (degree,), generator=gen),
                       torch.zeros(degree, dtype=torch.long)])
    rest = torch.randint(1, num_nodes, (2, 2 * num_nodes), generator=gen)
    return make_graph(num_nodes, torch.cat([hub, rest], dim=1), seed=seed)


@pytest.mark.parametrize('case', GRAPH_CASES, ids=str)
def test_node_of_degree_1e5(case):
    """A softmax (or mean) over 10^5 incoming edges stays finite and agrees
    with the same module in float64."""
    graph = _hub_graph()
    out32 = _run(case, graph)
    assert torch.isfinite(out32).all()
    out64 = _run(case, graph, torch.float64)
    scale = out64.abs().max().clamp(min=1.0)
    assert (out32.double() - out64).abs().max() <= 1e-3 * scale


def test_finite_check_tells_overflow_from_nan_and_reads_sparse_values():
    from gat_zoo.nn.validation import check_finite
    check_finite(torch.full((10, 3), 3e38))  # the sum overflows; no error
    check_finite(torch.full((4, 2), 6e4, dtype=torch.float16))
    for bad, word in ((float('nan'), 'NaN'), (float('inf'), 'infinite'),
                      (float('-inf'), 'infinite')):
        x = torch.full((10, 3), 3e38)
        x[4, 1] = bad
        with pytest.raises(ValueError, match=word):
            check_finite(x)
    sparse = torch.sparse_coo_tensor(torch.tensor([[0, 0], [1, 1]]),
                                     torch.tensor([1.0, float('nan')]),
                                     (2, 2))  # uncoalesced: both entries
    with pytest.raises(ValueError, match='NaN'):
        check_finite(sparse)
    check_finite(torch.empty(0, 4))


def test_checks_can_be_switched_off():
    """With validation off (GAT_ZOO_VALIDATE=0) the layer does not look:
    the battery above is what the checks catch, not an accident."""
    from gat_zoo.nn import GATConv
    from gat_zoo.nn.validation import set_validation, validation_enabled
    graph = _graph()
    x = _set(graph.x, (3, 1), float('nan'))
    layer = GATConv(graph.x.size(1), 4).eval()
    before = validation_enabled()
    set_validation(False)
    try:
        out = layer(x, graph.edge_index)
    finally:
        set_validation(before)
    assert torch.isnan(out).any()
    with pytest.raises(ValueError, match='NaN'):
        layer(x, graph.edge_index)


def _weighted_layers():
    from gat_zoo.nn import ACMConv, DAGNNConv, DySATStructuralConv, FAGCNConv
    return {
        'ACMConv': (ACMConv(5, 4), lambda m, g, w: m(g.x, g.edge_index, w)),
        'DAGNNConv': (DAGNNConv(5, K=2),
                      lambda m, g, w: m(g.x, g.edge_index, w)),
        'FAGCNConv': (FAGCNConv(5),
                      lambda m, g, w: m(g.x, g.x, g.edge_index, w)),
        'DySATStructuralConv': (DySATStructuralConv(5, 4),
                                lambda m, g, w: m(g.x, g.edge_index, w)),
    }


def _edge_feature_layers():
    from gat_zoo.nn import GATConv, GATv2Conv, PPRGATConv, PPRGATv2Conv
    return {cls.__name__: cls(5, 4, heads=2, edge_dim=3) for cls in
            (GATConv, GATv2Conv, PPRGATConv, PPRGATv2Conv)}


@pytest.mark.parametrize('bad', ['nan', 'inf'])
@pytest.mark.parametrize('name', list(_weighted_layers()))
def test_non_finite_edge_weights_are_reported(name, bad):
    layer, call = _weighted_layers()[name]
    graph = _graph()
    weight = torch.rand(graph.edge_index.size(1))
    weight[10] = float(bad)
    with pytest.raises(ValueError, match="'edge_weight' contains"):
        call(layer.eval(), graph, weight)


@pytest.mark.parametrize('name', list(_edge_feature_layers()))
def test_bad_edge_features_are_reported(name):
    layer = _edge_feature_layers()[name].eval()
    graph = _graph()
    attr = torch.rand(graph.edge_index.size(1), 3)
    layer(graph.x, graph.edge_index, edge_attr=attr)  # fine
    for bad, pattern in ((_set(attr, (10, 1), float('nan')), 'NaN'),
                         (_set(attr, (4, 0), float('inf')), 'infinite'),
                         (attr.long(), 'floating'),
                         (attr[:, :2], 'edge_dim'),
                         (attr[:-1], 'rows')):
        with pytest.raises(ValueError, match=pattern):
            layer(graph.x, graph.edge_index, edge_attr=bad)


@pytest.mark.parametrize('name', list(_weighted_layers()))
def test_edge_weights_beside_a_sparse_adjacency_are_refused(name):
    """A sparse matrix keeps its edges in its own order; weights in the
    caller's order would be applied to the wrong edges."""
    layer, call = _weighted_layers()[name]
    graph = _graph()
    n = graph.num_nodes
    adjacency = torch.sparse_coo_tensor(graph.edge_index.flip(0),
                                        torch.ones(graph.edge_index.size(1)),
                                        (n, n))
    weight = torch.rand(graph.edge_index.size(1))
    with pytest.raises(ValueError, match='beside a sparse'):
        call(layer.eval(), replace(graph, edge_index=adjacency), weight)
