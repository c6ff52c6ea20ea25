r"""Knowledge-graph-completion networks: RGHAT (a hierarchical-attention
encoder with a ConvE decoder) and the decoder-only baselines DistMult and
ConvE, all scoring (head, relation) queries against every entity (1-N
scoring).

**Call form** (registry task ``'kg'``): ``model(x, edge_index, queries,
edge_type=None)`` returns logits ``[Q, N]`` for the queries ``[2, Q]`` (row
0 the head entity, row 1 the relation), one per entity of the graph. A tail
query :math:`(h, r, ?)` is the query ``(h, r)``; a head query :math:`(?, r,
t)` is ``(t, r + R)`` with the inverse relation. Entities are featureless
(``x=None``: entity :math:`i` is the :math:`i`-th row of a learned table,
``in_channels`` = number of entities), given by id (a long vector ``[N]``)
or given by float features ``[N, in_channels]`` (then the table is a linear
projection). Without ``edge_type`` every edge and query relation is 0.
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import BatchNorm1d, BatchNorm2d, Conv2d, Linear, Parameter
from torch_geometric.nn.inits import zeros
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import typed_edges_of
from gat_zoo.nn.conv.rghat_conv import RGHATAttention, RGHATConv
from gat_zoo.nn.validation import (
    check_edge_type,
    check_node_features,
    check_node_ids,
    validation_enabled,
)
from gat_zoo.registry import register_model

__all__ = ['RGHAT', 'ConvE', 'DistMult', 'ConvEDecoder']


def _check_queries(queries: Tensor, num_nodes: int,
                   num_relations: int) -> Tensor:
    if not isinstance(queries, Tensor) or queries.dim() != 2 or \
            queries.size(0) != 2:
        shape = tuple(queries.shape) if isinstance(queries, Tensor) else \
            type(queries).__name__
        raise ValueError(f"'queries' must be a [2, Q] tensor of (head, "
                         f"relation) rows (got {shape})")
    if queries.is_floating_point():
        raise ValueError("'queries' must hold integers")
    if queries.numel():
        heads, rels = queries[0], queries[1]
        if int(heads.min()) < 0 or int(heads.max()) >= num_nodes:
            raise ValueError(f"Query heads must lie in [0, {num_nodes}) "
                             f"(got range [{int(heads.min())}, "
                             f"{int(heads.max())}])")
        if int(rels.min()) < 0 or int(rels.max()) >= num_relations:
            raise ValueError(f"Query relations must lie in [0, "
                             f"{num_relations}) (got range "
                             f"[{int(rels.min())}, {int(rels.max())}])")
    return queries.long()


class _EntityInput(torch.nn.Module):
    """Entity embeddings from featureless input (the rows of a table),
    node ids, or float features (a linear projection by the same table)."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.weight = Parameter(torch.empty(in_channels, channels))
        self.reset_parameters()

    def reset_parameters(self):
        # Xavier-normal tables, as the ConvE code initialises embeddings.
        torch.nn.init.xavier_normal_(self.weight)

    def forward(self, x: OptTensor) -> Tensor:
        if x is None:
            return self.weight
        if x.is_floating_point():
            if validation_enabled():
                check_node_features(x, 'x', self.in_channels)
            return x @ self.weight
        return self.weight[check_node_ids(x, self.in_channels)]


def _grid(channels: int, height: Optional[int]) -> int:
    """The height of ConvE's 2D reshaping: the given one, or the largest
    divisor of ``channels`` not above its square root (10 for 100 and 10
    for 200, ConvE's 10 x 20)."""
    if height is not None:
        if channels % height:
            raise ValueError(f"'embedding_height'={height} must divide the "
                             f"embedding size {channels}")
        return height
    best = 1
    for h in range(1, int(channels**0.5) + 1):
        if channels % h == 0:
            best = h
    return best


