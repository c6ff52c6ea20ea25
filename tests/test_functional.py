"""Sparse feature input: the same network, dense or sparse CSR features."""
import pytest
import torch

import gat_zoo
from gat_zoo.bench.train import seed_everything, train_node_classifier
from gat_zoo.datasets import csbm
from gat_zoo.nn.functional import (
    feature_dropout,
    is_sparse_features,
    sparse_features,
)


def _bag_of_words(rows=40, cols=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(rows, cols, generator=gen) < 0.08
    return mask * torch.rand(rows, cols, generator=gen, dtype=torch.float64)


def test_sparse_features_converts_only_sparse_matrices():
    x = _bag_of_words()
    xs = sparse_features(x)
    assert is_sparse_features(xs) and torch.equal(xs.to_dense(), x)
    dense = torch.rand(10, 5) + 0.1
    assert sparse_features(dense) is dense
    assert sparse_features(xs) is xs


def test_feature_dropout_on_sparse_input_is_dropout():
    x = _bag_of_words(200, 50)
    xs = sparse_features(x)
    assert feature_dropout(xs, 0.5, training=False) is xs
    torch.manual_seed(0)
    dropped = feature_dropout(xs, 0.5, training=True).to_dense()
    kept = dropped != 0
    # Zeros stay zeros; kept entries are rescaled by 1 / (1 - p).
    assert not (kept & (x == 0)).any()
    assert torch.allclose(dropped[kept], 2 * x[kept])
    fraction = kept.sum().item() / (x != 0).sum().item()
    assert 0.4 < fraction < 0.6


@pytest.mark.parametrize('name', ['gat', 'gatv2'])
def test_network_gives_the_same_output_on_sparse_features(name):
    x = _bag_of_words()
    edge_index = torch.randint(0, 40, (2, 120))
    torch.manual_seed(0)
    model = gat_zoo.create_model(name, 30, 4).double().eval()
    assert model.supports_sparse_features
    dense_out = model(x, edge_index)
    sparse_out = model(sparse_features(x), edge_index)
    assert torch.allclose(dense_out, sparse_out, atol=1e-12)
    grads = [torch.autograd.grad(out.sum(), list(model.parameters()))
             for out in (model(x, edge_index),
                         model(sparse_features(x), edge_index))]
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-12)


def test_training_takes_sparse_input_when_the_model_supports_it():
    data = csbm(num_nodes=200, num_val=50)
    data.x = torch.where(data.x > 1.5, data.x, torch.zeros_like(data.x))
    seen = []

    class Probe(torch.nn.Module):
        supports_sparse_features = True

        def __init__(self):
            super().__init__()
            self.net = gat_zoo.create_model('gat', data.num_features,
                                            data.num_classes)

        def forward(self, x, edge_index):
            seen.append(is_sparse_features(x))
            return self.net(x, edge_index)

    seed_everything(0)
    train_node_classifier(Probe(), data, lr=0.005, weight_decay=0.0,
                          epochs=2)
    assert seen and all(seen)
    seen.clear()
    train_node_classifier(Probe(), data, lr=0.005, weight_decay=0.0,
                          epochs=2, sparse_input=False)
    assert seen and not any(seen)
