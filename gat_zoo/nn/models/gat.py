"""Paper-configured node classifiers of the neighbour-attention family (GAT,
GATv2) and the GCN baseline they are compared with."""
from __future__ import annotations

from typing import List, Optional, Tuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv import GATConv, GATv2Conv
from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.functional import feature_dropout
from gat_zoo.registry import register_model


class GAT(torch.nn.Module):
    r"""The transductive GAT network of `"Graph Attention Networks"
    <https://arxiv.org/abs/1710.10903>`_ (Sec. 3.3): ``num_layers``
    attention layers; hidden layers concatenate ``heads`` heads of
    ``hidden_channels`` features followed by ELU, the output layer averages
    ``out_heads`` heads. Dropout is applied to every layer's input and to
    the normalised attention coefficients.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Features per head in hidden layers.
            (default: :obj:`8`)
        heads (int, optional): Heads of hidden layers. (default: :obj:`8`)
        out_heads (int, optional): Heads of the output layer, averaged.
            (default: :obj:`1`)
        num_layers (int, optional): Number of attention layers.
            (default: :obj:`2`)
        dropout (float, optional): Dropout on layer inputs.
            (default: :obj:`0.6`)
        attention_dropout (float, optional): Dropout on attention
            coefficients; defaults to :obj:`dropout`, as in the paper.
        negative_slope (float, optional): LeakyReLU slope of the attention.
            (default: :obj:`0.2`)
        residual (bool, optional): Add skip connections in every layer.
            (default: :obj:`False`)
        conv (type, optional): The attention layer class, e.g.
            :class:`~gat_zoo.nn.GATv2Conv`. (default:
            :class:`~gat_zoo.nn.GATConv`)
        **conv_kwargs: Further arguments of every attention layer.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 8, heads: int = 8,
                 out_heads: int = 1, num_layers: int = 2,
                 dropout: float = 0.6,
                 attention_dropout: Optional[float] = None,
                 negative_slope: float = 0.2, residual: bool = False,
                 conv: type = GATConv, **conv_kwargs):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"'num_layers' must be at least 1 (got "
                             f"{num_layers})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = dropout
        attention_dropout = (dropout if attention_dropout is None else
                             attention_dropout)
        self.convs = torch.nn.ModuleList()
        width = in_channels
        for layer in range(num_layers):
            last = layer == num_layers - 1
            if residual:  # only layers that have a skip connection take it
                conv_kwargs['residual'] = True
            self.convs.append(
                conv(width, out_channels if last else hidden_channels,
                     heads=out_heads if last else heads, concat=not last,
                     dropout=attention_dropout,
                     negative_slope=negative_slope, **conv_kwargs))
            width = hidden_channels * heads

    def reset_parameters(self):
        for conv in self.convs:
            conv.reset_parameters()

    @property
    def supports_sparse_features(self) -> bool:
        """Whether ``x`` may be a sparse CSR matrix (see
        :func:`gat_zoo.nn.functional.sparse_features`)."""
        return all(getattr(conv, 'supports_sparse_features', False)
                   for conv in self.convs)

    def forward(self, x: Tensor, edge_index: Adj, edge_attr: OptTensor = None,
                return_attention_weights: bool = False):
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also a list with each layer's
        ``(edge_index, alpha)``."""
        attentions: List[Tuple[Tensor, Tensor]] = []
        for i, conv in enumerate(self.convs):
            x = feature_dropout(x, self.dropout, self.training)
            # Edge features go by name: not every attention layer's third
            # positional argument is edge_attr (SuperGAT's is neg_edge_index).
            extra = {} if edge_attr is None else {'edge_attr': edge_attr}
            if return_attention_weights:
                x, att = conv(x, edge_index, return_attention_weights=True,
                              **extra)
                attentions.append(att)
            else:
                x = conv(x, edge_index, **extra)
            if i < len(self.convs) - 1:
                x = F.elu(x)
        return (x, attentions) if return_attention_weights else x

    def __repr__(self) -> str:
        conv = self.convs[0]
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_layers={len(self.convs)}, '
                f'conv={type(conv).__name__})')


class GCN(torch.nn.Module):
    r"""The two-layer GCN baseline of `"Semi-Supervised Classification with
    Graph Convolutional Networks" <https://arxiv.org/abs/1609.02907>`_
    (PyG's :class:`~torch_geometric.nn.conv.GCNConv`; not an attention
    model, registered so every attention model has its baseline under the
    same protocol)."""

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 16, num_layers: int = 2,
                 dropout: float = 0.5):
        super().__init__()
        self.dropout = dropout
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels
        ]
        self.convs = torch.nn.ModuleList(
            GCNConv(a, b, cached=False) for a, b in zip(sizes, sizes[1:]))

    def reset_parameters(self):
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        check_model_input(x, edge_index,
                          cast(GCNConv, self.convs[0]).in_channels)
        for i, conv in enumerate(self.convs):
            x = F.dropout(x, p=self.dropout, training=self.training)
            x = conv(x, edge_index)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return x


@register_model(family='neighbor', paper='Veličković et al., ICLR 2018',
                url='https://arxiv.org/abs/1710.10903', conv=GATConv)
def gat(in_channels: int, out_channels: int, **kwargs) -> GAT:
    """GAT: masked self-attention over each node's one-hop neighbourhood."""
    return GAT(in_channels, out_channels, conv=GATConv, **kwargs)


@register_model(family='neighbor', paper='Brody, Alon, Yahav, ICLR 2022',
                url='https://arxiv.org/abs/2105.14491', conv=GATv2Conv)
def gatv2(in_channels: int, out_channels: int, **kwargs) -> GAT:
    """GATv2: dynamic attention, the non-linearity before the attention
    vector."""
    return GAT(in_channels, out_channels, conv=GATv2Conv, **kwargs)


@register_model(family='baseline', paper='Kipf & Welling, ICLR 2017',
                url='https://arxiv.org/abs/1609.02907')
def gcn(in_channels: int, out_channels: int, **kwargs) -> GCN:
    """GCN baseline (no attention)."""
    return GCN(in_channels, out_channels, **kwargs)
