"""DAGNN, the paper-configured network (Liu, Gao, Ji, KDD 2020)."""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.conv.dagnn_conv import DAGNNConv
from gat_zoo.nn.functional import feature_dropout
from gat_zoo.registry import register_model

__all__ = ['DAGNN']


class DAGNN(torch.nn.Module):
    r"""Deep Adaptive Graph Neural Network of `"Towards Deeper Graph Neural
    Networks" <https://arxiv.org/abs/2007.09296>`_ (Eq. 9): transformation
    and propagation decoupled. A two-layer MLP maps each node to class
    scores, :math:`\mathbf{Z} = \mathrm{MLP}(\mathbf{X})`, and
    :class:`~gat_zoo.nn.conv.DAGNNConv` propagates them over :math:`K`
    hops and combines the hops with learned per-node retention scores.
    Because the propagation has no parameters and acts on :math:`C`-wide
    class scores, depth costs :math:`K` sparse products and no
    over-smoothing of a deep stack of transformations.

    Dropout comes before each linear layer, as in the official code.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Width of the MLP's hidden layer.
            (default: :obj:`64`)
        K (int, optional): Propagation hops. (default: :obj:`10`)
        dropout (float, optional): Dropout before each linear layer.
            (default: :obj:`0.5`)
    """

    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, K: int = 10,
                 dropout: float = 0.5):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, out_channels)
        self.prop = DAGNNConv(out_channels, K=K)

    def reset_parameters(self):
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()
        self.prop.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: OptTensor = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]]]:
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also ``{'hop': [N, K + 1]}``
        retention scores."""
        check_model_input(x, edge_index, self.in_channels)
        x = feature_dropout(x, self.dropout, self.training)
        x = F.relu(self.lin1(x))
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.lin2(x)
        return self.prop(x, edge_index, edge_weight,
                         return_attention_weights=return_attention_weights)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, K={self.prop.K})')


@register_model(family='multi-level', paper='Liu, Gao, Ji, KDD 2020',
                url='https://arxiv.org/abs/2007.09296', conv=DAGNNConv)
def dagnn(in_channels: int, out_channels: int, **kwargs) -> DAGNN:
    """DAGNN: decoupled K-hop propagation with per-node sigmoid retention
    scores per hop."""
    return DAGNN(in_channels, out_channels, **kwargs)