class ConvEDecoder(torch.nn.Module):
    r"""The scoring function of `"Convolutional 2D Knowledge Graph
    Embeddings" <https://arxiv.org/abs/1707.01476>`_ (Dettmers et al.,
    AAAI 2018):

    .. math::
        \psi(\mathbf{e}_h, \mathbf{r}, \mathbf{e}_t) =
        f\big(\mathrm{vec}(f([\bar{\mathbf{e}}_h; \bar{\mathbf{r}}] * \omega))
        \mathbf{W}\big)^{\top} \mathbf{e}_t \,(+\, b_t)

    with the embeddings reshaped to 2D and stacked, a 2D convolution
    :math:`\omega`, :math:`f` = ReLU, batch normalisation before the input
    dropout, after the convolution and after the projection, as in the
    authors' code. The grid is padded by one when it is smaller than the
    kernel.

    Args:
        channels (int): Embedding size :math:`d` of entities and relations.
        num_entities (int, optional): Number of entities for the per-entity
            bias :math:`b_t`; :obj:`None` disables it. (default: :obj:`None`)
        conv_channels (int, optional): Number of filters. (default: 32)
        kernel_size (int, optional): Filter size. (default: 3)
        embedding_height (int, optional): Height of the reshaped embedding.
            (default: largest divisor of :math:`d` not above
            :math:`\sqrt{d}`)
        input_dropout (float, optional): (default: 0.2)
        feature_dropout (float, optional): Dropout of whole feature maps.
            (default: 0.2)
        hidden_dropout (float, optional): (default: 0.3)
    """

    def __init__(self, channels: int, num_entities: Optional[int] = None,
                 conv_channels: int = 32, kernel_size: int = 3,
                 embedding_height: Optional[int] = None,
                 input_dropout: float = 0.2, feature_dropout: float = 0.2,
                 hidden_dropout: float = 0.3):
        super().__init__()
        self.channels = channels
        self.height = _grid(channels, embedding_height)
        self.width = channels // self.height
        rows, cols = 2 * self.height, self.width
        pad = 1 if min(rows, cols) < kernel_size else 0
        out_rows = rows + 2 * pad - kernel_size + 1
        out_cols = cols + 2 * pad - kernel_size + 1
        if out_rows < 1 or out_cols < 1:
            raise ValueError(f"ConvE: a {kernel_size}x{kernel_size} kernel "
                             f"does not fit the {rows}x{cols} grid")
        self.bn0 = BatchNorm2d(1)
        self.conv = Conv2d(1, conv_channels, kernel_size, padding=pad)
        self.bn1 = BatchNorm2d(conv_channels)
        self.fc = Linear(conv_channels * out_rows * out_cols, channels)
        self.bn2 = BatchNorm1d(channels)
        self.input_dropout = input_dropout
        self.feature_dropout = feature_dropout
        self.hidden_dropout = hidden_dropout
        if num_entities is not None:
            self.bias = Parameter(torch.zeros(num_entities))
        else:
            self.register_parameter('bias', None)

    def reset_parameters(self):
        for module in (self.bn0, self.conv, self.bn1, self.fc, self.bn2):
            module.reset_parameters()
        zeros(self.bias)

    def forward(self, head: Tensor, relation: Tensor,
                entities: Tensor) -> Tensor:
        """Logits ``[Q, N]`` from head ``[Q, d]``, relation ``[Q, d]`` and
        entity ``[N, d]`` embeddings."""
        Q = head.size(0)
        stacked = torch.cat([head.view(Q, 1, self.height, self.width),
                             relation.view(Q, 1, self.height, self.width)],
                            dim=2)
        z = self.bn0(stacked)
        z = F.dropout(z, self.input_dropout, self.training)
        z = F.relu(self.bn1(self.conv(z)))
        z = F.dropout2d(z, self.feature_dropout, self.training)
        z = self.fc(z.flatten(1))
        z = F.dropout(z, self.hidden_dropout, self.training)
        z = F.relu(self.bn2(z))
        scores = z @ entities.t()
        if self.bias is not None:
            if self.bias.numel() != entities.size(0):
                raise ValueError(f"The decoder has {self.bias.numel()} "
                                 f"entity biases but {entities.size(0)} "
                                 f"entities were scored")
            scores = scores + self.bias
        return scores


