"""GAMLPConv, HopAttention, the GAMLP network and the RLU pieces: the dense
float64 oracle (hops, stationary state, the three hop attentions, values and
gradients), every adjacency layout, streamed against in-memory
precomputation, the cache, corner cases, bad input, and RLU's pseudo-label
selection, label input and distillation loss.

Graph conventions checked here (see GAMLPConv's docstring): loops in the
input are replaced by one unit loop per node, parallel edges count with
their multiplicity, degrees are in-degrees, an isolated node keeps its
features at every hop."""
import pytest
import torch
import torch.nn.functional as F
from reference.dense_gamlp import (
    dense_hop_attention,
    dense_hops,
    dense_operator,
    dense_stationary,
)
from reference.gradients import assert_same_gradients
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

import gat_zoo
from gat_zoo.bench.rlu import (
    label_input,
    reliable_nodes,
    stage_predictions,
    train_gamlp_rlu,
)
from gat_zoo.nn.conv.gamlp_conv import GAMLPConv, HopAttention
from gat_zoo.nn.models.gamlp import GAMLP, rlu_distillation_loss

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)


def _graph(n=12, seed=0):
    """Undirected random graph with two isolated nodes (n-1, n-2), a
    self-loop at node 0 and a duplicated edge (1, 2)."""
    gen = torch.Generator().manual_seed(seed)
    edges = set()
    while len(edges) < 2 * n:
        i, j = torch.randint(0, n - 2, (2, ), generator=gen).tolist()
        if i != j:
            edges.add((min(i, j), max(i, j)))
    pairs = sorted(edges)
    src = [a for a, b in pairs] + [b for a, b in pairs] + [0, 1, 2]
    dst = [b for a, b in pairs] + [a for a, b in pairs] + [0, 2, 1]
    return torch.tensor([src, dst])


def _x(n=12, f=5, seed=1):
    return torch.randn(n, f, generator=torch.Generator().manual_seed(seed),
                       dtype=F64)


def _layer(attention, r=0.5, num_hops=3, f=5, seed=0, **kwargs):
    torch.manual_seed(seed)
    layer = GAMLPConv(f, num_hops=num_hops, r=r, attention=attention,
                      jk_channels=4, jk_layers=2, activation='leaky_relu',
                      **kwargs).double()
    with torch.no_grad():  # weights that differ visibly between hops
        att = layer.hop_attention
        att.att_self.mul_(3.0)
        att.att_ref.mul_(3.0)
        att.att_bias.fill_(0.1)
    return layer


def _oracle(layer, x, edge_index):
    T = dense_operator(edge_index, x.size(0), layer.r, layer.add_self_loops)
    hops = dense_hops(x, T, layer.num_hops)
    att = layer.hop_attention
    jk = stat = None
    if att.attention == 'jk':
        h = torch.cat(hops, dim=1)
        for lin, act in zip(att.jk, att.jk_act):
            h = act(h @ lin.weight.t() + lin.bias)
        jk = h
    if att.attention == 'smoothing':
        stat = dense_stationary(x, T)
    return dense_hop_attention(hops, att.att_self, att.att_ref,
                               att.att_bias, att.act, att.attention,
                               jk_reference=jk, stationary=stat)


# ---------------------------------------------------------------------------
# Propagation.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('r', [0.0, 0.5, 1.0])
@pytest.mark.parametrize('loops', [True, False])
def test_hops_match_dense_powers(r, loops):
    edge_index, x = _graph(), _x()
    layer = _layer('recursive', r=r, num_hops=4, add_self_loops=loops)
    ours = layer.propagate_hops(x, edge_index)
    T = dense_operator(edge_index, 12, r, loops)
    for a, b in zip(ours, dense_hops(x, T, 4)):
        assert torch.allclose(a, b, **TOL)
    # Isolated nodes: own features with loops, zeros from hop 1 without.
    for a in ours[1:]:
        expected = x[10:] if loops else torch.zeros_like(x[10:])
        assert torch.allclose(a[10:], expected, **TOL)


