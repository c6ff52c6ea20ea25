"""Paper-configured entity classifiers of the relation-aware family: RGAT
(WIRGAT and ARGAT) and the RGCN baseline they are compared with."""
from __future__ import annotations

from typing import List, Optional, Tuple, cast

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import FastRGCNConv, RGCNConv
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import check_model_input, typed_edges_of
from gat_zoo.nn.conv.rgat_conv import RGATConv
from gat_zoo.nn.validation import (
    check_edge_type,
    check_node_ids,
    validation_enabled,
)
from gat_zoo.registry import register_model

__all__ = ['RGAT', 'RGCN']


def _edge_types(edge_index: Adj, edge_type: OptTensor) -> OptTensor:
    """All edges are relation 0 when no types are given (a homogeneous
    graph); sparse adjacencies may carry their types as values."""
    if edge_type is not None or not isinstance(edge_index, Tensor):
        return edge_type
    if edge_index.layout != torch.strided:
        return None  # the layer reads the values of a sparse adjacency
    return torch.zeros(edge_index.size(1), dtype=torch.long,
                       device=edge_index.device)


class RGAT(torch.nn.Module):
    r"""The two-layer RGAT entity classifier of `"Relational Graph Attention
    Networks" <https://arxiv.org/abs/1904.05811>`_, in the setting of the
    authors' RDF example (``babylonhealth/rgat``, ``examples/rdf``): a
    first layer of ``heads`` concatenated heads of ``hidden_channels``
    features followed by ReLU, and an output layer with ``out_heads``
    averaged heads; every relation (and a self-connection relation) has its
    own kernels and query/key kernels (:class:`~gat_zoo.nn.conv.RGATConv`).

    Featureless graphs (AIFB, MUTAG) use one-hot node ids, as RGCN and the
    paper do: call ``model(None, edge_index, edge_type)`` with
    ``in_channels`` = number of nodes (the first layer then looks rows up in
    its kernels), or pass a long vector of node ids. Float features
    ``[N, in_channels]`` work as usual. Without ``edge_type`` every edge is
    relation 0.

    Args:
        in_channels (int): Input feature size, or the number of nodes for
            featureless input.
        out_channels (int): Number of classes.
        num_relations (int, optional): Relation types in the graph (without
            the self relation). (default: :obj:`1`)
        hidden_channels (int, optional): Features per head in the hidden
            layer. (default: :obj:`16`)
        heads (int, optional): Heads of the hidden layer, concatenated.
            (default: :obj:`4`)
        out_heads (int, optional): Heads of the output layer, averaged.
            (default: :obj:`1`)
        num_layers (int, optional): Number of RGAT layers. (default:
            :obj:`2`)
        attention_mode (str, optional): :obj:`'wirgat'` or :obj:`'argat'`.
        attention_style (str, optional): :obj:`'additive'`,
            :obj:`'multiplicative'` or :obj:`'constant'`.
        attention_channels (int, optional): Query/key width of
            multiplicative attention.
        num_bases (int, optional): Basis decomposition of the relation
            kernels of every layer (see :class:`RGATConv`).
        num_blocks (int, optional): Block-diagonal decomposition of the
            layers after the first (the first one reads one-hot ids or raw
            features, where blocks would cut the input apart), as
            :class:`RGCN` does.
        dropout (float, optional): Dropout on hidden features.
            (default: :obj:`0`)
        attention_dropout (float, optional): Dropout on attention
            coefficients. (default: :obj:`0`)
        self_relation (bool, optional): Self-connections as one more
            relation, as in the authors' code. (default: :obj:`True`)
        bias (bool, optional): Layer biases (the authors' default is none).
            (default: :obj:`False`)
    """

    def __init__(self, in_channels: int, out_channels: int,
                 num_relations: int = 1, hidden_channels: int = 16,
                 heads: int = 4, out_heads: int = 1, num_layers: int = 2,
                 attention_mode: str = 'wirgat',
                 attention_style: str = 'additive',
                 attention_channels: Optional[int] = None,
                 num_bases: Optional[int] = None,
                 num_blocks: Optional[int] = None, dropout: float = 0.0,
                 attention_dropout: float = 0.0, self_relation: bool = True,
                 bias: bool = False):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"'num_layers' must be at least 1 (got "
                             f"{num_layers})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.dropout = dropout
        self.convs = torch.nn.ModuleList()
        width = in_channels
        for layer in range(num_layers):
            last = layer == num_layers - 1
            self.convs.append(
                RGATConv(width, out_channels if last else hidden_channels,
                         num_relations, heads=out_heads if last else heads,
                         concat=not last, attention_mode=attention_mode,
                         attention_style=attention_style,
                         attention_channels=attention_channels,
                         num_bases=num_bases,
                         num_blocks=num_blocks if layer > 0 else None,
                         dropout=attention_dropout,
                         self_relation=self_relation, bias=bias))
            width = hidden_channels * heads

    def reset_parameters(self):
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: OptTensor, edge_index: Adj,
                edge_type: OptTensor = None,
                return_attention_weights: bool = False):
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also each layer's
        ``(edge_index, alpha)``."""
        edge_type = _edge_types(edge_index, edge_type)
        attentions: List[Tuple[Tensor, Tensor]] = []
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = F.dropout(x, p=self.dropout, training=self.training)
            if return_attention_weights:
                x, att = conv(x, edge_index, edge_type,
                              return_attention_weights=True)
                attentions.append(att)
            else:
                x = conv(x, edge_index, edge_type)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return (x, attentions) if return_attention_weights else x

    def __repr__(self) -> str:
        conv = self.convs[0]
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_relations={self.num_relations}, '
                f'mode={conv.attention_mode}, style={conv.attention_style})')


class RGCN(torch.nn.Module):
    r"""The RGCN entity classifier of `"Modeling Relational Data with Graph
    Convolutional Networks" <https://arxiv.org/abs/1703.06103>`_ (PyG's
    :class:`~torch_geometric.nn.conv.RGCNConv`: per-relation mean
    aggregation :math:`c_{i,r} = |\mathcal{N}^r_i|`, a self-connection
    weight :math:`\mathbf{W}_0`, optional basis or block-diagonal
    decomposition): two layers, ReLU in between. The layers are PyG's
    :class:`~torch_geometric.nn.conv.FastRGCNConv`, a subclass of
    :class:`RGCNConv` with the same parameters and the same output (one
    gather per edge instead of RGCNConv's loop over relations, whose
    featureless backward writes the whole kernel once per relation: 6 s
    instead of well under a second per AIFB epoch here);
    :obj:`fast=False` uses :class:`RGCNConv` itself. Not an attention model;
    registered as the baseline RGAT is compared with under the same
    protocol. Featureless input as in :class:`RGAT`.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 num_relations: int = 1, hidden_channels: int = 16,
                 num_layers: int = 2, num_bases: Optional[int] = None,
                 num_blocks: Optional[int] = None, dropout: float = 0.0,
                 fast: bool = True):
        super().__init__()
        self.dropout = dropout
        conv = FastRGCNConv if fast else RGCNConv
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels
        ]
        self.convs = torch.nn.ModuleList(
            conv(a, b, num_relations, num_bases=num_bases,
                     num_blocks=num_blocks if i > 0 else None)
            for i, (a, b) in enumerate(zip(sizes, sizes[1:])))

    def reset_parameters(self):
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: OptTensor, edge_index: Adj,
                edge_type: OptTensor = None) -> Tensor:
        # PyG's RGCN layers index with these ids unchecked: validate here.
        first = cast(RGCNConv, self.convs[0])  # or FastRGCNConv
        if x is not None and x.is_floating_point():
            check_model_input(x, edge_index, first.in_channels)
            num_nodes = x.size(0)
        else:  # node ids (or None: all nodes), one embedding each
            num_nodes = first.in_channels
            if x is not None and validation_enabled():
                check_node_ids(x, num_nodes)
        index, types = typed_edges_of(edge_index, edge_type, num_nodes,
                                      first.weight.device)
        edge_type = check_edge_type(_edge_types(edge_index, types),
                                    index.size(1), first.num_relations,
                                    index.device)
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = F.dropout(x, p=self.dropout, training=self.training)
            x = conv(x, edge_index, edge_type)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return x


