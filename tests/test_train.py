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


# Selection and stopping rules, and their replay on recorded histories ########

from gat_zoo.bench.train import (  # noqa: E402
    EpochSelector,
    select_epoch,
)


def _history(scores, losses):
    # test_score marks the epoch, so the reported score names the epoch
    return [{'epoch': e, 'val_score': s, 'val_loss': v, 'test_score': e}
            for e, (s, v) in enumerate(zip(scores, losses), start=1)]


def test_each_selection_rule_picks_its_epoch():
    # scores tie at epochs 2 and 3; the loss is lowest at epoch 4
    history = _history([0.5, 0.6, 0.6, 0.55], [1.0, 0.9, 0.95, 0.8])
    expected = {'score': 2,           # ties go to the lower loss
                'score_latest': 3,    # ties go to the later epoch
                'loss': 4,
                'score_and_loss': 2}  # epoch 3's loss is not the best
    for rule, epoch in expected.items():
        chosen = select_epoch(history, selection=rule)
        assert chosen['epoch'] == epoch, rule
        assert chosen['test_score'] == epoch
        assert chosen['epochs_run'] == 4 and not chosen['complete']


def test_each_patience_rule_restarts_on_its_epochs():
    # The loss falls every epoch; the score peaks at epoch 2 and is beaten
    # at epoch 5 only.
    history = _history([0.5, 0.6, 0.55, 0.55, 0.7],
                       [1.0, 0.9, 0.8, 0.7, 0.6])
    either = select_epoch(history, patience=2, patience_rule='either')
    assert either['epochs_run'] == 5 and not either['complete']
    assert either['epoch'] == 5
    for rule, selection in (('selected', 'score_latest'), ('joint', 'loss')):
        stopped = select_epoch(history, selection=selection, patience=2,
                               patience_rule=rule)
        # epochs 3 and 4 restart neither count: stop after epoch 4
        assert stopped['epochs_run'] == 4 and stopped['complete'], rule
    assert select_epoch(history, selection='loss', patience=2,
                        patience_rule='joint')['epoch'] == 4
    late = select_epoch(history, selection='score_latest', patience=2,
                        patience_rule='selected', min_epochs=10)
    assert late['epochs_run'] == 5 and not late['complete']


def test_joint_patience_compares_with_the_last_restart_only():
    # Epoch 2 has the lowest loss but no higher score: no restart, and the
    # reference stays epoch 1's, so epoch 3 (loss 0.9 < 1.0, score up)
    # restarts although its loss is above epoch 2's.
    history = _history([0.5, 0.5, 0.6, 0.6], [1.0, 0.5, 0.9, 0.8])
    chosen = select_epoch(history, selection='loss', patience=2,
                          patience_rule='joint')
    assert chosen['epochs_run'] == 4 and not chosen['complete']
    assert select_epoch(history, selection='loss', patience=1,
                        patience_rule='joint')['epochs_run'] == 2


def test_rule_arguments_are_checked():
    with pytest.raises(ValueError, match='patience_rule'):
        EpochSelector(patience_rule='never')
    with pytest.raises(ValueError, match='selection'):
        EpochSelector(selection='test')
    with pytest.raises(ValueError, match='patience'):
        EpochSelector(patience=0)
    data = csbm(num_nodes=200, num_val=50)
    with pytest.raises(ValueError, match='patience_rule'):
        _run(data, patience_rule='never')


def test_replayed_history_gives_what_training_with_the_rule_gives():
    # Selection and stopping do not change the trajectory, so a run without
    # early stopping, replayed under a rule, must report exactly what a run
    # trained under that rule reports.
    data = csbm(num_nodes=300, num_val=100)
    full = _run(data, epochs=40, lr=0.05)
    for rule in (dict(selection='score_latest', patience=4,
                      patience_rule='selected'),
                 dict(selection='loss', patience=3, patience_rule='joint'),
                 dict(selection='score', patience=3)):
        trained = _run(data, epochs=40, lr=0.05, **rule)
        assert trained.epochs_run < 40, rule  # the rule did stop the run
        replayed = select_epoch(full.history, **rule)
        assert replayed['epoch'] == trained.best_epoch, rule
        assert replayed['test_score'] == trained.test_score, rule
        assert replayed['epochs_run'] == trained.epochs_run, rule
        assert select_epoch(trained.history, **rule)['epoch'] == \
            trained.best_epoch
