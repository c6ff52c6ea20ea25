"""SuperGATConv: the dense float64 oracle for all four attention forms
(values, attention, link logits, the self-supervised loss and gradients),
PyG state-dict equivalence (MX, SD), edge sampling, every adjacency layout,
corner cases and bad input."""
import pytest
import torch
import torch_geometric.nn as pyg_nn
from reference import edge_attention, random_graph
from reference.dense_supergat import (
    dense_edge_loss,
    dense_link_logits,
    dense_supergat,
    supergat_params_from_module,
)
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.gat_conv import GATConv
from gat_zoo.nn.conv.supergat_conv import SuperGATConv
from gat_zoo.ops import use_fused

KINDS = ['GO', 'DP', 'SD', 'MX']
TOL = dict(atol=1e-9, rtol=0)


def _features(n, f, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=torch.float64)


def _layer(kind, in_channels, out_channels, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = SuperGATConv(in_channels, out_channels, attention_type=kind,
                         **kwargs).double()
    if layer.att_l is not None:  # make GO's share of MX clearly non-zero
        with torch.no_grad():
            layer.att_l.mul_(2.0)
            layer.att_r.mul_(2.0)
    return layer


def _oracle(layer, x_src, x_dst, edge_index):
    return dense_supergat(x_src, x_dst, edge_index,
                          **supergat_params_from_module(layer))


def _dense_logits(layer, x_src, x_dst, pairs):
    return dense_link_logits(x_src, x_dst, pairs,
                             **supergat_params_from_module(layer))


def _grads(value, inputs):
    return torch.autograd.grad(value, inputs, allow_unused=True)


def _assert_same_grads(layer, ours, theirs, inputs):
    weight = torch.randn(ours.shape, dtype=ours.dtype,
                         generator=torch.Generator().manual_seed(11))
    params = list(layer.parameters())
    a = _grads((ours * weight).sum(), inputs + params)
    b = _grads((theirs * weight).sum(), inputs + params)
    for g_ours, g_ref in zip(a, b):
        assert (g_ours is None) == (g_ref is None)
        if g_ours is not None:
            assert torch.allclose(g_ours, g_ref, **TOL)


def _pair_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def _non_loops(edge_index):
    return edge_index[:, edge_index[0] != edge_index[1]]


# ---------------------------------------------------------------------------
# Dense oracle: output, attention, gradients.
# ---------------------------------------------------------------------------
# Only GO has a fused path; the other forms always pass messages.
@pytest.mark.parametrize('kind,fused', [('GO', 'on'), ('GO', 'off'),
                                        ('DP', 'on'), ('SD', 'on'),
                                        ('MX', 'on')])
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_matches_dense_oracle(kind, fused, heads, concat, add_self_loops):
    n = 14  # isolated nodes 7 and 13, self-loops, a duplicate edge
    edge_index = random_graph(n, n, 50, seed=heads + 2 * add_self_loops)
    x = _features(n, 6, seed=1).requires_grad_()
    layer = _layer(kind, 6, 5, heads=heads, concat=concat,
                   add_self_loops=add_self_loops).eval()
    with use_fused(fused):
        out, (ei, alpha) = layer(x, edge_index,
                                 return_attention_weights=True)
    expected, alpha_dense = _oracle(layer, x, x, edge_index)
    assert out.shape == (n, heads * 5 if concat else 5)
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(alpha, edge_attention(alpha_dense, ei), **TOL)
    loops = int((ei[0] == ei[1]).sum())
    assert loops == (n if add_self_loops else
                     int((edge_index[0] == edge_index[1]).sum()))
    with use_fused(fused):
        out = layer(x, edge_index)
    _assert_same_grads(layer, out, expected, [x])


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('sizes', [(9, 7), (6, 10)])
def test_bipartite_matches_dense_oracle(kind, sizes):
    n_src, n_dst = sizes
    edge_index = random_graph(n_src, n_dst, 30, seed=3)
    x_src = _features(n_src, 4, seed=2).requires_grad_()
    x_dst = _features(n_dst, 4, seed=3).requires_grad_()
    layer = _layer(kind, 4, 5, heads=2).eval()
    out = layer((x_src, x_dst), edge_index)
    expected, _ = _oracle(layer, x_src, x_dst, edge_index)
    assert out.shape == (n_dst, 10)
    assert torch.allclose(out, expected, **TOL)
    _assert_same_grads(layer, out, expected, [x_src, x_dst])


def test_oracle_is_sensitive_to_the_form():
    """The forms really differ, so the oracle test could catch a mix-up."""
    n = 10
    edge_index = random_graph(n, n, 30, seed=1)
    x = _features(n, 4, seed=1)
    outs = {}
    for kind in KINDS:
        layer = _layer(kind, 4, 3, heads=2).eval()
        outs[kind] = layer(x, edge_index)
        for other in KINDS:
            if other != kind:
                params = supergat_params_from_module(layer)
                params['attention_type'] = other
                if params['att_l'] is None:
                    params['att_l'] = params['att_r'] = torch.ones(
                        1, 2, 3, dtype=torch.float64)
                wrong, _ = dense_supergat(x, x, edge_index, **params)
                assert not torch.allclose(outs[kind], wrong, atol=1e-6)


def test_go_is_gat():
    """GO is GAT's attention: GATConv with att_src = att_l and
    att_dst = att_r computes the same layer."""
    n = 12
    edge_index = random_graph(n, n, 40, seed=4)
    x = _features(n, 5, seed=4)
    ours = _layer('GO', 5, 3, heads=2).eval()
    gat = GATConv(5, 3, heads=2).double().eval()
    with torch.no_grad():
        gat.lin.weight.copy_(ours.lin.weight)
        gat.att_src.copy_(ours.att_l)
        gat.att_dst.copy_(ours.att_r)
        gat.bias.copy_(torch.randn(6))
        ours.bias.copy_(gat.bias)
    for fused in ('on', 'off'):
        with use_fused(fused):
            assert torch.allclose(ours(x, edge_index), gat(x, edge_index),
                                  **TOL)


# ---------------------------------------------------------------------------
# Link logits and the self-supervised loss.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('heads', [1, 3])
def test_edge_logits_match_oracle(kind, heads):
    n = 11
    x = _features(n, 6, seed=5).requires_grad_()
    layer = _layer(kind, 6, 4, heads=heads)
    gen = torch.Generator().manual_seed(heads)
    pairs = torch.randint(n, (2, 40), generator=gen)
    logits = layer.edge_logits(x, pairs)
    expected = _dense_logits(layer, x, x, pairs)
    assert logits.shape == (40, heads)
    assert torch.allclose(logits, expected, **TOL)
    _assert_same_grads(layer, logits, expected, [x])
    # Bipartite pairs.
    x_dst = _features(5, 6, seed=6)
    pairs = torch.stack([torch.randint(n, (15, ), generator=gen),
                         torch.randint(5, (15, ), generator=gen)])
    assert torch.allclose(layer.edge_logits((x, x_dst), pairs),
                          _dense_logits(layer, x, x_dst, pairs), **TOL)


def test_mx_link_logit_is_the_unscaled_dot_product():
    n = 6
    x = _features(n, 4, seed=0)
    mx, sd = _layer('MX', 4, 9), _layer('SD', 4, 9)
    pairs = torch.tensor([[0, 1, 2], [3, 4, 5]])
    h = mx.lin(x)
    dot = (h[pairs[1]] * h[pairs[0]]).sum(-1, keepdim=True)
    assert torch.allclose(mx.edge_logits(x, pairs), dot, **TOL)
    h = sd.lin(x)
    dot = (h[pairs[1]] * h[pairs[0]]).sum(-1, keepdim=True)
    assert torch.allclose(sd.edge_logits(x, pairs), dot / 3.0, **TOL)


@pytest.mark.filterwarnings('ignore:module is in training mode')
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('heads', [1, 3])
def test_loss_matches_oracle(kind, heads):
    n = 12
    edge_index = random_graph(n, n, 40, seed=7)  # with loops, duplicates
    neg = torch.tensor([[0, 2, 5, 9, 1], [4, 4, 10, 3, 11]])
    x = _features(n, 5, seed=8).requires_grad_()
    layer = _layer(kind, 5, 4, heads=heads, dropout=0.3)
    layer(x, edge_index, neg_edge_index=neg)

    pos = _non_loops(edge_index)  # edge_sample_ratio=1: every edge, in order
    P = pos.size(1)
    assert torch.equal(layer.att_edge_index, torch.cat([pos, neg], 1))
    assert torch.equal(layer.att_y, torch.cat([torch.ones(P),
                                               torch.zeros(5)]).double())
    dense = _dense_logits(layer, x, x, layer.att_edge_index)
    assert layer.att_x.shape == (P + 5, heads)
    assert torch.allclose(layer.att_x, dense, **TOL)

    loss = layer.get_attention_loss()
    expected = dense_edge_loss(dense, layer.att_y)
    assert loss.dim() == 0
    assert torch.allclose(loss, expected, **TOL)
    # By hand: mean over pairs of -log(p) for positives, -log(1-p) else.
    p = torch.sigmoid(dense.mean(-1))
    by_hand = -(torch.log(p[:P]).sum() + torch.log(1 - p[P:]).sum()) / (P + 5)
    assert torch.allclose(loss, by_hand, **TOL)
    _assert_same_grads(layer, loss, expected, [x])


@pytest.mark.parametrize('kind', KINDS)
def test_optimising_the_loss_lowers_it(kind):
    n = 20
    edge_index = random_graph(n, n, 60, seed=9, self_loops=False)
    x = _features(n, 8, seed=9)
    layer = _layer(kind, 8, 8, heads=2, neg_sample_ratio=1.0)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    edges = _pair_set(edge_index)
    non_edges = torch.tensor([(j, i) for j in range(n) for i in range(n)
                              if j != i and (j, i) not in edges
                              and (i, j) not in edges]).t()
    pick = torch.randperm(non_edges.size(1),
                          generator=torch.Generator().manual_seed(0))[:60]
    neg = non_edges[:, pick]
    losses = []
    for _ in range(30):
        opt.zero_grad()
        layer(x, edge_index, neg_edge_index=neg)
        loss = layer.get_attention_loss()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]