class _KGModel(torch.nn.Module):
    """Shared call form: ``forward(x, edge_index, queries, edge_type)``."""

    num_relations: int

    def encode(self, x: OptTensor, edge_index: Adj,
               edge_type: OptTensor = None) -> Tensor:
        raise NotImplementedError

    def decode(self, entities: Tensor, queries: Tensor) -> Tensor:
        raise NotImplementedError

    def _check_unread_graph(self, edge_index: Optional[Adj],
                            edge_type: OptTensor, entities: Tensor) -> None:
        # Encoder-free scorers do not read the graph, but a malformed one
        # is still a mistake in the call, reported as for every model.
        if edge_index is None or not validation_enabled():
            return
        index, types = typed_edges_of(edge_index, edge_type,
                                      entities.size(0), entities.device)
        check_edge_type(types, index.size(1), self.num_relations,
                        index.device)

    def forward(self, x: OptTensor, edge_index: Adj, queries: Tensor,
                edge_type: OptTensor = None) -> Tensor:
        """Logits ``[Q, N]`` of the (head, relation) ``queries`` ``[2, Q]``
        against every entity."""
        entities = self.encode(x, edge_index, edge_type)
        queries = _check_queries(queries, entities.size(0),
                                 self.num_relations)
        return self.decode(entities, queries)


class DistMult(_KGModel):
    r"""DistMult of `"Embedding Entities and Relations for Learning and
    Inference in Knowledge Bases" <https://arxiv.org/abs/1412.6575>`_ (Yang
    et al., ICLR 2015), :math:`\psi(h, r, t) = \langle \mathbf{e}_h,
    \mathbf{r}, \mathbf{e}_t \rangle`, trained as in the ConvE code (1-N
    scoring, input dropout, batch normalisation of nothing). No encoder:
    the graph is ignored.

    Args:
        in_channels (int): Number of entities (featureless input) or the
            entity feature size.
        out_channels (int): Embedding size.
        num_relations (int, optional): Relations, inverses included.
            (default: :obj:`1`)
        input_dropout (float, optional): Dropout of the head and relation
            embeddings. (default: :obj:`0.2`)
    """

    def __init__(self, in_channels: int, out_channels: int = 200,
                 num_relations: int = 1, input_dropout: float = 0.2):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.input_dropout = input_dropout
        self.entity = _EntityInput(in_channels, out_channels)
        self.relation = Parameter(torch.empty(num_relations, out_channels))
        self.reset_parameters()

    def reset_parameters(self):
        self.entity.reset_parameters()
        torch.nn.init.xavier_normal_(self.relation)

    def encode(self, x, edge_index=None, edge_type=None) -> Tensor:
        entities = self.entity(x)
        self._check_unread_graph(edge_index, edge_type, entities)
        return entities

    def decode(self, entities: Tensor, queries: Tensor) -> Tensor:
        head = F.dropout(entities[queries[0]], self.input_dropout,
                         self.training)
        rel = F.dropout(self.relation[queries[1]], self.input_dropout,
                        self.training)
        return (head * rel) @ entities.t()

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_relations={self.num_relations})')


