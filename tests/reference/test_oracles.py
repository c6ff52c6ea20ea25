"""Validate the dense reference layers in :mod:`.dense_gat`.

1. Against hand-computed arithmetic (a 3-node example worked out below).
2. Against ``torch_geometric.nn.GATConv`` / ``GATv2Conv`` in float64:
   outputs, attention weights (PyG's ``return_attention_weights=True`` edge
   list read from the dense ``alpha``) and gradients w.r.t. the inputs and
   every parameter, all to 1e-10.
3. Structural properties of the oracle itself (independence from PyG,
   normalisation, the random graph generator, error handling).
"""

import ast
import math
import pathlib

import pytest
import torch
from torch_geometric.nn import GATConv, GATv2Conv

from .dense_gat import (
    dense_gat,
    dense_gatv2,
    edge_attention,
    gat_params_from_module,
    gatv2_params_from_module,
    neighbourhood_counts,
    random_graph,
)

TOL = dict(rtol=1e-10, atol=1e-10)
F64 = torch.float64


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    """The graphs are tiny; intra-op threading only adds overhead (and heavy
    contention on a loaded machine).  Restored after this module."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _randomise(module, seed):
    """Random (non-default) values for every parameter, incl. biases."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.7 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _feat(n, f, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=g, dtype=F64).requires_grad_()


def _compare(module, oracle, params_fn, x_src, x_dst, edge_index, *,
             bipartite, edge_attr=None, seed=0):
    """Run PyG and the oracle, compare outputs, attention and gradients."""
    module = _randomise(module.double().eval(), seed)
    n_src, n_dst = x_src.size(0), x_dst.size(0)

    x_in = (x_src, x_dst) if bipartite else x_src
    out, (ei_loops, att) = module(x_in, edge_index, edge_attr=edge_attr,
                                  return_attention_weights=True)
    ref, alpha = oracle(x_src, x_dst, edge_index, edge_attr=edge_attr,
                        **params_fn(module))

    assert out.dtype == F64 and ref.dtype == F64
    assert ref.shape == out.shape
    torch.testing.assert_close(ref, out, **TOL)

    # The edge list PyG used (after its self-loop handling) must describe
    # the same multigraph as the oracle's multiplicity matrix.
    counts_pyg = neighbourhood_counts(ei_loops, n_src, n_dst, False)
    counts_ref = neighbourhood_counts(edge_index, n_src, n_dst,
                                      module.add_self_loops)
    torch.testing.assert_close(counts_pyg, counts_ref, rtol=0, atol=0)

    # Attention weights, one per edge of PyG's edge list (duplicates of an
    # edge read the same dense entry).
    assert alpha.shape == (n_dst, n_src, module.heads)
    torch.testing.assert_close(edge_attention(alpha, ei_loops), att, **TOL)

    # Gradients of a random linear functional w.r.t. inputs and parameters.
    g = torch.Generator().manual_seed(seed + 1)
    R = torch.randn(out.shape, generator=g, dtype=F64)
    inputs = [x_src] + ([x_dst] if x_dst is not x_src else [])
    if edge_attr is not None and edge_attr.requires_grad:
        inputs.append(edge_attr)
    params = list(module.parameters())
    inputs += params
    g_pyg = torch.autograd.grad((out * R).sum(), inputs, allow_unused=True)
    g_ref = torch.autograd.grad((ref * R).sum(), inputs, allow_unused=True)
    for t, a, b in zip(inputs, g_pyg, g_ref):
        a = torch.zeros_like(t) if a is None else a
        b = torch.zeros_like(t) if b is None else b
        torch.testing.assert_close(b, a, **TOL)
    return out, ref, alpha, counts_ref


def _gat(module, *args, **kw):
    return _compare(module, dense_gat, gat_params_from_module, *args, **kw)


def _gatv2(module, *args, **kw):
    return _compare(module, dense_gatv2, gatv2_params_from_module, *args,
                    **kw)


# A 12-node multigraph with isolated targets {6, 11}, self-loops (one of
# them doubled) and a duplicated ordinary edge.
N, E, F_IN = 12, 40, 5
EI = random_graph(N, N, E, seed=3)


