"""Functional helpers shared by the paper-configured networks."""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from gat_zoo.ops.spmm import csr_tensor

__all__ = ['feature_dropout', 'is_sparse_features', 'sparse_features']


def is_sparse_features(x: Tensor) -> bool:
    """Whether ``x`` is a sparse CSR feature matrix."""
    return isinstance(x, Tensor) and x.layout == torch.sparse_csr


def feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """:func:`torch.nn.functional.dropout` that also takes a sparse CSR
    feature matrix.

    Dropout maps a zero to zero whatever the mask, so on sparse input only
    the stored values need a mask: the result has the distribution of dense
    dropout at the cost of the non-zeros. On bag-of-words features (about
    1 % non-zero on Planetoid) this is where most of an epoch went: drawing
    a Bernoulli mask for every one of CiteSeer's 12 M input entries.
    """
    if not is_sparse_features(x):
        return F.dropout(x, p=p, training=training)
    if not training or p == 0.0:
        return x
    values = F.dropout(x.values(), p=p, training=True)
    return csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)


def sparse_features(x: Tensor, max_density: float = 0.1) -> Tensor:
    """``x`` as a sparse CSR matrix when at most ``max_density`` of it is
    non-zero (bag-of-words features), else ``x`` unchanged.

    A sparse input makes the first projection a sparse-dense product and
    its dropout a dropout of the non-zeros only (see
    :func:`feature_dropout`); the result is the same layer.
    """
    if is_sparse_features(x) or x.dim() != 2 or x.numel() == 0:
        return x
    if x.count_nonzero().item() > max_density * x.numel():
        return x
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # "... in beta state"
        return x.to_sparse_csr()
