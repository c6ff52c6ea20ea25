r"""DySAT: structural then temporal self-attention over graph snapshots, an
unsupervised dynamic node-embedding model evaluated by link prediction on
the next snapshot (Sankar, Wu, Gou, Zhang, Yang, WSDM 2020).

``model(x, snapshots, pairs)`` returns one link logit per column of
``pairs`` (``[2, P]``), :math:`\mathbf{e}_u^{T\top}\mathbf{e}_v^{T}` on the
embeddings of the *last* snapshot; ``model(x, snapshots)`` returns every
snapshot's embeddings ``[N, T, D]``, on which the paper's random-walk
context objective (:meth:`DySAT.context_loss`) is summed over snapshots.
``snapshots`` is one adjacency (a single snapshot, :math:`T = 1`) or a list
of them over the same node set. For this ``task='link'`` model the
registry's ``out_channels`` is the structural width *per head*; the
embedding width is ``structural_heads * out_channels`` (paper: 16 x 8 =
128).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from gat_zoo.nn.conv.dysat_conv import (
    DySATStructuralConv,
    TemporalSelfAttention,
)
from gat_zoo.nn.models.pagnn import check_pairs
from gat_zoo.registry import register_model

__all__ = ['DySAT']

_PAPER = 'Sankar, Wu, Gou, Zhang, Yang, WSDM 2020'
_URL = 'https://arxiv.org/abs/1812.09430'


def _as_list(value: Any, T: int, name: str) -> List[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != T:
            raise ValueError(f"'{name}' has {len(value)} entries but there "
                             f"are {T} snapshots")
        return list(value)
    return [value] * T


class DySAT(torch.nn.Module):
    r"""Dynamic Self-Attention Network of `"DySAT: Deep Neural Representation
    Learning on Dynamic Graphs via Self-Attention Networks"
    <https://arxiv.org/abs/1812.09430>`_: per snapshot :math:`t`, a
    :class:`~gat_zoo.nn.conv.DySATStructuralConv` (shared weights) gives
    :math:`\mathbf{x}_v^t`; for each node the sequence
    :math:`(\mathbf{x}_v^1, \dots, \mathbf{x}_v^T)` goes through
    :class:`~gat_zoo.nn.conv.TemporalSelfAttention` (causal, position
    embeddings), whose output at step :math:`t` is :math:`\mathbf{e}_v^t`.

    The objective (Eq. 5) is, summed over snapshots, a binary cross-entropy
    pulling :math:`\mathbf{e}_u^t` towards the nodes co-occurring with
    :math:`u` in fixed-length random walks on snapshot :math:`t` and away
    from negatives from a degree-based noise distribution
    (:meth:`context_loss`; pairs sampled by :mod:`gat_zoo.bench.dynamic`).

    Args:
        in_channels (int): Input feature size (the paper: one-hot node ids).
        out_channels (int): Structural width per head.
            (default: :obj:`8`)
        num_time_steps (int): Longest snapshot sequence (position
            embeddings). (default: :obj:`16`)
        structural_heads (int): Structural heads. (default: :obj:`16`)
        temporal_heads (int): Temporal heads; must divide the embedding
            width. (default: :obj:`16`)
        spatial_dropout (float): Dropout of the structural attention
            coefficients and of the projected features they aggregate
            (the official ``spatial_drop``, used in both places there).
            (default: :obj:`0.1`)
        temporal_dropout (float): Temporal attention dropout (official
            ``temporal_drop``). (default: :obj:`0.5`)
        residual (bool): Residual connections in both layers (official
            ``use_residual``). (default: :obj:`False`)
    """

    def __init__(self, in_channels: int, out_channels: int = 8,
                 num_time_steps: int = 16, structural_heads: int = 16,
                 temporal_heads: int = 16, spatial_dropout: float = 0.1,
                 temporal_dropout: float = 0.5, residual: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.spatial_dropout = spatial_dropout
        width = structural_heads * out_channels
        self.embedding_channels = width
        self.structural = DySATStructuralConv(
            in_channels, out_channels, heads=structural_heads,
            dropout=spatial_dropout, feature_dropout=spatial_dropout,
            residual=residual)
        self.temporal = TemporalSelfAttention(
            width, num_time_steps, heads=temporal_heads,
            dropout=temporal_dropout, residual=residual)

    def reset_parameters(self):
        self.structural.reset_parameters()
        self.temporal.reset_parameters()

    def embed(self, x: Union[Tensor, Sequence[Tensor]],
              snapshots: Any, edge_weight: Any = None,
              return_attention_weights: Optional[bool] = None
              ) -> Union[Tensor, Tuple[Tensor, Dict[str, Any]]]:
        """Embeddings ``[N, T, D]`` of every node at every snapshot; with
        :obj:`return_attention_weights`, also ``{'structural': [(edge_index,
        alpha) per snapshot], 'temporal': [N, H, T, T]}``."""
        graphs = list(snapshots) if isinstance(snapshots, (list, tuple)) \
            else [snapshots]
        T = len(graphs)
        if T == 0:
            raise ValueError("'snapshots' must hold at least one graph")
        xs = _as_list(x, T, 'x')
        weights = _as_list(edge_weight, T, 'edge_weight')
        hs, structural = [], []
        for x_t, g_t, w_t in zip(xs, graphs, weights):
            h, att = self.structural(x_t, g_t, w_t,
                                     return_attention_weights=True)
            hs.append(h)
            structural.append(att)
        out = self.temporal(torch.stack(hs, dim=1),
                            return_attention_weights=return_attention_weights)
        if return_attention_weights:
            out, temporal = out
            return out, {'structural': structural, **temporal}
        return out

    def forward(self, x: Union[Tensor, Sequence[Tensor]], snapshots: Any,
                pairs: Optional[Tensor] = None, edge_weight: Any = None,
                return_attention_weights: Optional[bool] = None):
        """Link logits ``[P]`` of ``pairs`` at the last snapshot, or (no
        ``pairs``) all embeddings ``[N, T, D]``."""
        result = self.embed(x, snapshots, edge_weight,
                            return_attention_weights)
        # embed returns the pair exactly when attention weights are asked.
        emb, att = cast(Tuple[Tensor, Optional[Dict[str, Any]]],
                        result if return_attention_weights else (result, None))
        if pairs is not None:
            pairs = check_pairs(pairs, emb.size(0), emb.device)
            last = emb[:, -1]
            emb = (last[pairs[0]] * last[pairs[1]]).sum(-1)
        if return_attention_weights:
            return emb, att
        return emb

    @staticmethod
    def context_loss(emb: Tensor, pos_pairs: Tensor, neg_pairs: Tensor,
                     neg_weight: float = 1.0) -> Tensor:
        r"""The paper's Eq. 5 for one snapshot: :math:`-\sum_{(u,v)}
        \log\sigma(\mathbf{e}_u^{\top}\mathbf{e}_v) - w_n\sum_{(u,v')}
        \log\sigma(-\mathbf{e}_u^{\top}\mathbf{e}_{v'})`, given ``[2, P]``
        positive (random-walk context) and negative pairs."""
        pos = (emb[pos_pairs[0]] * emb[pos_pairs[1]]).sum(-1)
        neg = (emb[neg_pairs[0]] * emb[neg_pairs[1]]).sum(-1)
        return F.softplus(-pos).sum() + neg_weight * F.softplus(neg).sum()

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.embedding_channels}, '
                f'heads=({self.structural.heads}, {self.temporal.heads}))')


@register_model(family='spatio-temporal', paper=_PAPER, url=_URL,
                task='link', conv=DySATStructuralConv)
def dysat(in_channels: int, out_channels: int = 8, **kwargs: Any) -> DySAT:
    """DySAT: structural self-attention per snapshot, then causal temporal
    self-attention over each node's snapshot sequence."""
    return DySAT(in_channels, out_channels, **kwargs)
