"""Seeded random node splits (the "60/20/20 random splits, 10 runs" protocol
of TDGNN, ACM-GNN and others, whose split files are not in the data root).
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

__all__ = ['SPLIT_RULES', 'random_node_splits', 'parse_split_ratios',
           'with_random_splits']

#: How :func:`random_node_splits` draws the training nodes.
SPLIT_RULES = ('stratified', 'balanced')


def parse_split_ratios(text: str) -> Tuple[float, float]:
    """``'0.6/0.2'`` (or ``'60/20'``) → ``(0.6, 0.2)``: the train and
    validation fractions; the rest is the test set.

    Raises:
        ValueError: a malformed value, or fractions outside (0, 1) or summing
            to 1 or more (which leaves no test nodes).
    """
    parts = [p.strip() for p in str(text).split('/')]
    if len(parts) not in (2, 3):
        raise ValueError(f"A split is 'train/val' or 'train/val/test' "
                         f"fractions, e.g. '0.6/0.2' (got {text!r})")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"Split fractions must be numbers (got {text!r})"
                         ) from None
    if any(v > 1 for v in values):  # percentages
        values = [v / 100 for v in values]
    train, val = values[0], values[1]
    test = values[2] if len(values) == 3 else 1 - train - val
    if not (0 < train < 1 and 0 < val < 1 and test > 0
            and abs(train + val + test - 1) < 1e-6):
        raise ValueError(f"Split fractions must lie in (0, 1) and leave a "
                         f"test set: train + val + test = 1 (got {text!r})")
    return train, val


def random_node_splits(y: Tensor, train_ratio: float, val_ratio: float, *,
                       num_splits: int = 10, seed: int = 0,
                       rule: str = 'stratified'
                       ) -> Tuple[Tensor, Tensor, Tensor]:
    """``num_splits`` seeded random splits as ``[N, S]`` masks.

    ``rule='stratified'`` (default): in every class,
    ``round(train_ratio * n_c)`` nodes go to training and
    ``round(val_ratio * n_c)`` to validation, the rest to test, so that each
    class keeps its share in each part (small heterophily sets such as
    Cornell have classes of one or two nodes, which unstratified splits drop
    from training).

    ``rule='balanced'``: the rule of GPRGNN's ``random_planetoid_splits``,
    which ACM-GNN and others use for their "random 60/20/20 splits": every
    class gives the same ``round(train_ratio * N / C)`` training nodes (all
    of its nodes if it has fewer), then ``round(val_ratio * N)`` nodes drawn
    from all the others validate and the rest test. On an imbalanced graph
    the test set is then dominated by the largest class (about 80 %
    "student" on Cornell), so numbers under the two rules are not
    comparable.

    Split ``s`` is drawn from its own generator seeded ``seed + s``: the
    splits are reproducible and split ``s`` does not depend on how many
    splits are asked for. Nodes with a negative label (unlabelled) are in
    no split.
    """
    train_ratio, val_ratio = float(train_ratio), float(val_ratio)
    if not (0 < train_ratio < 1 and 0 < val_ratio < 1
            and train_ratio + val_ratio < 1):
        raise ValueError(f"Split fractions must lie in (0, 1) and sum to "
                         f"less than 1 (got train {train_ratio}, val "
                         f"{val_ratio})")
    if rule not in SPLIT_RULES:
        raise ValueError(f"Unknown split rule {rule!r}; expected one of "
                         f"{', '.join(SPLIT_RULES)}")
    if y.dim() != 1:
        raise ValueError(f"'y' must be one label per node [N] (got shape "
                         f"{tuple(y.shape)})")
    num_nodes = y.numel()
    shape = (num_nodes, int(num_splits))
    train, val, test = (torch.zeros(shape, dtype=torch.bool)
                        for _ in range(3))
    labels = y.cpu()
    classes = torch.unique(labels[labels >= 0])
    num_labelled = int((labels >= 0).sum())
    for s in range(int(num_splits)):
        gen = torch.Generator().manual_seed(int(seed) + s)
        rest = []
        for c in classes.tolist():
            members = (labels == c).nonzero().view(-1)
            members = members[torch.randperm(members.numel(), generator=gen)]
            if rule == 'balanced':
                n_train = int(round(train_ratio * num_labelled /
                                    classes.numel()))
                train[members[:n_train], s] = True
                rest.append(members[n_train:])
                continue
            n_train = int(round(train_ratio * members.numel()))
            n_val = int(round(val_ratio * members.numel()))
            train[members[:n_train], s] = True
            val[members[n_train:n_train + n_val], s] = True
            test[members[n_train + n_val:], s] = True
        if rule == 'balanced':
            pool = (torch.cat(rest) if rest else
                    torch.empty(0, dtype=torch.long))
            pool = pool[torch.randperm(pool.numel(), generator=gen)]
            n_val = int(round(val_ratio * num_labelled))
            val[pool[:n_val], s] = True
            test[pool[n_val:], s] = True
    return train, val, test


def with_random_splits(data, train_ratio: float, val_ratio: float, *,
                       num_splits: int = 10, seed: int = 0,
                       rule: str = 'stratified'):
    """A shallow copy of ``data`` whose split masks are replaced by
    :func:`random_node_splits` (``[N, num_splits]``)."""
    out = data.clone() if hasattr(data, 'clone') else data
    masks = random_node_splits(data.y, train_ratio, val_ratio,
                               num_splits=num_splits, seed=seed, rule=rule)
    out.train_mask, out.val_mask, out.test_mask = masks
    return out
