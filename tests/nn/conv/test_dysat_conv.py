"""DySATStructuralConv, TemporalSelfAttention and the DySAT network: the
dense float64 oracles (values, attention, gradients), every adjacency
layout, corner cases, bad input, the registered model and the snapshot
loader / link-prediction protocol pieces."""
import pytest
import torch
from reference import random_graph
from reference.dense_dysat import (
    dense_dysat_structural,
    dense_temporal,
    dense_weights,
)
from reference.gradients import assert_same_gradients

from gat_zoo import create_model, paper_config
from gat_zoo.nn.conv import DySATStructuralConv, TemporalSelfAttention
from gat_zoo.nn.models import DySAT
from tests.reference.layouts import adjacency_layouts

F64 = torch.float64
TOL = dict(atol=1e-10, rtol=0)


def _conv(in_channels=5, out_channels=3, heads=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    conv = DySATStructuralConv(in_channels, out_channels, heads=heads,
                               **kwargs).double()
    with torch.no_grad():  # spread the attention away from uniform
        conv.att_src.mul_(4.0)
        conv.att_dst.mul_(4.0)
    return conv


def _features(n, c, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=gen, dtype=F64)


def _oracle(conv, x, edge_index, edge_weight=None):
    return dense_dysat_structural(
        x, edge_index, conv.lin.weight, conv.att_src, conv.att_dst,
        edge_weight=edge_weight, add_self_loops=conv.add_self_loops,
        normalize=conv.normalize, negative_slope=conv.negative_slope,
        res_weight=None if conv.res is None else conv.res.weight,
        act=conv.act)


def _dense_alpha(index, alpha, n):
    dense = torch.zeros(n, n, alpha.size(1), dtype=alpha.dtype)
    dense[index[1], index[0]] = alpha
    return dense


@pytest.mark.parametrize('add_self_loops', [True, False])
@pytest.mark.parametrize('normalize', [True, False])
@pytest.mark.parametrize('residual', [False, True])
def test_structural_matches_dense_oracle(add_self_loops, normalize,
                                         residual):
    n = 14
    # Isolated nodes, doubled self-loops and a duplicated edge included.
    edge_index = random_graph(n, n, 40, seed=3 + add_self_loops)
    conv = _conv(add_self_loops=add_self_loops, normalize=normalize,
                 residual=residual)
    x = _features(n, 5).requires_grad_()
    out, (index, alpha) = conv(x, edge_index, return_attention_weights=True)
    ref, ref_alpha = _oracle(conv, x, edge_index)
    assert out.shape == (n, 6)
    assert torch.allclose(out, ref, **TOL)
    # One attention per merged (source, target) pair, summing to one.
    assert index.size(1) == len({tuple(p) for p in index.t().tolist()})
    assert torch.allclose(_dense_alpha(index, alpha, n), ref_alpha, **TOL)
    assert_same_gradients(conv, out, ref, [x])


def test_link_weight_scales_the_logit():
    """The paper's A_uv multiplies the logit inside the LeakyReLU: scaling
    all weights changes the attention (GAT's would not see them at all),
    and the oracle agrees for arbitrary weights."""
    n = 10
    edge_index = random_graph(n, n, 30, seed=7)
    weight = torch.rand(edge_index.size(1), dtype=F64,
                        generator=torch.Generator().manual_seed(2)) + 0.1
    conv = _conv(normalize=False)
    x = _features(n, 5).requires_grad_()
    out, (_, a1) = conv(x, edge_index, weight, return_attention_weights=True)
    ref, _ = _oracle(conv, x, edge_index, weight)
    assert torch.allclose(out, ref, **TOL)
    assert_same_gradients(conv, out, ref, [x])
    _, (_, a2) = conv(x, edge_index, 5 * weight,
                      return_attention_weights=True)
    assert not torch.allclose(a1, a2)


def test_remembered_graph_follows_its_inputs():
    """The normalised snapshot is remembered between calls, and rebuilt
    when the weights are another tensor, are changed in place, or the
    graph changes; learned weights are never remembered."""
    n = 10
    edge_index = random_graph(n, n, 30, seed=8)
    gen = torch.Generator().manual_seed(5)
    weight = torch.rand(edge_index.size(1), dtype=F64, generator=gen) + 0.1
    conv = _conv()
    x = _features(n, 5)

    def oracle(index, w):
        return _oracle(conv, x, index, w)[0]

    assert torch.allclose(conv(x, edge_index, weight),
                          oracle(edge_index, weight), **TOL)
    assert torch.allclose(conv(x, edge_index),
                          oracle(edge_index, None), **TOL)
    other = weight.flip(0).clone()
    assert torch.allclose(conv(x, edge_index, other),
                          oracle(edge_index, other), **TOL)
    other.mul_(3.0)  # in place: same tensor object, new values
    assert torch.allclose(conv(x, edge_index, other),
                          oracle(edge_index, other), **TOL)
    edge_index[0, :5] = edge_index[0, 5:10].clone()  # graph edited in place
    assert torch.allclose(conv(x, edge_index, other),
                          oracle(edge_index, other), **TOL)

    learned = weight.clone().requires_grad_()
    conv(x, edge_index, learned).sum().backward()
    first = learned.grad.clone()
    learned.grad = None
    conv(x, edge_index, learned).sum().backward()
    assert learned.grad is not None and torch.equal(learned.grad, first)
    assert first.abs().sum() > 0


def test_duplicates_are_interaction_counts():
    """Parallel edges merge into one edge of summed weight, as in the
    official multigraph adjacency."""
    edge_index = torch.tensor([[0, 0, 2], [1, 1, 1]])
    conv = _conv(normalize=False, add_self_loops=False)
    x = _features(3, 5)
    out = conv(x, edge_index)
    merged = conv(x, torch.tensor([[0, 2], [1, 1]]),
                  torch.tensor([2., 1.], dtype=F64))
    assert torch.allclose(out, merged, **TOL)


def test_adjacency_layouts_agree():
    n = 11
    edge_index = random_graph(n, n, 30, seed=4)
    conv = _conv()
    x = _features(n, 5)
    ref = conv(x, edge_index)
    for name, adj in adjacency_layouts(edge_index, n):
        out = conv(x, adj)
        assert torch.allclose(out, ref, **TOL), name


def test_no_edges_and_isolated_nodes():
    conv = _conv()
    x = _features(6, 5)
    empty = torch.empty(2, 0, dtype=torch.long)
    out = conv(x, empty)  # only the self-loops: h_v = ELU(W x_v)
    h = (x @ conv.lin.weight.t())
    assert torch.allclose(out, torch.nn.functional.elu(h), **TOL)
    no_loops = _conv(add_self_loops=False)
    assert torch.allclose(no_loops(x, empty), torch.zeros(6, 6, dtype=F64))


def test_structural_bad_input():
    conv = _conv()
    x = _features(5, 5)
    with pytest.raises(ValueError, match='features'):
        conv(_features(5, 4), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match='out of range'):
        conv(x, torch.tensor([[0], [7]]))
    with pytest.raises(ValueError, match='edge_weight'):
        conv(x, torch.tensor([[0], [1]]), torch.ones(3, dtype=F64))
    with pytest.raises(TypeError):
        conv([1, 2], torch.tensor([[0], [1]]))
    with pytest.raises(ValueError):
        DySATStructuralConv(0, 3)
    assert 'heads=2' in repr(conv)


def _temporal(channels=6, T=5, heads=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    return TemporalSelfAttention(channels, T, heads=heads, **kwargs).double()


@pytest.mark.parametrize('feedforward', [True, False])
@pytest.mark.parametrize('residual', [False, True])
@pytest.mark.parametrize('T', [1, 3, 5])
def test_temporal_matches_dense_oracle(feedforward, residual, T):
    layer = _temporal(feedforward=feedforward, residual=residual)
    x = torch.randn(7, T, 6, dtype=F64,
                    generator=torch.Generator().manual_seed(T)) * 2
    x.requires_grad_()
    out, att = layer(x, return_attention_weights=True)
    ffn = layer.ffn
    ref, beta = dense_temporal(
        x, layer.position, layer.lin_q.weight, layer.lin_k.weight,
        layer.lin_v.weight, layer.heads,
        None if ffn is None else ffn.weight,
        None if ffn is None else ffn.bias, residual=residual)
    assert torch.allclose(out, ref, **TOL)
    assert torch.allclose(att['temporal'], beta, **TOL)
    # Causal: nothing attends to the future.
    assert (att['temporal'].triu(1) == 0).all()
    assert_same_gradients(layer, out, ref, [x])
    # Without the weights the layer takes the fused kernel: same values.
    plain = layer(x)
    ref, _ = dense_temporal(
        x, layer.position, layer.lin_q.weight, layer.lin_k.weight,
        layer.lin_v.weight, layer.heads,
        None if ffn is None else ffn.weight,
        None if ffn is None else ffn.bias, residual=residual)
    assert torch.allclose(plain, ref, **TOL)
    assert_same_gradients(layer, plain, ref, [x])


def test_temporal_is_causal():
    """Changing the last snapshot changes no earlier output."""
    layer = _temporal()
    x = torch.randn(4, 5, 6, dtype=F64)
    y = x.clone()
    y[:, -1] += 3.0
    assert torch.allclose(layer(x)[:, :-1], layer(y)[:, :-1], **TOL)
    assert not torch.allclose(layer(x)[:, -1], layer(y)[:, -1])


def test_temporal_bad_input():
    layer = _temporal()
    with pytest.raises(ValueError, match='time steps'):
        layer(torch.randn(3, 6, 6, dtype=F64))
    with pytest.raises(ValueError, match='shape'):
        layer(torch.randn(3, 6, dtype=F64))
    with pytest.raises(TypeError):
        layer('x')
    with pytest.raises(ValueError, match='divide'):
        TemporalSelfAttention(6, 3, heads=4)
    assert 'num_time_steps=5' in repr(layer)


def _snapshots(n=9, T=3):
    return [random_graph(n, n, 12 + 4 * t, seed=20 + t) for t in range(T)]


def test_model_is_structural_then_temporal():
    """The network equals the two oracles chained (eval mode)."""
    n, T = 9, 3
    torch.manual_seed(0)
    model = DySAT(5, 2, num_time_steps=4, structural_heads=2,
                  temporal_heads=2).double().eval()
    x = _features(n, 5)
    snaps = _snapshots(n, T)
    emb, att = model(x, snaps, return_attention_weights=True)
    conv, temp = model.structural, model.temporal
    hs = torch.stack([_oracle(conv, x, g)[0] for g in snaps], dim=1)
    ref, beta = dense_temporal(hs, temp.position, temp.lin_q.weight,
                               temp.lin_k.weight, temp.lin_v.weight,
                               temp.heads, temp.ffn.weight, temp.ffn.bias)
    assert emb.shape == (n, T, 4)
    assert torch.allclose(emb, ref, **TOL)
    assert torch.allclose(att['temporal'], beta, **TOL)
    assert len(att['structural']) == T
    pairs = torch.tensor([[0, 3, 8], [1, 4, 8]])
    logits = model(x, snaps, pairs)
    last = ref[:, -1]
    assert torch.allclose(logits, (last[pairs[0]] * last[pairs[1]]).sum(-1),
                          **TOL)


def test_model_trains_on_context_pairs():
    n, T = 9, 3
    torch.manual_seed(0)
    model = create_model('dysat', n, 2, num_time_steps=T,
                         **paper_config('dysat', 'Enron')['model'])
    x = torch.eye(n)
    snaps = _snapshots(n, T)
    emb = model(x, snaps)
    pos = torch.tensor([[0, 1, 2], [1, 2, 3]])
    neg = torch.tensor([[0, 1, 2], [5, 6, 7]])
    loss = sum(model.context_loss(emb[:, t], pos, neg) for t in range(T))
    loss.backward()
    assert torch.isfinite(loss)
    assert model.structural.lin.weight.grad is not None
    with pytest.raises(ValueError, match='snapshots'):
        model(x, snaps, edge_weight=[None])
    with pytest.raises(ValueError, match='pairs'):
        model(x, snaps, torch.tensor([[0], [n]]))


def test_dense_weights_normalisation():
    A, mask = dense_weights(torch.tensor([[0, 1], [1, 0]]), 3)
    assert mask.sum() == 5
    assert torch.allclose(A.sum(), torch.tensor(2.0 + 1.0, dtype=F64))


# ---------------------------------------------------------------------------
# Snapshot loader and the link-prediction protocol.
# ---------------------------------------------------------------------------
def _write_dynamic(root, name='Enron'):
    folder = root / 'dynamic' / name
    folder.mkdir(parents=True)
    (folder / 'snapshot_nodes.csv').write_text(
        'timestep,num_nodes\n0,4\n1,5\n2,6\n')
    rows = ['src,dst,timestep,date',
            '0,1,0,x', '0,1,0,x', '1,2,0,x', '3,3,0,x',
            '0,4,1,x', '2,3,1,x', '1,4,1,x',
            '0,5,2,x', '1,2,2,x', '3,4,2,x', '2,5,2,x']
    (folder / 'edges.csv').write_text('\n'.join(rows) + '\n')


def test_load_dynamic(tmp_path):
    from gat_zoo.datasets import DatasetNotFoundError
    from gat_zoo.datasets.dynamic import load_dynamic
    _write_dynamic(tmp_path)
    g = load_dynamic('enron', tmp_path)
    assert g.name == 'Enron' and g.num_nodes == [4, 5, 6]
    # Both directions, self-loop once, parallel edges as a count.
    assert g.edge_index[0].tolist() == [[0, 1, 1, 2, 3], [1, 0, 2, 1, 3]]
    assert g.edge_weight[0].tolist() == [2., 2., 1., 1., 1.]
    assert g.pairs(0).size(1) == 3
    with pytest.raises(DatasetNotFoundError):
        load_dynamic('UCI', tmp_path)
    with pytest.raises(ValueError, match='Unknown'):
        load_dynamic('yelp', tmp_path)


def test_protocol_pieces():
    import numpy as np

    from gat_zoo.bench.dynamic import context_pairs, eval_split, random_walks
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    weight = torch.tensor([1., 1., 3., 3.])
    gen = torch.Generator().manual_seed(0)
    walks = random_walks(edge_index, weight, 4, 3, 6, gen)
    assert walks.shape == (12, 6)
    assert (walks[walks[:, 0] == 3] == 3).all()  # isolated node stays
    steps = set(zip(walks[:, :-1].flatten().tolist(),
                    walks[:, 1:].flatten().tolist()))
    assert steps <= {(0, 1), (1, 0), (1, 2), (2, 1), (3, 3)}
    pairs = context_pairs(walks, 50, 2, gen, 4)
    assert (pairs[0] != pairs[1]).all()
    # Every node with edges draws its own contexts (at most 50 each, fewer
    # only where a draw hit the node itself); the isolated node has none.
    per_node = torch.bincount(pairs[0], minlength=4)
    assert per_node[3] == 0 and (per_node[:3] > 25).all()
    assert (per_node <= 50).all()
    # Contexts lie within the window: on the path 0-1-2, two steps reach
    # every node, but the pairs only join nodes of one component.
    assert set(pairs.flatten().tolist()) <= {0, 1, 2}
    nxt = torch.tensor([[0, 1, 2, 3, 0, 5], [1, 2, 3, 4, 0, 0]])
    nxt = torch.cat([nxt, nxt.flip(0)], 1)
    split = eval_split(nxt, 5, np.random.default_rng(0))
    pos = np.concatenate([split[k][0] for k in split])
    neg = np.concatenate([split[k][1] for k in split])
    # Links among the 5 old nodes only, the self-loop included once (as
    # the official create_data_splits); negatives unlinked, never loops.
    assert sorted(map(tuple, pos.tolist())) == [(0, 0), (0, 1), (1, 2),
                                                (2, 3), (3, 4)]
    linked = set(map(tuple, nxt.t().tolist()))
    assert len(neg) == len(pos)
    assert not any((a, b) in linked or a == b for a, b in neg.tolist())
    # A complete snapshot leaves no negatives: an error, not an endless draw.
    full = torch.tensor([[0, 0, 1], [1, 2, 2]])
    with pytest.raises(ValueError, match='unlinked'):
        eval_split(torch.cat([full, full.flip(0)], 1), 3,
                   np.random.default_rng(0))


def test_run_step_smoke(tmp_path):
    from gat_zoo.bench.dynamic import default_config, run_seed
    from gat_zoo.datasets.dynamic import DynamicGraph
    gen = torch.Generator().manual_seed(0)
    n, snaps = 30, []
    for _ in range(3):
        e = torch.randint(0, n, (2, 80), generator=gen)
        e = torch.cat([e, e.flip(0)], 1)
        snaps.append(e)
    g = DynamicGraph('toy', [n] * 3, snaps,
                     [torch.ones(e.size(1)) for e in snaps])
    cfg = default_config()
    cfg['model'] = dict(cfg['model'], structural_heads=2, temporal_heads=2)
    res = run_seed(g, 0, cfg, epochs=3, eval_every=1, steps=[1])
    assert res['steps'] == 1 and 0 <= res['micro_auc'] <= 100
    assert len(res['step_aucs']) == 1
    # The validation AUC of the chosen epoch is the best of the epochs.
    assert len(res['step_val_aucs']) == 1
    assert res['val_macro_auc'] == pytest.approx(100 * res['step_val_aucs'][0])
    # Without the official copy of the last snapshot, the same protocol.
    cfg['repeat_last'] = False
    res = run_seed(g, 0, cfg, epochs=2, eval_every=2, steps=[0, 1])
    assert res['steps'] == 2 and len(res['step_aucs']) == 2
    # The diagnostic uniform noise runs the same protocol.
    cfg['noise'] = 'uniform'
    res = run_seed(g, 0, cfg, epochs=1, eval_every=1, steps=[1])
    assert res['steps'] == 1 and 0 <= res['micro_auc'] <= 100


def test_structural_l2_covers_the_structural_weights_only():
    from gat_zoo.bench.dynamic import structural_l2
    model = create_model('dysat', 6, 2, num_time_steps=2,
                                 structural_heads=2, temporal_heads=2)
    expected = 0.5 * sum(p.pow(2).sum() for n, p in
                         model.structural.named_parameters()
                         if not n.endswith('bias'))
    assert torch.allclose(structural_l2(model), expected)
    structural_l2(model).backward()
    assert all(p.grad is None for p in model.temporal.parameters())
    assert model.structural.lin.weight.grad is not None


def test_dynamic_cli_seeds_and_resume(tmp_path, monkeypatch):
    """--seeds picks the seeds (so processes can split a sweep over one
    results file); --resume skips finished (dataset, seed) rows."""
    from gat_zoo.bench import dynamic
    from gat_zoo.bench.results import read_csv_rows
    calls = []

    def fake_run_seed(graph, seed, cfg, epochs, eval_every, steps,
                      method='dysat'):
        calls.append(seed)
        return {'micro_auc': 70.0 + seed, 'macro_auc': 60.0, 'steps': 2,
                'step_aucs': [0.7, 0.6], 'val_macro_auc': 65.0,
                'step_val_aucs': [0.7, 0.6]}

    monkeypatch.setattr(dynamic, 'run_seed', fake_run_seed)
    _write_dynamic(tmp_path)
    out = tmp_path / 'r.csv'
    argv = ['--dataset', 'Enron', '--root', str(tmp_path), '--epochs', '1',
            '--results-file', str(out), '--resume']
    assert dynamic.main(argv + ['--seeds', '1,3']) == 0
    assert dynamic.main(argv + ['--seeds', '0-3']) == 0
    assert calls == [1, 3, 0, 2]
    rows = read_csv_rows(out)
    assert sorted(int(r['seed']) for r in rows) == [0, 1, 2, 3]
    assert rows[0]['micro_auc'] == '71.0000'
    assert rows[0]['val_macro_auc'] == '65.0000'
    assert rows[0]['step_val_aucs'] == '70.00 60.00'
    table = (tmp_path / 'r.txt').read_text()
    assert '65.00 ± 0.00' in table.splitlines()[-1]


def _one_step_result():
    """What run_seed returns for one step, for CLI tests that replace it."""
    return {'micro_auc': 70.0, 'macro_auc': 60.0, 'steps': 1,
            'step_aucs': [0.6], 'val_macro_auc': 65.0,
            'step_val_aucs': [0.65]}


def test_dynamic_cli_set_and_earlier_results_files(tmp_path, monkeypatch):
    """--set replaces settings (recorded in the row's config); a results
    file written before the validation columns keeps its header."""
    import csv
    import json

    from gat_zoo.bench import dynamic
    from gat_zoo.bench.results import read_csv_rows
    seen = []

    def fake_run_seed(graph, seed, cfg, epochs, eval_every, steps,
                      method='dysat'):
        seen.append(cfg)
        return _one_step_result()

    monkeypatch.setattr(dynamic, 'run_seed', fake_run_seed)
    _write_dynamic(tmp_path)
    out = tmp_path / 'r.csv'
    earlier = dynamic.FIELDS[:-len(dynamic.LATER_FIELDS)]
    out.write_text(','.join(earlier) + '\n')
    argv = ['--dataset', 'Enron', '--root', str(tmp_path), '--epochs', '1',
            '--results-file', str(out), '--resume', '--seeds', '0',
            '--set', 'lr=0.01', '--set', 'model.temporal_dropout=0.5']
    assert dynamic.main(argv) == 0
    assert seen[0]['lr'] == 0.01
    assert seen[0]['model']['temporal_dropout'] == 0.5
    assert dynamic.default_config()['lr'] == 0.001  # not changed in place
    with open(out, newline='') as f:
        lines = list(csv.reader(f))
    assert lines[0] == earlier and len(lines[1]) == len(earlier)
    row = read_csv_rows(out)[0]
    assert json.loads(row['config'])['lr'] == 0.01
    for bad in ('lr', 'no_such=1', 'model.no_such=1', 'model=1',
                'lr=fast'):
        with pytest.raises(SystemExit):
            dynamic.main(argv[:-4] + ['--set', bad])


def _toy_dynamic_graph(n=30, num_snapshots=3, edges=80, seed=0):
    from gat_zoo.datasets.dynamic import DynamicGraph
    gen = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(num_snapshots):
        e = torch.randint(0, n, (2, edges), generator=gen)
        snaps.append(torch.cat([e, e.flip(0)], 1))
    return DynamicGraph('toy', [n] * num_snapshots, snaps,
                        [torch.ones(e.size(1)) for e in snaps])


def test_batch_context_loss_is_eq5_with_shared_noise():
    from gat_zoo.bench.dynamic import batch_context_loss, degree_noise
    emb = torch.randn(5, 3, dtype=torch.double)
    pairs = torch.tensor([[0, 0, 1, 3], [1, 2, 0, 4]])
    in_batch = torch.tensor([True, False, False, True, False])
    noise = degree_noise(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), 5)
    # Degree ** 0.75; nodes without neighbours are never noise.
    assert torch.allclose(noise, torch.tensor([1., 2., 1., 0., 0.],
                                              dtype=torch.double) ** 0.75)
    loss = batch_context_loss(emb, pairs, noise, in_batch, 4, 0.5,
                              torch.Generator().manual_seed(3))
    neg = torch.multinomial(noise, 4, True,
                            generator=torch.Generator().manual_seed(3))
    assert set(neg.tolist()) <= {0, 1, 2}
    centres, contexts = torch.tensor([0, 0, 3]), torch.tensor([1, 2, 4])
    expected = 0.0
    for c, x in zip(centres.tolist(), contexts.tolist()):
        expected += -torch.log(torch.sigmoid(emb[c] @ emb[x])) / 3
    for c in centres.tolist():
        for v in neg.tolist():
            expected += 0.5 * -torch.log(torch.sigmoid(-emb[c] @ emb[v])) / 12
    assert torch.allclose(loss, expected)
    # No centre of the batch has a pair: no term, and no noise drawn.
    gen = torch.Generator().manual_seed(3)
    assert batch_context_loss(emb, pairs, noise, ~in_batch & (
        torch.arange(5) == 4), 4, 1.0, gen) is None
    assert torch.equal(torch.multinomial(noise, 4, True, generator=gen), neg)
    # Without edges the noise is uniform.
    assert torch.equal(degree_noise(torch.empty(2, 0, dtype=torch.long), 3),
                       torch.ones(3, dtype=torch.double))


def test_aggregated_graph_sums_the_snapshots_up_to_t(tmp_path):
    from gat_zoo.bench.dynamic import aggregated_graph
    from gat_zoo.datasets.dynamic import load_dynamic
    _write_dynamic(tmp_path)
    g = load_dynamic('Enron', tmp_path)
    index, weight, n = aggregated_graph(g, 1)
    assert n == 5
    got = {(u, v): w for (u, v), w in zip(index.t().tolist(),
                                          weight.tolist())}
    # Snapshot 0: 0-1 twice, 1-2, loop 3; snapshot 1: 0-4, 2-3, 1-4.
    expected = {(0, 1): 2., (1, 0): 2., (1, 2): 1., (2, 1): 1., (3, 3): 1.,
                (0, 4): 1., (4, 0): 1., (2, 3): 1., (3, 2): 1., (1, 4): 1.,
                (4, 1): 1.}
    assert got == expected
    index, weight, n = aggregated_graph(g, 0)
    assert n == 4 and weight.sum() == 7.


def test_spectral_embedding_matches_a_dense_svd():
    import numpy as np

    from gat_zoo.bench.dynamic import spectral_embedding
    gen = torch.Generator().manual_seed(1)
    n = 9
    e = torch.randint(0, n, (2, 20), generator=gen)
    w = torch.randint(1, 4, (20,), generator=gen).double()
    # Undirected, as the snapshots: both directions with one weight, and a
    # loop listed twice.
    e = torch.cat([e, e.flip(0), torch.tensor([[4, 4], [4, 4]])], 1)
    w = torch.cat([w, w, torch.ones(2, dtype=torch.double)])
    emb = spectral_embedding(e, w, n, 3, seed=0)
    assert emb.shape == (n, 3) and abs(emb.std() - 1) < 1e-9
    # Dense reference: A with parallel edges summed, + I, symmetric
    # normalisation, rank-3 truncation; emb emb^T equals U_3 S_3 U_3^T up
    # to the unit-std scale (each singular vector's sign cancels).
    a = np.zeros((n, n))
    np.add.at(a, (e[1].numpy(), e[0].numpy()), w.numpy())
    a += np.eye(n)
    d = a.sum(0) ** -0.5
    m = d[:, None] * a * d[None, :]
    u, s, _ = np.linalg.svd(m)
    ref = (u[:, :3] * s[:3]) @ u[:, :3].T
    got = emb @ emb.T
    assert np.allclose(got / got[0, 0], ref / ref[0, 0], atol=1e-8)
    # More dimensions than the graph allows: one fewer than the nodes.
    assert spectral_embedding(e, w, n, 64, seed=0).shape == (n, n - 1)


def test_static_baselines_run_the_same_protocol():
    from gat_zoo.bench.dynamic import run_seed, run_step_static, static_config
    g = _toy_dynamic_graph()
    cfg = static_config()
    assert cfg['model'] == {'dim': 128} and cfg['lr'] == 0.01
    cfg = dict(cfg, model={'dim': 8})
    res = run_seed(g, 0, cfg, epochs=3, eval_every=1, steps=[0, 1],
                   method='node2vec')
    assert res['steps'] == 2 and 0 <= res['micro_auc'] <= 100
    # The chosen epoch is the best-validation one, and runs reproduce.
    again = run_seed(g, 0, cfg, epochs=3, eval_every=1, steps=[0, 1],
                     method='node2vec')
    assert again == res
    best_val = max(run_step_static(g, 0, 0, 'node2vec', cfg, e, 1)[0]
                   for e in (1, 2, 3))
    assert res['step_val_aucs'][0] == pytest.approx(best_val)
    # The diagnostic uniform noise draws other noise nodes: another run.
    uniform = run_seed(g, 0, dict(cfg, noise='uniform'), epochs=3,
                       eval_every=1, steps=[0, 1], method='node2vec')
    assert uniform['step_val_aucs'] != res['step_val_aucs']
    spectral = run_seed(g, 0, cfg, epochs=1, eval_every=1, steps=[1],
                        method='spectral')
    assert spectral['steps'] == 1 and 0 <= spectral['macro_auc'] <= 100
    with pytest.raises(ValueError, match='unknown static method'):
        run_step_static(g, 0, 0, 'dysat', cfg, 1, 1)
    with pytest.raises(ValueError, match='must be positive'):
        run_step_static(g, 0, 0, 'node2vec', cfg, 0, 1)


def test_dynamic_cli_runs_baselines_beside_dysat(tmp_path, monkeypatch):
    """--model picks the methods; rows record the method, --resume tells
    them apart, and only DySAT's rows show the paper's numbers."""
    import json

    from gat_zoo.bench import dynamic
    from gat_zoo.bench.results import read_csv_rows
    calls = []

    def fake_run_seed(graph, seed, cfg, epochs, eval_every, steps,
                      method='dysat'):
        calls.append((method, seed, 'dim' in cfg['model']))
        return _one_step_result()

    monkeypatch.setattr(dynamic, 'run_seed', fake_run_seed)
    _write_dynamic(tmp_path)
    out = tmp_path / 'r.csv'
    argv = ['--dataset', 'Enron', '--root', str(tmp_path), '--epochs', '1',
            '--results-file', str(out), '--resume', '--seeds', '0']
    assert dynamic.main(argv + ['--model', 'spectral']) == 0
    assert dynamic.main(argv + ['--model', 'dysat,spectral,node2vec']) == 0
    assert calls == [('spectral', 0, True), ('dysat', 0, False),
                     ('node2vec', 0, True)]
    assert [r['model'] for r in read_csv_rows(out)] == [
        'spectral', 'dysat', 'node2vec']
    lines = (tmp_path / 'r.txt').read_text().splitlines()
    assert [line.split()[0] for line in lines[2:]] == [
        'dysat', 'spectral', 'node2vec']
    assert lines[2].split()[-1] != '—' and lines[3].split()[-1] == '—'
    # A static setting applies to the baselines; one that only DySAT has
    # is refused for them, by name.
    assert dynamic.main(argv[:-1] + ['1', '--model', 'node2vec', '--set',
                                     'model.dim=16']) == 0
    # --noise reaches both context losses.
    assert dynamic.main(argv[:-1] + ['2', '--model', 'dysat,node2vec',
                                     '--noise', 'uniform']) == 0
    assert [json.loads(r['config']).get('noise') for r in
            read_csv_rows(out)] == [None] * 4 + ['uniform'] * 2
    for bad in (['--model', 'gat'],
                ['--model', 'node2vec', '--set', 'model.temporal_heads=2'],
                ['--model', 'spectral', '--noise', 'uniform']):
        with pytest.raises(SystemExit):
            dynamic.main(argv + bad)


def test_apply_settings_names_the_known_keys():
    from gat_zoo.bench.dynamic import apply_settings, default_config
    with pytest.raises(ValueError, match='model.structural_heads'):
        apply_settings(default_config(), ['heads=2'])
    cfg = apply_settings(default_config(), ['walk_len=40', 'neg_weight=2'])
    assert (cfg['walk_len'], cfg['neg_weight']) == (40, 2)


def test_dynamic_bench_needs_positive_epochs(tmp_path):
    from gat_zoo.bench.dynamic import main, run_step
    with pytest.raises(ValueError, match='must be positive'):
        run_step(None, 0, 0, {}, 0, 1)
    with pytest.raises(SystemExit):
        main(['--epochs', '0', '--root', str(tmp_path)])
