"""MAGNAConv, MAGNABlock and the MAGNA network: the dense float64 oracle
(values, one-hop attention, gradients), the K-step recursion against the
truncated and the infinite PPR series, fused against reference path, every
adjacency layout, corner cases, bad input and the registered model."""
import math

import pytest
import torch
import torch.nn.functional as F
from reference import edge_attention, random_graph
from reference.dense_gat import neighbourhood_counts
from reference.dense_magna import (
    attention_matrix,
    dense_magna,
    diffusion_limit,
    magna_params_from_module,
    truncated_diffusion,
)
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

import gat_zoo
from gat_zoo.nn.conv.magna_conv import MAGNABlock, MAGNAConv
from gat_zoo.nn.models.magna import MAGNA, drop_edges
from gat_zoo.ops import use_fused

TOL = dict(atol=1e-9, rtol=0)
F64 = torch.float64


def _features(n, f, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=gen, dtype=F64)


def _layer(in_channels, out_channels, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('alpha', 0.2)
    kwargs.setdefault('num_hops', 3)
    layer = MAGNAConv(in_channels, out_channels, **kwargs).double()
    with torch.no_grad():  # scores that vary between neighbours
        layer.att_head.mul_(3.0)
        layer.att_tail.mul_(3.0)
    return layer


def _oracle(layer, x, edge_index):
    return dense_magna(x, edge_index, **magna_params_from_module(layer))


def _grads(module, out, inputs, seed=11):
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(
        seed), dtype=out.dtype)
    return torch.autograd.grad((out * weight).sum(),
                               inputs + list(module.parameters()),
                               allow_unused=True, retain_graph=True)


def _assert_same_grads(a, b):
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
        else:
            assert torch.allclose(u, v, **TOL)


def _check_against_oracle(layer, x, edge_index, fused):
    """Output, one-hop attention and gradients of ``layer`` against the
    dense oracle; returns the layer's ``(edge_index, alpha)``."""
    with use_fused(fused):
        out, (ei, alpha) = layer(x, edge_index,
                                 return_attention_weights=True)
    expected, alpha_dense = _oracle(layer, x, edge_index)
    assert torch.allclose(out, expected, **TOL)
    assert torch.allclose(alpha, edge_attention(alpha_dense, ei), **TOL)
    _assert_same_grads(_grads(layer, out, [x]),
                       _grads(layer, expected, [x]))
    return ei, alpha


# ---------------------------------------------------------------------------
# Dense oracle.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('heads,concat', [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize('shared', [False, True])
@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('fused', ['on', 'off'])
def test_matches_dense_oracle(heads, concat, shared, add_self_loops, fused):
    n = 14
    # Self-loops, duplicate edges and isolated nodes included.
    edge_index = random_graph(n, n, 50, seed=heads + 7 * shared)
    x = _features(n, 6, seed=1).requires_grad_()
    layer = _layer(6, 5, heads=heads, concat=concat,
                   shared_attention_projection=shared,
                   add_self_loops=add_self_loops)
    ei, alpha = _check_against_oracle(layer, x, edge_index, fused)


@pytest.mark.parametrize('fused', ['on', 'off'])
def test_bias_and_no_output_projection_match_oracle(fused):
    n = 11
    edge_index = random_graph(n, n, 35, seed=21)
    x = _features(n, 4, seed=2).requires_grad_()
    layer = _layer(4, 3, heads=2, project_out=False, bias=True, alpha=0.5,
                   num_hops=5)
    with torch.no_grad():
        layer.bias.uniform_(-1, 1)
    assert layer.lin_out is None
    with use_fused(fused):
        out = layer(x, edge_index)
    expected, _ = _oracle(layer, x, edge_index)
    assert torch.allclose(out, expected, **TOL)
    _assert_same_grads(_grads(layer, out, [x]),
                       _grads(layer, expected, [x]))


