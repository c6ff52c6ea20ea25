r"""Dense, masked, float64 reference implementation of HAN's layer.

A test oracle written from Eqs. 1-9 of Wang et al., "Heterogeneous Graph
Attention Network" (WWW 2019), with dense tensor algebra only (no
``torch_geometric``, no scatter or segment utilities):

* one dense multiplicity matrix per meta-path, :math:`C^{\Phi}_{ij}` =
  number of edges :math:`j \to i`, with the diagonal set to exactly one
  (the neighbourhood includes the node itself; loops already present are
  replaced) when self-loops are asked for;
* :math:`\mathbf{h}' = \mathbf{M}\mathbf{h}` per head, logits
  :math:`e_{ij} = \mathrm{LeakyReLU}(\mathbf{a}_{src}^{\top}\mathbf{h}'_j +
  \mathbf{a}_{dst}^{\top}\mathbf{h}'_i)` for **all** pairs, a softmax over
  ``j`` weighted by the multiplicities (a duplicated edge counts twice), and
  :math:`\mathbf{z}_i = \Vert_k \mathrm{ELU}(\sum_j \alpha_{ij}
  \mathbf{h}'^k_j)`;
* the semantic score :math:`w_{\Phi} = \frac{1}{N}\sum_i \mathbf{q}^{\top}
  \tanh(\mathbf{W}\mathbf{z}^{\Phi}_i + \mathbf{b})`, :math:`\beta =
  \mathrm{softmax}(w)` and :math:`\mathbf{Z} = \sum_{\Phi}\beta_{\Phi}
  \mathbf{Z}_{\Phi}`.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['dense_han', 'han_params_from_module', 'metapath_counts']

DTYPE = torch.float64


def metapath_counts(edge_index: Tensor, num_nodes: int,
                    self_loops: bool) -> Tensor:
    r"""``[N, N]`` with :math:`C_{ij}` = number of edges :math:`j \to i`."""
    counts = torch.zeros(num_nodes, num_nodes, dtype=DTYPE)
    for j, i in edge_index.t().tolist():
        counts[i, j] += 1.0
    if self_loops:
        counts.fill_diagonal_(1.0)
    return counts


def han_params_from_module(layer) -> Dict[str, object]:
    """The homogeneous layer's parameters as plain tensors (read once; the
    oracle shares nothing else with the module)."""
    if layer.share_projection:
        weights = [layer.proj['node'].weight] * len(layer.edge_types)
    else:
        weights = [layer.proj['__'.join(e)].weight for e in layer.edge_types]
    keys = ['__'.join(e) for e in layer.edge_types]
    return {
        'weights': weights,
        'att_src': [layer.att_src[k] for k in keys],
        'att_dst': [layer.att_dst[k] for k in keys],
        'semantic_weight': layer.semantic_lin.weight,
        'semantic_bias': layer.semantic_lin.bias,
        'semantic_q': layer.semantic_q,
        'heads': layer.heads,
        'negative_slope': layer.negative_slope,
    }


def dense_han(x: Tensor, metapaths: Sequence[Tensor], *,
              weights: List[Tensor], att_src: List[Tensor],
              att_dst: List[Tensor], semantic_weight: Tensor,
              semantic_bias: Tensor, semantic_q: Tensor, heads: int,
              negative_slope: float = 0.2, self_loops: bool = True
              ) -> Tuple[Tensor, List[Tensor], Tensor]:
    r"""``(Z [N, K*F'], alphas, beta)``: the layer's output, the dense
    coefficients ``[N_dst, N_src, K]`` per meta-path (per *unit* of
    multiplicity: an edge's coefficient) and the semantic weights."""
    x = x.to(DTYPE)
    n = x.size(0)
    zs, alphas = [], []
    for m, edge_index in enumerate(metapaths):
        counts = metapath_counts(edge_index, n, self_loops)
        h = (x @ weights[m].to(DTYPE).t()).view(n, heads, -1)  # [N, K, F']
        s_src = (h * att_src[m].to(DTYPE)).sum(-1)  # [N, K]
        s_dst = (h * att_dst[m].to(DTYPE)).sum(-1)
        logits = s_dst.unsqueeze(1) + s_src.unsqueeze(0)  # [i, j, K]
        logits = torch.where(logits > 0, logits, negative_slope * logits)
        mask = counts.unsqueeze(-1) > 0
        peak = torch.where(mask, logits, torch.full_like(logits, -1e300))
        peak = peak.max(dim=1, keepdim=True).values
        weight = torch.where(mask, torch.exp(logits - peak),
                             torch.zeros_like(logits))
        weight = weight * counts.unsqueeze(-1)
        denom = weight.sum(dim=1, keepdim=True)
        alpha = torch.where(denom > 0, torch.exp(logits - peak) /
                            denom.clamp_min(1e-300),
                            torch.zeros_like(logits))
        alpha = torch.where(mask, alpha, torch.zeros_like(alpha))
        # sum_j C_ij alpha_ij h_j per head
        agg = torch.einsum('ijk,jkf->ikf', alpha * counts.unsqueeze(-1), h)
        z = torch.nn.functional.elu(agg).reshape(n, -1)
        zs.append(z)
        alphas.append(alpha)
    stacked = torch.stack(zs)  # [M, N, D]
    scores = torch.tanh(stacked @ semantic_weight.to(DTYPE).t() +
                        semantic_bias.to(DTYPE)) @ semantic_q.to(DTYPE).t()
    w = scores.squeeze(-1).mean(dim=1)
    beta = torch.exp(w - w.max())
    beta = beta / beta.sum()
    return (beta.view(-1, 1, 1) * stacked).sum(0), alphas, beta