def test_r_zero_is_neighbour_mean_and_multi_edges_count():
    edge_index = torch.tensor([[1, 1, 2], [0, 0, 0]])  # 1->0 twice, 2->0
    x = torch.tensor([[0.0], [3.0], [6.0]], dtype=F64)
    layer = GAMLPConv(1, num_hops=1, r=0.0, add_self_loops=False).double()
    out = layer.propagate_hops(x, edge_index)[1]
    assert out[0].item() == pytest.approx((3 + 3 + 6) / 3)


@pytest.mark.parametrize('r', [0.0, 0.5, 1.0])
def test_stationary_state_matches_the_limit_of_the_powers(r):
    edge_index, x = _graph(), _x()
    layer = _layer('smoothing', r=r)
    T = dense_operator(edge_index, 12, r)
    assert torch.allclose(layer.stationary(x, edge_index),
                          dense_stationary(x, T), atol=1e-8)


def test_streamed_precomputation_equals_in_memory(tmp_path):
    edge_index, x = _graph(), _x()
    layer = _layer('recursive', num_hops=4)
    full = layer.propagate_hops(x, edge_index)
    streamed = list(layer.iter_hops(x, edge_index))
    on_disk = layer.precompute(x, edge_index, path=tmp_path / 'hops.npy')
    assert (tmp_path / 'hops.npy').exists()
    for a, b, c in zip(full, streamed, on_disk):
        assert torch.equal(a, b) and torch.equal(a, c)
    half = layer.precompute(x.float(), edge_index, dtype=torch.float16,
                            path=tmp_path / 'half.npy')
    assert half[0].dtype == torch.float16
    for a, b in zip(full, half):
        assert torch.allclose(a, b.double(), atol=1e-2)
    with pytest.raises(ValueError, match='float16, float32 or float64'):
        layer.precompute(x, edge_index, dtype=torch.bfloat16,
                         path=tmp_path / 'bad.npy')


def test_cache_is_reused_and_invalidated_by_in_place_edits():
    edge_index, x = _graph(), _x()
    layer = _layer('recursive').eval()
    a = layer.hop_tensor(x, edge_index)
    assert layer.hop_tensor(x, edge_index) is a
    layer(x, edge_index)
    x.mul_(2.0)
    after = layer(x, edge_index)
    fresh = _layer('recursive').eval()
    assert torch.allclose(after, fresh(x.clone(), edge_index), **TOL)


# ---------------------------------------------------------------------------
# Attention against the oracle.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('attention', ['recursive', 'jk', 'smoothing'])
@pytest.mark.parametrize('r', [0.0, 0.5, 1.0])
def test_values_and_gradients_match_the_dense_oracle(attention, r):
    edge_index = _graph()
    x = _x().requires_grad_()
    layer = _layer(attention, r=r).eval()
    out, att = layer(x, edge_index, return_attention_weights=True)
    ref_out, ref_w = _oracle(layer, x, edge_index)
    assert torch.allclose(out, ref_out, **TOL)
    assert att['hop'].shape == (12, 4)
    assert torch.allclose(att['hop'], ref_w, **TOL)
    assert torch.allclose(att['hop'].sum(-1), torch.ones(12, dtype=F64),
                          **TOL)
    # The hop weights differ between nodes (node-adaptive).
    assert att['hop'].std(dim=0).max() > 1e-3
    assert_same_gradients(layer, out, ref_out, [x], atol=1e-9)
    # The cached path (x without gradient) gives the same values.
    cached = layer(x.detach(), edge_index)
    assert torch.allclose(cached, ref_out.detach(), **TOL)


def test_attention_dropout_only_in_training():
    edge_index, x = _graph(), _x()
    layer = _layer('recursive', dropout=0.5)
    layer.eval()
    a, b = layer(x, edge_index), layer(x, edge_index)
    assert torch.equal(a, b)
    layer.train()
    torch.manual_seed(0)
    c = layer(x, edge_index)
    assert not torch.allclose(a, c)


