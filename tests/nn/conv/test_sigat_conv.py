"""SiGATConv and the SiGAT model: the dense float64 oracle (values and
gradients), input forms, attention weights per motif, the unsupervised loss,
the registry contract, corner cases and bad input."""
import pytest
import torch
from reference.dense_sigat import (
    dense_motif_adjacency,
    dense_sigat,
    random_signed_graph,
    sigat_params_from_module,
)
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from gat_zoo.nn.conv.sigat_conv import SiGATConv
from gat_zoo.nn.models.sigat import SiGAT, sigat, signed_neighbour_pairs
from gat_zoo.ops.motifs import MOTIF_NAMES, signed_motif_graphs

TOL = dict(atol=1e-10, rtol=0)


def _setup(n=10, e=36, seed=0, f=5, out=4, **kwargs):
    ei, sign = random_signed_graph(n, e, seed)
    graphs = signed_motif_graphs(ei, sign, n, cache=False)
    torch.manual_seed(seed)
    conv = SiGATConv(f, out, **kwargs).double()
    x = torch.randn(n, f, dtype=torch.float64, requires_grad=True)
    return ei, sign, graphs, conv, x


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('loops', [True, False])
def test_values_and_gradients_match_oracle(seed, loops):
    ei, sign, graphs, conv, x = _setup(seed=seed, add_self_loops=loops,
                                       motif_channels=3, hidden_channels=7)
    conv.eval()
    z, att = conv(x, graphs, return_attention_weights=True)
    adj = dense_motif_adjacency(ei, sign, x.size(0))
    ref, alpha = dense_sigat(x, adj, **sigat_params_from_module(conv))
    assert torch.allclose(z, ref, **TOL)
    assert list(att) == list(MOTIF_NAMES)
    for m, name in enumerate(MOTIF_NAMES):
        g, a = att[name]
        assert a.shape == (g.size(1), 1)
        assert torch.allclose(a.view(-1), alpha[m][g[1], g[0]], **TOL)
    weight = torch.randn(z.shape, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(5))
    params = [x] + list(conv.parameters())
    ours = torch.autograd.grad((z * weight).sum(), params)
    theirs = torch.autograd.grad((ref * weight).sum(), params)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, **TOL)


def test_attention_is_a_distribution_per_motif_and_centre():
    _, _, graphs, conv, x = _setup(seed=4)
    _, att = conv(x, graphs, return_attention_weights=True)
    n = x.size(0)
    for name, (g, a) in att.items():
        sums = torch.zeros(n, dtype=a.dtype).index_add_(0, g[1], a.view(-1))
        assert torch.allclose(sums, torch.ones(n, dtype=a.dtype)), name
        assert (g[0] == g[1]).sum() == n  # one self-loop per node


def test_input_forms_agree():
    ei, sign, graphs, conv, x = _setup(seed=1)
    ref = conv(x, graphs)
    # One edge index with motif ids (edges in any order).
    flat = torch.cat(graphs, dim=1)
    ids = torch.cat([torch.full((g.size(1),), m) for m, g in
                     enumerate(graphs)])
    perm = torch.randperm(flat.size(1), generator=torch.Generator(
    ).manual_seed(0))
    assert torch.allclose(conv(x, flat[:, perm], ids[perm]), ref, **TOL)
    assert torch.allclose(conv(x, tuple(g.int() for g in graphs)), ref,
                          **TOL)
    n = x.size(0)
    torch_sparse_adj = [torch.sparse_coo_tensor(
        g.flip(0), torch.ones(g.size(1)), (n, n)) for g in graphs]
    assert torch.allclose(conv(x, torch_sparse_adj), ref, **TOL)
    if WITH_TORCH_SPARSE:
        adj = [SparseTensor(row=g[1], col=g[0], sparse_sizes=(n, n))
               for g in graphs]
        assert torch.allclose(conv(x, adj), ref, **TOL)


def test_fewer_motifs_and_named_motifs():
    torch.manual_seed(0)
    conv = SiGATConv(4, 3, motifs=('a', 'b')).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
    z, att = conv(x, [ei, ei.flip(0)], return_attention_weights=True)
    assert z.shape == (5, 3) and set(att) == {'a', 'b'}
    assert SiGATConv(4, 3, motifs=1)(x.float(), ei).shape == (5, 3)


