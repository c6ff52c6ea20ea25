r"""Link-sign prediction on signed directed networks, SiGAT's protocol
(Huang et al., ICANN 2019, Sec. 4; the official code's
``logistic_function.py``).

1. Train an embedding model *unsupervised* on the training edges (their
   signs included) only.
2. Fit a logistic regression (scikit-learn defaults) on :math:`[\mathbf{z}_u
   \Vert \mathbf{z}_v]` of the training edges, label = sign.
3. Predict the signs of the test edges: AUC (of the predicted probability
   of "positive"), accuracy, binary F1 (positive class), macro-F1 and
   micro-F1 — the five numbers the official code prints.

Data: Bitcoin-Alpha on the paper's own split (``SiGAT-splits``, fold 1, node
ids already contiguous), Bitcoin-OTC from the SNAP CSV with a random 80/20
edge split drawn from the seed. Models: SiGAT (:class:`gat_zoo.nn.models.
sigat.SiGAT`, the official code's optimisation: Adam lr 5e-4, weight decay
1e-4, 100 epochs of mini-batches of 500 centre nodes) and PyG's
:class:`~torch_geometric.nn.models.SignedGCN` (SGCN, Derr et al., ICDM 2018,
with its own loss and spectral input features) under the same downstream
protocol.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from gat_zoo.bench.link import roc_auc

__all__ = [
    'SignedSplit',
    'bitcoin_alpha_split',
    'bitcoin_otc_split',
    'data_root',
    'load_signed_split',
    'sign_metrics',
    'logistic_sign_prediction',
    'train_sigat',
    'train_sgcn',
]

DATASETS = ('BitcoinAlpha', 'BitcoinOTC')


@dataclass
class SignedSplit:
    """Directed signed edges ``[2, E]`` with signs ``[E]`` (+1/-1)."""
    name: str
    num_nodes: int
    train_edge_index: torch.Tensor
    train_sign: torch.Tensor
    test_edge_index: torch.Tensor
    test_sign: torch.Tensor
    split: str


def data_root(root: Optional[str] = None) -> Path:
    """``root``, else ``$GAT_ZOO_DATA``, else ``../shared/data`` beside the
    repository."""
    if root is None:
        root = os.environ.get('GAT_ZOO_DATA')
    if root is None:
        return Path(__file__).resolve().parents[3] / 'shared' / 'data'
    return Path(root)


def _edgelist(path: Path) -> Tuple[torch.Tensor, torch.Tensor]:
    arr = np.loadtxt(path, dtype=np.int64, ndmin=2)
    ei = torch.from_numpy(np.ascontiguousarray(arr[:, :2].T))
    return ei, torch.from_numpy(np.ascontiguousarray(arr[:, 2]))


def bitcoin_alpha_split(root: Optional[str] = None,
                        fold: int = 1) -> SignedSplit:
    """Bitcoin-Alpha on the SiGAT repository's split (3783 nodes)."""
    base = data_root(root) / 'signed' / 'SiGAT-splits'
    tr_ei, tr_s = _edgelist(base / f'bitcoin_alpha-train-{fold}.edgelist')
    te_ei, te_s = _edgelist(base / f'bitcoin_alpha-test-{fold}.edgelist')
    n = 3783
    assert int(max(tr_ei.max(), te_ei.max())) < n
    return SignedSplit('BitcoinAlpha', n, tr_ei, tr_s, te_ei, te_s,
                       f'SiGAT fold {fold}')


def bitcoin_otc_split(seed: int, root: Optional[str] = None,
                      train_ratio: float = 0.8) -> SignedSplit:
    """Bitcoin-OTC (SNAP CSV, sign = rating > 0), node ids made contiguous,
    edges split 80/20 uniformly at random by ``seed``."""
    path = data_root(root) / 'signed' / 'BitcoinOTC' / 'raw' / \
        'soc-sign-bitcoinotc.csv'
    arr = np.loadtxt(path, delimiter=',', dtype=np.float64, ndmin=2)
    ids, inv = np.unique(arr[:, :2].astype(np.int64), return_inverse=True)
    ei = inv.reshape(-1, 2).T
    sign = np.where(arr[:, 2] > 0, 1, -1)
    perm = np.random.default_rng(seed).permutation(ei.shape[1])
    cut = int(round(train_ratio * ei.shape[1]))
    tr, te = perm[:cut], perm[cut:]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return SignedSplit('BitcoinOTC', len(ids), t(ei[:, tr]), t(sign[tr]),
                       t(ei[:, te]), t(sign[te]),
                       f'random 80/20 (seed {seed})')


def load_signed_split(name: str, seed: int,
                      root: Optional[str] = None) -> SignedSplit:
    key = name.lower().replace('-', '').replace('_', '')
    if key == 'bitcoinalpha':
        return bitcoin_alpha_split(root)
    if key == 'bitcoinotc':
        return bitcoin_otc_split(seed, root)
    raise ValueError(f"Unknown signed dataset {name!r}; expected one of "
                     f"{DATASETS}")


# Metrics / downstream classifier #############################################


