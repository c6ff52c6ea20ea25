"""RGHATConv: the dense float64 oracle (values, the three attention levels
and gradients, on both the fused and the message-passing path), every
adjacency layout, the cached structure, corner cases, bad input, and the
RGHAT/ConvE/DistMult networks."""
import pytest
import torch
from reference import random_graph
from reference.dense_rghat import dense_rghat, rghat_params_from_module
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.rghat_conv import RGHATConv
from gat_zoo.nn.models.rghat import RGHAT, ConvE, DistMult
from gat_zoo.ops import use_fused

TOL = dict(atol=1e-10, rtol=0)
N, R, F_IN = 12, 3, 5


def _graph(seed=0, n=N, num_edges=40, relations=R):
    """Isolated nodes, self-loops, multi-edges (also a duplicated typed
    edge) and heads with several relations and several tails per
    relation."""
    edge_index = random_graph(n, n, num_edges, seed=seed)
    gen = torch.Generator().manual_seed(seed + 100)
    edge_type = torch.randint(relations, (edge_index.size(1), ),
                              generator=gen)
    edge_index = torch.cat([edge_index, edge_index[:, :2]], dim=1)
    edge_type = torch.cat([edge_type, edge_type[:2]])
    return edge_index, edge_type


def _features(n=N, f=F_IN, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=torch.float64)


def _layer(out_channels=4, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('num_relations', R)
    layer = RGHATConv(F_IN, out_channels, **kwargs).double()
    with torch.no_grad():  # larger attention vectors: sharper softmaxes
        layer.att_relation.mul_(3.0)
        layer.att_entity.mul_(3.0)
    return layer


def _oracle(layer, x, edge_index, edge_type, relation=None):
    params = rghat_params_from_module(layer)
    if relation is not None:
        params['relation'] = relation
    return dense_rghat(x, edge_index, edge_type, **params)


@pytest.mark.parametrize('fused', ['on', 'off'])
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (2, False)])
@pytest.mark.parametrize('seed', [0, 1])
def test_matches_dense_oracle(fused, heads, concat, seed):
    edge_index, edge_type = _graph(seed)
    x = _features(seed=seed + 1)
    layer = _layer(heads=heads, concat=concat, seed=seed)
    with use_fused(fused):
        out, att = layer(x, edge_index, edge_type,
                         return_attention_weights=True)
    ref, ref_att = _oracle(layer, x, edge_index, edge_type)
    assert out.shape == (N, heads * 4 if concat else 4)
    assert torch.allclose(out, ref, **TOL)
    assert torch.allclose(att.entity, ref_att['entity'], **TOL)
    assert torch.allclose(att.triple, ref_att['triple'], **TOL)
    # relation level: one coefficient per distinct (head, relation) pair
    heads_of_pair, rels_of_pair = att.pair_index
    assert torch.allclose(
        att.relation, ref_att['alpha'][:, heads_of_pair, rels_of_pair].t(),
        **TOL)
    assert torch.allclose(att.relation[att.pair_of_edge],
                          ref_att['relation'], **TOL)
    pairs = set(zip(edge_index[1].tolist(), edge_type.tolist()))
    assert att.pair_index.size(1) == len(pairs)


def test_attention_levels_normalise():
    edge_index, edge_type = _graph(3)
    layer = _layer(heads=2)
    _, att = layer(_features(), edge_index, edge_type,
                   return_attention_weights=True)
    head_of_pair = att.pair_index[0]
    has_edges = torch.zeros(N, dtype=torch.bool)
    has_edges[edge_index[1]] = True
    # alpha sums to one over the relations around each head entity
    alpha_sum = torch.zeros(N, 2, dtype=torch.float64).index_add_(
        0, head_of_pair, att.relation)
    assert torch.allclose(alpha_sum[has_edges], torch.ones(1).double())
    assert (alpha_sum[~has_edges] == 0).all()
    # beta sums to one over the tails (edges) of each pair
    beta_sum = torch.zeros(att.pair_index.size(1), 2,
                           dtype=torch.float64).index_add_(
                               0, att.pair_of_edge, att.entity)
    assert torch.allclose(beta_sum, torch.ones(1).double())
    # mu = alpha * beta sums to one per head entity
    mu_sum = torch.zeros(N, 2, dtype=torch.float64).index_add_(
        0, edge_index[1], att.triple)
    assert torch.allclose(mu_sum[has_edges], torch.ones(1).double())