@register_model(family='relation-aware',
                paper='Busbridge, Sherburn, Cavallo, Hammerla, arXiv 2019',
                url='https://arxiv.org/abs/1904.05811', conv=RGATConv)
def rgat_wirgat(in_channels: int, out_channels: int, **kwargs) -> RGAT:
    """WIRGAT: relational attention normalised within each relation's
    neighbourhood."""
    kwargs.setdefault('attention_mode', 'wirgat')
    return RGAT(in_channels, out_channels, **kwargs)


@register_model(family='relation-aware',
                paper='Busbridge, Sherburn, Cavallo, Hammerla, arXiv 2019',
                url='https://arxiv.org/abs/1904.05811', conv=RGATConv)
def rgat_argat(in_channels: int, out_channels: int, **kwargs) -> RGAT:
    """ARGAT: relational attention normalised across all relations'
    neighbours."""
    kwargs.setdefault('attention_mode', 'argat')
    return RGAT(in_channels, out_channels, **kwargs)


@register_model(family='baseline', paper='Schlichtkrull et al., ESWC 2018',
                url='https://arxiv.org/abs/1703.06103', conv=RGCNConv)
def rgcn(in_channels: int, out_channels: int, **kwargs) -> RGCN:
    """RGCN baseline (relation-specific graph convolution, no
    attention)."""
    return RGCN(in_channels, out_channels, **kwargs)
