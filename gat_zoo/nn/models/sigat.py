r"""SiGAT: signed graph attention over balance- and status-theory motifs, an
unsupervised node-embedding model evaluated by link-sign prediction.

``model(x, edge_index, pairs, edge_sign=None)`` returns one *sign* logit
per column of ``pairs`` (``[2, P]``), :math:`\mathbf{z}_u^{\top}
\mathbf{z}_v`: the probability of a positive link under the paper's own
objective is :math:`\sigma(\mathbf{z}_u^{\top}\mathbf{z}_v)`. The paper's
downstream protocol (a logistic regression on :math:`[\mathbf{z}_u \Vert
\mathbf{z}_v]`) lives in :mod:`gat_zoo.bench.signed`. For this
``task='link'`` model the registry's ``out_channels`` is the embedding
width.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.conv.sigat_conv import SiGATConv
from gat_zoo.nn.models.pagnn import check_pairs
from gat_zoo.ops.motifs import (
    MOTIF_NAMES,
    _check_edge_index,
    check_sign,
    signed_motif_graphs,
)
from gat_zoo.registry import register_model

__all__ = ['SiGAT', 'signed_neighbour_pairs']

_PAPER = 'Huang, Shen, Hou, Cheng, ICANN 2019'
_URL = 'https://arxiv.org/abs/1906.10958'


def signed_neighbour_pairs(edge_index: Tensor, sign: Optional[Tensor],
                           num_nodes: int) -> Tuple[Tensor, Tensor]:
    r"""``(pos_pairs, neg_pairs)``: the paper's :math:`\mathcal{N}^+_i` and
    :math:`\mathcal{N}^-_i` as ``[2, P]`` pairs ``(i, j)`` (centre first),
    each undirected neighbour once, both orientations, no self-loops (the
    official code's ``adj_lists1`` / ``adj_lists2``)."""
    edge_index = _check_edge_index(edge_index, num_nodes)
    positive = check_sign(sign, edge_index.size(1))
    if positive is None:
        positive = torch.ones(edge_index.size(1), dtype=torch.bool,
                              device=edge_index.device)
    keep = edge_index[0] != edge_index[1]
    out = []
    for mask in (positive & keep, ~positive & keep):
        e = edge_index[:, mask]
        both = torch.cat([e, e.flip(0)], dim=1)
        keys = torch.unique(both[0] * num_nodes + both[1])
        out.append(torch.stack([keys // num_nodes, keys % num_nodes]))
    return out[0], out[1]


class SiGAT(torch.nn.Module):
    r"""SiGAT (`Huang et al., ICANN 2019 <https://arxiv.org/abs/1906.10958>`_):
    learned node embeddings :math:`\mathbf{x}`, one :class:`SiGATConv`
    (38 motif attention aggregators, concatenation, the two-layer tanh MLP)
    giving :math:`\mathbf{z}`, trained with the paper's unsupervised signed
    objective (:meth:`loss`).

    Args:
        in_channels (int): Input width :math:`F` (the paper: 20-d learned
            embeddings).
        out_channels (int): Embedding width :math:`D` (the paper: 20).
        num_nodes (int, optional): If given, the model owns learnable input
            embeddings (:class:`torch.nn.Embedding`, :math:`\mathcal{N}(0,
            1)` as in the official code) used when ``x`` is :obj:`None`.
        hidden_channels, motif_channels, negative_slope, dropout,
        add_self_loops: As in :class:`SiGATConv`.
        neg_ratio (float, optional): Extra weight of the negative term of
            the loss (the official code's ``NEG_LOSS_RATIO``). (default: 1)
    """

    def __init__(self, in_channels: int, out_channels: int = 20,
                 num_nodes: Optional[int] = None,
                 hidden_channels: Optional[int] = None,
                 motif_channels: Optional[int] = None,
                 negative_slope: float = 0.1, dropout: float = 0.0,
                 add_self_loops: bool = True, neg_ratio: float = 1.0):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_nodes = num_nodes
        self.neg_ratio = neg_ratio
        self.embedding = (torch.nn.Embedding(num_nodes, in_channels)
                          if num_nodes is not None else None)
        self.conv = SiGATConv(in_channels, out_channels,
                              motif_channels=motif_channels,
                              hidden_channels=hidden_channels,
                              motifs=MOTIF_NAMES,
                              negative_slope=negative_slope, dropout=dropout,
                              add_self_loops=add_self_loops)

    def reset_parameters(self):
        if self.embedding is not None:
            self.embedding.reset_parameters()
        self.conv.reset_parameters()

    def _input(self, x: Optional[Tensor]) -> Tensor:
        if x is not None:
            return x
        if self.embedding is None:
            raise ValueError("'x' is None but the model has no node "
                             "embeddings (build it with num_nodes=...)")
        return self.embedding.weight

    def embed(self, x: Optional[Tensor], edge_index: Tensor,
              edge_sign: Optional[Tensor] = None,
              return_attention_weights: Optional[bool] = None):
        r"""Node embeddings :math:`\mathbf{z}` ``[N, D]`` of the signed
        directed graph ``edge_index`` (edge signs ``edge_sign``, :math:`\pm
        1` or bool; :obj:`None`: all positive). The motif graphs are built
        once per graph object and cached."""
        if x is not None:
            check_model_input(x, edge_index, self.in_channels,
                              finite=False)  # the first layer scans x
        x = self._input(x)
        graphs = signed_motif_graphs(edge_index, edge_sign, x.size(0))
        return self.conv(x, graphs,
                         return_attention_weights=return_attention_weights)

    def forward(self, x: Optional[Tensor], edge_index: Tensor,
                pairs: Tensor, edge_sign: Optional[Tensor] = None) -> Tensor:
        """Sign logits :math:`\\mathbf{z}_u^{\\top}\\mathbf{z}_v` of the
        ``[2, P]`` ``pairs``."""
        z = self.embed(x, edge_index, edge_sign)
        pairs = check_pairs(pairs, z.size(0), device=z.device)
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    def loss(self, z: Tensor, pos_pairs: Tensor, neg_pairs: Tensor,
             nodes: Optional[Tensor] = None) -> Tensor:
        r"""The paper's unsupervised objective, summed over the centres
        :math:`i` (all nodes, or ``nodes``):

        .. math::
            \mathcal{L} = \sum_i \Big[-\sum_{j \in \mathcal{N}^+_i}
            \log\sigma(\mathbf{z}_i^{\top}\mathbf{z}_j)
            - C_i \sum_{k \in \mathcal{N}^-_i}
            \log\sigma(-\mathbf{z}_i^{\top}\mathbf{z}_k)\Big],
            \qquad C_i = \max\Big(1, \Big\lfloor
            \frac{|\mathcal{N}^+_i|}{\max(1, |\mathcal{N}^-_i|)}
            \Big\rfloor\Big),

        the balancing constant :math:`C_i` of the official code (the paper
        calls it the ratio of positive to negative neighbours), times
        :obj:`neg_ratio`. ``pos_pairs``/``neg_pairs`` are ``[2, P]`` pairs
        ``(i, j)``, centre first, e.g. from :func:`signed_neighbour_pairs`.
        """
        N = z.size(0)
        pos_pairs = check_pairs(pos_pairs, N, device=z.device)
        neg_pairs = check_pairs(neg_pairs, N, device=z.device)
        n_pos = torch.bincount(pos_pairs[0], minlength=N)
        n_neg = torch.bincount(neg_pairs[0], minlength=N)
        balance = torch.div(n_pos, n_neg.clamp(min=1),
                            rounding_mode='floor').clamp(min=1)
        if nodes is not None:
            chosen = torch.zeros(N, dtype=torch.bool, device=z.device)
            chosen[nodes] = True
            pos_pairs = pos_pairs[:, chosen[pos_pairs[0]]]
            neg_pairs = neg_pairs[:, chosen[neg_pairs[0]]]
        pos_score = (z[pos_pairs[0]] * z[pos_pairs[1]]).sum(-1)
        neg_score = (z[neg_pairs[0]] * z[neg_pairs[1]]).sum(-1)
        weight = balance[neg_pairs[0]].to(z.dtype) * self.neg_ratio
        return F.softplus(-pos_score).sum() + (weight *
                                               F.softplus(neg_score)).sum()


@register_model(family='relation-aware', paper=_PAPER, url=_URL, task='link',
                conv=SiGATConv)
def sigat(in_channels: int, out_channels: int = 20, **kwargs: Any) -> SiGAT:
    """SiGAT: one GAT aggregator per balance/status motif (38), concatenated
    and combined by an MLP; unsupervised signed embeddings."""
    return SiGAT(in_channels, out_channels, **kwargs)
