"""The link-prediction protocol: split properties, AUC / AP against brute
force, and tiny end-to-end runs of PaGNN and the GAE-GAT baseline.

The link models are imported inside the tests (see test_pagnn_conv.py)."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from gat_zoo.bench.link import (
    average_precision,
    inductive_split,
    link_metrics,
    roc_auc,
    sample_train_negatives,
    train_link_predictor,
    transductive_split,
)


def _graph(n=120, seed=0, p_in=0.12, p_out=0.01, f=8):
    """A two-block stochastic block model with informative features."""
    gen = torch.Generator().manual_seed(seed)
    block = torch.arange(n) % 2
    same = block.view(-1, 1) == block.view(1, -1)
    prob = torch.where(same, torch.tensor(p_in), torch.tensor(p_out))
    upper = torch.triu(torch.rand(n, n, generator=gen) < prob, diagonal=1)
    edge_index = upper.nonzero().t()
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    x = torch.randn(n, f, generator=gen) + block.view(-1, 1).float()
    return Data(x=x, edge_index=edge_index, num_nodes=n)


def _keys(pairs, n):
    lo = torch.minimum(pairs[0], pairs[1])
    hi = torch.maximum(pairs[0], pairs[1])
    return set((lo * n + hi).tolist())


# ---------------------------------------------------------------------------
# Splits.
# ---------------------------------------------------------------------------
def test_transductive_split_properties():
    data = _graph()
    n = data.num_nodes
    sp = transductive_split(data, seed=3)
    all_edges = _keys(data.edge_index, n)
    train, val, test = (_keys(sp.train_pos, n), _keys(sp.val_pos, n),
                        _keys(sp.test_pos, n))
    total = len(all_edges)
    assert train | val | test == all_edges
    assert not (train & val) and not (train & test) and not (val & test)
    assert abs(len(val) - 0.05 * total) <= 1
    assert abs(len(test) - 0.10 * total) <= 1
    # No validation or test edge in the graph the model trains / validates on
    assert _keys(sp.train_edge_index, n) == train
    assert _keys(sp.val_edge_index, n) == train
    assert _keys(sp.test_edge_index, n) == train | val
    # both directions are present in message-passing graphs
    assert sp.train_edge_index.size(1) == 2 * len(train)
    for neg in (sp.val_neg, sp.test_neg):
        assert neg.size(1) > 0 and not (_keys(neg, n) & all_edges)
        assert bool((neg[0] != neg[1]).all())
    # seeded and reproducible
    again = transductive_split(data, seed=3)
    assert torch.equal(again.test_pos, sp.test_pos)
    assert not torch.equal(transductive_split(data, seed=4).test_pos,
                           sp.test_pos)


def test_inductive_split_properties():
    data = _graph(n=200, seed=1)
    n = data.num_nodes
    sp = inductive_split(data, seed=2)
    unseen = sp.val_nodes | sp.test_nodes
    assert int(sp.test_nodes.sum()) == 20 and int(sp.val_nodes.sum()) == 10
    assert not bool((sp.val_nodes & sp.test_nodes).any())
    # no training edge (message or supervision) touches an unseen node
    for pairs in (sp.train_edge_index, sp.train_pos):
        assert not bool(unseen[pairs].any())
    # training negatives: training nodes only
    neg = sample_train_negatives(sp, 500)
    assert bool(sp.train_nodes[neg].all())
    assert not (_keys(neg, n) & _keys(sp.train_edge_index, n))
    # validation: pairs touch a validation node and no test node; the
    # validation graph has no test node at all
    assert bool((sp.val_nodes[sp.val_pos[0]] |
                 sp.val_nodes[sp.val_pos[1]]).all())
    assert not bool(sp.test_nodes[sp.val_pos].any())
    assert not bool(sp.test_nodes[sp.val_edge_index].any())
    assert bool((sp.test_nodes[sp.test_pos[0]] |
                 sp.test_nodes[sp.test_pos[1]]).all())
    # the positives to predict are not in the graph they are scored on
    assert not (_keys(sp.val_pos, n) & _keys(sp.val_edge_index, n))
    assert not (_keys(sp.test_pos, n) & _keys(sp.test_edge_index, n))
    all_edges = _keys(data.edge_index, n)
    assert (_keys(sp.train_pos, n) | _keys(sp.val_pos, n) |
            _keys(sp.test_pos, n)) <= all_edges
    # negatives: no edge, no self-pair, the unseen end kept
    for pos, neg, stage, visible in (
            (sp.val_pos, sp.val_neg, sp.val_nodes,
             sp.train_nodes | sp.val_nodes),
            (sp.test_pos, sp.test_neg, sp.test_nodes,
             torch.ones(n, dtype=torch.bool))):
        assert neg.shape == pos.shape
        assert not (_keys(neg, n) & all_edges)
        assert bool((neg[0] != neg[1]).all())
        assert bool((stage[neg[0]] | stage[neg[1]]).all())
        assert bool(visible[neg].all())


def test_split_arguments_are_checked():
    data = _graph()
    with pytest.raises(ValueError, match='observed_ratio'):
        inductive_split(data, 0, observed_ratio=1.5)
    with pytest.raises(ValueError, match='below 1'):
        inductive_split(data, 0, val_node_ratio=0.5, test_node_ratio=0.6)
    with pytest.raises(ValueError, match='Unknown link split'):
        train_link_predictor(torch.nn.Linear(1, 1), data, split='nope')


# ---------------------------------------------------------------------------
# Metrics.
# ---------------------------------------------------------------------------
def _brute_auc(pos, neg):
    total = 0.0
    for p in pos:
        for q in neg:
            total += 1.0 if p > q else 0.5 if p == q else 0.0
    return total / (len(pos) * len(neg))


def _brute_ap(pos, neg):
    scores = [(s, 1) for s in pos] + [(s, 0) for s in neg]
    ap, prev_recall = 0.0, 0.0
    for tau in sorted({s for s, _ in scores}, reverse=True):
        hits = [y for s, y in scores if s >= tau]
        recall = sum(hits) / len(pos)
        ap += (recall - prev_recall) * (sum(hits) / len(hits))
        prev_recall = recall
    return ap


@pytest.mark.parametrize('seed', range(6))
def test_metrics_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 6, size=rng.integers(1, 25)).astype(float)
    neg = rng.integers(0, 6, size=rng.integers(1, 25)).astype(float)
    if seed % 2:  # continuous scores too
        pos, neg = pos + rng.random(pos.size), neg + rng.random(neg.size)
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    s = np.r_[pos, neg]
    auc, ap = _brute_auc(pos, neg), _brute_ap(pos, neg)
    assert roc_auc(y, s) == pytest.approx(auc, abs=1e-12)
    assert average_precision(y, s) == pytest.approx(ap, abs=1e-12)
    m = link_metrics(torch.tensor(pos), torch.tensor(neg))
    assert m['auc'] == pytest.approx(auc, abs=1e-12)
    assert m['ap'] == pytest.approx(ap, abs=1e-12)


def test_metrics_bad_input():
    with pytest.raises(ValueError, match='at least one'):
        link_metrics(torch.tensor([]), torch.tensor([0.1]))
    with pytest.raises(ValueError, match='NaN'):
        link_metrics(torch.tensor([float('nan')]), torch.tensor([0.1]))


# ---------------------------------------------------------------------------
# End to end.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['gae_gat', 'pagnn'])
@pytest.mark.parametrize('split', ['transductive', 'inductive'])
def test_tiny_end_to_end(name, split):
    from gat_zoo import create_model, model_entry
    from gat_zoo.nn.models import pagnn  # noqa: F401  (registers)

    entry = model_entry(name)
    assert entry.task == 'link'
    assert entry.family == ('high-order' if name == 'pagnn' else 'baseline')
    data = _graph(n=80, seed=4)
    torch.manual_seed(0)
    model = create_model(name, data.num_features, 8)
    result = train_link_predictor(model, data, split=split, seed=0,
                                  epochs=6, lr=0.01, patience=3)
    assert result.split == split
    assert 1 <= result.best_epoch <= result.epochs_run <= 6
    for value in (result.val_auc, result.val_ap, result.test_auc,
                  result.test_ap):
        assert 0.0 <= value <= 1.0
    # selection on validation AUC only
    best = max(result.history, key=lambda r: r['val_auc'])
    assert result.val_auc == best['val_auc']
    assert result.best_epoch == best['epoch']
    assert result.val_score == result.val_auc
    assert 'history' not in result.as_dict()


def test_gae_gat_decodes_by_inner_product():
    from gat_zoo.nn.models.pagnn import GAEGAT

    data = _graph(n=30, seed=5)
    model = GAEGAT(data.num_features, 4).eval()
    pairs = torch.tensor([[0, 3, 7], [1, 3, 2]])
    z = model.encode(data.x, data.edge_index)
    expected = (z[pairs[0]] * z[pairs[1]]).sum(-1)
    assert torch.allclose(model(data.x, data.edge_index, pairs), expected)
    assert str(model) == f'GAEGAT({data.num_features}, 4)'
