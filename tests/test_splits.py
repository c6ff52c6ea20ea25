"""Seeded random node splits and the bench's ``name:split=train/val`` spec."""
import pytest
import torch

from gat_zoo.bench.runner import (
    ModelSelectionError,
    load_data,
    parse_dataset_spec,
)
from gat_zoo.datasets.splits import parse_split_ratios, random_node_splits


def test_random_splits_are_stratified_disjoint_and_reproducible():
    y = torch.tensor([0] * 10 + [1] * 5 + [2] * 1 + [-1] * 3)
    train, val, test = random_node_splits(y, 0.6, 0.2, num_splits=4, seed=3)
    assert train.shape == (19, 4)
    assert not (train & val).any() and not (train & test).any()
    assert not (val & test).any()
    labelled = y >= 0
    parts = train.long() + val.long() + test.long()
    assert (parts == labelled.long()[:, None]).all()
    for s in range(4):
        # round(0.6 * n_c) training nodes per class: 6, 3, 1.
        counts = torch.bincount(y[train[:, s]], minlength=3)
        assert counts.tolist() == [6, 3, 1]
        assert torch.bincount(y[val[:, s]], minlength=3).tolist() == [2, 1, 0]
    again = random_node_splits(y, 0.6, 0.2, num_splits=2, seed=3)
    # Split s does not depend on the number of splits asked for.
    assert torch.equal(again[0], train[:, :2])
    assert not torch.equal(train[:, 0], train[:, 1])


@pytest.mark.parametrize('text, expected', [('0.6/0.2', (0.6, 0.2)),
                                            ('60/20', (0.6, 0.2)),
                                            ('0.5/0.25/0.25', (0.5, 0.25))])
def test_parse_split_ratios(text, expected):
    assert parse_split_ratios(text) == pytest.approx(expected)


@pytest.mark.parametrize('text', ['0.6', '0.8/0.2', 'a/b', '0.5/0.3/0.3'])
def test_parse_split_ratios_rejects(text):
    with pytest.raises(ValueError, match='[Ss]plit'):
        parse_split_ratios(text)


def test_dataset_spec_with_split():
    spec = parse_dataset_spec('Cornell:split=0.6/0.2')
    assert spec.name == 'cornell' and spec.label == 'cornell:split=0.6/0.2'
    with pytest.raises(ModelSelectionError, match='split'):
        parse_dataset_spec('cornell:split=0.9/0.2')
    with pytest.raises(ModelSelectionError, match='split=train/val'):
        parse_dataset_spec('cornell:homophily=0.3')
    data = load_data(parse_dataset_spec('csbm:split=0.5/0.25'))
    n = data.num_nodes
    assert data.train_mask.shape == (n, 10)
    assert data.train_mask.sum(0).float().mean().item() == pytest.approx(
        n / 2, abs=data.num_classes)


def test_balanced_rule_gives_every_class_the_same_training_nodes():
    # GPRGNN's rule: round(0.6 * 16 / 3) = 3 training nodes per class (all
    # of a smaller class), round(0.2 * 16) = 3 validation nodes drawn from
    # all the rest, whatever their class.
    y = torch.tensor([0] * 10 + [1] * 4 + [2] * 2 + [-1] * 2)
    train, val, test = random_node_splits(y, 0.6, 0.2, num_splits=5, seed=1,
                                          rule='balanced')
    labelled = (y >= 0).long()
    assert ((train.long() + val.long() + test.long()) ==
            labelled[:, None]).all()
    for s in range(5):
        assert torch.bincount(y[train[:, s]], minlength=3).tolist() == \
            [3, 3, 2]
        assert int(val[:, s].sum()) == 3
    # The test set keeps the imbalance the stratified rule spreads evenly.
    stratified = random_node_splits(y, 0.6, 0.2, num_splits=5, seed=1)
    assert torch.bincount(y[stratified[0][:, 0]], minlength=3).tolist() == \
        [6, 2, 1]
    assert not torch.equal(train, stratified[0])
    again = random_node_splits(y, 0.6, 0.2, num_splits=5, seed=1,
                               rule='balanced')
    assert all(torch.equal(a, b) for a, b in zip(again, (train, val, test)))
    with pytest.raises(ValueError, match='split rule'):
        random_node_splits(y, 0.6, 0.2, rule='nope')


def test_dataset_spec_with_split_rule():
    spec = parse_dataset_spec('cornell:split=0.6/0.2:rule=balanced')
    assert spec.label == 'cornell:split=0.6/0.2:rule=balanced'
    # The default rule keeps the label of the plain random-split spec.
    assert parse_dataset_spec(
        'cornell:split=0.6/0.2:rule=stratified').label == \
        'cornell:split=0.6/0.2'
    with pytest.raises(ModelSelectionError, match='no .split=train/val'):
        parse_dataset_spec('cornell:rule=balanced')
    with pytest.raises(ModelSelectionError, match='split rule'):
        parse_dataset_spec('cornell:split=0.6/0.2:rule=nope')
    data = load_data(parse_dataset_spec(
        'csbm:num_classes=3:split=0.6/0.2:rule=balanced'))
    expected = round(0.6 * data.num_nodes / 3)
    for s in range(3):
        counts = torch.bincount(data.y[data.train_mask[:, s]], minlength=3)
        assert counts.tolist() == [min(expected, int((data.y == c).sum()))
                                   for c in range(3)]


def test_paper_config_falls_back_from_protocol_to_dataset():
    import gat_zoo
    # ACM-GCN: Table 12's random-split setting and Table 14's fixed-split
    # setting of Cornell are different records.
    fixed = gat_zoo.paper_config('acm_gcn', 'cornell')
    random_split = gat_zoo.paper_config('acm_gcn', 'cornell:split=0.6/0.2')
    assert 'Table 14' in fixed['source']
    assert 'Table 12' in random_split['source']
    assert fixed['model']['dropout'] != random_split['model']['dropout']
    # A protocol without a record of its own takes the next general one.
    balanced = gat_zoo.paper_config('acm_gcn',
                                    'cornell:split=0.6/0.2:rule=balanced')
    assert balanced == random_split
    assert gat_zoo.paper_config('gat', 'cora:split=0.6/0.2') == \
        gat_zoo.paper_config('gat', 'Cora')
