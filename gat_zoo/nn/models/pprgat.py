"""PPRGAT: GAT layers whose attention also sees personalised PageRank."""
from __future__ import annotations

from typing import Optional, Union, cast

from torch import Tensor

from gat_zoo.nn.conv import PPRGATConv, PPRGATv2Conv
from gat_zoo.nn.conv.pprgat_conv import PPRGAT_L1_WEIGHT
from gat_zoo.nn.models.gat import GAT
from gat_zoo.registry import register_model

_PAPER = 'Choi, ICASSP 2022'
_URL = 'https://arxiv.org/abs/2205.14259'


class PPRGAT(GAT):
    r"""The node classifier of `"Personalized PageRank Graph Attention
    Networks" <https://arxiv.org/abs/2205.14259>`_: the transductive GAT
    network (:class:`~gat_zoo.nn.models.GAT`) built from
    :class:`~gat_zoo.nn.conv.PPRGATConv` (or, with :obj:`v2=True`,
    :class:`~gat_zoo.nn.conv.PPRGATv2Conv`) layers, trained with

    .. math::
        \mathcal{L} = \mathcal{L}_V + \lambda \sum_{l=1}^{L}
        \lVert \boldsymbol{\alpha}^{(l)} \rVert_1,

    the L1 norm of each layer's attention coefficients after attention
    dropout, as the authors' training code does (:meth:`auxiliary_loss`;
    see :meth:`~gat_zoo.nn.conv.PPRGATConv.attention_penalty` for what the
    term does and does not constrain). The approximate PPR matrix of the
    graph is computed once by the first layer's first call and cached per
    graph object; every layer reads the same matrix.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        v2 (bool, optional): Use the GATv2-based layer. (default:
            :obj:`False`)
        penalty_weight (float, optional): :math:`\lambda`. (default:
            :obj:`1e-4`, the authors' value)
        ppr_alpha, ppr_eps, ppr_topk (optional): The approximate PPR's
            teleport probability, push tolerance and entries kept per node
            (defaults: the authors' :obj:`0.25`, :obj:`1e-4`, :obj:`32`).
        **kwargs: Arguments of :class:`~gat_zoo.nn.models.GAT` (widths,
            heads, dropout, layers).
    """

    def __init__(self, in_channels: int, out_channels: int, v2: bool = False,
                 penalty_weight: float = PPRGAT_L1_WEIGHT,
                 ppr_alpha: float = 0.25, ppr_eps: float = 1e-4,
                 ppr_topk: Optional[int] = 32, **kwargs):
        super().__init__(in_channels, out_channels,
                         conv=PPRGATv2Conv if v2 else PPRGATConv,
                         ppr_alpha=ppr_alpha, ppr_eps=ppr_eps,
                         ppr_topk=ppr_topk, **kwargs)
        self.v2 = v2
        self.penalty_weight = penalty_weight

    def auxiliary_loss(self) -> Optional[Tensor]:
        r""":math:`\lambda \sum_l \lVert \boldsymbol{\alpha}^{(l)}
        \rVert_1` of the last forward (:obj:`None` when :math:`\lambda =
        0`)."""
        if self.penalty_weight == 0:
            return None
        # A tensor: GAT has at least one layer (num_layers >= 1).
        total = cast(Tensor, sum(
            cast(Union[PPRGATConv, PPRGATv2Conv], conv).attention_penalty()
            for conv in self.convs))
        return self.penalty_weight * total


@register_model(family='neighbor', paper=_PAPER, url=_URL, conv=PPRGATConv)
def pprgat(in_channels: int, out_channels: int, **kwargs) -> PPRGAT:
    """PPRGAT: GAT attention whose logit also sees the pair's personalised
    PageRank score."""
    return PPRGAT(in_channels, out_channels, v2=False, **kwargs)


@register_model(family='neighbor', paper=_PAPER, url=_URL,
                conv=PPRGATv2Conv)
def pprgatv2(in_channels: int, out_channels: int, **kwargs) -> PPRGAT:
    """PPRGATv2: GATv2 attention plus the pair's personalised PageRank
    score."""
    return PPRGAT(in_channels, out_channels, v2=True, **kwargs)