# ---------------------------------------------------------------------------
# 1. hand-computed example
# ---------------------------------------------------------------------------
# Nodes 0, 1, 2 with scalar features x = (0, 1, 2); one head, one channel,
# W = [[1]] so W x_j = x_j.  Edges (src -> dst): 0->1, 2->1, 2->1 (a
# duplicate), 1->0 and an original self-loop 0->0 that add_self_loops drops
# before adding 0->0, 1->1, 2->2.  Multiplicities C_ij (row = target i):
#     C = [[1, 1, 0],      node 0: {0, 1}
#          [1, 1, 2],      node 1: {0, 1, 2, 2}
#          [0, 0, 1]]      node 2: {2}
# GAT with a_src = 1, a_dst = -1:  e_ij = LeakyReLU_0.2(x_j - x_i).
#   node 0: e_00 = 0, e_01 = 1
#           alpha_00 = 1/(1+e)  = 0.2689414214, alpha_01 = e/(1+e) = 0.7310585786
#           h_0' = 0*alpha_00 + 1*alpha_01 = e/(1+e) = 0.7310585786
#   node 1: e_10 = LeakyReLU(-1) = -0.2, e_11 = 0, e_12 = 1 (twice)
#           Z = e^-0.2 + e^0 + 2 e^1 = 0.8187307531 + 1 + 5.4365636569
#             = 7.2552944100
#           alpha_10 = 0.8187307531/Z = 0.1128459724
#           alpha_11 = 1/Z           = 0.1378303820
#           alpha_12 = e/Z           = 0.3746618228 (each copy)
#           h_1' = 0*alpha_10 + 1*alpha_11 + 2*(2*alpha_12) = (1 + 4e)/Z
#                = 11.8731273138 / 7.2552944100 = 1.6364776731
#   node 2: only the loop: alpha_22 = 1, h_2' = 2.
# GATv2 with W_l = [[1]], W_r = [[-1]], a = [1], no biases gives
# e_ij = LeakyReLU(x_j - x_i) and messages W_l x_j = x_j: identical numbers.
HAND_X = torch.tensor([[0.], [1.], [2.]], dtype=F64)
HAND_EI = torch.tensor([[0, 2, 2, 1, 0], [1, 1, 1, 0, 0]])
HAND_OUT = torch.tensor([[0.7310585786], [1.6364776731], [2.0]], dtype=F64)
HAND_ALPHA = torch.tensor([  # dense alpha[i, j], head 0
    [0.2689414214, 0.7310585786, 0.0],
    [0.1128459724, 0.1378303820, 0.3746618228],
    [0.0, 0.0, 1.0],
], dtype=F64)


def test_hand_computed_gat():
    one = torch.ones(1, 1, dtype=F64)
    out, alpha = dense_gat(HAND_X, HAND_X, HAND_EI, W_src=one, W_dst=one,
                           att_src=one.view(1, 1, 1),
                           att_dst=-one.view(1, 1, 1), heads=1,
                           out_channels=1)
    torch.testing.assert_close(out, HAND_OUT, rtol=0, atol=1e-9)
    torch.testing.assert_close(alpha[..., 0], HAND_ALPHA, rtol=0, atol=1e-9)
    # closed forms
    e = math.e
    Z = math.exp(-0.2) + 1 + 2 * e
    assert abs(out[0, 0].item() - e / (1 + e)) < 1e-14
    assert abs(out[1, 0].item() - (1 + 4 * e) / Z) < 1e-14
    assert out[2, 0].item() == 2.0
    # sum_j C_ij alpha_ij = 1 with the duplicate counted twice
    C = neighbourhood_counts(HAND_EI, 3, 3, True)
    torch.testing.assert_close(C, torch.tensor(
        [[1., 1, 0], [1, 1, 2], [0, 0, 1]], dtype=F64), rtol=0, atol=0)
    torch.testing.assert_close((C * alpha[..., 0]).sum(1),
                               torch.ones(3, dtype=F64), **TOL)


def test_hand_computed_gatv2():
    one = torch.ones(1, 1, dtype=F64)
    out, alpha = dense_gatv2(HAND_X, HAND_X, HAND_EI, W_l=one, W_r=-one,
                             att=one.view(1, 1, 1), heads=1, out_channels=1)
    torch.testing.assert_close(out, HAND_OUT, rtol=0, atol=1e-9)
    torch.testing.assert_close(alpha[..., 0], HAND_ALPHA, rtol=0, atol=1e-9)