def test_loss_before_training_forward_raises_and_eval_gives_zero():
    layer = _layer('MX', 4, 2, heads=2)
    with pytest.raises(RuntimeError, match='training mode'):
        layer.get_attention_loss()
    x, edge_index = _features(6, 4, 0), random_graph(6, 6, 14, seed=1)
    layer.eval()
    layer(x, edge_index)
    assert layer.att_x is None
    layer.train()
    with pytest.raises(RuntimeError, match='training mode'):
        layer.get_attention_loss()
    layer(x, edge_index)
    assert layer.get_attention_loss() > 0
    layer.eval()
    zero = layer.get_attention_loss()
    assert zero.dim() == 0 and float(zero) == 0.0


@pytest.mark.parametrize('kind', KINDS)
def test_eval_mode_does_not_sample(kind):
    layer = _layer(kind, 4, 3, heads=2, dropout=0.5,
                   edge_sample_ratio=0.5).eval()
    x, edge_index = _features(8, 4, 0), random_graph(8, 8, 24, seed=2)
    state = torch.get_rng_state()
    a = layer(x, edge_index)
    b = layer(x, edge_index, neg_edge_index=torch.tensor([[0], [1]]))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)
    assert layer.att_x is None and layer.att_y is None


# ---------------------------------------------------------------------------
# Sampling.
# ---------------------------------------------------------------------------
def test_sampled_edges():
    n = 30
    edge_index = random_graph(n, n, 80, seed=3)  # directed, with loops
    edges = _pair_set(edge_index)
    x = _features(n, 4, seed=0)
    layer = _layer('SD', 4, 3, edge_sample_ratio=0.5, neg_sample_ratio=2.0)
    torch.manual_seed(1)
    layer(x, edge_index)
    pairs, labels = layer.att_edge_index, layer.att_y
    pos, neg = pairs[:, labels == 1], pairs[:, labels == 0]
    num_edges = _non_loops(edge_index).size(1)
    assert pos.size(1) == num_edges // 2
    assert _pair_set(pos) <= edges
    assert bool((pos[0] != pos[1]).all())
    assert 0 < neg.size(1) <= 2 * pos.size(1)
    assert bool((neg[0] != neg[1]).all())
    for j, i in neg.t().tolist():  # neither direction is an edge
        assert (j, i) not in edges and (i, j) not in edges
    assert layer.att_x.shape == (pairs.size(1), 1)
    # Another step draws other positives.
    layer(x, edge_index)
    assert not torch.equal(layer.att_edge_index[:, :pos.size(1)], pos)