@pytest.mark.parametrize('top_k', [1, 2, 4])
@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('fused', ['on', 'off'])
def test_top_k_selection_matches_dense_oracle(top_k, add_self_loops, fused):
    # The official code's top-k neighbour selection: self-loops, duplicate
    # edges (tied scores) and isolated nodes included.
    n = 14
    edge_index = random_graph(n, n, 60, seed=top_k)
    x = _features(n, 6, seed=4).requires_grad_()
    layer = _layer(6, 4, heads=3, top_k=top_k,
                   add_self_loops=add_self_loops)
    ei, alpha = _check_against_oracle(layer, x, edge_index, fused)
    # Every node attends to at most top_k distinct scores per head, and
    # nodes with more in-edges than that drop some of them.
    kept = (alpha > 0).double()
    in_degree = torch.bincount(ei[1], minlength=n)
    per_node = torch.zeros(n, 3, dtype=F64).index_add_(0, ei[1], kept)
    assert bool((per_node[in_degree > 0] >= 1).all())
    if top_k < int(in_degree.max()):
        assert bool((per_node < in_degree.unsqueeze(-1)).any())
    # A k at least every in-degree selects nothing away.
    wide = _layer(6, 4, heads=3, top_k=int(in_degree.max()),
                  add_self_loops=add_self_loops)
    plain = _layer(6, 4, heads=3, add_self_loops=add_self_loops)
    with use_fused(fused):
        assert torch.allclose(wide(x, edge_index), plain(x, edge_index),
                              **TOL)
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match='top_k'):
            MAGNAConv(6, 4, top_k=bad)


def test_attention_is_live_and_multi_hop():
    # Every attention parameter gets gradient, and a node receives signal
    # from its 2- and 3-hop sources (a path 0 -> 1 -> 2 -> 3).
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    x = _features(4, 3, seed=3)
    layer = _layer(3, 2, heads=2, num_hops=3)
    out = layer(x, edge_index)
    names = [name for name, _ in layer.named_parameters()]
    grads = _grads(layer, out, [])
    for name, grad in zip(names, grads):
        assert grad is not None and grad.abs().max() > 1e-8, name
    # Node 3 depends on the nodes within K hops upstream of it.
    for hops, reached in ((1, [2, 3]), (2, [1, 2, 3]), (3, [0, 1, 2, 3])):
        layer.num_hops = hops
        x0 = x.clone().requires_grad_()
        grad = torch.autograd.grad(layer(x0, edge_index)[3].sum(), x0)[0]
        assert [j for j in range(4) if grad[j].abs().max() > 0] == reached


# ---------------------------------------------------------------------------
# The K-step recursion: truncated series, and its limit.
# ---------------------------------------------------------------------------
def _attention_of(layer, x, edge_index):
    _, alpha_dense = _oracle(layer, x, edge_index)
    counts = neighbourhood_counts(edge_index, x.size(0), x.size(0),
                                  layer.add_self_loops)
    return attention_matrix(alpha_dense, counts).detach()


def test_recursion_is_the_truncated_series():
    # Z^(K) = (sum_{k<K} a(1-a)^k A^k + (1-a)^K A^K) Z^(0), checked
    # against a plain recursion on the dense matrix.
    n, alpha = 12, 0.3
    edge_index = random_graph(n, n, 40, seed=4)
    x = _features(n, 4, seed=4)
    layer = _layer(4, 3, heads=2, alpha=alpha)
    A = _attention_of(layer, x, edge_index)
    Z0 = torch.randn(2, n, 3, dtype=F64)
    for K in (1, 2, 3, 7):
        Z = Z0
        for _ in range(K):
            Z = (1 - alpha) * A @ Z + alpha * Z0
        assert torch.allclose(truncated_diffusion(A, alpha, K) @ Z0, Z,
                              **TOL)
    eye = torch.eye(n, dtype=F64)
    assert torch.allclose(truncated_diffusion(A, alpha, 1),
                          alpha * eye + (1 - alpha) * A, **TOL)


