r"""Dense, masked, float64 reference implementation of RGHAT's layer.

A test oracle written from the equations of Zhang et al., "Relational
Graph Neural Network with Hierarchical Attention for Knowledge Graph
Completion" (AAAI 2020), as transcribed in gat_zoo's docs, with nothing but
dense tensor algebra (no ``torch_geometric``, no scatter, segment or sparse
utilities, and none of the layer's algebraic shortcuts):

* a dense multiplicity tensor :math:`C_{r,h,t}` = number of edges
  :math:`t \xrightarrow{r} h` (every copy of a multi-edge counts);
* :math:`\mathbf{a}_{h,r} = \mathbf{W}_1[\mathbf{h} \Vert \mathbf{v}_r]`
  for **all** (head, relation) pairs by explicit concatenation, the
  relation-level logits :math:`\sigma(\mathbf{p}^\top \mathbf{a}_{h,r})`
  and a softmax over the relations :math:`r` with :math:`\sum_t C_{r,h,t}
  > 0`;
* :math:`\mathbf{b}_{h,r,t} = \mathbf{W}_2[\mathbf{a}_{h,r} \Vert
  \mathbf{t}]` for all :math:`(h, r, t)`, the entity-level logits
  :math:`\sigma(\mathbf{q}^\top \mathbf{b}_{h,r,t})` and a softmax over the
  tails weighted by the multiplicities;
* :math:`\hat{\mathbf{h}} = \sum_{r,t} C_{r,h,t}\,\alpha_{h,r}
  \beta_{h,r,t}\, \mathbf{b}_{h,r,t}` and :math:`\mathbf{h}' = \frac12
  (\sigma(\mathbf{W}_3(\mathbf{h}+\hat{\mathbf{h}})) +
  \sigma(\mathbf{W}_3(\mathbf{h}\odot\hat{\mathbf{h}})))`, with
  :math:`\sigma` = LeakyReLU.

Parameter shapes follow :class:`gat_zoo.nn.conv.RGHATConv` so that
:func:`rghat_params_from_module` can read them.
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import Tensor

__all__ = ['dense_rghat', 'rghat_params_from_module', 'rghat_counts']

DTYPE = torch.float64


def rghat_counts(edge_index: Tensor, edge_type: Tensor, num_nodes: int,
                 num_relations: int) -> Tensor:
    r"""``[R, N, N]``: :math:`C_{r,h,t}` = number of edges
    :math:`t \xrightarrow{r} h` (row 0 of ``edge_index`` holds :math:`t`)."""
    counts = torch.zeros(num_relations, num_nodes, num_nodes, dtype=DTYPE)
    for (t, h), r in zip(edge_index.t().tolist(), edge_type.tolist()):
        counts[r, h, t] += 1.0
    return counts


def _leaky(z: Tensor, slope: float) -> Tensor:
    return torch.where(z > 0, z, slope * z)


def _masked_softmax(logits: Tensor, weight: Tensor, dim: int) -> Tensor:
    """Softmax of ``logits`` along ``dim`` where every entry counts
    ``weight`` times (0: absent); rows without entries give zeros."""
    present = weight > 0
    safe_logits = torch.where(present, logits, torch.zeros_like(logits))
    masked = torch.where(present, logits, torch.full_like(logits, -1e300))
    top = masked.max(dim=dim, keepdim=True).values.detach()
    top = torch.where(present.any(dim=dim, keepdim=True), top,
                      torch.zeros_like(top))
    # exp only of finite arguments, so no inf/NaN reaches the gradient
    ex = torch.where(present, torch.exp(safe_logits - top),
                     torch.zeros_like(logits))
    denom = (weight * ex).sum(dim=dim, keepdim=True)
    safe = torch.where(denom > 0, denom, torch.ones_like(denom))
    return ex / safe


def dense_rghat(x: Tensor, edge_index: Tensor, edge_type: Tensor,
                relation: Tensor, weight1: Tensor, att_relation: Tensor,
                weight2: Tensor, att_entity: Tensor, weight3: Tensor,
                negative_slope: float = 0.2, concat: bool = True
                ) -> Tuple[Tensor, Dict[str, Tensor]]:
    r"""The layer's output and its attention coefficients.

    Returns:
        ``(out, att)`` where ``out`` is ``[N, H * O]`` (or ``[N, O]`` with
        :obj:`concat=False`) and ``att`` holds the dense ``'alpha'``
        ``[H, N, R]`` (relation level, per (head, relation)), and per edge
        of ``edge_index`` ``'relation'`` (:math:`\alpha` of its pair),
        ``'entity'`` (:math:`\beta`) and ``'triple'`` (:math:`\mu`), each
        ``[E, H]``.
    """
    x = x.to(DTYPE)
    relation = relation.to(DTYPE)
    N, F = x.shape
    R = relation.size(0)
    H = weight1.size(0)
    C = rghat_counts(edge_index, edge_type, N, R)  # [R, N(h), N(t)]
    pair_present = C.sum(-1).t()  # [N, R]: tails of (h, r)
    outs, alphas, betas = [], [], []
    for k in range(H):
        w1, w2, w3 = (weight1[k].to(DTYPE), weight2[k].to(DTYPE),
                      weight3[k].to(DTYPE))
        p, q = att_relation[k].to(DTYPE), att_entity[k].to(DTYPE)
        # a_{h,r} = W1 [h || v_r] for all (h, r): [N, R, F]
        hv = torch.cat([x.unsqueeze(1).expand(N, R, F),
                        relation.unsqueeze(0).expand(N, R, -1)], dim=-1)
        a = hv @ w1
        rel_logit = _leaky(a @ p, negative_slope)  # [N, R]
        alpha = _masked_softmax(rel_logit, (pair_present > 0).to(DTYPE),
                                dim=1)
        # b_{h,r,t} = W2 [a_{h,r} || t] for all (h, r, t): [N, R, N, F]
        at = torch.cat([a.unsqueeze(2).expand(N, R, N, F),
                        x.view(1, 1, N, F).expand(N, R, N, F)], dim=-1)
        b = at @ w2
        ent_logit = _leaky(b @ q, negative_slope)  # [N, R, N]
        mult = C.permute(1, 0, 2)  # [N(h), R, N(t)]
        beta = _masked_softmax(ent_logit, mult, dim=2)  # per copy
        mu = alpha.unsqueeze(-1) * beta
        h_hat = ((mult * mu).unsqueeze(-1) * b).sum(dim=(1, 2))  # [N, F]
        out = 0.5 * (_leaky((x + h_hat) @ w3, negative_slope) +
                     _leaky((x * h_hat) @ w3, negative_slope))
        outs.append(out)
        alphas.append(alpha)
        betas.append(beta)
    out = torch.cat(outs, dim=1) if concat else torch.stack(outs).mean(0)
    t, h = edge_index[0], edge_index[1]
    alpha_all = torch.stack(alphas)  # [H, N, R]
    beta_all = torch.stack(betas)  # [H, N, R, N]
    e_alpha = alpha_all[:, h, edge_type].t()
    e_beta = beta_all[:, h, edge_type, t].t()
    return out, {'alpha': alpha_all, 'relation': e_alpha, 'entity': e_beta,
                 'triple': e_alpha * e_beta}


def rghat_params_from_module(module) -> Dict[str, object]:
    """The parameters of an :class:`RGHATConv`, as :func:`dense_rghat`
    keywords (the relation table from the module when it holds one)."""
    out = dict(weight1=module.weight1, att_relation=module.att_relation,
               weight2=module.weight2, att_entity=module.att_entity,
               weight3=module.weight3,
               negative_slope=module.negative_slope, concat=module.concat)
    if module.relation_emb is not None:
        out['relation'] = module.relation_emb
    return out