def test_batched_negative_sampling_stays_within_graphs():
    a = random_graph(8, 8, 20, seed=1, self_loops=False)
    b = random_graph(6, 6, 14, seed=2, self_loops=False) + 8
    edge_index = torch.cat([b, a], dim=1)  # not grouped by graph
    batch = torch.tensor([0] * 8 + [1] * 6)
    layer = _layer('DP', 4, 3, neg_sample_ratio=1.0)
    torch.manual_seed(0)
    layer(_features(14, 4, 0), edge_index, batch=batch)
    neg = layer.att_edge_index[:, layer.att_y == 0]
    assert neg.size(1) > 0
    assert torch.equal(batch[neg[0]], batch[neg[1]])
    assert neg.size(1) <= edge_index.size(1)


def test_bipartite_training():
    edge_index = random_graph(9, 6, 20, seed=5, duplicates=False)
    x = (_features(9, 4, 0), _features(6, 4, 1))
    layer = _layer('MX', 4, 3, heads=2, neg_sample_ratio=1.0)
    torch.manual_seed(0)
    layer(x, edge_index)
    pairs, labels = layer.att_edge_index, layer.att_y
    # Equal indices name different nodes: every input edge is a positive.
    assert int(labels.sum()) == edge_index.size(1)
    neg = pairs[:, labels == 0]
    assert neg.size(1) > 0 and int(neg[0].max()) < 9 and int(neg[1].max()) < 6
    assert not (_pair_set(neg) & _pair_set(edge_index))
    assert torch.allclose(layer.att_x, _dense_logits(layer, *x, pairs), **TOL)