def test_truncation_converges_to_the_ppr_series():
    n, alpha = 12, 0.25
    edge_index = random_graph(n, n, 40, seed=5)
    x = _features(n, 4, seed=5)
    layer = _layer(4, 3, heads=2, alpha=alpha)
    A = _attention_of(layer, x, edge_index)
    # Rows sum to one (one self-loop per node): A is row-stochastic.
    assert torch.allclose(A.sum(-1), torch.ones(2, n, dtype=F64), **TOL)
    limit = diffusion_limit(A, alpha)
    assert torch.allclose(limit.sum(-1), torch.ones(2, n, dtype=F64),
                          **TOL)
    errors = []
    for K in (1, 2, 4, 8, 16, 32, 64):
        err = (truncated_diffusion(A, alpha, K) - limit).abs().sum(-1).max()
        assert err <= 2 * (1 - alpha)**K + 1e-12
        errors.append(float(err))
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-7
    # The layer with many steps computes the infinite series.
    layer.num_hops = 100
    Z0 = layer.lin(x).view(n, 2, 3).permute(1, 0, 2)
    expected = layer.lin_out((limit @ Z0).permute(1, 0, 2).reshape(n, 6))
    for mode in ('on', 'off'):
        with use_fused(mode):
            assert torch.allclose(layer(x, edge_index), expected, **TOL)


def test_alpha_one_is_no_diffusion():
    n = 9
    edge_index = random_graph(n, n, 25, seed=6)
    x = _features(n, 4, seed=6)
    layer = _layer(4, 3, heads=2, alpha=1.0)
    expected = layer.lin_out(layer.lin(x))
    for mode in ('on', 'off'):
        with use_fused(mode):
            assert torch.allclose(layer(x, edge_index), expected, **TOL)


# ---------------------------------------------------------------------------
# Fused against reference path; layouts.
# ---------------------------------------------------------------------------
def _both_paths_in_training(**kwargs):
    """A training-mode layer run on the fused and the reference path with
    the same seed: both must draw the same dropout masks. Returns the
    layer, its input, graph, output and one-hop attention."""
    n = 16
    edge_index = random_graph(n, n, 60, seed=7)
    x = _features(n, 5, seed=2).requires_grad_()
    layer = _layer(5, 3, heads=2, **kwargs).train()
    results = {}
    for mode in ('on', 'off'):
        torch.manual_seed(7)
        with use_fused(mode):
            out, (_, alpha) = layer(x, edge_index,
                                    return_attention_weights=True)
        results[mode] = (out, alpha, _grads(layer, out, [x]))
    (a, wa, ga), (b, wb, gb) = results['on'], results['off']
    assert torch.allclose(a, b, **TOL) and torch.allclose(wa, wb, **TOL)
    _assert_same_grads(ga, gb)
    return layer, x, edge_index, a, wa


def test_fused_matches_reference_with_dropout_masks():
    layer, x, edge_index, a, wa = _both_paths_in_training(dropout=0.4)
    # Dropout is live: some coefficients are zero, the rest rescaled.
    assert (wa == 0).any() and (wa > 0).any()
    layer.eval()
    assert not torch.allclose(layer(x, edge_index), a, atol=1e-6)


def test_per_step_dropout_same_on_both_paths_and_fresh_each_step():
    # The official code's dropouts inside the diffusion: both execution
    # paths draw the same masks per seed; the masks differ between steps.
    layer, x, edge_index, _, wa = _both_paths_in_training(
        dropout=0.4, step_dropout=0.3, resample_attention_dropout=True)
    n = x.size(0)
    # The returned one-hop attention is the undropped softmax.
    layer.eval()
    _, (_, clean) = layer(x, edge_index, return_attention_weights=True)
    assert torch.allclose(wa, clean, **TOL)
    # One mask per step: the diffusion sees different matrices at each
    # step, unlike one mask drawn for the whole pass.
    layer.train()
    masks = []
    original = F.dropout

    def recording(t, p=0.5, training=True, inplace=False):
        out = original(t, p=p, training=training, inplace=inplace)
        masks.append(out.detach() != 0)
        return out

    with use_fused('off'):
        import gat_zoo.nn.conv.magna_conv as module
        module.F.dropout = recording
        try:
            layer(x, edge_index)
        finally:
            module.F.dropout = original
    # num_hops attention masks and num_hops feature masks, interleaved.
    assert len(masks) == 2 * layer.num_hops
    attention_masks = masks[0::2]
    assert any(not torch.equal(attention_masks[0], m)
               for m in attention_masks[1:])
    assert all(m.shape == (n, 2, 3) for m in masks[1::2])
    for bad in (dict(step_dropout=1.0), dict(step_dropout=-0.1)):
        with pytest.raises(ValueError, match='step_dropout'):
            MAGNAConv(4, 2, **bad)


