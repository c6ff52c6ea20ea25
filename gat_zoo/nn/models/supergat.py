"""SuperGAT: GAT layers whose attention is also trained to predict edges."""
from __future__ import annotations

from typing import Optional, cast

from torch import Tensor

from gat_zoo.nn.conv import SuperGATConv
from gat_zoo.nn.models.gat import GAT
from gat_zoo.registry import register_model

_PAPER = 'Kim & Oh, ICLR 2021'
_URL = 'https://openreview.net/forum?id=Wi5KUNlqWty'


class SuperGAT(GAT):
    r"""The node classifier of `"How to Find Your Friendly Neighborhood:
    Graph Attention Design with Self-Supervision"
    <https://openreview.net/forum?id=Wi5KUNlqWty>`_: the transductive GAT
    network (:class:`~gat_zoo.nn.models.GAT`) built from
    :class:`~gat_zoo.nn.conv.SuperGATConv` layers, trained with

    .. math::
        \mathcal{L} = \mathcal{L}_V + \lambda_E \sum_{l=1}^{L}
        \mathcal{L}_E^{l} + \lambda_2 \lVert \mathbf{W} \rVert_2^2,

    where :math:`\mathcal{L}_V` is the node-classification loss and
    :math:`\mathcal{L}_E^{l}` layer :math:`l`'s self-supervised edge loss:
    binary cross-entropy of the attention's edge probability on a sample of
    the graph's edges (label 1) and of negative pairs (label 0). The
    :math:`\lambda_2` term is the optimiser's weight decay;
    :meth:`auxiliary_loss` returns :math:`\lambda_E \sum_l
    \mathcal{L}_E^{l}` after a training forward, and
    :func:`gat_zoo.bench.train.train_node_classifier` adds it.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        attention_type (str, optional): ``'GO'``, ``'DP'``, ``'SD'`` or
            ``'MX'`` (see :class:`~gat_zoo.nn.conv.SuperGATConv`).
            (default: :obj:`'MX'`)
        attention_loss_weight (float, optional): :math:`\lambda_E`.
            (default: :obj:`4.0`)
        edge_sample_ratio (float, optional): Fraction of the edges used as
            positive samples in every step. (default: :obj:`0.8`)
        neg_sample_ratio (float, optional): Negative samples per positive
            sample. (default: :obj:`0.5`)
        is_undirected (bool, optional): Whether the graph is undirected, so
            negative samples exclude both directions of every edge.
            (default: :obj:`True`)
        **kwargs: Arguments of :class:`~gat_zoo.nn.models.GAT` (widths,
            heads, dropout, layers).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 attention_type: str = 'MX',
                 attention_loss_weight: float = 4.0,
                 edge_sample_ratio: float = 0.8,
                 neg_sample_ratio: float = 0.5, is_undirected: bool = True,
                 **kwargs):
        super().__init__(in_channels, out_channels, conv=SuperGATConv,
                         attention_type=attention_type,
                         edge_sample_ratio=edge_sample_ratio,
                         neg_sample_ratio=neg_sample_ratio,
                         is_undirected=is_undirected, **kwargs)
        self.attention_type = attention_type
        self.attention_loss_weight = attention_loss_weight

    def auxiliary_loss(self) -> Optional[Tensor]:
        r""":math:`\lambda_E \sum_l \mathcal{L}_E^{l}` of the last training
        forward (:obj:`None` when :math:`\lambda_E = 0`)."""
        if self.attention_loss_weight == 0:
            return None
        # A tensor: GAT has at least one layer (num_layers >= 1).
        total = cast(Tensor, sum(cast(SuperGATConv, conv).get_attention_loss()
                                 for conv in self.convs))
        return self.attention_loss_weight * total

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_layers={len(self.convs)}, '
                f'attention_type={self.attention_type!r})')


def _register(attention_type: str, description: str) -> None:
    def build(in_channels: int, out_channels: int, **kwargs) -> SuperGAT:
        return SuperGAT(in_channels, out_channels,
                        attention_type=attention_type, **kwargs)

    build.__doc__ = description
    register_model(f'supergat_{attention_type.lower()}', family='neighbor',
                   paper=_PAPER, url=_URL, conv=SuperGATConv)(build)


_register('GO', "SuperGAT-GO: GAT's original attention, self-supervised "
          "to predict edges.")
_register('DP', 'SuperGAT-DP: dot-product attention, self-supervised to '
          'predict edges.')
_register('SD', 'SuperGAT-SD: scaled dot-product attention, '
          'self-supervised to predict edges.')
_register('MX', 'SuperGAT-MX: GAT attention gated by the dot-product edge '
          'probability, self-supervised to predict edges.')