# ---------------------------------------------------------------------------
# PyG drop-in equivalence.
# ---------------------------------------------------------------------------
CONFIGS = [
    dict(heads=2),
    dict(heads=3, concat=False),
    dict(heads=2, add_self_loops=False),
    dict(heads=1, bias=False),
]


@pytest.mark.parametrize('kind', ['MX', 'SD'])
@pytest.mark.parametrize('config', CONFIGS, ids=str)
def test_pyg_state_dict_gives_same_output(kind, config):
    torch.manual_seed(0)
    theirs = pyg_nn.SuperGATConv(5, 4, attention_type=kind,
                                 **config).double().eval()
    ours = SuperGATConv(5, 4, attention_type=kind, **config).double().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert str(ours) == str(theirs)
    ours.load_state_dict(theirs.state_dict())
    n = 11
    edge_index = random_graph(n, n, 36, seed=8)
    x = _features(n, 5, seed=9)
    expected = theirs(x, edge_index)
    out, (ei, alpha) = ours(x, edge_index, return_attention_weights=True)
    assert torch.allclose(out, expected, **TOL)
    # PyG's own attention function on the edges we report.
    H, C = theirs.heads, theirs.out_channels
    h = theirs.lin(x).view(-1, H, C)
    their_alpha = theirs.get_attention(ei[1], h[ei[1]], h[ei[0]],
                                       num_nodes=n)
    assert torch.allclose(alpha, their_alpha, **TOL)

    # Training mode: the same link logits for the same negative pairs.
    neg = torch.tensor([[0, 3, 7, 10], [5, 1, 2, 6]])
    theirs.train()
    ours.train()
    theirs(x, edge_index, neg_edge_index=neg)
    ours(x, edge_index, neg_edge_index=neg)
    assert torch.allclose(ours.att_x[-4:], theirs.att_x[-4:], **TOL)


