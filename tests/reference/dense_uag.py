r"""Dense float64 oracle for UAG's uncertainty-aware attention layer (Feng,
Wang, Ding, AAAI 2021), written from the equations in
:class:`gat_zoo.nn.conv.UAGConv`'s docstring (which are a *reconstruction*;
see there) with dense :math:`N \times N` matrices:

.. math::
    H = X W^\top,\quad
    V = \big(\tfrac{p}{1-p} X^{\odot 2} + S\big)(W^{\odot 2})^\top,\quad
    u = \mathrm{rowmean}(V),\quad \tilde u = u / (\bar u + \epsilon)

    g = \sigma(\alpha_\tau(\beta_\tau - \tilde u)),\quad
    E_{ij} = \mathrm{LeakyReLU}(a_d^\top h_i + a_s^\top h_j)

    P_{ij} = \frac{C_{ij}\, g_j \exp(E_{ij})}{\sum_k C_{ik}\, g_k
    \exp(E_{ik})}

    X' = P H + b,\qquad
    S' = (P \odot P\text{-per-edge}) V + \big(P H^{\odot 2} - (PH)^{\odot 2}
    \big)_+ .

:math:`C_{ij}` counts the edges :math:`j \to i`; every copy of a parallel
edge is its own term, so the per-edge weight is
:math:`P_{ij}/C_{ij}` and the variance term sums
:math:`C_{ij}(P_{ij}/C_{ij})^2 = P_{ij}^2 / C_{ij}`. Evaluation mode (no
dropout on the mean path). No torch_geometric, no scatter.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from reference.dense_gat import _f64, neighbourhood_counts

__all__ = ['dense_uag']


def dense_uag(x: Tensor, edge_index: Tensor, weight: Tensor,
              att_src: Tensor, att_dst: Tensor, bias: Optional[Tensor], *,
              p: float, alpha_tau: float, beta_tau: float,
              negative_slope: float = 0.2, add_self_loops: bool = True,
              variance: Optional[Tensor] = None, uncertainty_aware: bool = True,
              eps: float = 1e-12
              ) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
    """``(out [N, C], out variance [N, C], {'P': dense attention [N, N]
    (summed over parallel edges), 'per_edge': P / C, 'gate': g [N],
    'uncertainty': u~ [N]})``. ``weight`` is ``[C, F]``, ``att_*`` ``[1,
    C]``."""
    x, W = _f64(x), _f64(weight)
    n = x.size(0)
    C = neighbourhood_counts(edge_index, n, n, add_self_loops)
    H = x @ W.t()
    second = torch.zeros_like(x)
    if p > 0:
        second = second + x * x * (p / (1 - p))
    if variance is not None:
        second = second + _f64(variance)
    V = second @ (W * W).t()
    u = V.mean(dim=1)
    u_rel = u / (u.mean() + eps) if n > 0 else u
    if uncertainty_aware:
        g = 1.0 / (1.0 + torch.exp(-alpha_tau * (beta_tau - u_rel)))
    else:
        g = torch.ones_like(u_rel)
    s_src = H @ _f64(att_src).view(-1)
    s_dst = H @ _f64(att_dst).view(-1)
    E = s_dst[:, None] + s_src[None, :]
    E = torch.where(E > 0, E, negative_slope * E)
    mask = C > 0
    m = torch.where(mask, E, torch.full_like(E, -math.inf)).amax(
        dim=1, keepdim=True).detach() if n > 0 else E
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    num = torch.where(mask, C * g[None, :] * torch.exp(
        torch.where(mask, E - m, torch.zeros_like(E))), torch.zeros_like(E))
    Z = num.sum(dim=1, keepdim=True)
    P = num / torch.where(Z > 0, Z, torch.ones_like(Z))
    per_edge = torch.where(mask, P / torch.where(mask, C, torch.ones_like(C)),
                           torch.zeros_like(P))
    mean = P @ H
    out = mean if bias is None else mean + _f64(bias)
    out_var = (P * per_edge) @ V + (P @ (H * H) - mean * mean).clamp_min(0)
    return out, out_var, {'P': P, 'per_edge': per_edge, 'gate': g,
                          'uncertainty': u_rel}
