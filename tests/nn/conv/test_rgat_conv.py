"""RGATConv: the dense float64 oracle (WIRGAT/ARGAT, additive/
multiplicative/constant logits, basis and block decompositions, values and
gradients), featureless input, every adjacency layout, the constant-attention
reduction to RGCN, corner cases and bad edge types."""
import pytest
import torch
from reference import random_graph
from reference.dense_rgat import (
    dense_rgat,
    rgat_edge_attention,
    rgat_params_from_module,
)
from reference.gradients import assert_same_gradients as _compare_gradients
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.rgat_conv import RGATConv
from gat_zoo.ops import available_backends, use_backend

TOL = dict(atol=1e-10, rtol=0)
N, R, F_IN = 12, 3, 6


def _graph(seed=0, n=N, num_edges=40, relations=R):
    """A multi-relational multigraph: isolated nodes, self-loops and a
    duplicated typed edge."""
    edge_index = random_graph(n, n, num_edges, seed=seed)
    gen = torch.Generator().manual_seed(seed + 100)
    edge_type = torch.randint(relations, (edge_index.size(1), ),
                              generator=gen)
    # the same typed edge twice
    edge_index = torch.cat([edge_index, edge_index[:, :1]], dim=1)
    edge_type = torch.cat([edge_type, edge_type[:1]])
    return edge_index, edge_type


def _features(n=N, f=F_IN, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=torch.float64)