def test_multi_edge_counts_every_copy():
    # Head 0 with relation 0 to tails 1 and 2, the edge 1 -> 0 twice: each
    # copy is a tail of its own, so tail 1 weighs twice as much as when
    # the logits are equal.
    edge_index = torch.tensor([[1, 1, 2], [0, 0, 0]])
    edge_type = torch.zeros(3, dtype=torch.long)
    x = _features(n=3)
    layer = _layer(num_relations=1)
    with torch.no_grad():
        layer.att_entity.zero_()  # equal entity logits
    _, att = layer(x, edge_index, edge_type, return_attention_weights=True)
    assert torch.allclose(att.entity, torch.full_like(att.entity, 1 / 3),
                          **TOL)


@pytest.mark.parametrize('fused', ['on', 'off'])
def test_gradients_match_oracle(fused):
    edge_index, edge_type = _graph(4)
    layer = _layer(heads=2, learn_relations=False, relation_channels=3)
    x = _features().requires_grad_()
    rel = torch.randn(R, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(N, 8, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(7))
    params = [x, rel] + list(layer.parameters())
    with use_fused(fused):
        out = layer(x, edge_index, edge_type, relation_embedding=rel)
    ours = torch.autograd.grad((out * weight).sum(), params)
    ref, _ = _oracle(layer, x, edge_index, edge_type, relation=rel)
    theirs = torch.autograd.grad((ref * weight).sum(), params)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-9, rtol=0)
    # and a gradient reaches every attention parameter
    for g in ours:
        assert g.abs().sum() > 0


