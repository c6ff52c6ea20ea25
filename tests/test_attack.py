"""gat_zoo.bench.attack: perturbed-graph generation (budget, symmetry,
caching, no test-label use), the evaluation row and the command line."""
import csv

import pytest
import torch
from torch_geometric.data import Data

from gat_zoo.bench import attack as A


def _graph(n=60, classes=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = (torch.rand(n, 12, generator=gen) < 0.2).float()
    x[torch.arange(n), y] = 1.0            # a class-revealing feature
    # Mostly intra-class edges.
    src = torch.randint(0, n, (150,), generator=gen)
    dst = (src + classes * torch.randint(1, 5, (150,), generator=gen)) % n
    edges = A.undirected_edges(torch.stack([src, dst]), n)
    return Data(x=x, y=y, edge_index=A.symmetric(edges), num_nodes=n)


def _keys(edge_index, n):
    e = A.undirected_edges(edge_index, n)
    return set((e[0] * n + e[1]).tolist())


def test_edge_helpers_and_budget():
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 2, 0]])
    und = A.undirected_edges(ei, 4)
    assert und.tolist() == [[0, 0, 1], [1, 3, 2]]   # loop dropped, deduped
    assert A.symmetric(und).size(1) == 6
    assert A.budget_for(0.5, ei, 4) == 2          # round(0.5 * 3)
    assert A.budget_for(0.0, ei, 4) == 0
    with pytest.raises(ValueError, match='rate'):
        A.budget_for(1.0, ei, 4)


def test_split_is_10_10_80_and_stratified():
    data = _graph(n=300)
    tr, va, te = A.attack_split(data)
    assert int(tr.sum()) == 30 and int(va.sum()) == 30
    assert int(te.sum()) == 240
    assert not (tr & va).any() and not (tr & te).any()
    assert torch.bincount(data.y[tr]).tolist() == [10, 10, 10]


@pytest.mark.parametrize('attack', ['random', 'prbcd'])
def test_perturbed_graph_budget_symmetry_and_cache(attack, tmp_path,
                                                   monkeypatch):
    monkeypatch.setenv('GAT_ZOO_CACHE', str(tmp_path))
    data = _graph()
    n = data.num_nodes
    budget = A.budget_for(0.2, data.edge_index, n)
    ei, flips = A.perturbed_graph(data, 'toy', attack, 0.2)
    assert 0 < flips <= budget
    if attack == 'random':
        assert flips == budget
    assert len(_keys(ei, n) ^ _keys(data.edge_index, n)) == flips
    # Symmetric, loop-free.
    assert _keys(ei, n) == _keys(ei.flip(0), n)
    assert (ei[0] != ei[1]).all() and ei.size(1) == 2 * len(_keys(ei, n))
    path = A.cache_path('toy', attack, 0.2, 0)
    assert path.exists() and str(path).startswith(str(tmp_path))
    again, flips2 = A.perturbed_graph(data, 'toy', attack, 0.2)
    assert torch.equal(again, ei) and flips2 == flips
    clean, zero = A.perturbed_graph(data, 'toy', attack, 0.0)
    assert zero == 0 and _keys(clean, n) == _keys(data.edge_index, n)
    with pytest.raises(ValueError, match='Unknown attack'):
        A.perturbed_graph(data, 'toy', 'nettack', 0.1)


def test_attack_never_reads_test_labels(monkeypatch):
    """Self-training labels: true labels on training nodes only; changing
    every test label changes neither the labels nor the perturbed graph.
    (The stratified split itself is drawn per class, so it is held fixed
    here.)"""
    data = _graph()
    tr, va, te = A.attack_split(data)
    monkeypatch.setattr(A, 'attack_split', lambda d, seed=0: (tr, va, te))
    other = data.clone()
    other.y = data.y.clone()
    other.y[te] = (data.y[te] + 1) % 3
    s1 = A.train_surrogate(data, tr, va)
    s2 = A.train_surrogate(other, tr, va)
    l1 = A.self_training_labels(s1, data, tr)
    l2 = A.self_training_labels(s2, other, tr)
    assert torch.equal(l1, l2)
    assert torch.equal(l1[tr], data.y[tr])
    g1, _ = A.perturbed_graph(data, 'toy', 'prbcd', 0.1, use_cache=False)
    g2, _ = A.perturbed_graph(other, 'toy', 'prbcd', 0.1, use_cache=False)
    assert torch.equal(g1, g2)


def test_evaluate_row_and_summary(tmp_path):
    data = _graph()
    row = A.evaluate('gcn', data, data.edge_index, 'toy', seed=0,
                     max_epochs=3)
    assert 0 <= row['test'] <= 100 and row['epochs_run'] <= 3
    path = tmp_path / 'r.csv'
    with path.open('w', newline='') as f:
        w = csv.DictWriter(f, A.FIELDS)
        w.writeheader()
        for model, rate, test in [('uag', '0', 80), ('uag', '0', 82),
                                  ('gcn', '0.1', 70), ('gcn', '0.1', 0)]:
            w.writerow({'dataset': 'Cora', 'attack': 'prbcd',
                        'rate': rate, 'model': model, 'seed': 0,
                        'test': test,
                        'error': 'boom' if test == 0 else ''})
    assert A.main(['--results-file', str(path), '--summary-only']) == 0
    table = path.with_suffix('.txt').read_text()
    assert '81.00±1.41 (2)' in table and '70.00±0.00 (1)' in table
    assert '10%' in table
    with pytest.raises(SystemExit):
        A.main(['--summary-only'])


def test_surrogate_needs_an_epoch():
    data = Data(x=torch.rand(6, 3), edge_index=torch.tensor([[0, 1], [1, 0]]),
                y=torch.tensor([0, 1, 0, 1, 0, 1]))
    mask = torch.tensor([True, True, False, False, False, False])
    with pytest.raises(ValueError, match='at least one epoch'):
        A.train_surrogate(data, mask, ~mask, epochs=0)
    data.x[2:, 0] = float('nan')  # every validation loss NaN
    with pytest.raises(RuntimeError, match='never finite'):
        A.train_surrogate(data, mask, ~mask, epochs=2)