def test_empty_graph_and_isolated_nodes():
    torch.manual_seed(0)
    conv = SiGATConv(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    graphs = signed_motif_graphs(torch.zeros(2, 0, dtype=torch.long),
                                 torch.zeros(0), 4, cache=False)
    z = conv(x, graphs)
    ref, _ = dense_sigat(x, torch.zeros(38, 4, 4, dtype=torch.float64),
                         **sigat_params_from_module(conv))
    assert torch.allclose(z, ref, **TOL)
    z.sum().backward()
    assert torch.isfinite(x.grad).all()
    # No nodes at all.
    assert conv(torch.zeros(0, 3, dtype=torch.float64), graphs).shape == (
        0, 2)
    # Without self-loops an isolated node's motif messages are zero.
    conv2 = SiGATConv(3, 2, add_self_loops=False).double()
    z2 = conv2(x, graphs)
    assert torch.isfinite(z2).all()


def test_bad_input():
    _, _, graphs, conv, x = _setup(seed=2)
    with pytest.raises(ValueError, match='38 motif graphs'):
        conv(x, graphs[:5])
    with pytest.raises(ValueError, match='motif_type'):
        conv(x, graphs[0])
    flat = torch.cat(graphs, 1)
    with pytest.raises(ValueError, match=r'ids in \[38, 38\]'):
        conv(x, flat, torch.full((flat.size(1),), 38))
    with pytest.raises(ValueError, match=r'ids in \[-1'):
        conv(x, flat, torch.full((flat.size(1),), -1))
    with pytest.raises(ValueError, match='shape'):
        conv(x, flat, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='integer'):
        conv(x, flat, torch.zeros(flat.size(1)))
    bad = list(graphs)
    bad[3] = torch.tensor([[0], [x.size(0)]])
    with pytest.raises(ValueError, match='out of range'):
        conv(x, bad)
    bad[3] = torch.tensor([[-1], [0]])
    with pytest.raises(ValueError, match='negative'):
        conv(x, bad)
    bad[3] = torch.tensor([[0.0], [1.0]])
    with pytest.raises(ValueError, match='integers'):
        conv(x, bad)
    bad[3] = torch.tensor([0, 1])
    with pytest.raises(ValueError, match='shape'):
        conv(x, bad)
    with pytest.raises(ValueError, match='features'):
        conv(x[:, :2], graphs)
    with pytest.raises(ValueError, match='motifs'):
        SiGATConv(3, 2, motifs=0)


def _naive_loss(z, ei, sign, nodes):
    """The official code's loop, from sets of neighbours."""
    pos, neg = {}, {}
    for (u, v), s in zip(ei.t().tolist(), sign.tolist()):
        if u == v:
            continue
        d = pos if s > 0 else neg
        d.setdefault(u, set()).add(v)
        d.setdefault(v, set()).add(u)
    total = z.new_zeros(())
    for i in nodes:
        p, q = sorted(pos.get(i, ())), sorted(neg.get(i, ()))
        c = max(1, len(p) // max(1, len(q)))
        if p:
            total = total - torch.nn.functional.logsigmoid(
                z[p] @ z[i]).sum()
        if q:
            total = total - c * torch.nn.functional.logsigmoid(
                -(z[q] @ z[i])).sum()
    return total


def test_loss_matches_the_official_objective():
    ei, sign = random_signed_graph(12, 50, 7, p_neg=0.3)
    torch.manual_seed(0)
    z = torch.randn(12, 4, dtype=torch.float64, requires_grad=True)
    pos, neg = signed_neighbour_pairs(ei, sign, 12)
    model = SiGAT(4, 4)
    for nodes in (list(range(12)), [0, 3, 5, 11]):
        ours = model.loss(z, pos, neg, nodes=torch.tensor(nodes))
        ref = _naive_loss(z, ei, sign, nodes)
        assert torch.allclose(ours, ref, **TOL)
        ga, = torch.autograd.grad(ours, z)
        gb, = torch.autograd.grad(ref, z)
        assert torch.allclose(ga, gb, **TOL)
    assert torch.allclose(model.loss(z, pos, neg),
                          _naive_loss(z, ei, sign, range(12)), **TOL)


def test_model_embeddings_and_pair_logits():
    ei, sign = random_signed_graph(9, 30, 2)
    torch.manual_seed(0)
    model = sigat(8, 5, num_nodes=9)
    pairs = torch.tensor([[0, 2, 8, 3], [1, 6, 4, 3]])
    out = model(None, ei, pairs, edge_sign=sign)
    z = model.embed(None, ei, sign)
    assert out.shape == (4,)
    assert torch.allclose(out, (z[pairs[0]] * z[pairs[1]]).sum(-1))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match='num_nodes'):
        sigat(8, 5)(None, ei, pairs)
    with pytest.raises(ValueError, match='pairs'):
        model(None, ei, torch.tensor([[0], [9]]), edge_sign=sign)
    with pytest.raises(ValueError, match=r'\+1 or -1'):
        model(None, ei, pairs, edge_sign=torch.zeros(ei.size(1)))


def test_registry_contract():
    """What tests/test_registry.py's sweep does for a 'link' model."""
    from gat_zoo.registry import create_model, model_entry
    entry = model_entry('sigat')
    assert entry.task == 'link' and entry.family == 'relation-aware'
    assert entry.conv is SiGATConv
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 6, generator=gen)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 6, 7, 0],
                               [1, 2, 2, 3, 4, 5, 6, 7, 0, 0]])
    model = create_model('sigat', 6, 4, hidden_channels=20,
                         negative_slope=0.1, dropout=0.0)
    model.train()
    out = model(x, edge_index, torch.tensor([[0, 2, 8, 3], [1, 6, 4, 3]]))
    assert out.shape == (4,) and torch.isfinite(out).all()
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