def test_hop_attention_takes_lists_and_stacks():
    att = HopAttention(3, 2, attention='jk', jk_channels=4).double().eval()
    hops = [_x(6, 3, s) for s in range(3)]
    a, wa = att(hops)
    b, wb = att(torch.stack(hops))
    assert torch.allclose(a, b, **TOL) and torch.allclose(wa, wb, **TOL)
    with pytest.raises(ValueError, match='expects 3 hop features'):
        att(hops[:2])
    with pytest.raises(ValueError, match='stationary'):
        HopAttention(3, 2, attention='smoothing')(hops)


# ---------------------------------------------------------------------------
# Layouts, corner cases, bad input.
# ---------------------------------------------------------------------------
def test_every_adjacency_layout_gives_the_same_output():
    # SparseTensor coalesces parallel edges, so use a graph without any.
    edge_index = torch.unique(_graph()[:, :-1], dim=1)
    x = _x()
    layer = _layer('recursive').eval()
    expected = layer(x, edge_index)
    ei = EdgeIndex(edge_index.contiguous(), sparse_size=(12, 12))
    assert torch.allclose(layer(x, ei), expected, **TOL)
    torch_sparse_adj = torch.sparse_coo_tensor(
        edge_index.flip(0), torch.ones(edge_index.size(1)), (12, 12))
    assert torch.allclose(layer(x, torch_sparse_adj), expected, **TOL)
    if WITH_TORCH_SPARSE:
        adj = SparseTensor(row=edge_index[1], col=edge_index[0],
                           sparse_sizes=(12, 12))
        assert torch.allclose(layer(x, adj), expected, **TOL)
        bad = SparseTensor(row=edge_index[1], col=edge_index[0],
                           sparse_sizes=(13, 13))
        with pytest.raises(ValueError, match='sizes'):
            layer(x, bad)


@pytest.mark.parametrize('attention', ['recursive', 'jk', 'smoothing'])
def test_graph_without_edges(attention):
    x = _x(5, 5)
    empty = torch.empty(2, 0, dtype=torch.long)
    layer = _layer(attention).eval()
    out, att = layer(x, empty, return_attention_weights=True)
    # Every hop is x itself (one self-loop per node): H = x.
    assert torch.allclose(out, x, **TOL)
    ref_out, _ = _oracle(layer, x, empty)
    assert torch.allclose(out, ref_out, **TOL)
    no_loops = _layer(attention, add_self_loops=False).eval()
    if attention != 'smoothing':
        out, att = no_loops(x, empty, return_attention_weights=True)
        assert torch.allclose(out, att['hop'][:, :1] * x, **TOL)