def test_pyg_state_dict_keys_for_go_and_dp():
    assert list(_layer('GO', 4, 2).state_dict()) == [
        'att_l', 'att_r', 'bias', 'lin.weight']
    assert list(_layer('DP', 4, 2).state_dict()) == ['bias', 'lin.weight']
    assert SuperGATConv(4, 2, attention_type='sd').attention_type == 'SD'


# ---------------------------------------------------------------------------
# Adjacency layouts.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
def test_adjacency_layouts_agree(kind):
    n = 10
    edge_index = random_graph(n, n, 30, seed=4, duplicates=False)
    x = _features(n, 5, seed=5)
    neg = torch.tensor([[0, 1, 2], [9, 8, 7]])
    layer = _layer(kind, 5, 4, heads=2).eval()
    expected, (ei, alpha) = layer(x, edge_index,
                                  return_attention_weights=True)
    layer.train()
    layer(x, edge_index, neg_edge_index=neg)
    expected_loss = layer.get_attention_loss()
    layer.eval()

    adj = torch.sparse_coo_tensor(edge_index.flip(0),
                                  torch.ones(edge_index.size(1)), (n, n))
    sorted_index = EdgeIndex(edge_index, sparse_size=(n, n)).sort_by('col')[0]
    layouts = [adj.coalesce(), adj.to_sparse_csr(), sorted_index]
    if WITH_TORCH_SPARSE:
        layouts.append(SparseTensor.from_edge_index(
            edge_index, sparse_sizes=(n, n)).t())
    for adjacency in layouts:
        for fused in ('on', 'off'):
            with use_fused(fused):
                layer.eval()
                assert torch.allclose(layer(x, adjacency), expected, **TOL)
                layer.train()
                layer(x, adjacency, neg_edge_index=neg)
                assert torch.allclose(layer.get_attention_loss(),
                                      expected_loss, **TOL)

    if WITH_TORCH_SPARSE:
        layer.eval()
        out, adj_alpha = layer(x, layouts[-1], return_attention_weights=True)
        assert isinstance(adj_alpha, SparseTensor)
        assert adj_alpha.nnz() == ei.size(1)
        lookup = {(int(t), int(s)): a for (s, t), a in zip(ei.t(), alpha)}
        row, col, value = adj_alpha.coo()
        for t, s, v in zip(row, col, value):
            assert torch.allclose(v, lookup[(int(t), int(s))], **TOL)


# ---------------------------------------------------------------------------
# Corner cases.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('add_self_loops', [True, False])
def test_empty_graph(kind, add_self_loops):
    layer = _layer(kind, 8, 4, heads=2, add_self_loops=add_self_loops)
    empty = torch.empty(2, 0, dtype=torch.long)
    assert layer(torch.randn(0, 8, dtype=torch.float64),
                 empty).shape == (0, 8)
    x = _features(5, 8, seed=0)
    layer.eval()
    expected, _ = _oracle(layer, x, x, empty)
    assert torch.allclose(layer(x, empty), expected, **TOL)
    layer.train()
    layer(x, empty)
    loss = layer.get_attention_loss()
    assert loss.dim() == 0 and loss.item() == 0.0
    loss.backward()  # still a graph to backpropagate through


def test_attention_dropout_only_in_training():
    layer = _layer('MX', 4, 2, heads=2, dropout=0.5)
    x, edge_index = _features(6, 4, 0), random_graph(6, 6, 20, seed=1)
    layer.eval()
    assert torch.equal(layer(x, edge_index), layer(x, edge_index))
    layer.train()
    torch.manual_seed(0)
    a = layer(x, edge_index)
    torch.manual_seed(1)
    assert not torch.allclose(a, layer(x, edge_index))


