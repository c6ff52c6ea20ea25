"""The multi-stage hook of the training loop (``model.fit_stages``) and the
two-stage SPAGAN model trained through it end to end."""
import pytest
import torch

from gat_zoo.bench.train import seed_everything, train_node_classifier
from gat_zoo.datasets import csbm
from gat_zoo.nn.conv.spagan_conv import SPAGANAttention
from gat_zoo.nn.models.spagan import SPAGAN
from gat_zoo.ops.paths import PathSet
from gat_zoo.registry import create_model, model_entry

SETTINGS = dict(lr=0.01, weight_decay=5e-4, epochs=12)


class _TwoStage(torch.nn.Module):
    """A pre-trained encoder (stage) frozen into the final model."""

    def __init__(self, data):
        super().__init__()
        self.pre = torch.nn.Linear(data.num_features, data.num_classes)
        self.head = torch.nn.Linear(data.num_features, data.num_classes)
        self.calls = []

    def fit_stages(self, x, edge_index, train_stage):
        self.calls.append((x, edge_index))
        result = train_stage(_Wrap(self.pre))
        self.frozen = self.pre.weight.detach().clone()
        return [result]

    def forward(self, x, edge_index):
        return self.head(x) + x @ self.frozen.t()


class _Wrap(torch.nn.Module):
    def __init__(self, lin):
        super().__init__()
        self.lin = lin

    def forward(self, x, edge_index):
        return self.lin(x)


def test_fit_stages_hook_runs_before_training_and_restores_best():
    data = csbm(num_nodes=200, num_val=50)
    seed_everything(0)
    model = _TwoStage(data)
    result = train_node_classifier(model, data, normalize_features=False,
                                   **SETTINGS)
    assert len(model.calls) == 1
    x, edge_index = model.calls[0]
    assert torch.equal(x, data.x) and torch.equal(edge_index,
                                                  data.edge_index)
    (stage, ) = result.stages
    assert 1 <= stage.best_epoch <= stage.epochs_run
    # The stage's weights are those of its selected epoch: evaluating them
    # reproduces the recorded validation loss.
    with torch.no_grad():
        logits = model.pre(data.x)
        val = torch.nn.functional.cross_entropy(logits[data.val_mask],
                                                data.y[data.val_mask])
    assert val.item() == pytest.approx(stage.val_loss, rel=1e-6)
    assert 'stages' not in result.as_dict()
    assert result.train_time_s >= stage.train_time_s


def test_models_without_the_hook_are_unchanged():
    data = csbm(num_nodes=200, num_val=50)
    seed_everything(0)
    net = _Wrap(torch.nn.Linear(data.num_features, data.num_classes))
    result = train_node_classifier(net, data, **SETTINGS)
    assert result.stages == [] and result.epochs_run == 12


def test_spagan_two_stage_end_to_end():
    data = csbm(num_nodes=150, num_val=40)
    assert model_entry('spagan').family == 'high-order'
    seed_everything(0)
    model = create_model('spagan', data.num_features, data.num_classes,
                         hidden_channels=4, heads=2)
    assert isinstance(model, SPAGAN)
    # Before the stages: one-hop paths only.
    assert model(data.x, data.edge_index).shape == (data.num_nodes,
                                                    data.num_classes)
    with pytest.raises(RuntimeError, match='stage-1 GAT'):
        model.prepare(data.x, data.edge_index)
    result = train_node_classifier(model, data, **SETTINGS)
    assert len(result.stages) == 1  # the GAT stage
    assert model.gat is not None
    assert not any(n.startswith('gat') for n, _ in model.named_parameters())
    assert isinstance(model.paths, PathSet)
    assert model.paths.max_hops == 2 and model.paths.num_paths()[1] > 0
    assert 0.0 <= result.test_score <= 1.0
    model.eval()
    out, (att1, att2) = model(data.x, data.edge_index,
                              return_attention_weights=True)
    assert out.shape == (data.num_nodes, data.num_classes)
    assert isinstance(att1, SPAGANAttention)
    assert att1.length_alpha.shape == (data.num_nodes, 2, 2)
    assert att2.length_alpha.shape == (data.num_nodes, 1, 1)


def test_spagan_path_rounds_regenerate_paths():
    data = csbm(num_nodes=150, num_val=40)
    seed_everything(1)
    model = SPAGAN(data.num_features, data.num_classes, hidden_channels=4,
                   heads=2, path_rounds=2, pooling='max')
    seen = []

    def train_stage(module):
        seen.append(type(module).__name__)
        if module is model:
            seen.append(model.paths)
        return None

    model.fit_stages(data.x, data.edge_index, train_stage)
    assert seen[0] == 'GAT' and seen[1] == 'SPAGAN'
    assert isinstance(seen[2], PathSet) and model.paths is not seen[2]
    with pytest.raises(ValueError, match='path_rounds'):
        SPAGAN(3, 2, path_rounds=0)


def test_spagan_warm_start_reproduces_the_gat_on_one_hop_paths():
    """With the GAT's weights loaded and one-hop paths only, SPAGAN's
    forward is the GAT's (the path attention of length 1 is GAT's
    attention, self-paths are its self-loops)."""
    torch.manual_seed(0)
    data = csbm(num_nodes=200, num_val=50)
    model = SPAGAN(data.num_features, 3, hidden_channels=4, heads=2,
                   dropout=0.0)
    gat = model.new_gat()
    for param in gat.parameters():  # not the zero-initialised biases
        torch.nn.init.normal_(param, std=0.3)
    model.load_gat_weights(gat)
    model.eval(), gat.eval()
    expected = gat(data.x, data.edge_index)
    assert torch.allclose(model(data.x, data.edge_index), expected,
                          atol=1e-5)
    # A model of other widths is refused.
    other = SPAGAN(data.num_features, 3, hidden_channels=5, heads=2)
    with pytest.raises(ValueError, match='do not match'):
        other.load_gat_weights(gat)


def test_loss_selection_picks_the_lowest_validation_loss():
    data = csbm(num_nodes=200, num_val=50)
    seed_everything(0)
    model = create_model('gcn', data.num_features, data.num_classes)
    result = train_node_classifier(model, data, lr=0.05, weight_decay=0.0,
                                   epochs=40, selection='loss')
    losses = {h['epoch']: h['val_loss'] for h in result.history}
    assert losses[result.best_epoch] == min(losses.values())
    assert result.test_score == result.history[result.best_epoch - 1][
        'test_score']
