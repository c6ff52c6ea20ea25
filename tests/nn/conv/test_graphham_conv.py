"""GraphHAMConv and the GraphHAM network: the dense float64 oracle (values,
every attention, memberships and gradients; probabilities, fixed Gumbel
noise, straight-through samples), adjacency layouts, corner cases, bad
input, and the unsupervised objective (oracle match, decrease)."""
import pytest
import torch
from reference import random_graph
from reference.dense_graphham import (
    dense_graphham,
    dense_graphham_loss,
    edge_values,
    graphham_params_from_module,
)
from reference.gradients import assert_same_gradients as _check_gradients
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.graphham_conv import GraphHAMAttention, GraphHAMConv
from gat_zoo.nn.models.graphham import GraphHAM, context_pairs
from gat_zoo.ops import available_backends, use_backend

TOL = dict(atol=1e-10, rtol=0)
N, F_IN, C, K = 12, 6, 5, 3


def _graph(seed=0, n=N, num_edges=40):
    """Isolated nodes (n // 2, n - 1), doubled self-loops and a duplicated
    edge, shuffled."""
    return random_graph(n, n, num_edges, seed=seed)


def _features(n=N, f=F_IN, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=torch.float64)


def _noise(n=N, k=K, seed=5):
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, k, generator=gen, dtype=torch.float64)
    return -torch.log(-torch.log(u.clamp(1e-9, 1 - 1e-9)))