def test_layouts_agree():
    edge_index, edge_type = _graph(6)
    x = _features()
    layer = _layer(heads=2)
    expected = layer(x, edge_index, edge_type)
    out = layer(x, EdgeIndex(edge_index, sparse_size=(N, N)), edge_type)
    assert torch.allclose(out, expected, **TOL)
    out = layer(x, edge_index.int(), edge_type.int())
    assert torch.allclose(out, expected, **TOL)
    # one typed edge per (head, tail) pair for the sparse layouts
    key = edge_index[1] * N + edge_index[0]
    keep = torch.zeros(N * N, dtype=torch.long).scatter_(0, key,
                                                         edge_type + 1)
    pairs = torch.nonzero(keep).view(-1)
    ei_u = torch.stack([pairs % N, pairs // N])
    et_u = keep[pairs] - 1
    ref = layer(x, ei_u, et_u)
    adj = torch.sparse_coo_tensor(ei_u.flip(0), et_u, (N, N)).coalesce()
    assert torch.allclose(layer(x, adj), ref, **TOL)
    if WITH_TORCH_SPARSE:
        sp = SparseTensor(row=ei_u[1], col=ei_u[0], value=et_u,
                          sparse_sizes=(N, N))
        out, att = layer(x, sp, return_attention_weights=True)
        assert torch.allclose(out, ref, **TOL)
        with use_fused('off'):
            assert torch.allclose(layer(x, sp), ref, **TOL)
        # the attention is reported for the SparseTensor's edges (coo)
        row, col, val = sp.coo()
        assert torch.equal(att.edge_index, torch.stack([col, row]))
        assert torch.equal(att.edge_type, val)


def test_cached_structure_follows_edge_types():
    edge_index, edge_type = _graph(8)
    x = _features()
    layer = _layer(heads=2)
    first = layer(x, edge_index, edge_type)
    other = (edge_type + 1) % R
    out = layer(x, edge_index, other)  # same index object, other types
    ref, _ = _oracle(layer, x, edge_index, other)
    assert torch.allclose(out, ref, **TOL)
    assert not torch.allclose(first, out)
    edge_index[0, 0] = (edge_index[0, 0] + 1) % N  # edited in place
    ref, _ = _oracle(layer, x, edge_index, other)
    assert torch.allclose(layer(x, edge_index, other), ref, **TOL)


def test_no_edges_and_isolated_nodes():
    x = _features()
    layer = _layer(heads=2)
    empty = torch.empty(2, 0, dtype=torch.long)
    for fused in ('on', 'off'):
        with use_fused(fused):
            out, att = layer(x, empty, return_attention_weights=True)
        ref, _ = _oracle(layer, x, empty, torch.empty(0, dtype=torch.long))
        assert torch.allclose(out, ref, **TOL)
        assert att.relation.shape == (0, 2) and att.triple.shape == (0, 2)
    # ĥ = 0: h' = sigma(W3 h) / 2
    w3 = layer.weight3[0]
    expected = 0.5 * torch.nn.functional.leaky_relu(x @ w3, 0.2)
    assert torch.allclose(out[:, :4], expected, **TOL)


def test_attention_dropout_only_in_training():
    edge_index, edge_type = _graph(9)
    x = _features()
    layer = _layer(heads=2, dropout=0.5)
    layer.eval()
    ref, _ = _oracle(layer, x, edge_index, edge_type)
    assert torch.allclose(layer(x, edge_index, edge_type), ref, **TOL)
    layer.train()
    torch.manual_seed(0)
    assert not torch.allclose(layer(x, edge_index, edge_type), ref)


def test_bad_input():
    edge_index, edge_type = _graph(10)
    x = _features()
    layer = _layer()
    with pytest.raises(ValueError, match='edge_type'):
        layer(x, edge_index, edge_type + R)
    with pytest.raises(ValueError, match='edge_type'):
        layer(x, edge_index, -edge_type - 1)
    with pytest.raises(ValueError, match='edge_type'):
        layer(x, edge_index, edge_type[:-1])
    with pytest.raises(ValueError, match='edge_type'):
        layer(x, edge_index, edge_type.double())
    with pytest.raises(ValueError, match='out of range'):
        layer(x, edge_index.clamp(max=N - 1) + 1, edge_type)
    with pytest.raises(ValueError, match='features'):
        layer(x[:, :3], edge_index, edge_type)
    with pytest.raises(ValueError, match='relation_embedding'):
        layer(x, edge_index, edge_type,
              relation_embedding=torch.zeros(R + 1, F_IN).double())
    bare = RGHATConv(F_IN, 4, R, learn_relations=False).double()
    with pytest.raises(ValueError, match='relation_embedding'):
        bare(x, edge_index, edge_type)
    with pytest.raises(ValueError, match='num_relations'):
        RGHATConv(F_IN, 4, 0)
    with pytest.raises(ValueError, match='bipartite'):
        layer((x, x), edge_index, edge_type)


def test_reset_and_repr():
    layer = _layer(heads=2)
    before = layer.weight1.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.weight1)
    assert repr(layer) == 'RGHATConv(5, 4, num_relations=3, heads=2)'


# ---------------------------------------------------------------------------
# Networks.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('cls,kwargs', [
    (RGHAT, dict(hidden_channels=8, heads=2)),
    (ConvE, dict()),
    (DistMult, dict()),
])
def test_models_forward_backward(cls, kwargs):
    torch.manual_seed(0)
    edge_index, edge_type = _graph(11)
    model = cls(N, 8, num_relations=R, **kwargs)
    if cls is not DistMult:
        model = cls(N, 8, num_relations=R, entity_bias=True, **kwargs)
    queries = torch.tensor([[0, 5, 11, 3], [0, 2, 1, 1]])
    model.train()
    out = model(None, edge_index, queries, edge_type)
    assert out.shape == (4, N) and torch.isfinite(out).all()
    out.sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    # float features: the entity table is a projection
    feat = cls(6, 8, num_relations=R, **kwargs)
    x = torch.randn(N, 6)
    assert feat(x, edge_index, queries, edge_type).shape == (4, N)
    with pytest.raises(ValueError, match='relation'):
        model(None, edge_index, torch.tensor([[0], [R]]), edge_type)
    with pytest.raises(ValueError, match='heads'):
        model(None, edge_index, torch.tensor([[N], [0]]), edge_type)


def test_rghat_encoder_is_the_layer_stack():
    torch.manual_seed(0)
    edge_index, edge_type = _graph(12)
    model = RGHAT(N, 6, num_relations=R, hidden_channels=6, heads=2).double()
    model.eval()
    ent, atts = model.encode(None, edge_index, edge_type,
                             return_attention_weights=True)
    h = model.entity.weight
    for conv in model.convs:
        h = conv(h, edge_index, edge_type, relation_embedding=model.relation)
    assert torch.allclose(ent, h, **TOL) and len(atts) == 2
    queries = torch.tensor([[1, 2], [0, 1]])
    scores = model(None, edge_index, queries, edge_type)
    assert torch.allclose(scores, model.decode(ent, queries), **TOL)
