from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.inits import glorot
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import AttentionConv, RelationalInput
from gat_zoo.nn.validation import (
    check_node_features,
    validation_enabled,
)
from gat_zoo.ops import (
    CSRGraph,
    cached_csr,
    head_spmm,
    segment_softmax,
    segment_sum,
)

__all__ = ['RGHATConv', 'RGHATAttention']


class RGHATAttention(NamedTuple):
    r"""The three attention levels of one :class:`RGHATConv` call.

    Attributes:
        edge_index (torch.Tensor): The edges :math:`t \to h` as ``[2, E]``
            (row 0 the tail/neighbour :math:`t`, row 1 the head :math:`h`).
        edge_type (torch.Tensor): Relation of every edge, ``[E]``.
        pair_index (torch.Tensor): The distinct (head, relation) pairs
            ``[2, P]`` (row 0 the head entity, row 1 the relation).
        relation (torch.Tensor): Relation-level attention
            :math:`\alpha_{h,r}` of every pair, ``[P, H]``.
        entity (torch.Tensor): Entity-level attention :math:`\beta_{r,t}`
            of every edge, ``[E, H]``.
        triple (torch.Tensor): Triple-level attention
            :math:`\mu_{h,r,t} = \alpha_{h,r}\beta_{r,t}` of every edge,
            ``[E, H]`` (before attention dropout).
        pair_of_edge (torch.Tensor): The pair (column of
            :obj:`pair_index`) every edge belongs to, ``[E]``.
    """
    edge_index: Tensor
    edge_type: Tensor
    pair_index: Tensor
    relation: Tensor
    entity: Tensor
    triple: Tensor
    pair_of_edge: Tensor


