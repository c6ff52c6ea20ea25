"""HANConv: the dense float64 oracle (values, attention and gradients, on
both the fused and the message-passing paths), every adjacency layout, the
heterogeneous (PyG ``HANConv``-style) form, PyG's layer as a special case,
corner cases and bad input; the HAN network."""
import pytest
import torch
from reference import random_graph
from reference.dense_han import dense_han, han_params_from_module
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.han_conv import HANConv
from gat_zoo.nn.models.han import HAN
from gat_zoo.ops import use_fused

TOL = dict(atol=1e-10, rtol=0)
N, F_IN = 11, 5


def _metapaths(seed=0, count=2):
    # random_graph gives isolated targets, self-loops (doubled) and
    # duplicated edges.
    return [random_graph(N, N, 30 + 7 * m, seed=seed + m)
            for m in range(count)]


def _features(n=N, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, F_IN, generator=gen, dtype=torch.float64)


def _layer(count=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('heads', 3)
    layer = HANConv(F_IN, 4, num_metapaths=count, semantic_channels=6,
                    **kwargs).double()
    gen = torch.Generator().manual_seed(seed + 50)
    with torch.no_grad():  # non-default values everywhere
        for p in layer.parameters():
            p.copy_(0.8 * torch.randn(p.shape, generator=gen,
                                      dtype=p.dtype))
    return layer.eval()


def _edge_alpha(alpha_dense, edge_index):
    return alpha_dense[edge_index[1], edge_index[0]]


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('share', [True, False])
def test_matches_dense_oracle(fused, share):
    metapaths = _metapaths(seed=3)
    x = _features().requires_grad_()
    layer = _layer(share_projection=share)
    with use_fused(fused):
        out, att = layer(x, metapaths, return_attention_weights=True)
    ref, alphas, beta = dense_han(x, metapaths,
                                  **han_params_from_module(layer))
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(att['semantic'], beta, **TOL)
    for (adj, alpha), dense in zip(att['node'], alphas):
        # exactly one self-loop per node, every original non-loop edge kept
        loops = adj[0] == adj[1]
        assert int(loops.sum()) == N
        torch.testing.assert_close(alpha, _edge_alpha(dense, adj), **TOL)
    # gradients w.r.t. the input and every parameter
    weight = torch.randn(out.shape, dtype=out.dtype,
                         generator=torch.Generator().manual_seed(9))
    params = [x] + list(layer.parameters())
    with use_fused(fused):
        ours = torch.autograd.grad((layer(x, metapaths) * weight).sum(),
                                   params)
    oracle_params = han_params_from_module(layer)
    theirs = torch.autograd.grad(
        (dense_han(x, metapaths, **oracle_params)[0] * weight).sum(), params,
        allow_unused=True)
    for a, b in zip(ours, theirs):
        if b is None:  # unused by the oracle: must be unused by the layer
            assert a is None or torch.count_nonzero(a) == 0
            continue
        torch.testing.assert_close(a, b, **TOL)


def test_without_self_loops_isolated_nodes_get_zero():
    metapaths = _metapaths(seed=4)
    x = _features()
    layer = _layer(add_self_loops=False)
    out, att = layer(x, metapaths, return_attention_weights=True)
    ref, _, _ = dense_han(x, metapaths, self_loops=False,
                          **han_params_from_module(layer))
    torch.testing.assert_close(out, ref, **TOL)
    # the loops of the input stay, none are added
    for (adj, _), given in zip(att['node'], metapaths):
        assert adj.size(1) == given.size(1)


def test_attention_is_a_distribution():
    metapaths = _metapaths(seed=5)
    layer = _layer()
    _, att = layer(_features(), metapaths, return_attention_weights=True)
    for adj, alpha in att['node']:
        sums = torch.zeros(N, alpha.size(1), dtype=alpha.dtype)
        sums.index_add_(0, adj[1], alpha)
        torch.testing.assert_close(sums, torch.ones_like(sums), **TOL)
    assert torch.isclose(att['semantic'].sum(), torch.tensor(
        1.0, dtype=torch.float64))


def test_layouts_agree():
    metapaths = _metapaths(seed=6)
    x = _features()
    layer = _layer()
    expected = layer(x, metapaths)
    ei = [EdgeIndex(m, sparse_size=(N, N)) for m in metapaths]
    torch.testing.assert_close(layer(x, ei), expected, **TOL)
    torch.testing.assert_close(layer(x, [m.int() for m in metapaths]),
                               expected, **TOL)
    # one meta-path given as a dict value order
    torch.testing.assert_close(
        layer(x, {'a': metapaths[0], 'b': metapaths[1]}), expected, **TOL)
    if WITH_TORCH_SPARSE:
        # SparseTensor holds each pair once: compare with deduplicated input
        unique = [torch.unique(m, dim=1) for m in metapaths]
        ref = layer(x, unique)
        sparse = [SparseTensor(row=m[1], col=m[0], sparse_sizes=(N, N))
                  for m in unique]
        for mode in ('on', 'off'):
            with use_fused(mode):
                torch.testing.assert_close(layer(x, sparse), ref, **TOL)


def test_heterogeneous_form_matches_homogeneous():
    """The dict form with one node type is the list form."""
    metapaths = _metapaths(seed=7)
    x = _features()
    homo = _layer()
    meta = (['node'], [('node', f'metapath_{k}', 'node') for k in range(2)])
    torch.manual_seed(0)
    hetero = HANConv(F_IN, 4, metadata=meta, heads=3,
                     semantic_channels=6).double().eval()
    hetero.load_state_dict(homo.state_dict())
    out = hetero({'node': x}, dict(zip(meta[1], metapaths)))
    torch.testing.assert_close(out['node'], homo(x, metapaths), **TOL)


def test_heterogeneous_bipartite_relations():
    torch.manual_seed(0)
    meta = (['a', 'b'], [('a', 'r', 'b'), ('b', 's', 'b'), ('b', 't', 'a')])
    layer = HANConv({'a': 5, 'b': 3}, 4, metadata=meta, heads=2).eval()
    gen = torch.Generator().manual_seed(0)
    x = {'a': torch.randn(6, 5, generator=gen),
         'b': torch.randn(7, 3, generator=gen)}
    edges = {('a', 'r', 'b'): torch.tensor([[0, 1, 5, 5], [0, 0, 6, 2]]),
             ('b', 's', 'b'): torch.tensor([[0, 3], [1, 1]]),
             ('b', 't', 'a'): torch.tensor([[6], [0]])}
    out, att = layer(x, edges, return_attention_weights=True)
    assert out['a'].shape == (6, 8) and out['b'].shape == (7, 8)
    # bipartite relations get no self-loops; same-type ones do
    assert att['node'][('a', 'r', 'b')][0].size(1) == 4
    assert att['node'][('b', 's', 'b')][0].size(1) == 2 + 7
    types, beta = att['semantic']['b']
    assert types == (('a', 'r', 'b'), ('b', 's', 'b'))
    assert beta.shape == (2, )
    # 'a' node 1..5 have no incoming 't' edge: ELU(0) = 0 rows
    assert torch.all(out['a'][1:] == 0)
    # an absent edge type is skipped; a type nothing points to gives None
    out = layer(x, {('b', 's', 'b'): edges[('b', 's', 'b')]})
    assert out['a'] is None and out['b'].shape == (7, 8)
    for mode in ('on', 'off'):
        with use_fused(mode):
            again = layer(x, edges)
        torch.testing.assert_close(again['b'], layer(x, edges)['b'])


def test_pyg_hanconv_is_a_special_case():
    """With PyG's choices (no self-loops, ReLU, one head) and the same
    weights, ours gives PyG 2.8.1's HANConv output."""
    from torch_geometric.nn import HANConv as PyGHANConv
    torch.manual_seed(0)
    meta = (['node'], [('node', 'm0', 'node'), ('node', 'm1', 'node')])
    pyg = PyGHANConv(F_IN, 4, metadata=meta, heads=1).double().eval()
    ours = HANConv(F_IN, 4, metadata=meta, heads=1, add_self_loops=False,
                   act='relu', semantic_channels=4).double().eval()
    with torch.no_grad():
        ours.proj['node'].weight.copy_(pyg.proj['node'].weight)
        for e in meta[1]:
            key = '__'.join(e)
            ours.att_src[key].copy_(pyg.lin_src[key])
            ours.att_dst[key].copy_(pyg.lin_dst[key])
        ours.semantic_lin.weight.copy_(pyg.k_lin.weight)
        ours.semantic_lin.bias.copy_(pyg.k_lin.bias)
        ours.semantic_q.copy_(pyg.q)
    x = _features()
    edges = dict(zip(meta[1], _metapaths(seed=8)))
    # PyG's projection has a bias; put it into the features' affine part by
    # zeroing it (ours has none, as the paper's M_phi).
    with torch.no_grad():
        pyg.proj['node'].bias.zero_()
    torch.testing.assert_close(ours({'node': x}, edges)['node'],
                               pyg({'node': x}, edges)['node'], **TOL)


def test_empty_graph_and_dropout():
    x = _features()
    empty = [torch.empty(2, 0, dtype=torch.long)] * 2
    layer = _layer()
    out = layer(x, empty)
    ref, _, _ = dense_han(x, empty, **han_params_from_module(layer))
    torch.testing.assert_close(out, ref, **TOL)
    layer.dropout = 0.5
    layer.train()
    torch.manual_seed(0)
    a = layer(x, _metapaths())
    torch.manual_seed(0)
    with use_fused('off'):
        b = layer(x, _metapaths())
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_bad_input():
    metapaths = _metapaths()
    layer = _layer()
    x = _features()
    with pytest.raises(ValueError, match='Expected 2 meta-path graphs'):
        layer(x, metapaths[:1])
    with pytest.raises(ValueError, match='out of range'):
        layer(x[:5], metapaths)
    with pytest.raises(ValueError, match='features per node'):
        layer(x[:, :3], metapaths)
    with pytest.raises((ValueError, TypeError), match='integer|dtype'):
        layer(x, [metapaths[0].float(), metapaths[1]])
    with pytest.raises(TypeError, match='one feature tensor'):
        layer({'node': x}, metapaths)
    with pytest.raises(ValueError, match='exactly one of'):
        HANConv(F_IN, 4)
    meta = (['a'], [('a', 'r', 'a')])
    het = HANConv(F_IN, 4, metadata=meta)
    with pytest.raises(ValueError, match='not in the layer'):
        het({'a': x.float()}, {('a', 'q', 'a'): metapaths[0]})
    with pytest.raises(ValueError, match='needs features'):
        het({}, {('a', 'r', 'a'): metapaths[0]})


def test_reset_and_repr():
    layer = _layer()
    before = layer.att_src['node__metapath_0__node'].clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.att_src['node__metapath_0__node'])
    assert 'num_metapaths=2' in repr(layer)