def sign_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                 p_pos: np.ndarray) -> Dict[str, float]:
    """AUC, accuracy, F1 (positive class), macro-F1 and micro-F1 of sign
    labels in {0, 1} (1 = positive)."""
    from sklearn import metrics
    y_true = np.asarray(y_true).astype(np.int64)
    return {
        'auc': roc_auc(y_true, np.asarray(p_pos, dtype=np.float64)),
        'accuracy': float(metrics.accuracy_score(y_true, y_pred)),
        'f1': float(metrics.f1_score(y_true, y_pred)),
        'macro_f1': float(metrics.f1_score(y_true, y_pred, average='macro')),
        'micro_f1': float(metrics.f1_score(y_true, y_pred, average='micro')),
    }


def logistic_sign_prediction(z: np.ndarray, split: SignedSplit,
                             seed: int = 0) -> Dict[str, float]:
    """Fit scikit-learn's default logistic regression on :math:`[z_u \\Vert
    z_v]` of the training edges and score the test edges."""
    from sklearn.linear_model import LogisticRegression
    z = np.asarray(z, dtype=np.float64)

    def feats(ei):
        ei = ei.numpy()
        return np.concatenate([z[ei[0]], z[ei[1]]], axis=1)

    y_tr = (split.train_sign.numpy() > 0).astype(np.int64)
    y_te = (split.test_sign.numpy() > 0).astype(np.int64)
    clf = LogisticRegression(random_state=seed)
    clf.fit(feats(split.train_edge_index), y_tr)
    x_te = feats(split.test_edge_index)
    return sign_metrics(y_te, clf.predict(x_te), clf.predict_proba(x_te)[:,
                                                                         1])


# Embedding models ############################################################


def train_sigat(split: SignedSplit, seed: int, epochs: int = 100,
                lr: float = 5e-4, weight_decay: float = 1e-4,
                batch_size: int = 500, dim: int = 20, feature_dim: int = 20,
                official_step_sizes: bool = True,
                log_every: int = 0) -> np.ndarray:
    """SiGAT embeddings :math:`\\mathbf{z}` ``[N, dim]`` after ``epochs``
    epochs of the official code's loop: each epoch a random permutation of
    the nodes, ``N // batch_size`` mini-batches of centre nodes (the
    remainder is skipped, as there), the loss of :meth:`SiGAT.loss` summed
    over each batch, one Adam step per batch.

    ``official_step_sizes``: the official ``sigat.py`` hands Adam the
    parameter list ``model.parameters() + enc1.parameters() +
    features.parameters()``, so every network parameter appears twice and
    the input embedding three times, and Adam updates each copy in turn
    (PyTorch only warns about duplicates). With the flag (default) this is
    reproduced as step sizes ``3 * lr`` for the embedding and ``2 * lr`` for
    the rest; without it every parameter gets ``lr``."""
    from gat_zoo.nn.models.sigat import SiGAT, signed_neighbour_pairs
    torch.manual_seed(seed)
    np.random.seed(seed)
    n = split.num_nodes
    ei, sign = split.train_edge_index, split.train_sign
    model = SiGAT(feature_dim, dim, num_nodes=n)
    pos, neg = signed_neighbour_pairs(ei, sign, n)
    assert model.embedding is not None  # built with num_nodes
    if official_step_sizes:
        groups = [{'params': [model.embedding.weight], 'lr': 3 * lr},
                  {'params': list(model.conv.parameters()), 'lr': 2 * lr}]
    else:
        groups = [{'params': list(model.parameters()), 'lr': lr}]
    opt = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for b in range(max(n // batch_size, 1)):
            nodes = perm[b * batch_size:(b + 1) * batch_size]
            opt.zero_grad()
            z = model.embed(None, ei, sign)
            loss = model.loss(z, pos, neg, nodes=nodes)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        if log_every and (epoch + 1) % log_every == 0:
            print(f'  sigat epoch {epoch + 1}: loss {total:.1f}', flush=True)
    model.eval()
    with torch.no_grad():
        return model.embed(None, ei, sign).double().numpy()


def train_sgcn(split: SignedSplit, seed: int, epochs: int = 200,
               lr: float = 0.01, weight_decay: float = 5e-4,
               channels: int = 64, num_layers: int = 2,
               lamb: float = 5.0) -> np.ndarray:
    """SGCN embeddings from PyG's :class:`SignedGCN` (its spectral input
    features, its own balance-theory loss; the setting of PyG's
    ``examples/signed_gcn.py``) on the training edges."""
    from torch_geometric.nn.models import SignedGCN
    torch.manual_seed(seed)
    np.random.seed(seed)
    ei, sign = split.train_edge_index, split.train_sign
    pos, neg = ei[:, sign > 0], ei[:, sign < 0]
    model = SignedGCN(channels, channels, num_layers=num_layers, lamb=lamb)
    x = model.create_spectral_features(pos, neg, num_nodes=split.num_nodes)
    opt = torch.optim.Adam(model.parameters(), lr=lr,
                           weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        z = model(x, pos, neg)
        loss = model.loss(z, pos, neg)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(x, pos, neg).double().numpy()