def test_bad_input_raises_value_error():
    x = _x()
    layer = _layer('recursive')
    with pytest.raises(ValueError, match='out of range'):
        layer(x, torch.tensor([[0, 12], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='integers'):
        layer(x, torch.tensor([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r'shape \[2, num_edges\]'):
        layer(x, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match='features per node'):
        layer(_x(12, 4), _graph())
    with pytest.raises(ValueError, match='floating-point'):
        layer(torch.ones(12, 5, dtype=torch.long), _graph())
    with pytest.raises(ValueError, match='not a pair'):
        layer((x, x), _graph())
    with pytest.raises(ValueError, match="'r' must lie"):
        GAMLPConv(5, r=1.5)
    with pytest.raises(ValueError, match='Unknown attention'):
        GAMLPConv(5, attention='gat')
    with pytest.raises(ValueError, match='num_hops'):
        GAMLPConv(5, num_hops=-1)
    with pytest.raises(ValueError, match='output width is in_channels'):
        GAMLPConv(5, 8)
    assert GAMLPConv(5, 5).out_channels == 5


def test_repr_and_reset():
    layer = _layer('jk')
    assert repr(layer) == ("GAMLPConv(5, num_hops=3, r=0.5, "
                           "attention='jk')")
    layer.reset_parameters()


# ---------------------------------------------------------------------------
# The network.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs', [
    dict(attention='recursive'),
    dict(attention='jk', pre_process=True, residual=True),
    dict(attention='smoothing', batch_norm=False, num_layers=1),
    dict(attention='recursive', use_labels=True),
    dict(attention='jk', input_dropout=0.3),
])
def test_network_forward_backward(kwargs):
    edge_index, x = _graph(), _x().float()
    torch.manual_seed(0)
    model = GAMLP(5, 3, hidden_channels=8, num_hops=3, **kwargs)
    model.train()
    out, att = model(x, edge_index, return_attention_weights=True)
    assert out.shape == (12, 3) and att['hop'].shape == (12, 4)
    out.log_softmax(-1)[:, 0].sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert model.auxiliary_loss() is None
    model.eval()
    assert torch.isfinite(model(x, edge_index)).all()


def test_registered_builders():
    for name, attention in (('gamlp_recursive', 'recursive'),
                            ('gamlp_jk', 'jk')):
        entry = gat_zoo.model_entry(name)
        assert entry.family == 'multi-level' and entry.conv is GAMLPConv
        cfg = gat_zoo.paper_config(name, 'Cora')['model']
        model = gat_zoo.create_model(name, 6, 3, **cfg)
        assert model.conv.attention == attention
        assert not model.use_labels


def test_label_branch_reads_the_label_input():
    edge_index, x = _graph(), _x().float()
    torch.manual_seed(0)
    model = GAMLP(5, 3, hidden_channels=8, num_hops=2, use_labels=True,
                  label_dropout=0.0).eval()
    base = model(x, edge_index)
    emb = torch.rand(12, 3)
    model.set_label_input(emb)
    assert not torch.allclose(model(x, edge_index), base)
    assert torch.allclose(model(x, edge_index),
                          model(x, edge_index, label_emb=emb))
    with pytest.raises(ValueError, match='label input'):
        model.set_label_input(torch.rand(12, 4))


# ---------------------------------------------------------------------------
# RLU.
# ---------------------------------------------------------------------------
def test_pseudo_label_selection():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05],
                          [0.85, 0.15]])
    train = torch.tensor([False, False, False, True, False])
    # Strictly above the threshold, training nodes excluded.
    assert reliable_nodes(probs, 0.85, train).tolist() == [
        True, False, False, False, False]
    assert reliable_nodes(probs, 0.7, train).tolist() == [
        True, False, True, False, True]
    logits = torch.tensor([[2.0, 0.0]])
    assert torch.allclose(stage_predictions(logits, 1.0),
                          torch.softmax(logits, -1))
    sharp = stage_predictions(logits, 0.1)
    assert sharp[0, 0] > 0.99
    with pytest.raises(ValueError, match='temperature'):
        stage_predictions(logits, 0.0)


def test_label_input_uses_training_labels_and_pseudo_labels_only():
    y = torch.tensor([0, 1, 2, 1, 0])
    train = torch.tensor([True, True, False, False, False])
    teacher = torch.tensor([[0.1, 0.1, 0.8]] * 5)
    reliable = torch.tensor([False, False, True, False, False])
    out = label_input(y, train, 3, teacher, reliable)
    expected = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0.1, 0.1, 0.8],
                             [0, 0, 0], [0, 0, 0]])
    assert torch.allclose(out, expected)
    # The labels of non-training nodes are never read.
    y2 = y.clone()
    y2[2:] = torch.tensor([0, 0, 2])
    assert torch.equal(label_input(y2, train, 3, teacher, reliable), out)
    assert torch.equal(label_input(y, train, 3)[2:], torch.zeros(3, 3))