def _layer(seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = GraphHAMConv(F_IN, C, K, **kwargs).double()
    with torch.no_grad():  # non-zero bias: the oracle must add it too
        if layer.bias is not None:
            layer.bias.normal_()
    return layer


# ---------------------------------------------------------------------------
# Dense oracle.
# ---------------------------------------------------------------------------
CASES = {
    'eval-probabilities': dict(train=False, noise=False, kwargs={}),
    'train-fixed-noise': dict(train=True, noise=True,
                              kwargs=dict(tau=0.5)),
    'straight-through': dict(train=True, noise=True,
                             kwargs=dict(hard=True)),
    'no-loops-no-residual': dict(train=False, noise=True,
                                 kwargs=dict(add_self_loops=False,
                                             group_residual=False,
                                             bias=False)),
}


@pytest.mark.parametrize('case', list(CASES))
def test_matches_dense_oracle(case):
    spec = CASES[case]
    edge_index = _graph(seed=3)
    x = _features().requires_grad_()
    layer = _layer(**spec['kwargs'])
    layer.train(spec['train'])
    noise = _noise() if spec['noise'] else None
    out, att = layer(x, edge_index, gumbel_noise=noise,
                     return_attention_weights=True)
    assert isinstance(att, GraphHAMAttention)
    ref = dense_graphham(x, edge_index, gumbel_noise=noise,
                         **graphham_params_from_module(layer))
    expected, alpha, group_alpha, ind_alpha, z, prob = ref
    assert torch.allclose(out, expected, **TOL)
    ei = att.edge_index
    assert torch.allclose(att.alpha, edge_values(alpha, ei), **TOL)
    assert torch.allclose(att.group_alpha, edge_values(group_alpha, ei),
                          **TOL)
    assert torch.allclose(att.individual_alpha, edge_values(ind_alpha, ei),
                          **TOL)
    assert torch.allclose(att.membership, z, **TOL)
    assert torch.allclose(att.membership_prob, prob, **TOL)
    _check_gradients(layer, out, expected, [x])
    # The attentions are distinct quantities (the test would not notice a
    # layer that returned one of them three times otherwise).
    assert not torch.allclose(att.group_alpha, att.individual_alpha)


@pytest.mark.parametrize('backend', available_backends())
def test_oracle_on_every_backend(backend):
    edge_index = _graph(seed=8, num_edges=50)
    x = _features(seed=4).requires_grad_()
    layer = _layer(seed=2).eval()
    with use_backend(backend):
        out = layer(x, edge_index)
    expected = dense_graphham(x, edge_index,
                              **graphham_params_from_module(layer))[0]
    assert torch.allclose(out, expected, **TOL)
    _check_gradients(layer, out, expected, [x])


def test_attention_and_membership_normalisation():
    edge_index = _graph(seed=1)
    layer = _layer().eval()
    _, att = layer(_features(), edge_index, return_attention_weights=True)
    dst = att.edge_index[1]
    # exactly one self-loop per node after the replacement
    loops = att.edge_index[0] == dst
    assert torch.equal(torch.bincount(dst[loops], minlength=N),
                       torch.ones(N, dtype=torch.long))
    for alpha in (att.alpha, att.group_alpha, att.individual_alpha):
        sums = torch.zeros(N, dtype=alpha.dtype).index_add_(0, dst, alpha)
        assert torch.allclose(sums, torch.ones_like(sums))
    assert torch.allclose(att.membership_prob.sum(-1),
                          torch.ones(N, dtype=torch.float64))
    # evaluation without noise: the membership is the probability
    assert torch.equal(att.membership, att.membership_prob)


def test_training_samples_memberships():
    edge_index = _graph(seed=1)
    layer = _layer(hard=True).train()
    torch.manual_seed(0)
    _, a = layer(_features(), edge_index, return_attention_weights=True)
    _, b = layer(_features(), edge_index, return_attention_weights=True)
    # straight-through samples are one-hot in the forward pass ...
    assert torch.equal(a.membership.sum(-1), torch.ones(N,
                                                        dtype=torch.float64))
    assert set(a.membership.unique().tolist()) <= {0.0, 1.0}
    # ... and random: two draws differ somewhere
    assert not torch.equal(a.membership, b.membership)
    layer.sample = False
    _, c = layer(_features(), edge_index, return_attention_weights=True)
    assert torch.equal(c.membership, c.membership_prob)


# ---------------------------------------------------------------------------
# Layouts.
# ---------------------------------------------------------------------------
def test_layouts_agree():
    edge_index = _graph(seed=6)
    x = _features(seed=2)
    layer = _layer().eval()
    expected = layer(x, edge_index)
    out = layer(x, EdgeIndex(edge_index, sparse_size=(N, N)))
    assert torch.allclose(out, expected, **TOL)
    out = layer(x, edge_index.int())
    assert torch.allclose(out, expected, **TOL)
    torch_adj = torch.sparse_coo_tensor(
        edge_index.flip(0), torch.ones(edge_index.size(1),
                                       dtype=torch.float64), (N, N))
    assert torch.allclose(layer(x, torch_adj), expected, **TOL)
    if WITH_TORCH_SPARSE:
        adj = SparseTensor(row=edge_index[1], col=edge_index[0],
                           sparse_sizes=(N, N))
        out, att = layer(x, adj, return_attention_weights=True)
        assert torch.allclose(out, expected, **TOL)
        ref = dense_graphham(x, edge_index,
                             **graphham_params_from_module(layer))
        assert torch.allclose(att.alpha, edge_values(ref[1],
                                                     att.edge_index), **TOL)


# ---------------------------------------------------------------------------
# Corner cases.
# ---------------------------------------------------------------------------
def test_graph_without_edges():
    x = _features()
    empty = torch.empty(2, 0, dtype=torch.long)
    layer = _layer().eval()
    out, att = layer(x, empty, return_attention_weights=True)
    assert torch.isfinite(out).all()
    # only the self-loops: every node attends to itself with weight one
    assert torch.allclose(att.alpha, torch.ones(N, dtype=torch.float64))
    expected = dense_graphham(x, empty,
                              **graphham_params_from_module(layer))[0]
    assert torch.allclose(out, expected, **TOL)
    layer = _layer(add_self_loops=False).eval()
    out, att = layer(x, empty, return_attention_weights=True)
    assert att.alpha.numel() == 0
    # zero context: uniform membership, output = mean group + bias
    assert torch.allclose(att.membership_prob,
                          torch.full((N, K), 1.0 / K, dtype=torch.float64))
    mean_group = layer.groups.mean(0) + layer.bias
    assert torch.allclose(out, mean_group.expand(N, C), **TOL)


def test_dropout_and_repr():
    layer = _layer(dropout=0.5).train()
    x, edge_index = _features(), _graph(seed=2)
    noise = _noise()
    _, att = layer(x, edge_index, gumbel_noise=noise,
                   return_attention_weights=True)
    assert (att.alpha == 0).any()
    layer.eval()
    _, att = layer(x, edge_index, gumbel_noise=noise,
                   return_attention_weights=True)
    assert (att.alpha > 0).all()
    assert repr(layer) == 'GraphHAMConv(6, 5, num_groups=3)'


def test_reset_parameters():
    layer = _layer()
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    torch.manual_seed(123)
    layer.reset_parameters()
    after = layer.state_dict()
    for name in ('lin.weight', 'groups', 'att_src', 'att_dst'):
        assert not torch.equal(before[name], after[name]), name
    assert torch.equal(after['bias'], torch.zeros(C, dtype=torch.float64))
    state = {k: v.clone() for k, v in after.items()}
    torch.manual_seed(123)
    layer.reset_parameters()
    for name, value in layer.state_dict().items():
        assert torch.equal(value, state[name]), name


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
def test_bad_input():
    layer = _layer()
    x, edge_index = _features(), _graph()
    with pytest.raises(ValueError, match='features per node'):
        layer(x[:, :4], edge_index)
    with pytest.raises(ValueError, match='two-dimensional'):
        layer(x[0], edge_index)
    with pytest.raises(ValueError, match='floating-point'):
        layer(x.long(), edge_index)
    with pytest.raises(ValueError, match='out of range'):
        layer(x, torch.tensor([[0, N], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='integers'):
        layer(x, edge_index.double())
    with pytest.raises(ValueError, match=r'\[2, num_edges\]'):
        layer(x, edge_index[:1])
    with pytest.raises(TypeError, match='edge_index'):
        layer(x, edge_index.tolist())
    with pytest.raises(ValueError, match='bipartite'):
        layer((x, x), edge_index)
    with pytest.raises(ValueError, match='gumbel_noise'):
        layer(x, edge_index, gumbel_noise=_noise(k=K + 1))
    with pytest.raises(TypeError, match='gumbel_noise'):
        layer(x, edge_index, gumbel_noise=[0.0])
    if WITH_TORCH_SPARSE:
        adj = SparseTensor(row=edge_index[1], col=edge_index[0],
                           sparse_sizes=(N + 1, N + 1))
        with pytest.raises(ValueError, match='SparseTensor'):
            layer(x, adj)
    for kwargs, match in ((dict(num_groups=0), 'num_groups'),
                          (dict(out_channels=1.5), 'out_channels'),
                          (dict(tau=0.0), 'tau'),
                          (dict(dropout=1.0), 'dropout')):
        args = dict(in_channels=F_IN, out_channels=C, num_groups=K)
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            GraphHAMConv(**args)


# ---------------------------------------------------------------------------
# The network and its objective.
# ---------------------------------------------------------------------------
def _tiny():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 6, generator=gen)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 6, 7, 0],
                               [1, 2, 2, 3, 4, 5, 6, 7, 0, 0]])
    return x, edge_index