class ConvE(_KGModel):
    r"""ConvE of `"Convolutional 2D Knowledge Graph Embeddings"
    <https://arxiv.org/abs/1707.01476>`_ (Dettmers et al., AAAI 2018): the
    :class:`ConvEDecoder` on learned entity and relation embeddings, no
    encoder (the graph is ignored).

    Args:
        in_channels (int): Number of entities (featureless input) or the
            entity feature size.
        out_channels (int): Embedding size. (default: :obj:`200`)
        num_relations (int, optional): Relations, inverses included.
            (default: :obj:`1`)
        entity_bias (bool, optional): Per-entity score bias (needs
            featureless input with ``in_channels`` entities). (default:
            :obj:`False`)
        **kwargs (optional): Arguments of :class:`ConvEDecoder`.
    """

    def __init__(self, in_channels: int, out_channels: int = 200,
                 num_relations: int = 1, entity_bias: bool = False,
                 **kwargs):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.entity = _EntityInput(in_channels, out_channels)
        self.relation = Parameter(torch.empty(num_relations, out_channels))
        self.decoder = ConvEDecoder(
            out_channels, in_channels if entity_bias else None, **kwargs)
        self.reset_parameters()

    def reset_parameters(self):
        self.entity.reset_parameters()
        torch.nn.init.xavier_normal_(self.relation)
        self.decoder.reset_parameters()

    def encode(self, x, edge_index=None, edge_type=None) -> Tensor:
        entities = self.entity(x)
        self._check_unread_graph(edge_index, edge_type, entities)
        return entities

    def decode(self, entities: Tensor, queries: Tensor) -> Tensor:
        return self.decoder(entities[queries[0]], self.relation[queries[1]],
                            entities)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_relations={self.num_relations})')


class RGHAT(_KGModel):
    r"""RGHAT of `"Relational Graph Neural Network with Hierarchical
    Attention for Knowledge Graph Completion"
    <https://ojs.aaai.org/index.php/AAAI/article/view/6508>`_ (Zhang et
    al., AAAI 2020): a stack of :class:`~gat_zoo.nn.conv.RGHATConv` layers
    over learned entity and relation embeddings, encoding every entity
    from its neighbourhood of triples, and the ConvE scoring function
    (:class:`ConvEDecoder`) on the encoded entities and a decoder relation
    table.

    The paper's setting (second-hand, see the conv): 2 layers, entity size
    100 at input and output, 8 heads, dropout 0.5 on each layer's input and
    on the attention coefficients, L2 5e-4. The heads of every layer are
    averaged (so each layer keeps 100 features; the paper's combination is
    not known). The encoder's relation embeddings are one table shared by
    the layers.

    Args:
        in_channels (int): Number of entities (featureless input) or the
            entity feature size.
        out_channels (int): Encoder output = decoder embedding size.
            (default: :obj:`100`)
        num_relations (int, optional): Relations of the graph and queries,
            inverses included. (default: :obj:`1`)
        hidden_channels (int, optional): Entity embedding size at the input
            and between layers. (default: :obj:`100`)
        heads (int, optional): Heads per layer, averaged. (default: 8)
        num_layers (int, optional): Encoder layers. (default: 2)
        dropout (float, optional): Dropout of each layer's input.
            (default: 0.5)
        attention_dropout (float, optional): Dropout of the triple-level
            coefficients. (default: 0.5)
        negative_slope (float, optional): LeakyReLU slope in the layers.
            (default: 0.2)
        entity_bias (bool, optional): Per-entity score bias of the decoder
            (featureless input only). (default: :obj:`False`)
        **kwargs (optional): Arguments of :class:`ConvEDecoder`.
    """

    def __init__(self, in_channels: int, out_channels: int = 100,
                 num_relations: int = 1, hidden_channels: int = 100,
                 heads: int = 8, num_layers: int = 2, dropout: float = 0.5,
                 attention_dropout: float = 0.5, negative_slope: float = 0.2,
                 entity_bias: bool = False, **kwargs):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"'num_layers' must be at least 1 (got "
                             f"{num_layers})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.dropout = dropout
        self.entity = _EntityInput(in_channels, hidden_channels)
        self.relation = Parameter(torch.empty(num_relations,
                                              hidden_channels))
        self.convs = torch.nn.ModuleList()
        for layer in range(num_layers):
            last = layer == num_layers - 1
            self.convs.append(
                RGHATConv(hidden_channels,
                          out_channels if last else hidden_channels,
                          num_relations, heads=heads, concat=False,
                          relation_channels=hidden_channels,
                          learn_relations=False,
                          negative_slope=negative_slope,
                          dropout=attention_dropout))
        self.decoder_relation = Parameter(torch.empty(num_relations,
                                                      out_channels))
        self.decoder = ConvEDecoder(
            out_channels, in_channels if entity_bias else None, **kwargs)
        self.reset_parameters()

    def reset_parameters(self):
        self.entity.reset_parameters()
        torch.nn.init.xavier_normal_(self.relation)
        torch.nn.init.xavier_normal_(self.decoder_relation)
        for conv in self.convs:
            conv.reset_parameters()
        self.decoder.reset_parameters()

    def encoder_parameters(self) -> List[Parameter]:
        """The attention layers' parameters (the paper's L2 applies to the
        encoder)."""
        return [p for conv in self.convs for p in conv.parameters()]

    def encode(self, x: OptTensor, edge_index: Adj,
               edge_type: OptTensor = None,
               return_attention_weights: bool = False):
        """Encoded entities ``[N, out_channels]`` (and each layer's
        :class:`~gat_zoo.nn.conv.RGHATAttention`)."""
        h = self.entity(x)
        attentions: List[RGHATAttention] = []
        for conv in self.convs:
            h = F.dropout(h, p=self.dropout, training=self.training)
            if return_attention_weights:
                h, att = conv(h, edge_index, edge_type,
                              relation_embedding=self.relation,
                              return_attention_weights=True)
                attentions.append(att)
            else:
                h = conv(h, edge_index, edge_type,
                         relation_embedding=self.relation)
        return (h, attentions) if return_attention_weights else h

    def decode(self, entities: Tensor, queries: Tensor) -> Tensor:
        return self.decoder(entities[queries[0]],
                            self.decoder_relation[queries[1]], entities)

    def __repr__(self) -> str:
        conv = self.convs[0]
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_relations={self.num_relations}, '
                f'heads={conv.heads}, layers={len(self.convs)})')


