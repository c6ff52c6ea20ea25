r"""Downstream evaluation of learned node embeddings: the KNN protocol of
HAN (Wang et al., WWW 2019, Sec. 5.4) and the papers that copy it.

The embeddings of a node set (HAN: the test nodes) are split at random into
a labelled share (20 / 40 / 60 / 80 %) and the rest; a k-nearest-neighbour
classifier (k = 5, Euclidean) fitted on the labelled share predicts the
rest; Macro- and Micro-F1 are averaged over repeated random splits. Needs
scikit-learn (the ``bench`` extra).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ['KNNScore', 'knn_f1']


@dataclass(frozen=True)
class KNNScore:
    """Macro/Micro-F1 (percent) of one labelled share, over repeats."""
    train_ratio: float
    macro_f1: float
    macro_f1_std: float
    micro_f1: float
    micro_f1_std: float


def knn_f1(embeddings: Tensor, labels: Tensor,
           train_ratios: Sequence[float] = (0.2, 0.4, 0.6, 0.8),
           repeats: int = 10, k: int = 5,
           seed: int = 0) -> Dict[float, KNNScore]:
    r"""KNN Macro/Micro-F1 of ``embeddings`` ``[N, D]`` against ``labels``
    ``[N]`` for each labelled share in ``train_ratios``.

    Each repeat ``r`` draws a stratified split with random state
    ``seed + r`` (as HAN's evaluation script, which uses scikit-learn's
    ``train_test_split``), so two calls with the same arguments agree.
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    if embeddings.dim() != 2 or labels.dim() != 1 or \
            embeddings.size(0) != labels.size(0):
        raise ValueError(f"Expected embeddings [N, D] and labels [N] (got "
                         f"{tuple(embeddings.shape)} and "
                         f"{tuple(labels.shape)})")
    if not bool(torch.isfinite(embeddings).all()):
        raise ValueError("The embeddings contain NaN or inf")
    z = embeddings.detach().cpu().double().numpy()
    y = labels.detach().cpu().numpy()
    out: Dict[float, KNNScore] = {}
    for ratio in train_ratios:
        if not 0.0 < ratio < 1.0:
            raise ValueError(f"Train ratios must lie in (0, 1) (got "
                             f"{ratio})")
        macro, micro = [], []
        for r in range(repeats):
            z_tr, z_te, y_tr, y_te = train_test_split(
                z, y, train_size=ratio, random_state=seed + r, stratify=y)
            clf = KNeighborsClassifier(n_neighbors=k).fit(z_tr, y_tr)
            pred = clf.predict(z_te)
            macro.append(100.0 * f1_score(y_te, pred, average='macro'))
            micro.append(100.0 * f1_score(y_te, pred, average='micro'))
        out[ratio] = KNNScore(ratio, float(np.mean(macro)),
                              float(np.std(macro)), float(np.mean(micro)),
                              float(np.std(micro)))
    return out