def test_distillation_loss_by_hand():
    logits = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    teacher = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    mask = torch.tensor([True, True, False])
    logq = F.log_softmax(logits, -1)
    expected = 0.0
    for i in range(2):
        conf = teacher[i].max()
        expected += conf * sum(teacher[i, j] * (torch.log(teacher[i, j] +
                                                          1e-8) - logq[i, j])
                               for j in range(2))
    expected = expected / 2
    assert rlu_distillation_loss(logits, teacher, mask).item() == \
        pytest.approx(expected.item(), rel=1e-6)
    none = torch.zeros(3, dtype=torch.bool)
    assert rlu_distillation_loss(logits, teacher, none).item() == 0.0
    # Through the model's auxiliary_loss hook (training forwards only).
    model = GAMLP(5, 3, hidden_channels=8, num_hops=2)
    x, edge_index = _x().float(), _graph()
    soft = torch.softmax(torch.randn(12, 3), -1)
    model.set_distillation(soft, torch.ones(12, dtype=torch.bool), 0.5)
    out = model(x, edge_index)
    aux = model.auxiliary_loss()
    assert aux.item() == pytest.approx(
        0.5 * rlu_distillation_loss(out, soft).item(), rel=1e-6)
    assert model.auxiliary_loss() is None
    model.eval()
    model(x, edge_index)
    assert model.auxiliary_loss() is None


def test_rlu_stages_end_to_end():
    from gat_zoo.datasets import csbm
    data = csbm(num_nodes=200, num_val=50)
    torch.manual_seed(0)
    records = train_gamlp_rlu(
        data, model_kwargs=dict(hidden_channels=8, num_hops=2, num_layers=2,
                                label_num_layers=2),
        train_kwargs=dict(lr=0.01, weight_decay=0.0, epochs=8),
        num_stages=2, threshold=0.0, label_num_hops=2)
    assert [r['stage'] for r in records] == [1, 2]
    assert records[0]['reliable'] == 0
    num_train = int(data.train_mask.sum())
    assert records[1]['reliable'] == data.num_nodes - num_train
    assert all(0 <= r['test'] <= 100 for r in records)


# ---------------------------------------------------------------------------
# The factored path and sparse features.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('attention', ['recursive', 'jk', 'smoothing'])
def test_factored_path_equals_the_hop_path(attention):
    edge_index = _graph()
    x = _x().requires_grad_()
    fast = _layer(attention, r=0.5).eval()
    slow = _layer(attention, r=0.5, factored=False).eval()
    slow.load_state_dict(fast.state_dict())
    a, b = fast(x, edge_index), slow(x, edge_index)
    assert torch.allclose(a, b, **TOL)
    ga = torch.autograd.grad(a.sum() + (a ** 2).sum(),
                             [x] + list(fast.parameters()))
    gb = torch.autograd.grad(b.sum() + (b ** 2).sum(),
                             [x] + list(slow.parameters()))
    for u, v in zip(ga, gb):
        assert torch.allclose(u, v, atol=1e-9, rtol=0)


@pytest.mark.parametrize('attention', ['recursive', 'jk', 'smoothing'])
def test_sparse_features_give_the_same_network(attention):
    edge_index = _graph()
    x = torch.relu(_x())  # bag-of-words-like: many zeros
    torch.manual_seed(0)
    model = GAMLP(5, 3, hidden_channels=8, num_hops=3, attention=attention,
                  batch_norm=False, jk_layers=2).double().eval()
    dense = model(x, edge_index)
    sparse = model(x.to_sparse_csr(), edge_index)
    assert torch.allclose(dense, sparse, **TOL)
    model.train()
    torch.manual_seed(1)
    out = model(x.to_sparse_csr(), edge_index)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_label_propagation_operator():
    edge_index = _graph()
    y0 = torch.zeros(12, 3, dtype=F64)
    y0[0, 1] = y0[3, 2] = 1.0
    model = GAMLP(5, 3, hidden_channels=8, num_hops=2, use_labels=True,
                  label_r=0.0, label_add_self_loops=False).double()
    T = dense_operator(edge_index, 12, 0.0, add_self_loops=False)
    expected = torch.linalg.matrix_power(T, 4) @ y0
    assert torch.allclose(model.propagate_labels(y0, edge_index, 4),
                          expected, **TOL)
    same = GAMLP(5, 3, hidden_channels=8, num_hops=2, r=1.0,
                 use_labels=True).double()
    T = dense_operator(edge_index, 12, 1.0)
    assert torch.allclose(same.propagate_labels(y0, edge_index, 3),
                          torch.linalg.matrix_power(T, 3) @ y0, **TOL)
