r"""Dense float64 oracle for the adaptive channel mixing layer of Luan et
al., "Revisiting Heterophily For Graph Neural Networks" (NeurIPS 2022,
Sec. 4.2), written from the paper's three steps with dense matrices:

.. math::
    \hat A = \tilde D^{-1}\tilde A \ (\text{rw}) \text{ or }
    \tilde D^{-1/2}\tilde A\tilde D^{-1/2} \ (\text{sym}),\quad
    H_{LP} = \hat A,\quad H_{HP} = I - \hat A

    \text{ACM:}\ H_L = \mathrm{ReLU}(H_{LP} X W_L),\
    H_H = \mathrm{ReLU}(H_{HP} X W_H),\ H_I = \mathrm{ReLU}(X W_I)

    \text{ACMII:}\ H_L = H_{LP}\mathrm{ReLU}(X W_L),\
    H_H = H_{HP}\mathrm{ReLU}(X W_H),\ H_I = \mathrm{ReLU}(X W_I)

    \tilde\alpha_c = \sigma(\mathrm{LN}_c(H_c)\,\tilde w_c),\quad
    [\alpha_L, \alpha_H, \alpha_I] = \mathrm{softmax}_{row}
    \big(([\tilde\alpha_L, \tilde\alpha_H, \tilde\alpha_I] / T) W_{Mix}\big)

    X' = s\,(\mathrm{diag}(\alpha_L) H_L + \mathrm{diag}(\alpha_H) H_H
    + \mathrm{diag}(\alpha_I) H_I)

(:math:`\mathrm{LN}_c` only for ACM-GCN+'s ``layer_norm``, the identity
otherwise). :math:`\tilde A_{ij}` counts the edges :math:`j \to i` (or sums
their weights); with ``add_self_loops`` the graph's own loops are dropped and
one loop of weight 1 per node is added. :math:`\tilde d_i` is row
:math:`i`'s sum; zero-degree rows stay zero. No torch_geometric, no
scatter, no sparse tensors.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from reference.dense_gat import _f64, _one_hot

__all__ = ['dense_acm', 'dense_filter']


def dense_filter(edge_index: Tensor, n: int, *, normalization: str = 'rw',
                 add_self_loops: bool = True,
                 edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""The low-pass filter :math:`\hat A` as a dense ``[n, n]`` matrix."""
    src, dst = edge_index[0].long(), edge_index[1].long()
    w = (torch.ones(src.numel(), dtype=torch.float64) if edge_weight is None
         else _f64(edge_weight))
    A = _one_hot(dst, n).t() @ (w[:, None] * _one_hot(src, n))
    if add_self_loops:
        eye = torch.eye(n, dtype=torch.float64)
        A = A * (1 - eye) + eye
    d = A.sum(dim=1)
    safe = torch.where(d > 0, d, torch.ones_like(d))
    if normalization == 'rw':
        left = torch.where(d > 0, 1.0 / safe, torch.zeros_like(d))
        return left[:, None] * A
    if normalization == 'sym':
        s = torch.where(d > 0, safe.rsqrt(), torch.zeros_like(d))
        return s[:, None] * A * s[None, :]
    raise ValueError(normalization)


def _layer_norm(h: Tensor, weight: Tensor, bias: Tensor,
                eps: float) -> Tensor:
    mean = h.mean(dim=-1, keepdim=True)
    var = ((h - mean) ** 2).mean(dim=-1, keepdim=True)
    return (h - mean) / torch.sqrt(var + eps) * _f64(weight) + _f64(bias)


def dense_acm(x: Tensor, edge_index: Tensor, W_L: Tensor, W_H: Tensor,
              W_I: Tensor, w_att: Sequence[Tensor], W_mix: Tensor, *,
              variant: str = 'acm', normalization: str = 'rw',
              temperature: float = 3.0, scale: float = 1.0,
              add_self_loops: bool = True,
              edge_weight: Optional[Tensor] = None,
              layer_norms: Optional[Sequence[Tuple[Tensor, Tensor,
                                                   float]]] = None
              ) -> Tuple[Tensor, Tensor]:
    r"""``(out [N, F'], alpha [N, 3])``. ``W_L``, ``W_H``, ``W_I`` are
    ``[F, F']`` (right-multiplied, as in the paper), ``w_att`` the three
    ``[F']`` vectors :math:`\tilde w_L, \tilde w_H, \tilde w_I`, ``W_mix``
    ``[3, 3]``; ``layer_norms`` three ``(weight, bias, eps)``."""
    x = _f64(x)
    n = x.size(0)
    A_hat = dense_filter(edge_index, n, normalization=normalization,
                         add_self_loops=add_self_loops,
                         edge_weight=edge_weight)
    H_LP = A_hat
    H_HP = torch.eye(n, dtype=torch.float64) - A_hat
    relu = torch.relu
    if variant == 'acm':
        H_L = relu(H_LP @ x @ _f64(W_L))
        H_H = relu(H_HP @ x @ _f64(W_H))
        H_I = relu(x @ _f64(W_I))
    elif variant == 'acmii':
        H_L = H_LP @ relu(x @ _f64(W_L))
        H_H = H_HP @ relu(x @ _f64(W_H))
        H_I = relu(x @ _f64(W_I))
    else:
        raise ValueError(variant)
    chans = [H_L, H_H, H_I]
    feats = chans if layer_norms is None else [
        _layer_norm(h, *ln) for h, ln in zip(chans, layer_norms)]
    tilde = torch.stack([torch.sigmoid(f @ _f64(w))
                         for f, w in zip(feats, w_att)], dim=1)  # [N, 3]
    logits = (tilde / temperature) @ _f64(W_mix)
    alpha = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    alpha = alpha / alpha.sum(dim=1, keepdim=True)
    out = (torch.diag(alpha[:, 0]) @ H_L + torch.diag(alpha[:, 1]) @ H_H
           + torch.diag(alpha[:, 2]) @ H_I)
    return scale * out, alpha