@pytest.mark.filterwarnings('ignore:Sparse CSR tensor support')
@pytest.mark.parametrize('kind', KINDS)
def test_sparse_features(kind):
    x = _features(8, 6, seed=3)
    x[x < 0.6] = 0.0
    edge_index = random_graph(8, 8, 20, seed=4)
    neg = torch.tensor([[0, 5, 6], [3, 1, 2]])
    layer = _layer(kind, 6, 3, heads=2)
    assert layer.supports_sparse_features
    dense = layer(x, edge_index, neg_edge_index=neg)
    dense_loss = layer.get_attention_loss()
    out = layer(x.to_sparse_csr(), edge_index, neg_edge_index=neg)
    assert torch.allclose(out, dense, **TOL)
    assert torch.allclose(layer.get_attention_loss(), dense_loss, **TOL)


def test_lazy_in_channels():
    layer = SuperGATConv(-1, 3, heads=2).double()
    x, edge_index = _features(6, 4, 0), random_graph(6, 6, 12, seed=1)
    assert layer(x, edge_index).shape == (6, 6)
    assert layer.lin.weight.shape == (6, 4)


def test_explainer_sees_alpha():
    from torch_geometric.explain import Explainer
    from torch_geometric.explain.algorithm import AttentionExplainer

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = SuperGATConv(4, 3, heads=2, concat=False)

        def forward(self, x, edge_index):
            return self.conv(x, edge_index)

    explainer = Explainer(Net(), AttentionExplainer(),
                          explanation_type='model', edge_mask_type='object',
                          model_config=dict(mode='multiclass_classification',
                                            task_level='node',
                                            return_type='raw'))
    x, edge_index = torch.randn(6, 4), random_graph(6, 6, 14, seed=3,
                                                    self_loops=False)
    explanation = explainer(x, edge_index, index=2)
    assert explanation.edge_mask.shape == (edge_index.size(1), )
    assert explanation.edge_mask.sum() > 0


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------
def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='GO, DP, SD, MX'):
        SuperGATConv(4, 2, attention_type='XX')
    with pytest.raises(ValueError, match='neg_sample_ratio'):
        SuperGATConv(4, 2, neg_sample_ratio=0.0)
    with pytest.raises(ValueError, match='edge_sample_ratio'):
        SuperGATConv(4, 2, edge_sample_ratio=1.5)
    with pytest.raises(ValueError, match='in_channels'):
        SuperGATConv((4, 3), 2)


@pytest.mark.parametrize('kind', KINDS)
def test_bad_input_raises(kind):
    layer = _layer(kind, 4, 2)
    x = _features(5, 4, 0)
    with pytest.raises(ValueError, match='out of range'):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='features per node'):
        layer(_features(5, 3, 0), torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(ValueError, match="'neg_edge_index' is out of range"):
        layer(x, torch.tensor([[0, 1], [1, 2]]),
              neg_edge_index=torch.tensor([[0], [9]]))
    with pytest.raises(ValueError, match="'edge_index' is out of range"):
        layer.edge_logits(x, torch.tensor([[5], [0]]))
    with pytest.raises(ValueError, match='target node features'):
        layer((x, None), torch.tensor([[0, 1], [1, 2]]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('kind', KINDS)
def test_cuda_matches_cpu(kind):
    layer = _layer(kind, 5, 4, heads=2)
    x, edge_index = _features(10, 5, 0), random_graph(10, 10, 30, seed=1)
    neg = torch.tensor([[0, 3, 7], [5, 1, 2]])
    expected = layer(x, edge_index, neg_edge_index=neg)
    expected_loss = layer.get_attention_loss()
    layer = layer.cuda()
    out = layer(x.cuda(), edge_index.cuda(), neg_edge_index=neg.cuda())
    assert torch.allclose(out.cpu(), expected, atol=1e-10)
    assert torch.allclose(layer.get_attention_loss().cpu(), expected_loss,
                          atol=1e-10)
    layer(x.cuda(), edge_index.cuda())  # sampled negatives on the GPU
    assert layer.att_edge_index.device.type == 'cuda'
    with pytest.raises(ValueError, match='on'):
        layer(x.cuda(), edge_index)