def test_han_network_trains_and_embeds():
    torch.manual_seed(0)
    metapaths = [m for m in _metapaths(seed=2)]
    x = _features().float()
    y = torch.arange(N) % 3
    model = HAN(F_IN, 3, hidden_channels=4, heads=2, num_metapaths=2)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        model.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, metapaths), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    z, att = model.embed(x, metapaths, return_attention_weights=True)
    assert z.shape == (N, 8) and att['semantic'].shape == (2, )
    logits, _ = model(x, metapaths, return_attention_weights=True)
    assert logits.shape == (N, 3)
    with pytest.raises(ValueError, match='target'):
        HAN(F_IN, 3, metadata=(['a'], [('a', 'r', 'a')]))


def test_han_network_heterogeneous_target():
    torch.manual_seed(0)
    meta = (['a', 'b'], [('a', 'r', 'b'), ('b', 't', 'a')])
    model = HAN({'a': 5, 'b': 3}, 2, hidden_channels=4, heads=2,
                metadata=meta, target='b').eval()
    x = {'a': torch.randn(6, 5), 'b': torch.randn(7, 3)}
    edges = {('a', 'r', 'b'): torch.tensor([[0, 1], [0, 3]]),
             ('b', 't', 'a'): torch.tensor([[6], [0]])}
    assert model(x, edges).shape == (7, 2)