def test_registry_contract():
    from gat_zoo import create_model, model_entry
    entry = model_entry('graphham')
    assert entry.family == 'hierarchical' and entry.conv is GraphHAMConv
    torch.manual_seed(0)
    x, edge_index = _tiny()
    model = create_model('graphham', 6, 3, hidden_channels=8,
                         num_groups=(4, 2), dropout=0.1,
                         attention_dropout=0.1)
    model.train()
    out = model(x, edge_index)
    assert out.shape == (9, 3) and torch.isfinite(out).all()
    out.log_softmax(-1)[:, 0].sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    assert model.embed(x, edge_index).shape == (9, 16)


def test_model_loss_matches_dense_oracle():
    torch.manual_seed(0)
    model = GraphHAM(F_IN, 3, hidden_channels=4, num_groups=(4, 3, 2),
                     num_layers=3, constraint_weight=0.7).double().eval()
    x = _features()
    edge_index = _graph(seed=9)
    gen = torch.Generator().manual_seed(3)
    pos = [context_pairs(edge_index, N, s, 2, generator=gen)
           for s in (1, 2, 3)]
    neg = [torch.randint(N, (2, 15), generator=gen) for _ in range(3)]
    noise = [_noise(k=k, seed=s) for s, k in enumerate((4, 3, 2))]
    ours = model.loss(x, edge_index, pos, neg, gumbel_noise=noise,
                      return_parts=True)
    theirs = dense_graphham_loss(model, x, edge_index, pos, neg, noise)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, **TOL)
    assert ours[2] > 0  # the constraint is active
    params = [p for n, p in model.named_parameters()
              if not n.startswith('classifier')]
    ga = torch.autograd.grad(ours[0], params)
    gb = torch.autograd.grad(theirs[0], params)
    for a, b in zip(ga, gb):
        assert torch.allclose(a, b, **TOL)


def test_context_pairs_stay_within_scope():
    edge_index = _graph(seed=4)
    gen = torch.Generator().manual_seed(0)
    und = torch.zeros(N, N, dtype=torch.bool)
    und[edge_index[0], edge_index[1]] = True
    und = und | und.t()
    und.fill_diagonal_(False)
    one = context_pairs(edge_index, N, 1, 3, generator=gen)
    assert one.numel() and und[one[0], one[1]].all()
    reach2 = und | ((und.double() @ und.double()) > 0)
    two = context_pairs(edge_index, N, 2, 3, generator=gen)
    assert reach2[two[0], two[1]].all()
    assert (two[0] != two[1]).all()
    with pytest.raises(ValueError, match='scope'):
        context_pairs(edge_index, N, 0)


def test_parent_matrix_and_config_errors():
    model = GraphHAM(F_IN, 3, hidden_channels=4, num_groups=(5, 2))
    parent = model.parent_matrix(0)
    assert parent.shape == (5, 2)
    assert torch.allclose(parent.sum(-1), torch.ones(5))
    assert GraphHAM(F_IN, 3, num_groups=16, num_layers=3).num_groups == \
        [16, 8, 4]
    with pytest.raises(ValueError, match='num_groups'):
        GraphHAM(F_IN, 3, num_groups=(4, 2), num_layers=3)
    with pytest.raises(ValueError, match='num_layers'):
        GraphHAM(F_IN, 3, num_layers=0)


def test_loss_is_finite_and_decreases():
    torch.manual_seed(0)
    x, edge_index = _tiny()
    model = GraphHAM(6, 3, hidden_channels=8, num_groups=(4, 2))
    gen = torch.Generator().manual_seed(0)
    pos = [context_pairs(edge_index, 9, s, 4, generator=gen) for s in (1, 2)]
    neg = [torch.randint(9, (2, 30), generator=gen) for _ in range(2)]
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = model.loss(x, edge_index, pos, neg)
        assert torch.isfinite(loss)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    # sampled pairs and sampled memberships work too
    model.train()
    assert torch.isfinite(model.loss(x, edge_index, generator=gen))