def test_hand_computed_no_self_loops_and_mean_heads():
    # Without added loops (and with the original 0->0 loop kept):
    # node 0: {1, 0} -> same as above; node 1: {0, 2, 2}:
    #   Z = e^-0.2 + 2e, h_1' = 4e / Z; node 2 has no in-edge -> h_2' = 0.
    # Two identical heads averaged (concat=False) give the same numbers,
    # and a bias of 0.5 is added on top.
    one = torch.ones(1, 1, dtype=F64)
    W = torch.ones(2, 1, dtype=F64)
    out, alpha = dense_gat(HAND_X, HAND_X, HAND_EI, W_src=W, W_dst=W,
                           att_src=torch.ones(1, 2, 1, dtype=F64),
                           att_dst=-torch.ones(1, 2, 1, dtype=F64), heads=2,
                           out_channels=1, concat=False,
                           add_self_loops=False,
                           bias=0.5 * one.view(1))
    e = math.e
    expected = [e / (1 + e), 4 * e / (math.exp(-0.2) + 2 * e), 0.0]
    torch.testing.assert_close(
        out[:, 0], torch.tensor(expected, dtype=F64) + 0.5, **TOL)
    assert torch.all(alpha[2] == 0)


# ---------------------------------------------------------------------------
# 2a. GATConv
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('heads', [1, 3])
@pytest.mark.parametrize('concat', [True, False])
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_gat_matches_pyg(heads, concat, add_self_loops):
    x = _feat(N, F_IN, 10)
    conv = GATConv(F_IN, 4, heads=heads, concat=concat,
                   add_self_loops=add_self_loops)
    _, _, alpha, C = _gat(conv, x, x, EI, bipartite=False, seed=heads)
    # isolated targets: no attention at all without loops, only the loop
    # with loops
    for i in (N // 2, N - 1):
        if add_self_loops:
            torch.testing.assert_close(alpha[i, i], torch.ones(heads,
                                                               dtype=F64))
        else:
            assert torch.all(alpha[i] == 0)
    # normalisation with multiplicities
    nonempty = C.sum(1) > 0
    torch.testing.assert_close(
        (C.unsqueeze(-1) * alpha).sum(1)[nonempty],
        torch.ones(int(nonempty.sum()), heads, dtype=F64), **TOL)


@pytest.mark.parametrize('n_src,n_dst', [(9, 7), (6, 10)])
@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('residual', [False, True])
def test_gat_bipartite_lin_src_dst(n_src, n_dst, add_self_loops, residual):
    ei = random_graph(n_src, n_dst, 30, seed=n_src + n_dst)
    xs, xd = _feat(n_src, 5, 1), _feat(n_dst, 3, 2)
    conv = GATConv((5, 3), 4, heads=3, add_self_loops=add_self_loops,
                   residual=residual)
    assert conv.lin is None and conv.lin_src is not None
    _gat(conv, xs, xd, ei, bipartite=True, seed=7)


def test_gat_bipartite_shared_lin():
    # int in_channels + tuple input: PyG applies the same `lin` to both.
    ei = random_graph(8, 5, 25, seed=4)
    xs, xd = _feat(8, 5, 1), _feat(5, 5, 2)
    conv = GATConv(5, 3, heads=2, concat=False)
    assert conv.lin is not None
    _gat(conv, xs, xd, ei, bipartite=True, seed=5)


@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (3, False)])
def test_gat_residual(heads, concat):
    x = _feat(N, F_IN, 11)
    conv = GATConv(F_IN, 4, heads=heads, concat=concat, residual=True)
    _gat(conv, x, x, EI, bipartite=False, seed=2)


def test_gat_no_bias():
    x = _feat(N, F_IN, 12)
    _gat(GATConv(F_IN, 4, heads=2, bias=False), x, x, EI, bipartite=False)


@pytest.mark.parametrize('fill_value',
                         ['mean', 2.5, 'add', 'max', 'min', 'mul', 'tensor'])
@pytest.mark.parametrize('heads', [1, 3])
def test_gat_edge_features(fill_value, heads):
    # unique-edge graph (self-loops allowed: they are dropped, features and
    # all, before the new loops are added)
    ei = random_graph(N, N, 35, seed=8, duplicates=False)
    D = 3
    if fill_value == 'tensor':
        fill_value = torch.tensor([0.3, -1.0, 2.0], dtype=F64)
    ea = _feat(ei.size(1), D, 9)
    x = _feat(N, F_IN, 13)
    conv = GATConv(F_IN, 4, heads=heads, edge_dim=D, fill_value=fill_value,
                   residual=heads == 3)
    _gat(conv, x, x, ei, bipartite=False, edge_attr=ea, seed=heads)


