"""SiGAT's motif neighbourhoods: the sparse builder against the dense
explicit-logic oracle, names/order, conventions, caching and bad input."""
import pytest
import torch
from reference.dense_sigat import dense_motif_adjacency, random_signed_graph

from gat_zoo.ops.motifs import (
    FIRST_ORDER_MOTIFS,
    MOTIF_NAMES,
    NUM_MOTIFS,
    TRIAD_MOTIFS,
    clear_motif_cache,
    signed_motif_graphs,
)


def _dense(graphs, n):
    out = torch.zeros(len(graphs), n, n, dtype=torch.float64)
    for m, g in enumerate(graphs):
        out[m, g[1], g[0]] = 1.0  # centre row, neighbour column
    return out


def test_names_and_order():
    assert NUM_MOTIFS == 38 and len(set(MOTIF_NAMES)) == 38
    assert len(FIRST_ORDER_MOTIFS) == 6 and len(TRIAD_MOTIFS) == 32
    assert MOTIF_NAMES[:6] == ('pos', 'pos_out', 'pos_in', 'neg', 'neg_out',
                               'neg_in')
    assert MOTIF_NAMES[6] == 'pos|i-out+|j-in+'
    assert MOTIF_NAMES[6 + 16] == 'neg|i-out+|j-in+'
    assert MOTIF_NAMES[-1] == 'neg|i-in-|j-in-'


@pytest.mark.parametrize('seed', range(6))
def test_matches_dense_oracle(seed):
    n = 11
    ei, sign = random_signed_graph(n, 40, seed)
    graphs = signed_motif_graphs(ei, sign, n, cache=False)
    assert len(graphs) == 38
    for g in graphs:
        assert g.dtype == torch.long and g.shape[0] == 2
        assert not (g[0] == g[1]).any()
        # Sorted by centre then neighbour, no duplicates.
        key = g[1] * n + g[0]
        assert (key[1:] > key[:-1]).all()
    ours = _dense(graphs, n)
    oracle = dense_motif_adjacency(ei, sign, n)
    for m, name in enumerate(MOTIF_NAMES):
        assert torch.equal(ours[m], oracle[m]), name
    # Isolated nodes (the last two) are in no motif.
    assert ours[:, -2:].sum() == 0 and ours[:, :, -2:].sum() == 0


def test_hand_checked_triangle():
    # 0 -+-> 1, 1 -+-> 2, 0 -(-)-> 2 : on edge 0->2 (negative), w = 1 with
    # 0 -out+-> 1 and 1 -+-> 2 (w -> j: j-in+).
    ei = torch.tensor([[0, 1, 0], [1, 2, 2]])
    sign = torch.tensor([1, 1, -1])
    g = dict(zip(MOTIF_NAMES, signed_motif_graphs(ei, sign, 3, cache=False)))
    assert g['neg|i-out+|j-in+'].tolist() == [[2], [0]]
    # Edge 0 -> 1 (positive): w = 2 with 0 -out-> 2 (negative), 1 -out+-> 2.
    assert g['pos|i-out-|j-out+'].tolist() == [[1], [0]]
    # Edge 1 -> 2 (positive): w = 0 with 0 -> 1 (i-in+) and 0 -> 2 (j-in-).
    assert g['pos|i-in+|j-in-'].tolist() == [[2], [1]]
    assert g['pos_out'].tolist() == [[1, 2], [0, 1]]
    assert g['pos_in'].tolist() == [[0, 1], [1, 2]]
    assert g['neg'].tolist() == [[2, 0], [0, 2]]
    total = sum(v.size(1) for k, v in g.items() if '|' in k)
    assert total == 3


def test_sign_forms_agree():
    ei, sign = random_signed_graph(9, 30, 3)
    ref = signed_motif_graphs(ei, sign, 9, cache=False)
    for other in (sign > 0, sign.double(), sign.int()):
        got = signed_motif_graphs(ei, other, 9, cache=False)
        assert all(torch.equal(a, b) for a, b in zip(ref, got))
    all_pos = signed_motif_graphs(ei, None, 9, cache=False)
    ones = signed_motif_graphs(ei, torch.ones(ei.size(1)), 9, cache=False)
    assert all(torch.equal(a, b) for a, b in zip(all_pos, ones))
    for m, name in enumerate(MOTIF_NAMES):
        if name.startswith('neg') or '-|' in name or name.endswith('-'):
            assert all_pos[m].numel() == 0, name


def test_empty_graph_and_no_nodes():
    empty = torch.zeros(2, 0, dtype=torch.long)
    for n in (0, 4):
        graphs = signed_motif_graphs(empty, torch.zeros(0), n, cache=False)
        assert len(graphs) == 38 and all(g.shape == (2, 0) for g in graphs)


def test_cache():
    clear_motif_cache()
    ei, sign = random_signed_graph(8, 20, 1)
    a = signed_motif_graphs(ei, sign, 8)
    b = signed_motif_graphs(ei, sign, 8)
    assert all(x is y for x, y in zip(a, b))
    sign[0] = -sign[0]  # edited in place: recomputed
    c = signed_motif_graphs(ei, sign, 8)
    assert any(x is not y for x, y in zip(a, c))
    assert torch.equal(_dense(c, 8), dense_motif_adjacency(ei, sign, 8))


@pytest.mark.parametrize('ei, sign, n, match', [
    (torch.tensor([[0, 1], [1, 2]]), torch.tensor([1, 0]), 3, r'\+1 or -1'),
    (torch.tensor([[0, 1], [1, 2]]), torch.tensor([1, 2]), 3, r'\+1 or -1'),
    (torch.tensor([[0, 1], [1, 2]]), torch.tensor([1]), 3, 'shape'),
    (torch.tensor([[0, 1], [1, 2]]), [1, -1], 3, 'tensor'),
    (torch.tensor([[0., 1.], [1., 2.]]), torch.tensor([1, 1]), 3,
     'integers'),
    (torch.tensor([[0, 1, 2]]), torch.tensor([1, 1, 1]), 3, 'shape'),
    (torch.tensor([[0, 3], [1, 2]]), torch.tensor([1, 1]), 3, 'out of range'),
    (torch.tensor([[0, -1], [1, 2]]), torch.tensor([1, 1]), 3, 'negative'),
    (torch.tensor([[0, 1], [1, 2]]), torch.tensor([1, 1]), -1, 'num_nodes'),
])
def test_bad_input(ei, sign, n, match):
    with pytest.raises(ValueError, match=match):
        signed_motif_graphs(ei, sign, n, cache=False)