def test_adjacency_layouts_agree():
    n = 12
    edge_index = random_graph(n, n, 40, seed=8, duplicates=False)
    x = _features(n, 5, seed=5)
    layer = _layer(5, 4, heads=2).eval()
    expected, (ei, alpha) = layer(x, edge_index,
                                  return_attention_weights=True)
    lookup = {(int(s), int(t)): a for (s, t), a in zip(ei.t(), alpha)}

    adj = torch.sparse_coo_tensor(edge_index.flip(0),
                                  torch.ones(edge_index.size(1)), (n, n))
    layouts = [adj.coalesce(), adj.to_sparse_csr(),
               EdgeIndex(edge_index, sparse_size=(n, n)).sort_by('col')[0],
               edge_index.int()]
    if WITH_TORCH_SPARSE:
        layouts.append(SparseTensor.from_edge_index(
            edge_index, sparse_sizes=(n, n)).t())
    for layout in layouts:
        for mode in ('on', 'off'):
            with use_fused(mode):
                out, att = layer(x, layout, return_attention_weights=True)
            assert torch.allclose(out, expected, **TOL)
            if isinstance(att, tuple):
                pairs, weights = att
                if pairs.layout != torch.strided:  # torch sparse
                    pairs = pairs.to_sparse_coo().coalesce().indices().flip(0)
            else:
                row, col, weights = att.coo()
                pairs = torch.stack([col, row])
            assert pairs.size(1) == ei.size(1)
            for (s, t), w in zip(pairs.t(), weights):
                assert torch.allclose(w, lookup[(int(s), int(t))], **TOL)
    assert torch.allclose(layer(x, edge_index, size=(n, n)), expected, **TOL)


def test_edge_order_does_not_matter():
    n = 12
    edge_index = random_graph(n, n, 40, seed=9)
    perm = torch.randperm(edge_index.size(1),
                          generator=torch.Generator().manual_seed(0))
    layer = _layer(5, 4, heads=2)
    x = _features(n, 5, seed=7)
    for mode in ('on', 'off'):
        with use_fused(mode):
            assert torch.allclose(layer(x, edge_index),
                                  layer(x, edge_index[:, perm]), **TOL)