class RGHATConv(RelationalInput, AttentionConv):
    r"""The hierarchical-attention layer of the `"Relational Graph Neural
    Network with Hierarchical Attention for Knowledge Graph Completion"
    <https://ojs.aaai.org/index.php/AAAI/article/view/6508>`_ paper
    (Zhang, Zhuang, Zhu, Shi, Xiong, He, AAAI 2020), RGHAT.

    Every entity :math:`h` aggregates its neighbourhood of triples
    :math:`(h, r, t)` in two attention levels. An edge :math:`t
    \xrightarrow{r} h` of :obj:`edge_index` (row 0 :math:`t`, row 1
    :math:`h`, type :math:`r`) is the triple :math:`(h, r, t)`; with
    inverse relations in the graph every entity sees both directions.

    **Relation level.** For every relation :math:`r \in \mathcal{N}_h`
    around :math:`h` (every *distinct* (head, relation) pair, however many
    tails it has), with the relation embedding :math:`\mathbf{v}_r`:

    .. math::
        \mathbf{a}_{h,r} = \mathbf{W}_1 [\mathbf{h} \,\Vert\,
        \mathbf{v}_r], \qquad
        \alpha_{h,r} = \frac{\exp(\sigma(\mathbf{p}^{\top}
        \mathbf{a}_{h,r}))}{\sum_{r' \in \mathcal{N}_h}
        \exp(\sigma(\mathbf{p}^{\top} \mathbf{a}_{h,r'}))}.

    **Entity level.** For every tail :math:`t \in \mathcal{N}_{h,r}` of
    the pair (a multi-edge counts once per copy):

    .. math::
        \mathbf{b}_{h,r,t} = \mathbf{W}_2 [\mathbf{a}_{h,r} \,\Vert\,
        \mathbf{t}], \qquad
        \beta_{r,t} = \frac{\exp(\sigma(\mathbf{q}^{\top}
        \mathbf{b}_{h,r,t}))}{\sum_{t' \in \mathcal{N}_{h,r}}
        \exp(\sigma(\mathbf{q}^{\top} \mathbf{b}_{h,r,t'}))}.

    **Triple level and update.** :math:`\mu_{h,r,t} = \alpha_{h,r}
    \beta_{r,t}` (so the :math:`\mu` of one head sum to one) and

    .. math::
        \hat{\mathbf{h}} = \sum_{r \in \mathcal{N}_h}
        \sum_{t \in \mathcal{N}_{h,r}} \mu_{h,r,t}\, \mathbf{b}_{h,r,t},
        \qquad
        \mathbf{h}' = \tfrac{1}{2}\left(\sigma\big(\mathbf{W}_3
        (\mathbf{h} + \hat{\mathbf{h}})\big) + \sigma\big(\mathbf{W}_3
        (\mathbf{h} \odot \hat{\mathbf{h}})\big)\right).

    Every head has its own :math:`\mathbf{W}_1, \mathbf{p}, \mathbf{W}_2,
    \mathbf{q}, \mathbf{W}_3`; the heads are concatenated or averaged. An
    entity without neighbours has :math:`\hat{\mathbf{h}} = 0`.

    **Choices where the paper is unclear** (its text could not be checked;
    the equations above come from a second-hand transcription):
    :math:`\sigma` is LeakyReLU (:obj:`negative_slope`) everywhere, in the
    logits and in the update; the entity-level logit uses a learned vector
    :math:`\mathbf{q}` as the relation level uses :math:`\mathbf{p}` (the
    transcription writes :math:`\mathrm{softmax}_t(\mathbf{b}_{h,r,t})`);
    :math:`\mathbf{a}_{h,r}` and :math:`\mathbf{b}_{h,r,t}` have the width
    :math:`F` of :math:`\mathbf{h}` (so that :math:`\mathbf{h} +
    \hat{\mathbf{h}}` exists); no biases; attention dropout acts on
    :math:`\mu`.

    **Computation.** Nothing of size :math:`|\mathcal{E}| \times H \times F`
    is built on the default (fused) path: :math:`\mathbf{W}_1, \mathbf{W}_2`
    are linear, so :math:`\mathbf{b}_{h,r,t} = \mathbf{y}_h +
    \mathbf{y}_r + \mathbf{y}_t` with per-entity and per-relation parts;
    the logits are gathered scalars and :math:`\hat{\mathbf{h}}` is one
    sparse product over entities and relations. The message-passing path
    (taken when hooks or explain mode watch the messages, or with
    :func:`gat_zoo.ops.use_fused` ``('off')``) builds
    :math:`\mathbf{b}_{h,r,t}` per edge in :meth:`message`; both agree to
    round-off. The relation-level softmax runs over the distinct (head,
    relation) pairs (no :math:`|\mathcal{V}| \times R` tensor), the
    entity-level one over the edges of each pair.

    Args:
        in_channels (int): Size :math:`F` of each input entity embedding.
        out_channels (int): Size of each output embedding per head.
        num_relations (int): Number of relation types :math:`R` (inverse
            relations included, if the graph has them).
        heads (int, optional): Number of attention heads. (default:
            :obj:`1`)
        concat (bool, optional): Concatenate the heads; :obj:`False`
            averages them. (default: :obj:`True`)
        relation_channels (int, optional): Size of the relation embeddings
            :math:`\mathbf{v}_r`. (default: :obj:`in_channels`)
        learn_relations (bool, optional): Hold a learnable relation
            embedding table ``[num_relations, relation_channels]``; with
            :obj:`False` the embeddings must be passed to :meth:`forward`.
            (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU slope of
            :math:`\sigma`. (default: :obj:`0.2`)
        dropout (float, optional): Dropout probability of the normalised
            triple-level coefficients :math:`\mu`. (default: :obj:`0`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          entity embeddings :math:`(|\mathcal{V}|, F)`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`; sparse adjacencies are
          :math:`(|\mathcal{V}|, |\mathcal{V}|)` head-major, i.e. row
          :math:`h`, column :math:`t`, and may carry the edge types as
          their values, as in :class:`~torch_geometric.nn.conv.RGCNConv`),
          edge types :math:`(|\mathcal{E}|)` *(optional: all* :math:`0`
          *if omitted)*, relation embeddings :math:`(R, D_r)` *(optional)*
        - **output:** entity embeddings :math:`(|\mathcal{V}|, H *
          F_{out})` (:math:`(|\mathcal{V}|, F_{out})` if
          :obj:`concat=False`). If :obj:`return_attention_weights=True`,
          then :math:`((|\mathcal{V}|, H * F_{out}),` :class:`RGHATAttention`
          :math:`)`
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_relations: int,
        heads: int = 1,
        concat: bool = True,
        relation_channels: Optional[int] = None,
        learn_relations: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if relation_channels is None:
            relation_channels = in_channels
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('num_relations', num_relations),
                            ('heads', heads),
                            ('relation_channels', relation_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    value < 1:
                raise ValueError(f"'{name}' must be a positive int (got "
                                 f"{value!r})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must lie in [0, 1) (got "
                             f"{dropout})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.heads = heads
        self.concat = concat
        self.relation_channels = relation_channels
        self.learn_relations = learn_relations
        self.negative_slope = negative_slope
        self.dropout = dropout

        H, F_, D = heads, in_channels, relation_channels
        # W1 acts on [h || v_r], W2 on [a_{h,r} || t], W3 on h (+ or ⊙) ĥ.
        self.weight1 = Parameter(torch.empty(H, F_ + D, F_))
        self.att_relation = Parameter(torch.empty(H, F_))
        self.weight2 = Parameter(torch.empty(H, 2 * F_, F_))
        self.att_entity = Parameter(torch.empty(H, F_))
        self.weight3 = Parameter(torch.empty(H, F_, out_channels))
        if learn_relations:
            self.relation_emb = Parameter(torch.empty(num_relations, D))
        else:
            self.register_parameter('relation_emb', None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for weight in (self.weight1, self.weight2, self.weight3):
            for w in weight.data.unbind(0):  # fans of one head's matrix
                glorot(w)
        glorot(self.att_relation)
        glorot(self.att_entity)
        glorot(self.relation_emb)

    # ------------------------------------------------------------------
    # Input handling.
    # ------------------------------------------------------------------

    def _relations(self, relation_embedding: OptTensor) -> Tensor:
        if relation_embedding is None:
            if self.relation_emb is None:
                raise ValueError("This RGHATConv has no relation table "
                                 "(learn_relations=False): pass "
                                 "'relation_embedding'")
            return self.relation_emb
        if validation_enabled():
            expected = (self.num_relations, self.relation_channels)
            if (relation_embedding.dim() != 2
                    or tuple(relation_embedding.shape) != expected):
                raise ValueError(f"'relation_embedding' must have shape "
                                 f"[num_relations, relation_channels] = "
                                 f"{list(expected)} (got "
                                 f"{tuple(relation_embedding.shape)})")
        return relation_embedding

    # ------------------------------------------------------------------
    # Forward.
    # ------------------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Adj,
                edge_type: OptTensor = None,
                relation_embedding: OptTensor = None,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): Entity embeddings ``[N, in_channels]``.
            edge_index (torch.Tensor or SparseTensor): The edges
                :math:`t \to h` as ``[2, E]`` (row 0 tails), or a
                head-major sparse adjacency.
            edge_type (torch.Tensor, optional): Relation of every edge,
                ``[E]`` integers in ``[0, num_relations)``; for a sparse
                adjacency its values are used when omitted. All edges are
                relation 0 if omitted and there are none.
            relation_embedding (torch.Tensor, optional): Relation embeddings
                ``[num_relations, relation_channels]`` replacing the layer's
                own table.
            return_attention_weights (bool, optional): If truthy, also
                returns an :class:`RGHATAttention` with the relation-level,
                entity-level and triple-level coefficients.
        """
        if isinstance(x, (tuple, list)):
            raise ValueError("RGHATConv does not take bipartite input "
                             "(x_src, x_dst)")
        check_node_features(x, 'x', self.in_channels)
        N, H, F_ = x.size(0), self.heads, self.in_channels
        adjacency = edge_index
        edge_index, edge_type = self._edges(edge_index, edge_type, N,
                                            x.device)
        edge_type = self._check_edge_type(edge_type, edge_index.size(1),
                                          edge_index.device)
        rel = self._relations(relation_embedding).to(x.dtype)
        src, dst = edge_index[0], edge_index[1]

        # Distinct (head, relation) pairs; the relation-level softmax runs
        # over the pairs of each head. The structure (and the sparse graph
        # of the fused path) is kept for a static graph.
        pair, pair_head, pair_rel, graph = self._structure(
            adjacency, src, dst, edge_type, N)
        P = pair_head.numel()

        # W1 and W2 are linear, so a_{h,r} = x1[h] + v1[r] and
        # b_{h,r,t} = y1[h] + y2[r] + y3[t] with y1 = x1 W2a, y2 = v1 W2a,
        # y3 = t W2t; the attention logits are projections of these parts.
        # All entity parts come from one product of x with the composed
        # kernels (x1 itself is never needed).
        w1_h, w1_r = self.weight1[:, :F_], self.weight1[:, F_:]
        w2_a, w2_t = self.weight2[:, :F_], self.weight2[:, F_:]
        p, q = self.att_relation, self.att_entity
        w_y1 = w1_h @ w2_a  # [H, F, F]
        kernels = torch.cat([
            w_y1.transpose(0, 1).reshape(F_, H * F_),
            w2_t.transpose(0, 1).reshape(F_, H * F_),
            torch.einsum('hfg,hg->fh', w1_h, p),
            torch.einsum('hfg,hg->fh', w_y1, q),
            torch.einsum('hfg,hg->fh', w2_t, q),
        ], dim=1)
        proj = x @ kernels
        y1 = proj[:, :H * F_].view(N, H, F_)
        y3 = proj[:, H * F_:2 * H * F_].view(N, H, F_)
        s_x1, s_y1, s_y3 = proj[:, 2 * H * F_:].view(N, 3, H).unbind(1)
        v1 = torch.einsum('rd,hdg->rhg', rel, w1_r)
        y2 = torch.einsum('rhf,hfg->rhg', v1, w2_a)
        s_v1, s_y2 = (v1 * p).sum(-1), (y2 * q).sum(-1)

        rel_logit = F.leaky_relu(s_x1[pair_head] + s_v1[pair_rel],
                                 self.negative_slope)
        alpha = segment_softmax(rel_logit, pair_head, num_segments=N)

        # edge_updater_type: (score: Tensor, pair_score: Tensor,
        #                     pair_alpha: Tensor, pair: Tensor,
        #                     num_pairs: int)
        pair_score = s_y1[pair_head] + s_y2[pair_rel]
        beta, mu = self.edge_updater(
            edge_index, score=s_y3, pair_score=pair_score[pair],
            pair_alpha=alpha[pair], pair=pair, num_pairs=P, size=(N, N))
        weights = F.dropout(mu, p=self.dropout, training=self.training)

        if self._fusable(adjacency, x):
            h_hat = self._fused_aggregate(weights, y1, y2, y3, graph, pair,
                                          pair_head, N, P)
        else:
            # propagate_type: (y1: Tensor, y3: Tensor, y2: Tensor,
            #                  alpha: Tensor)
            h_hat = self.propagate(edge_index, y1=y1, y3=y3,
                                   y2=y2[edge_type], alpha=weights,
                                   size=(N, N))

        # h' = (sigma(W3 (h + ĥ)) + sigma(W3 (h ⊙ ĥ))) / 2, per head.
        xh = x.unsqueeze(1)  # [N, 1, F]
        both = torch.cat([xh + h_hat, xh * h_hat], dim=0)  # [2N, H, F]
        z = torch.bmm(both.transpose(0, 1), self.weight3)  # [H, 2N, O]
        z = F.leaky_relu(z, self.negative_slope)
        out = (0.5 * (z[:, :N] + z[:, N:])).transpose(0, 1)  # [N, H, O]
        if self.concat:
            out = out.reshape(N, H * self.out_channels)
        else:
            out = out.mean(dim=1)

        if return_attention_weights:
            att = RGHATAttention(edge_index, edge_type,
                                 torch.stack([pair_head, pair_rel]), alpha,
                                 beta, mu, pair)
            return out, att
        return out

    def _structure(self, adjacency: Any, src: Tensor, dst: Tensor,
                   edge_type: Tensor, N: int):
        """``(pair, pair_head, pair_rel, graph)``: the pair of every edge,
        the head and relation of every pair, and the graph from entities
        and relations to heads of :meth:`_fused_aggregate`; cached on the
        caller's adjacency object (checked against the edge types)."""
        R = self.num_relations

        def build():
            keys, pair = torch.unique(dst * R + edge_type,
                                      return_inverse=True)
            pair_head = torch.div(keys, R, rounding_mode='floor')
            pair_rel = keys - pair_head * R
            # Sources: the N entities, then the R relations. Edges t -> h
            # (weight mu) and r -> h (the pair's total weight).
            graph = CSRGraph.from_edge_index(
                torch.stack([torch.cat([src, pair_rel + N]),
                             torch.cat([dst, pair_head])]), N + R, N)
            return edge_type.clone(), (pair, pair_head, pair_rel, graph)

        if src.numel() == 0:
            return build()[1]
        cached_type, value = cached_csr(adjacency, ('rghat', N, R), build)
        if cached_type.shape != edge_type.shape or not torch.equal(
                cached_type, edge_type):
            cached_type, value = build()  # same graph, other edge types
        return value

    def _fused_aggregate(self, weights: Tensor, y1: Tensor, y2: Tensor,
                         y3: Tensor, graph: CSRGraph, pair: Tensor,
                         pair_head: Tensor, N: int, P: int) -> Tensor:
        r""":math:`\hat{\mathbf{h}} = \sum \mu (\mathbf{y}_h +
        \mathbf{y}_r + \mathbf{y}_t)` without per-edge feature tensors:
        one sparse product over a graph whose sources are the entities
        (edges :math:`t \to h`, weight :math:`\mu`) and the relations
        (edges :math:`r \to h`, the pair's total weight), plus the head
        part scaled by the head's total weight."""
        if pair.numel() == 0:
            anchor = weights.sum() + y2.reshape(-1)[:0].sum() + \
                y3.reshape(-1)[:0].sum()
            return y1.new_zeros(y1.shape) + anchor
        pair_weight = segment_sum(weights, pair, num_segments=P)  # [P, H]
        node_weight = segment_sum(pair_weight, pair_head, num_segments=N)
        table = torch.cat([y3, y2], dim=0)
        values = graph.to_csr_order(torch.cat([weights, pair_weight]))
        out = head_spmm(graph, values, table)
        return out + node_weight.unsqueeze(-1) * y1

    def edge_update(self, score_j: Tensor, pair_score: Tensor,
                    pair_alpha: Tensor, pair: Tensor,
                    num_pairs: int) -> Tuple[Tensor, Tensor]:
        r"""Entity-level :math:`\beta` (softmax over the tails of each
        (head, relation) pair) and triple-level :math:`\mu = \alpha\beta`
        of every edge."""
        logit = F.leaky_relu(pair_score + score_j, self.negative_slope)
        beta = segment_softmax(logit, pair, num_segments=num_pairs)
        return beta, pair_alpha * beta

    def message(self, y1_i: Tensor, y3_j: Tensor, y2: Tensor,
                alpha: Tensor) -> Tensor:
        # b_{h,r,t} = W2 [a_{h,r} || t], split into its linear parts.
        return alpha.unsqueeze(-1) * (y1_i + y2 + y3_j)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_relations={self.num_relations}, '
                f'heads={self.heads})')