def test_gat_edge_features_without_self_loops_and_1d():
    ei = random_graph(N, N, 35, seed=8, duplicates=False)
    x = _feat(N, F_IN, 13)
    conv = GATConv(F_IN, 4, heads=2, edge_dim=2, add_self_loops=False)
    _gat(conv, x, x, ei, bipartite=False, edge_attr=_feat(35, 2, 1))
    # 1-d edge_attr is viewed as [E, 1]
    conv = GATConv(F_IN, 4, heads=2, edge_dim=1)
    _gat(conv, x, x, ei, bipartite=False,
         edge_attr=_feat(35, 1, 1).detach().view(-1).requires_grad_())


@pytest.mark.parametrize('fill_value', ['mean', -0.5])
def test_gat_bipartite_edge_features(fill_value):
    # n_dst <= n_src: PyG's string fill_value scatters over the targets into
    # min(n_src, n_dst) rows, which fails for n_dst > n_src (see report).
    ei = random_graph(9, 6, 30, seed=5, duplicates=False)
    xs, xd = _feat(9, 5, 1), _feat(6, 3, 2)
    conv = GATConv((5, 3), 4, heads=3, edge_dim=2, fill_value=fill_value)
    _gat(conv, xs, xd, ei, bipartite=True, edge_attr=_feat(30, 2, 3))


@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('conv_cls', [GATConv, GATv2Conv])
def test_empty_edge_set(conv_cls, add_self_loops):
    x = _feat(6, F_IN, 14)
    ei = torch.empty(2, 0, dtype=torch.long)
    conv = conv_cls(F_IN, 4, heads=2, add_self_loops=add_self_loops,
                    residual=True)
    cmp = _gat if conv_cls is GATConv else _gatv2
    out, ref, alpha, _ = cmp(conv, x, x, ei, bipartite=False)
    if not add_self_loops:  # only residual + bias remain
        assert torch.all(alpha == 0)
        expected = x @ conv.res.weight.t() + conv.bias
        torch.testing.assert_close(ref, expected, **TOL)


# ---------------------------------------------------------------------------
# 2b. GATv2Conv
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('heads', [1, 3])
@pytest.mark.parametrize('concat', [True, False])
@pytest.mark.parametrize('share_weights', [True, False])
def test_gatv2_matches_pyg(heads, concat, share_weights):
    x = _feat(N, F_IN, 20)
    conv = GATv2Conv(F_IN, 4, heads=heads, concat=concat,
                     share_weights=share_weights)
    _gatv2(conv, x, x, EI, bipartite=False, seed=heads)


@pytest.mark.parametrize('share_weights', [True, False])
def test_gatv2_no_self_loops_no_bias(share_weights):
    x = _feat(N, F_IN, 21)
    conv = GATv2Conv(F_IN, 4, heads=3, add_self_loops=False, bias=False,
                     share_weights=share_weights)
    _gatv2(conv, x, x, EI, bipartite=False)


@pytest.mark.parametrize('n_src,n_dst', [(9, 7), (6, 10)])
@pytest.mark.parametrize('share_weights', [True, False])
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_gatv2_bipartite(n_src, n_dst, share_weights, add_self_loops):
    ei = random_graph(n_src, n_dst, 30, seed=n_src * n_dst)
    f_dst = 5 if share_weights else 3  # shared lin needs equal widths
    xs, xd = _feat(n_src, 5, 1), _feat(n_dst, f_dst, 2)
    conv = GATv2Conv((5, f_dst), 4, heads=3, share_weights=share_weights,
                     add_self_loops=add_self_loops, residual=True)
    _gatv2(conv, xs, xd, ei, bipartite=True)


@pytest.mark.parametrize('fill_value', ['mean', 1.5, 'max'])
@pytest.mark.parametrize('share_weights', [True, False])
def test_gatv2_edge_features(fill_value, share_weights):
    ei = random_graph(N, N, 35, seed=8, duplicates=False)
    x = _feat(N, F_IN, 22)
    conv = GATv2Conv(F_IN, 4, heads=3, edge_dim=3, fill_value=fill_value,
                     share_weights=share_weights)
    _gatv2(conv, x, x, ei, bipartite=False, edge_attr=_feat(35, 3, 4))


@pytest.mark.parametrize('concat', [True, False])
def test_gatv2_residual(concat):
    x = _feat(N, F_IN, 23)
    conv = GATv2Conv(F_IN, 4, heads=3, concat=concat, residual=True)
    _gatv2(conv, x, x, EI, bipartite=False)


