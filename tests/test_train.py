"""The training loop: selection rules and feature normalisation."""
import pytest
import torch

import gat_zoo
from gat_zoo.bench.train import seed_everything, train_node_classifier
from gat_zoo.datasets import csbm


def _run(data, **kwargs):
    seed_everything(0)
    model = gat_zoo.create_model('gcn', data.num_features, data.num_classes)
    settings = dict(lr=0.01, weight_decay=5e-4, epochs=15)
    settings.update(kwargs)
    return train_node_classifier(model, data, **settings)


def test_selection_reads_the_validation_history():
    data = csbm(num_nodes=300, num_val=100)
    for rule in ('score', 'score_and_loss'):
        result = _run(data, selection=rule)
        history = {h['epoch']: h for h in result.history}
        chosen = history[result.best_epoch]
        assert result.test_score == chosen['test_score']
        best_val = max(h['val_score'] for h in result.history)
        if rule == 'score':
            assert chosen['val_score'] == best_val
        else:  # both at their best so far at the chosen epoch
            earlier = [h for e, h in history.items() if e <= result.best_epoch]
            assert chosen['val_score'] == max(h['val_score'] for h in earlier)
            assert chosen['val_loss'] == min(h['val_loss'] for h in earlier)
    with pytest.raises(ValueError, match='selection'):
        _run(data, selection='test')


def test_feature_normalisation_needs_non_negative_features():
    data = csbm(num_nodes=200, num_val=50)
    with pytest.raises(ValueError, match='non-negative'):
        _run(data, normalize_features=True)
    data.x = data.x.abs()
    scaled = data.clone()
    scaled.x = 7.0 * data.x  # row-normalisation removes the scale
    a = _run(data, normalize_features=True)
    b = _run(scaled, normalize_features=True)
    assert a.test_score == b.test_score
    assert torch.isfinite(torch.tensor(a.val_loss))


def test_patience_stops_early():
    data = csbm(num_nodes=200, num_val=50)
    result = _run(data, epochs=500, patience=3, lr=0.0)  # nothing improves
    assert result.epochs_run <= 5


def test_min_epochs_delays_early_stopping_only():
    data = csbm(num_nodes=200, num_val=50)
    result = _run(data, epochs=500, patience=3, min_epochs=40, lr=0.0)
    assert result.epochs_run == 40  # stale all along, stops at the warm-up
    # With nothing to learn the first epoch stays the selected one.
    assert result.best_epoch == 1
    assert _run(data, epochs=30, patience=3, min_epochs=100,
                lr=0.0).epochs_run == 30  # epochs still caps the run


class _PenalisedGCN(torch.nn.Module):
    """A GCN whose auxiliary loss pulls every weight towards zero."""

    def __init__(self, data, weight):
        super().__init__()
        self.gcn = gat_zoo.create_model('gcn', data.num_features,
                                        data.num_classes)
        self.weight = weight
        self.calls = 0

    def forward(self, x, edge_index):
        return self.gcn(x, edge_index)

    def auxiliary_loss(self):
        self.calls += 1
        return self.weight * sum(p.pow(2).sum() for p in self.parameters())


def test_auxiliary_loss_joins_the_training_loss():
    data = csbm(num_nodes=200, num_val=50)
    norms = {}
    for weight in (0.0, 10.0):
        seed_everything(0)
        model = _PenalisedGCN(data, weight)
        result = train_node_classifier(model, data, lr=0.01,
                                       weight_decay=0.0, epochs=12)
        assert model.calls == result.epochs_run  # once per training step
        norms[weight] = sum(p.pow(2).sum() for p in model.parameters())
    assert norms[10.0] < 0.5 * norms[0.0]


def test_cosine_schedule_and_gradient_clipping_match_a_plain_loop():
    # The trainer's cosine schedule and clipping against the same steps
    # written out with torch's own scheduler; the evaluation passes in
    # between consume no randomness, so the weights agree exactly.
    import torch.nn.functional as F
    data = csbm(num_nodes=200, num_val=50)
    settings = dict(lr=0.05, weight_decay=5e-4, epochs=6)
    weights = {}
    for name, extra in [('plain', {}),
                        ('cosine', dict(lr_schedule='cosine', min_lr=1e-3)),
                        ('clipped', dict(grad_clip=0.05))]:
        seed_everything(0)
        model = gat_zoo.create_model('gcn', data.num_features,
                                     data.num_classes)
        train_node_classifier(model, data, **settings, **extra)
        weights[name] = [p.detach().clone() for p in model.parameters()]

        seed_everything(0)
        ref = gat_zoo.create_model('gcn', data.num_features,
                                   data.num_classes)
        opt = torch.optim.Adam(ref.parameters(), lr=settings['lr'],
                               weight_decay=settings['weight_decay'])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=settings['epochs'], eta_min=extra.get('min_lr', 0.0))
        mask = data.train_mask
        for _ in range(settings['epochs']):
            ref.train()
            opt.zero_grad()
            loss = F.cross_entropy(ref(data.x, data.edge_index)[mask],
                                   data.y[mask])
            loss.backward()
            if 'grad_clip' in extra:
                torch.nn.utils.clip_grad_norm_(ref.parameters(),
                                               extra['grad_clip'])
            opt.step()
            if 'lr_schedule' in extra:
                sched.step()
        for ours, theirs in zip(weights[name], ref.parameters()):
            torch.testing.assert_close(ours, theirs.detach(), rtol=0, atol=0)
    # Each option changes the trajectory.
    for name in ('cosine', 'clipped'):
        assert not all(torch.equal(a, b) for a, b in
                       zip(weights[name], weights['plain']))
    with pytest.raises(ValueError, match='lr_schedule'):
        _run(data, lr_schedule='step')
    with pytest.raises(ValueError, match='grad_clip'):
        _run(data, grad_clip=0.0)
