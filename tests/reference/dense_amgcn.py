r"""Dense float64 oracle for AM-GCN (Wang et al., "AM-GCN: Adaptive
Multi-channel Graph Convolutional Networks", KDD 2020), written from the
paper's equations with dense ``[N, N]`` matrices:

.. math::
    \hat A = \tilde D^{r-1}(A + I)\tilde D^{-r}\ (r = 1/2 \text{ paper},
    r = 0 \text{ code}),\qquad
    Z = \hat A\,\mathrm{drop}(\mathrm{ReLU}(\hat A X W_1 + b_1))W_2 + b_2

for the specific GCNs on :math:`A_t` and :math:`A_f` and the shared common
GCN on both; :math:`Z_C = (Z_{CT} + Z_{CF})/2`;
:math:`\omega^v = q^\top\tanh(W z^v + b)`, :math:`\alpha =
\mathrm{softmax}_v(\omega)`, :math:`Z = \sum_v \alpha^v Z^v`.

Constraints, as explicit :math:`N \times N` products:
:math:`\mathcal{L}_c = \frac{1}{N^2}\lVert S_{T} - S_{F}\rVert_F^2`,
:math:`S = \hat Y\hat Y^\top` of centred, row-normalised embeddings;
:math:`\mathrm{HSIC}(Z_1, Z_2) = \mathrm{tr}(R K_1 R K_2)`,
:math:`K = ZZ^\top`, :math:`R = I - \frac1N ee^\top`.

No torch_geometric, no scatter, no sparse tensors.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor

from reference.dense_gat import neighbourhood_counts

__all__ = ['dense_amgcn', 'dense_amgcn_operator', 'dense_consistency',
           'dense_hsic']


def dense_amgcn_operator(edge_index: Tensor, n: int, r: float) -> Tensor:
    r""":math:`\tilde D^{r-1}(A + I)\tilde D^{-r}` as a dense float64
    matrix, :math:`A_{ij}` = number of edges :math:`j \to i` (own loops
    replaced by one per node), :math:`\tilde d_i` the row sum."""
    A = neighbourhood_counts(edge_index, n, n, True)
    d = A.sum(dim=1)
    return d.pow(r - 1.0)[:, None] * A * d.pow(-r)[None, :]


def _gcn(x: Tensor, P: Tensor, w1, b1, w2, b2) -> Tensor:
    h = torch.relu(P @ (x @ w1) + b1)
    return P @ (h @ w2) + b2


def dense_amgcn(x: Tensor, edge_index: Tensor, feature_edge_index: Tensor,
                params: Dict[str, Tensor], att_w: Tensor, att_b: Tensor,
                att_q: Tensor, r: float = 0.5
                ) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
    """``(Z, alpha [N, 3], views)`` without dropout (eval mode).
    ``params`` holds ``{view}_w1, _b1, _w2, _b2`` for view in topology,
    feature, common."""
    n = x.size(0)
    Pt = dense_amgcn_operator(edge_index, n, r)
    Pf = dense_amgcn_operator(feature_edge_index, n, r)

    def p(view):
        return [params[f'{view}_{k}'] for k in ('w1', 'b1', 'w2', 'b2')]

    z_t = _gcn(x, Pt, *p('topology'))
    z_f = _gcn(x, Pf, *p('feature'))
    z_ct = _gcn(x, Pt, *p('common'))
    z_cf = _gcn(x, Pf, *p('common'))
    z_c = (z_ct + z_cf) / 2
    views = [z_t, z_f, z_c]
    omega = torch.stack([torch.tanh(z @ att_w.t() + att_b) @ att_q.t()
                         for z in views], dim=1).squeeze(-1)   # [N, 3]
    e = torch.exp(omega - omega.max(dim=1, keepdim=True).values)
    alpha = e / e.sum(dim=1, keepdim=True)
    out = sum(alpha[:, v:v + 1] * views[v] for v in range(3))
    return out, alpha, {'topology': z_t, 'feature': z_f,
                        'common_topology': z_ct, 'common_feature': z_cf}


def dense_consistency(z1: Tensor, z2: Tensor) -> Tensor:
    n = z1.size(0)

    def sim(z):
        c = z - z.mean(dim=0, keepdim=True)
        c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return c @ c.t()

    return ((sim(z1) - sim(z2)) ** 2).sum() / (n * n)


def dense_hsic(z1: Tensor, z2: Tensor) -> Tensor:
    n = z1.size(0)
    R = torch.eye(n, dtype=z1.dtype) - torch.full((n, n), 1.0 / n,
                                                  dtype=z1.dtype)
    return torch.trace(R @ (z1 @ z1.t()) @ R @ (z2 @ z2.t()))