# ---------------------------------------------------------------------------
# 3. properties of the oracle and helpers
# ---------------------------------------------------------------------------
def test_oracle_is_independent_of_pyg():
    src = pathlib.Path(__file__).with_name('dense_gat.py').read_text()
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or '']
        else:
            continue
        for name in names:
            assert not name.startswith('torch_geometric'), name
            assert not name.startswith('torch_scatter'), name
            assert not name.startswith('torch_sparse'), name
    # no scatter / index_add / sparse / segment calls in the code itself
    # (docstrings may mention them)
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for name in used:
        for banned in ('scatter', 'index_add', 'index_put', 'sparse',
                       'segment', 'softmax', 'MessagePassing'):
            if banned == 'softmax' and name == '_masked_softmax':
                continue
            assert banned not in name.lower(), name


def test_random_graph_properties():
    ei = random_graph(10, 10, 30, seed=0)
    assert ei.shape == (2, 30) and ei.dtype == torch.long
    src, dst = ei
    assert not torch.isin(torch.tensor([5, 9]), dst).any()  # isolated
    assert int((src == dst).sum()) >= 2  # self-loops
    C = neighbourhood_counts(ei, 10, 10, add_self_loops=False)
    assert float(C.max()) >= 2  # duplicates
    assert float(C.diagonal().max()) >= 2  # a doubled self-loop
    torch.testing.assert_close(ei, random_graph(10, 10, 30, seed=0))

    ei = random_graph(10, 10, 40, seed=1, self_loops=False,
                      duplicates=False, isolated=(0, ))
    C = neighbourhood_counts(ei, 10, 10, add_self_loops=False)
    assert float(C.max()) == 1 and float(C.diagonal().sum()) == 0
    assert float(C[0].sum()) == 0

    ei = random_graph(4, 7, 12, seed=2)  # bipartite
    assert int(ei[0].max()) < 4 and int(ei[1].max()) < 7
    assert random_graph(5, 5, 0, seed=0).shape == (2, 0)


def test_neighbourhood_counts_self_loops():
    ei = torch.tensor([[0, 0, 1, 2, 2, 3], [0, 0, 0, 1, 1, 2]])
    C = neighbourhood_counts(ei, 4, 3, add_self_loops=False)
    assert C.shape == (3, 4)
    assert C[0, 0] == 2 and C[0, 1] == 1 and C[1, 2] == 2 and C[2, 3] == 1
    C = neighbourhood_counts(ei, 4, 3, add_self_loops=True)
    # both copies of 0->0 dropped, one loop added for each i < min(4, 3)
    assert C[0, 0] == 1 and C[1, 1] == 1 and C[2, 2] == 1
    assert float(C.sum()) == (1 + 2 + 1) + 3  # 1->0, 2->1 x2, 3->2 + loops
    # bipartite with n_dst > n_src: targets >= n_src get no loop
    C = neighbourhood_counts(torch.empty(2, 0, dtype=torch.long), 2, 4, True)
    torch.testing.assert_close(C, torch.eye(4, 2, dtype=F64))


def test_edge_features_with_duplicates_raise():
    x = torch.randn(4, 3, dtype=F64)
    ei = torch.tensor([[0, 0, 1], [1, 1, 2]])
    W = torch.randn(2, 3, dtype=F64)
    a = torch.randn(1, 1, 2, dtype=F64)
    common = dict(heads=1, out_channels=2, edge_attr=torch.randn(3, 2),
                  W_edge=torch.randn(2, 2, dtype=F64))
    with pytest.raises(ValueError, match='duplicate'):
        dense_gat(x, x, ei, W_src=W, W_dst=W, att_src=a, att_dst=a,
                  att_edge=a, **common)
    with pytest.raises(ValueError, match='duplicate'):
        dense_gatv2(x, x, ei, W_l=W, W_r=W, att=a, **common)
    # duplicated *self-loops* are fine when add_self_loops drops them
    ei = torch.tensor([[1, 1, 0], [1, 1, 2]])
    dense_gatv2(x, x, ei, W_l=W, W_r=W, att=a, **common)
    with pytest.raises(ValueError, match='duplicate'):
        dense_gatv2(x, x, ei, W_l=W, W_r=W, att=a, add_self_loops=False,
                    **common)


def test_float32_inputs_are_promoted():
    conv = _randomise(GATConv(F_IN, 4, heads=2), 0).eval()  # float32
    x = torch.randn(N, F_IN)
    out, alpha = dense_gat(x, x, EI, **gat_params_from_module(conv))
    assert out.dtype == F64 and alpha.dtype == F64
    torch.testing.assert_close(out.float(), conv(x, EI), rtol=1e-4,
                               atol=1e-5)


def test_dropout_warning():
    conv = GATConv(F_IN, 4, dropout=0.5)  # training mode
    with pytest.warns(UserWarning, match='dropout'):
        gat_params_from_module(conv)