_RGHAT_PAPER = ('Zhang, Zhuang, Zhu, Shi, Xiong, He, "Relational Graph '
                'Neural Network with Hierarchical Attention for Knowledge '
                'Graph Completion", AAAI 2020')


@register_model('rghat', family='hierarchical', paper=_RGHAT_PAPER,
                url='https://ojs.aaai.org/index.php/AAAI/article/view/6508',
                task='kg', conv=RGHATConv)
def rghat(in_channels: int, out_channels: int, **kwargs) -> RGHAT:
    """RGHAT: hierarchical (relation- then entity-level) attention encoder
    with a ConvE decoder for knowledge graph completion."""
    return RGHAT(in_channels, out_channels, **kwargs)


@register_model('distmult', family='baseline',
                paper='Yang, Yih, He, Gao, Deng, "Embedding Entities and '
                'Relations for Learning and Inference in Knowledge Bases", '
                'ICLR 2015', url='https://arxiv.org/abs/1412.6575',
                task='kg')
def distmult(in_channels: int, out_channels: int, **kwargs) -> DistMult:
    """DistMult: bilinear-diagonal triple scores, no encoder (KG
    completion baseline)."""
    return DistMult(in_channels, out_channels, **kwargs)


@register_model('conve', family='baseline',
                paper='Dettmers, Minervini, Stenetorp, Riedel, '
                '"Convolutional 2D Knowledge Graph Embeddings", AAAI 2018',
                url='https://arxiv.org/abs/1707.01476', task='kg')
def conve(in_channels: int, out_channels: int, **kwargs) -> ConvE:
    """ConvE: 2D-convolutional triple scores, no encoder (KG completion
    baseline and RGHAT's decoder)."""
    return ConvE(in_channels, out_channels, **kwargs)
