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