# ---------------------------------------------------------------------------
# Attention weights and corner cases.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('fused', ['on', 'off'])
def test_attention_weights_are_one_hop_and_normalised(fused):
    n = 10
    edge_index = random_graph(n, n, 30, seed=10)  # targets 5, 9 isolated
    layer = _layer(3, 2, heads=3)
    with use_fused(fused):
        _, (ei, alpha) = layer(_features(n, 3, 0), edge_index,
                               return_attention_weights=True)
    assert alpha.shape == (ei.size(1), 3)
    # Input edges without their self-loops, plus one self-loop per node.
    loops = ei[0] == ei[1]
    assert sorted(ei[0][loops].tolist()) == list(range(n))
    assert ei.size(1) == int((edge_index[0] != edge_index[1]).sum()) + n
    sums = torch.zeros(n, 3, dtype=F64).index_add_(0, ei[1], alpha)
    assert torch.allclose(sums, torch.ones(n, 3, dtype=F64), **TOL)
    for node in (n // 2, n - 1):
        mask = ei[1] == node
        assert ei[0][mask].tolist() == [node]
        assert torch.allclose(alpha[mask], torch.ones(1, 3, dtype=F64))


@pytest.mark.parametrize('add_self_loops', [True, False])
def test_graph_without_edges(add_self_loops):
    layer = _layer(8, 4, heads=2, add_self_loops=add_self_loops)
    empty = torch.empty(2, 0, dtype=torch.long)
    for mode in ('on', 'off'):
        with use_fused(mode):
            assert layer(torch.randn(0, 8, dtype=F64), empty).shape == (0, 8)
            x = _features(5, 8, seed=0).requires_grad_()
            out = layer(x, empty)
        # With self-loops A = I, so every power is I and the diffusion is
        # the identity; without, A = 0 and Z^(K) = alpha Z^(0).
        scale = 1.0 if add_self_loops else layer.alpha
        assert torch.allclose(out, layer.lin_out(scale * layer.lin(x)),
                              **TOL)
        expected, _ = _oracle(layer, x, empty)
        assert torch.allclose(out, expected, **TOL)
        out.sum().backward()
        assert torch.isfinite(x.grad).all()


def test_lazy_in_channels_and_float32():
    layer = MAGNAConv(-1, 4, heads=2)
    x = torch.randn(6, 5)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    for mode in ('on', 'off'):
        with use_fused(mode):
            out = layer(x, edge_index)
        assert out.shape == (6, 8) and out.dtype == torch.float32
    assert layer.lin.in_channels == 5


def test_defaults_repr_and_reset():
    layer = MAGNAConv(8, 4, heads=3)
    assert (layer.alpha, layer.num_hops, layer.negative_slope,
            layer.dropout, layer.add_self_loops, layer.concat) == \
        (0.15, 4, 0.2, 0.0, True, True)
    assert layer.lin_head is not None and layer.bias is None
    assert str(layer) == 'MAGNAConv(8, 4, heads=3, alpha=0.15, num_hops=4)'
    shared = MAGNAConv(8, 4, shared_attention_projection=True)
    assert shared.lin_head is None and shared.lin_tail is None
    before = [p.detach().clone() for p in layer.parameters()]
    layer.reset_parameters()
    for old, new in zip(before, layer.parameters()):
        assert not torch.equal(old, new)


def test_bad_input_raises():
    layer = _layer(4, 2)
    x = _features(5, 4, 0)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match='out of range'):
        layer(x, torch.tensor([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match='negative'):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(ValueError, match='features per node'):
        layer(_features(5, 3, 0), edge_index)
    with pytest.raises(ValueError, match='bipartite'):
        layer((x, x), edge_index)
    with pytest.raises(ValueError, match='square'):
        layer(x, edge_index, size=(5, 4))
    with pytest.raises(ValueError, match='floating-point'):
        layer(torch.ones(5, 4, dtype=torch.long), edge_index)
    with pytest.raises(ValueError):
        layer(x, torch.tensor([0, 1, 2]))
    for bad in (dict(alpha=0.0), dict(alpha=1.5), dict(alpha=True),
                dict(num_hops=0), dict(num_hops=2.5), dict(heads=0),
                dict(dropout=1.0), dict(out_channels=0)):
        kwargs = dict(in_channels=4, out_channels=2)
        kwargs.update(bad)
        with pytest.raises(ValueError):
            MAGNAConv(**kwargs)
    with pytest.raises(ValueError, match='bipartite'):
        MAGNAConv((4, 3), 2)


# ---------------------------------------------------------------------------
# The block.
# ---------------------------------------------------------------------------
def _dense_block(block, x, edge_index):
    """The block's equations in dense float64, on the conv oracle."""
    h = x
    if block.norm is not None:
        h = F.layer_norm(x, (x.size(1), ), block.norm.weight,
                         block.norm.bias, block.norm.eps)
    conv, _ = dense_magna(h, edge_index,
                          **magna_params_from_module(block.conv))
    res = x if isinstance(block.res, torch.nn.Identity) else \
        x @ block.res.weight.t()
    out = conv + res
    if block.ffn_in is None:
        return F.elu(out)
    ff = out
    if block.ffn_norm is not None:
        ff = F.layer_norm(out, (out.size(1), ), block.ffn_norm.weight,
                          block.ffn_norm.bias, block.ffn_norm.eps)
    ff = torch.relu(ff @ block.ffn_in.weight.t() + block.ffn_in.bias)
    return out + ff @ block.ffn_out.weight.t() + block.ffn_out.bias


@pytest.mark.parametrize('in_channels', [6, 8])
@pytest.mark.parametrize('layer_norm,feed_forward', [(True, True),
                                                     (False, True),
                                                     (True, False)])
def test_block_matches_dense_composition(in_channels, layer_norm,
                                         feed_forward):
    n = 13
    edge_index = random_graph(n, n, 40, seed=12)
    x = _features(n, in_channels, seed=3).requires_grad_()
    torch.manual_seed(0)
    block = MAGNABlock(in_channels, 8, heads=2, alpha=0.3, num_hops=3,
                       dropout=0.3, attention_dropout=0.3, ffn_dropout=0.3,
                       layer_norm=layer_norm,
                       feed_forward=feed_forward).double().eval()
    assert isinstance(block.res, torch.nn.Identity) == (in_channels == 8)
    with torch.no_grad():  # non-trivial norm parameters
        for norm in (block.norm, block.ffn_norm):
            if norm is not None:
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
    out, (ei, alpha) = block(x, edge_index, return_attention_weights=True)
    expected = _dense_block(block, x, edge_index)
    assert out.shape == (n, 8)
    assert torch.allclose(out, expected, **TOL)
    _assert_same_grads(_grads(block, out, [x]),
                       _grads(block, expected, [x]))
    assert alpha.shape == (ei.size(1), 2)
    # Training mode: dropout changes the output.
    block.train()
    torch.manual_seed(1)
    assert not torch.allclose(block(x, edge_index), expected, atol=1e-6)


def test_block_validation_and_repr():
    with pytest.raises(ValueError, match='divisible'):
        MAGNABlock(8, 10, heads=4)
    with pytest.raises(ValueError):
        MAGNABlock(8, 8, heads=2, dropout=1.0)
    block = MAGNABlock(8, 16, heads=4)
    assert str(block) == 'MAGNABlock(8, 16, heads=4, alpha=0.15, num_hops=4)'
    assert block.conv.out_channels == 4 and block.conv.heads == 4
    before = [p.detach().clone() for p in block.parameters()]
    block.reset_parameters()
    changed = [not torch.equal(a, b)
               for a, b in zip(before, block.parameters())]
    assert sum(changed) >= len(changed) - 4  # norms reset to 1 / 0


# ---------------------------------------------------------------------------
# The network and the registry.
# ---------------------------------------------------------------------------
def _tiny_graph():
    x = _features(9, 6, seed=0)
    edge_index = random_graph(9, 9, 30, seed=1)
    return x, edge_index


def test_registered_in_the_zoo():
    assert 'magna' in gat_zoo.list_models(family='high-order')
    entry = gat_zoo.registry.model_entry('magna')
    assert entry.conv is MAGNAConv and entry.url.endswith('2009.14332')
    model = gat_zoo.create_model('magna', 6, 3, hidden_channels=16, heads=4)
    assert isinstance(model, MAGNA)


def test_model_forward_backward():
    x, edge_index = _tiny_graph()
    torch.manual_seed(0)
    model = MAGNA(6, 3, hidden_channels=16, heads=4, num_layers=3,
                  num_hops=3).double()
    assert len(model.blocks) == 3 and model.project is None
    assert str(model) == ('MAGNA(6, 3, num_layers=3, hidden_channels=16, '
                          'heads=4)')
    model.train()
    out = model(x, edge_index)
    assert out.shape == (9, 3) and torch.isfinite(out).all()
    out.log_softmax(-1)[:, 0].sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    # Eval is deterministic; training resamples dropouts and edges.
    model.eval()
    a, b = model(x, edge_index), model(x, edge_index)
    assert torch.equal(a, b)
    out, atts = model(x, edge_index, return_attention_weights=True)
    assert torch.equal(out, a) and len(atts) == 3
    for ei, alpha in atts:
        assert alpha.shape == (ei.size(1), 4)
    model.train()
    assert not torch.allclose(model(x, edge_index), model(x, edge_index))
    model.reset_parameters()


def test_model_options_and_errors():
    x, edge_index = _tiny_graph()
    model = MAGNA(6, 3, hidden_channels=8, heads=2, input_projection=10,
                  layer_norm=False, feed_forward=False,
                  shared_attention_projection=True).double().eval()
    assert model.project is not None and model.blocks[0].in_channels == 10
    assert model(x, edge_index).shape == (9, 3)
    # The official code's per-step dropouts reach every block's diffusion.
    model = MAGNA(6, 3, hidden_channels=8, heads=2, num_layers=2,
                  dropout=0.3, per_step_dropout=True).double()
    assert all(b.conv.step_dropout == 0.3 and
               b.conv.resample_attention_dropout for b in model.blocks)
    model(x, edge_index).sum().backward()
    assert MAGNA(6, 3, hidden_channels=8, heads=2).blocks[0].conv \
        .step_dropout == 0.0
    model = MAGNA(6, 3, hidden_channels=8, heads=2, num_layers=2, top_k=2)
    assert all(b.conv.top_k == 2 for b in model.blocks)
    assert model.double()(x, edge_index).shape == (9, 3)
    for bad in (dict(num_layers=0), dict(edge_dropout=1.0),
                dict(dropout=-0.1), dict(hidden_channels=10, heads=4)):
        with pytest.raises(ValueError):
            MAGNA(6, 3, **bad)


def test_edge_dropout_keeps_the_layout():
    n = 30
    edge_index = random_graph(n, n, 200, seed=13, duplicates=False)
    torch.manual_seed(0)
    assert drop_edges(edge_index, 0.5, training=False) is edge_index
    dropped = drop_edges(edge_index, 0.5)
    assert type(dropped) is torch.Tensor and 50 < dropped.size(1) < 150
    kept = {tuple(e) for e in dropped.t().tolist()}
    assert kept <= {tuple(e) for e in edge_index.t().tolist()}
    index = EdgeIndex(edge_index, sparse_size=(n, n))
    assert type(drop_edges(index, 0.5)) is torch.Tensor
    adj = torch.sparse_coo_tensor(edge_index.flip(0),
                                  torch.ones(edge_index.size(1)), (n, n))
    sparse = drop_edges(adj, 0.5)
    assert sparse.is_sparse and sparse.shape == (n, n)
    assert 50 < sparse._nnz() < 150
    if WITH_TORCH_SPARSE:
        adj_t = SparseTensor.from_edge_index(edge_index,
                                             sparse_sizes=(n, n)).t()
        dropped_t = drop_edges(adj_t, 0.5)
        assert isinstance(dropped_t, SparseTensor)
        assert dropped_t.sparse_sizes() == (n, n)
        assert 50 < dropped_t.nnz() < 150
    # The model trains on every layout with edge dropout on.
    x = _features(n, 4, seed=1)
    model = MAGNA(4, 2, hidden_channels=8, heads=2, edge_dropout=0.3)
    for layout in (edge_index, adj) + ((adj_t, ) if WITH_TORCH_SPARSE
                                       else ()):
        assert model(x.float(), layout).shape == (n, 2)


def test_pair_edge_dropout_drops_both_directions_together():
    n = 40
    one_way = random_graph(n, n, 300, seed=5, duplicates=False)
    one_way = one_way[:, one_way[0] < one_way[1]]
    # both directions, a parallel copy of the first edges, and self-loops
    loops = torch.arange(5).repeat(2, 1)
    edge_index = torch.cat([one_way, one_way.flip(0), one_way[:, :10],
                            loops], dim=1)

    def pairs_of(index):
        return [(min(u, v), max(u, v)) for u, v in index.t().tolist()]

    def check(kept_edges, reference=edge_index):
        counts = {}
        for pair in pairs_of(reference):
            counts[pair] = counts.get(pair, 0) + 1
        kept = {}
        for pair in pairs_of(kept_edges):
            kept[pair] = kept.get(pair, 0) + 1
        # every pair is kept with all its copies or not at all
        assert all(kept[p] == counts[p] for p in kept)
        return len(kept) / len(counts)

    torch.manual_seed(0)
    fractions = [check(drop_edges(edge_index, 0.3, pairs=True))
                 for _ in range(20)]
    assert 0.62 < sum(fractions) / len(fractions) < 0.78
    adj = torch.sparse_coo_tensor(edge_index, torch.ones(edge_index.size(1)),
                                  (n, n)).coalesce()
    dropped = drop_edges(adj, 0.3, pairs=True).coalesce()
    check(dropped.indices(), adj.indices())  # coalescing merged the copies
    if WITH_TORCH_SPARSE:
        adj_t = SparseTensor.from_edge_index(edge_index, sparse_sizes=(n, n))
        row, col, _ = drop_edges(adj_t, 0.3, pairs=True).coo()
        stored_row, stored_col, _ = adj_t.coo()
        check(torch.stack([row, col]), torch.stack([stored_row, stored_col]))
    # one-by-one dropping separates the two directions of some edges
    single = drop_edges(edge_index, 0.3)
    with pytest.raises(AssertionError):
        check(single)
    assert drop_edges(edge_index[:, :0], 0.3, pairs=True).shape == (2, 0)
    model = MAGNA(4, 2, hidden_channels=8, heads=2, edge_dropout=0.3,
                  pair_edge_dropout=True)
    assert model(_features(n, 4, seed=2).float(), edge_index).shape == (n, 2)


def test_code_initialisation_has_the_official_scales():
    # Xavier-normal std = gain * sqrt(2 / (fan_in + fan_out)); for the
    # [1, H, C] attention vectors torch counts fan_in = H * C, fan_out = C.
    tanh, relu = 5.0 / 3.0, math.sqrt(2.0)

    def xavier(fan_in, fan_out, gain):
        return gain * math.sqrt(2.0 / (fan_in + fan_out))

    torch.manual_seed(0)
    model = MAGNA(300, 7, hidden_channels=256, heads=4, num_layers=2,
                  input_projection=200, code_init=True)
    plain = MAGNA(300, 7, hidden_channels=256, heads=4, num_layers=2,
                  input_projection=200)
    first, second = model.blocks
    expected = [
        (first.conv.lin.weight, xavier(200, 256, tanh)),
        (first.conv.lin_head.weight, xavier(200, 256, tanh)),
        (first.conv.lin_out.weight, xavier(256, 256, tanh)),
        (first.conv.att_head, xavier(4 * 64, 64, tanh)),
        (second.conv.att_tail, xavier(4 * 64, 64, tanh)),
        (first.res.weight, xavier(200, 256, tanh)),
        (second.ffn_in.weight, xavier(256, 1024, relu)),
        (second.ffn_out.weight, xavier(1024, 256, relu)),
        (model.classifier.weight, xavier(256, 7, 1.0)),
        (model.project.weight, xavier(300, 200, 1.0)),
    ]
    for weight, std in expected:
        assert abs(weight.std().item() / std - 1) < 0.1, weight.shape
    # PyG's defaults differ, e.g. Glorot-uniform on the last two dims
    assert abs(plain.blocks[0].conv.att_head.std().item()
               / xavier(4 * 64, 64, tanh) - 1) > 0.2
    # reset_parameters keeps the choice; the shared form leaves the output
    # projection at torch's default, as the code does
    first.conv.lin.weight.data.zero_()
    model.reset_parameters()
    assert abs(first.conv.lin.weight.std().item()
               / xavier(200, 256, tanh) - 1) < 0.1
    shared = MAGNA(300, 7, hidden_channels=256, heads=4, num_layers=1,
                   shared_attention_projection=True, code_init=True)
    bound = 1 / math.sqrt(256)
    assert shared.blocks[0].conv.lin_out.weight.abs().max() <= bound


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():  # pragma: no cover - GPU only
    n = 12
    edge_index = random_graph(n, n, 40, seed=1)
    layer = _layer(5, 4, heads=2)
    x = _features(n, 5, 0)
    expected = layer(x, edge_index)
    layer = layer.cuda()
    for mode in ('auto', 'on'):
        with use_fused(mode):
            out = layer(x.cuda(), edge_index.cuda())
        assert torch.allclose(out.cpu(), expected, atol=1e-6)