def _layer(in_channels=F_IN, out_channels=4, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('num_relations', R)
    return RGATConv(in_channels, out_channels, **kwargs).double()


def _oracle(layer, x, edge_index, edge_type, num_nodes=N):
    if layer.self_relation:
        loops = torch.arange(num_nodes)
        edge_index = torch.cat([edge_index, loops.expand(2, num_nodes)], 1)
        edge_type = torch.cat(
            [edge_type, torch.full((num_nodes, ), layer.num_relations)])
    out, alpha = dense_rgat(x, edge_index, edge_type, num_nodes=num_nodes,
                            **rgat_params_from_module(layer))
    return out, alpha, edge_index, edge_type


# ---------------------------------------------------------------------------
# Dense oracle.
# ---------------------------------------------------------------------------
DECOMPOSITIONS = [{}, {'num_bases': 2}, {'num_blocks': 2}]


@pytest.mark.parametrize('mode', ['wirgat', 'argat'])
@pytest.mark.parametrize('style', ['additive', 'multiplicative', 'constant'])
@pytest.mark.parametrize('decomposition', DECOMPOSITIONS,
                         ids=['full', 'basis', 'block'])
def test_matches_dense_oracle(mode, style, decomposition):
    edge_index, edge_type = _graph(seed=3)
    x = _features().requires_grad_()
    layer = _layer(heads=2, attention_mode=mode, attention_style=style,
                   **decomposition)
    out, (ei, alpha) = layer(x, edge_index, edge_type,
                             return_attention_weights=True)
    expected, alpha_dense, ei_ref, et_ref = _oracle(layer, x, edge_index,
                                                    edge_type)
    assert torch.equal(ei, ei_ref)
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(alpha, rgat_edge_attention(alpha_dense, ei_ref,
                                                     et_ref), **TOL)
    _compare_gradients(layer, out, expected, [x])


@pytest.mark.parametrize('backend', available_backends())
@pytest.mark.parametrize('concat,self_relation', [(True, True),
                                                  (False, False),
                                                  (False, True)])
def test_oracle_heads_self_relation_backends(backend, concat, self_relation):
    edge_index, edge_type = _graph(seed=5)
    x = _features(seed=2).requires_grad_()
    layer = _layer(heads=3, concat=concat, self_relation=self_relation,
                   attention_mode='argat', attention_style='multiplicative',
                   attention_channels=2, num_bases=2)
    with use_backend(backend):
        out, (ei, alpha) = layer(x, edge_index, edge_type,
                                 return_attention_weights=True)
    expected, alpha_dense, ei_ref, et_ref = _oracle(layer, x, edge_index,
                                                    edge_type)
    assert out.shape == (N, 12 if concat else 4)
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(alpha, rgat_edge_attention(alpha_dense, ei_ref,
                                                     et_ref), **TOL)
    _compare_gradients(layer, out, expected, [x])


@pytest.mark.parametrize('decomposition', DECOMPOSITIONS,
                         ids=['full', 'basis', 'block'])
def test_featureless_input(decomposition):
    """``x=None`` is the identity, node ids are one-hot rows; both match
    the oracle on explicit one-hot features."""
    edge_index, edge_type = _graph(seed=7)
    layer = _layer(in_channels=N, heads=2, attention_mode='argat',
                   **decomposition)
    out = layer(None, edge_index, edge_type)
    expected, _, _, _ = _oracle(layer, None, edge_index, edge_type)
    assert torch.allclose(out, expected, **TOL)
    _compare_gradients(layer, out, expected, [])
    ids = torch.randperm(N, generator=torch.Generator().manual_seed(0))
    one_hot = torch.nn.functional.one_hot(ids, N).double()
    assert torch.allclose(layer(ids, edge_index, edge_type),
                          _oracle(layer, one_hot, edge_index, edge_type)[0],
                          **TOL)


def test_attention_normalisation():
    edge_index, edge_type = _graph(seed=9)
    x = _features()
    for mode in ('wirgat', 'argat'):
        layer = _layer(heads=2, attention_mode=mode).eval()
        _, (ei, alpha) = layer(x, edge_index, edge_type,
                               return_attention_weights=True)
        seg = edge_type * N + ei[1] if mode == 'wirgat' else ei[1]
        sums = torch.zeros(R * N, 2, dtype=alpha.dtype).index_add_(
            0, seg, alpha)
        present = torch.unique(seg)
        assert torch.allclose(sums[present], torch.ones_like(sums[present]))


def test_constant_wirgat_is_rgcn_mean():
    """Constant logits + WIRGAT = RGCN's per-relation mean (no root)."""
    from torch_geometric.nn import RGCNConv
    edge_index, edge_type = _graph(seed=4)
    x = _features()
    layer = _layer(out_channels=5, attention_style='constant', bias=False)
    rgcn = RGCNConv(F_IN, 5, R, aggr='mean', root_weight=False,
                    bias=False).double()
    with torch.no_grad():
        rgcn.weight.copy_(layer.weight)
    assert torch.allclose(layer(x, edge_index, edge_type),
                          rgcn(x, edge_index, edge_type), **TOL)


# ---------------------------------------------------------------------------
# Layouts.
# ---------------------------------------------------------------------------
def test_layouts_agree():
    edge_index, edge_type = _graph(seed=6)
    x = _features()
    layer = _layer(heads=2, attention_mode='argat')
    expected, (_, alpha) = layer(x, edge_index, edge_type,
                                 return_attention_weights=True)
    # EdgeIndex
    out = layer(x, EdgeIndex(edge_index, sparse_size=(N, N)), edge_type)
    assert torch.allclose(out, expected, **TOL)
    # int32 index, edge types as int32
    out = layer(x, edge_index.int(), edge_type.int())
    assert torch.allclose(out, expected, **TOL)
    # torch sparse (target-major), types as values: one typed edge per
    # (target, source) pair
    pair = edge_index[1] * N + edge_index[0]
    keep = torch.zeros(N * N, dtype=torch.long).scatter_(
        0, pair, edge_type + 1)  # one relation per pair (any)
    pairs = torch.nonzero(keep).view(-1)
    ei_u = torch.stack([pairs % N, pairs // N])
    et_u = keep[pairs] - 1
    ref = layer(x, ei_u, et_u)
    adj = torch.sparse_coo_tensor(ei_u.flip(0), et_u, (N, N)).coalesce()
    assert torch.allclose(layer(x, adj), ref, **TOL)
    if WITH_TORCH_SPARSE:
        sp = SparseTensor(row=ei_u[1], col=ei_u[0], value=et_u,
                          sparse_sizes=(N, N))
        out, adj_alpha = layer(x, sp, return_attention_weights=True)
        assert torch.allclose(out, ref, **TOL)
        row, col, val = adj_alpha.coo()
        _, (ei_ref, alpha_ref) = layer(x, ei_u, et_u,
                                       return_attention_weights=True)
        lookup = {(int(j), int(i)): a for (j, i), a in
                  zip(ei_ref.t().tolist(), alpha_ref)}
        for i, j, a in zip(row.tolist(), col.tolist(), val):
            assert torch.allclose(a, lookup[(j, i)], **TOL)
        # relation ids beside a sparse adjacency would be read in its own
        # sorted order, not the caller's: refused, as PyG does
        for adjacency in (sp.set_value(None, layout='coo'), adj):
            with pytest.raises(ValueError, match='beside a sparse'):
                layer(x, adjacency, et_u)


# ---------------------------------------------------------------------------
# Corner cases and bad input.
# ---------------------------------------------------------------------------
def test_empty_graph():
    x = _features()
    empty = torch.empty(2, 0, dtype=torch.long)
    no_types = torch.empty(0, dtype=torch.long)
    layer = _layer(heads=2)
    torch.nn.init.normal_(layer.bias)
    out, (ei, alpha) = layer(x, empty, no_types,
                             return_attention_weights=True)
    assert torch.allclose(out, layer.bias.expand(N, -1))
    assert ei.shape == (2, 0) and alpha.shape == (0, 2)
    layer = _layer(heads=2, self_relation=True)
    out = layer(x, empty, no_types)
    expected, _, _, _ = _oracle(layer, x, empty, no_types)
    assert torch.allclose(out, expected, **TOL)


def test_edge_type_defaults_to_relation_zero():
    edge_index, _ = _graph(seed=1)
    x = _features()
    layer = _layer()
    zeros = torch.zeros(edge_index.size(1), dtype=torch.long)
    assert torch.allclose(layer(x, edge_index), layer(x, edge_index, zeros),
                          **TOL)


@pytest.mark.parametrize('bad,match', [
    (lambda e: e.float(), 'integers'),
    (lambda e: e.bool(), 'integers'),
    (lambda e: e[:-1], 'shape'),
    (lambda e: e.view(1, -1), 'shape'),
    (lambda e: torch.cat([e[:-1], torch.tensor([R])]), r'\[0, 3\)'),
    (lambda e: torch.cat([e[:-1], torch.tensor([-1])]), r'\[0, 3\)'),
])
def test_bad_edge_type(bad, match):
    edge_index, edge_type = _graph(seed=2)
    layer = _layer()
    with pytest.raises(ValueError, match=match):
        layer(_features(), edge_index, bad(edge_type))


def test_bad_input():
    edge_index, edge_type = _graph(seed=2)
    layer = _layer()
    with pytest.raises(ValueError, match='out of range'):
        layer(_features(n=5), edge_index, edge_type)
    with pytest.raises(ValueError, match='features per node'):
        layer(_features(f=3), edge_index, edge_type)
    with pytest.raises(ValueError, match='Node ids'):
        layer(torch.arange(N) + F_IN, edge_index, edge_type)
    with pytest.raises(TypeError, match='edge_type'):
        layer(_features(), edge_index, edge_type.tolist())
    with pytest.raises(ValueError, match='attention_mode'):
        RGATConv(4, 4, 2, attention_mode='nope')
    with pytest.raises(ValueError, match='attention_channels'):
        RGATConv(4, 4, 2, attention_channels=3)
    with pytest.raises(ValueError, match='num_blocks'):
        RGATConv(5, 4, 2, num_blocks=2)
    with pytest.raises(ValueError, match='either'):
        RGATConv(4, 4, 2, num_bases=2, num_blocks=2)


def test_dropout_and_repr():
    edge_index, edge_type = _graph(seed=2)
    layer = _layer(dropout=0.5, heads=2)
    layer.train()
    torch.manual_seed(0)
    out = layer(_features(), edge_index, edge_type)
    assert torch.isfinite(out).all()
    assert 'RGATConv(6, 4, num_relations=3' in repr(layer)


# ---------------------------------------------------------------------------
# The registered networks built on the layer.
# ---------------------------------------------------------------------------
def test_networks_featureless_and_rgcn_fast_path():
    from gat_zoo.nn.models.rgat import RGAT, RGCN
    edge_index, edge_type = _graph(seed=8)
    torch.manual_seed(0)
    model = RGAT(N, 3, num_relations=R, attention_mode='argat').double()
    out, atts = model(None, edge_index, edge_type,
                      return_attention_weights=True)
    assert out.shape == (N, 3) and len(atts) == 2
    assert atts[0][1].shape == (edge_index.size(1) + N, 4)  # + self loops
    assert torch.allclose(model(torch.arange(N), edge_index, edge_type),
                          out, **TOL)
    # FastRGCNConv (the baseline's default) computes RGCNConv's function.
    fast = RGCN(N, 3, num_relations=R, num_bases=2).double()
    slow = RGCN(N, 3, num_relations=R, num_bases=2, fast=False).double()
    slow.load_state_dict(fast.state_dict())
    assert torch.allclose(fast(None, edge_index, edge_type),
                          slow(None, edge_index, edge_type), atol=1e-12)
