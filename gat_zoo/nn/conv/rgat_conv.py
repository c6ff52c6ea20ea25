from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import (
    AttentionConv,
    RelationalInput,
    _is_sparse_tensor,
)
from gat_zoo.nn.validation import (
    check_node_features,
    check_node_ids,
    validation_enabled,
)
from gat_zoo.ops import segment_softmax

ATTENTION_MODES = {
    'wirgat': 'wirgat',
    'within-relation': 'wirgat',
    'argat': 'argat',
    'across-relation': 'argat',
}
ATTENTION_STYLES = {
    'additive': 'additive',
    'sum': 'additive',
    'multiplicative': 'multiplicative',
    'dot': 'multiplicative',
    'constant': 'constant',
}


class RGATConv(RelationalInput, AttentionConv):
    r"""The relational graph attention operator from the `"Relational Graph
    Attention Networks" <https://arxiv.org/abs/1904.05811>`_ paper
    (Busbridge, Sherburn, Cavallo, Hammerla, 2019).

    Every relation :math:`r` has its own kernel :math:`\mathbf{W}^{(r)}`,
    which gives relation-specific node representations, and its own query
    and key kernels :math:`\mathbf{Q}^{(r)}, \mathbf{K}^{(r)} \in
    \mathbb{R}^{F' \times D}` (per head):

    .. math::
        \mathbf{g}^{(r)}_i = \mathbf{W}^{(r)\top} \mathbf{h}_i, \qquad
        \mathbf{q}^{(r)}_i = \mathbf{g}^{(r)}_i{}^{\top} \mathbf{Q}^{(r)},
        \qquad
        \mathbf{k}^{(r)}_j = \mathbf{g}^{(r)}_j{}^{\top} \mathbf{K}^{(r)}.

    The logit of the edge :math:`j \xrightarrow{r} i` is *additive*
    (GAT-style, :math:`D = 1`) or *multiplicative* (dot product):

    .. math::
        E^{(r)}_{i,j} = \mathrm{LeakyReLU}\left(q^{(r)}_i + k^{(r)}_j
        \right) \qquad \text{or} \qquad
        E^{(r)}_{i,j} = \mathbf{q}^{(r)}_i \cdot \mathbf{k}^{(r)}_j .

    The paper normalises the logits in one of two ways. **WIRGAT**
    (within-relation) takes the softmax over each relation's neighbourhood
    :math:`\mathcal{N}^{(r)}_i` separately,

    .. math::
        \alpha^{(r)}_{i,j} = \frac{\exp E^{(r)}_{i,j}}
        {\sum_{k \in \mathcal{N}^{(r)}_i} \exp E^{(r)}_{i,k}},

    so every relation in which :math:`i` has a neighbour contributes with
    total weight one (as in RGCN with :math:`c_{i,r} = |\mathcal{N}^r_i|`);
    **ARGAT** (across-relation) takes it jointly over all relations'
    neighbours,

    .. math::
        \alpha^{(r)}_{i,j} = \frac{\exp E^{(r)}_{i,j}}
        {\sum_{r'} \sum_{k \in \mathcal{N}^{(r')}_i} \exp E^{(r')}_{i,k}}.

    The update is

    .. math::
        \mathbf{h}'_i = \sum_{r} \sum_{j \in \mathcal{N}^{(r)}_i}
        \alpha^{(r)}_{i,j}\, \mathbf{g}^{(r)}_j ,

    computed per head; the heads are concatenated or averaged. The
    non-linearity is left to the network. With
    :obj:`attention_style="constant"` all logits are zero: WIRGAT then is
    RGCN's per-relation mean, ARGAT the mean over the whole neighbourhood
    (the paper's constant-attention comparison point).

    **Relation kernels.** With :obj:`num_bases` :math:`B` the kernels share a
    basis, :math:`\mathbf{W}^{(r)}_h = \sum_b c_{r,h,b} \mathbf{V}_b` for
    every head :math:`h` (the paper's basis decomposition, from RGCN, with
    the authors' code's layout: bases of one head's width and coefficients
    per relation and head); with :obj:`num_blocks`
    :math:`B` each :math:`\mathbf{W}^{(r)}` is block-diagonal with :math:`B`
    blocks over all heads' width (RGCN's block-diagonal decomposition; the
    authors' code has only the basis one). :math:`\mathbf{Q}^{(r)},
    \mathbf{K}^{(r)}` stay full per relation and head.

    **Self-connection.** The paper has no separate root weight: in the
    authors' code each node's self-connection is one more relation with its
    own kernels. :obj:`self_relation=True` does exactly that: it adds one
    edge :math:`i \to i` per node with the relation type
    :obj:`num_relations` (so the layer holds :obj:`num_relations + 1`
    relations' kernels).

    **Difference from PyG's** :class:`~torch_geometric.nn.conv.RGATConv`.
    PyG uses one query matrix and one key matrix *shared by all relations*
    (:obj:`self.q`, :obj:`self.k`); this layer gives every relation and head
    its own :math:`\mathbf{Q}^{(r)}, \mathbf{K}^{(r)}` as the paper and its
    official code (``babylonhealth/rgat``) define them. PyG's default is
    ARGAT and it adds the cardinality-preservation options of a later paper;
    this layer defaults to WIRGAT and has neither those nor edge features.
    The paper's multiplicative logits have no LeakyReLU (the official code
    applies its logit activation to both forms by default).

    **Featureless input.** As in RGCN and the paper's RDF experiments, nodes
    without features are one-hot vectors: pass :obj:`x=None` (node
    :math:`i` has feature :math:`\mathbf{e}_i`, :obj:`in_channels` = number
    of nodes) or a long vector of node ids :math:`[N]` (values below
    :obj:`in_channels`); the projection then is a row lookup in
    :math:`\mathbf{W}^{(r)}`, never a dense identity matrix.

    Args:
        in_channels (int): Size of each input sample (the number of node
            ids for featureless input).
        out_channels (int): Size of each output sample per head
            :math:`F'`.
        num_relations (int): Number of relation types :math:`R`.
        heads (int, optional): Number of attention heads. (default: :obj:`1`)
        concat (bool, optional): Concatenate the heads; :obj:`False`
            averages them. (default: :obj:`True`)
        attention_mode (str, optional): :obj:`"wirgat"` (alias
            :obj:`"within-relation"`) or :obj:`"argat"` (alias
            :obj:`"across-relation"`). (default: :obj:`"wirgat"`)
        attention_style (str, optional): :obj:`"additive"` (alias
            :obj:`"sum"`), :obj:`"multiplicative"` (alias :obj:`"dot"`) or
            :obj:`"constant"`. (default: :obj:`"additive"`)
        attention_channels (int, optional): Query/key width :math:`D`; must
            be :obj:`1` for additive attention. (default: :obj:`1` for
            additive, :obj:`out_channels` for multiplicative)
        num_bases (int, optional): Basis decomposition with this many bases.
            (default: :obj:`None`)
        num_blocks (int, optional): Block-diagonal decomposition with this
            many blocks; :obj:`in_channels` and :obj:`heads * out_channels`
            must be divisible by it. (default: :obj:`None`)
        negative_slope (float, optional): LeakyReLU slope of additive
            logits. (default: :obj:`0.2`)
        dropout (float, optional): Dropout probability of the normalised
            attention coefficients. (default: :obj:`0`)
        self_relation (bool, optional): Add a self-loop relation (see
            above). (default: :obj:`False`)
        bias (bool, optional): Learn an additive bias. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})`, node ids
          :math:`(|\mathcal{V}|)` or :obj:`None`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`; sparse adjacencies are
          :math:`(|\mathcal{V}|, |\mathcal{V}|)` target-major and may carry
          the edge types as their values),
          edge types :math:`(|\mathcal{E}|)` *(optional: all* :math:`0`
          *if omitted)*
        - **output:** node features :math:`(|\mathcal{V}|, H * F_{out})`
          (:math:`(|\mathcal{V}|, F_{out})` if :obj:`concat=False`).
          If :obj:`return_attention_weights=True`, then
          :math:`((|\mathcal{V}|, H * F_{out}),
          ((2, |\mathcal{E}'|), (|\mathcal{E}'|, H)))`, where
          :math:`\mathcal{E}'` is :math:`\mathcal{E}` followed by the added
          self-relation loops, if any
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_relations: int,
        heads: int = 1,
        concat: bool = True,
        attention_mode: str = 'wirgat',
        attention_style: str = 'additive',
        attention_channels: Optional[int] = None,
        num_bases: Optional[int] = None,
        num_blocks: Optional[int] = None,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        self_relation: bool = False,
        bias: bool = True,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)

        mode = ATTENTION_MODES.get(str(attention_mode).lower())
        if mode is None:
            raise ValueError(f"Unknown attention_mode {attention_mode!r}; "
                             f"expected 'wirgat' or 'argat'")
        style = ATTENTION_STYLES.get(str(attention_style).lower())
        if style is None:
            raise ValueError(f"Unknown attention_style {attention_style!r}; "
                             f"expected 'additive', 'multiplicative' or "
                             f"'constant'")
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('num_relations', num_relations),
                            ('heads', heads)):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    value < 1:
                raise ValueError(f"'{name}' must be a positive int (got "
                                 f"{value!r})")
        if num_bases is not None and num_blocks is not None:
            raise ValueError("Use either 'num_bases' or 'num_blocks', not "
                             "both")
        if attention_channels is None:
            attention_channels = 1 if style == 'additive' else out_channels
        if style == 'additive' and attention_channels != 1:
            raise ValueError(f"Additive attention has scalar queries and "
                             f"keys: 'attention_channels' must be 1 (got "
                             f"{attention_channels})")
        width = heads * out_channels
        if num_blocks is not None and (num_blocks < 1 or
                                       in_channels % num_blocks
                                       or width % num_blocks):
            raise ValueError(f"'num_blocks'={num_blocks} must divide "
                             f"in_channels={in_channels} and heads * "
                             f"out_channels={width}")
        if num_bases is not None and num_bases < 1:
            raise ValueError(f"'num_bases' must be positive (got "
                             f"{num_bases})")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.heads = heads
        self.concat = concat
        self.attention_mode = mode
        self.attention_style = style
        self.attention_channels = attention_channels
        self.num_bases = num_bases
        self.num_blocks = num_blocks
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.self_relation = self_relation

        rel = num_relations + int(self_relation)
        if num_bases is not None:
            # Bases of one head's width, coefficients per (relation, head),
            # as in the authors' BasisDecompositionDense.
            self.weight = Parameter(torch.empty(num_bases, in_channels,
                                                out_channels))
            self.comp = Parameter(torch.empty(rel, heads, num_bases))
        elif num_blocks is not None:
            self.weight = Parameter(
                torch.empty(rel, num_blocks, in_channels // num_blocks,
                            width // num_blocks))
            self.register_parameter('comp', None)
        else:
            self.weight = Parameter(torch.empty(rel, in_channels, width))
            self.register_parameter('comp', None)

        if style == 'constant':
            self.register_parameter('query', None)
            self.register_parameter('key', None)
        else:
            self.query = Parameter(
                torch.empty(rel, heads, out_channels, attention_channels))
            self.key = Parameter(
                torch.empty(rel, heads, out_channels, attention_channels))

        out_width = width if concat else out_channels
        if bias:
            self.bias = Parameter(torch.empty(out_width))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    @property
    def num_kernels(self) -> int:
        """Relations with their own kernels (the self relation included)."""
        return self.num_relations + int(self.self_relation)

    def reset_parameters(self):
        super().reset_parameters()
        glorot(self.weight)  # with blocks: the fans of one block
        glorot(self.comp)
        glorot(self.query)
        glorot(self.key)
        zeros(self.bias)

    # ------------------------------------------------------------------
    # Relation kernels.
    # ------------------------------------------------------------------
    def relation_weight(self, r: int) -> Tensor:
        r""":math:`\mathbf{W}^{(r)}` as a dense ``[in_channels, heads *
        out_channels]`` matrix."""
        return self.relation_weights()[r]

    def relation_weights(self) -> Tensor:
        r"""All kernels :math:`\mathbf{W}^{(r)}` as one ``[R, in_channels,
        heads * out_channels]`` tensor (the parameter itself without a
        decomposition)."""
        if self.num_bases is not None:
            R, H, C = self.comp.size(0), self.heads, self.out_channels
            return torch.einsum('rhb,bic->rihc', self.comp,
                                self.weight).reshape(R, -1, H * C)
        if self.num_blocks is not None:
            return torch.stack([
                torch.block_diag(*blocks.unbind(0))
                for blocks in self.weight.unbind(0)
            ])
        return self.weight

    def _project(self, x: Optional[Tensor], rel: Tensor, nodes: Tensor,
                 counts: List[int]) -> Tensor:
        r""":math:`\mathbf{g}^{(r)}_n` of every (relation, node) pair as
        ``[P, H * C]``; the pairs are sorted by relation, ``counts`` pairs
        per relation."""
        weights = self.relation_weights()
        if x is None or not x.is_floating_point():
            # One-hot input: one row lookup in the stacked kernels (a single
            # gather, so the backward is one scatter, not one per relation).
            ids = nodes if x is None else x[nodes]
            flat = weights.reshape(-1, weights.size(-1))
            return flat[rel * self.in_channels + ids]
        # unbind/split: one backward allocation for all relations, not one
        # per relation.
        per_relation = weights.unbind(0)
        sizes = [c for c in counts if c]
        rels = [r for r, c in enumerate(counts) if c]
        out = [part @ per_relation[r]
               for r, part in zip(rels, x[nodes].split(sizes))]
        if not out:
            return x.new_zeros((0, weights.size(-1)))
        return torch.cat(out)

    # ------------------------------------------------------------------
    # Input handling.
    # ------------------------------------------------------------------
    def _num_nodes(self, x: Optional[Tensor]) -> int:
        if x is None:
            return self.in_channels
        if not isinstance(x, Tensor):
            raise TypeError(f"'x' must be a tensor of node features, a "
                            f"vector of node ids or None (got "
                            f"{type(x).__name__})")
        if x.is_floating_point():
            if validation_enabled():
                check_node_features(x, 'x', self.in_channels)
            return x.size(0)
        if x.is_complex() or x.dtype == torch.bool:
            raise ValueError(f"'x' must hold float features or integer node "
                             f"ids (got {x.dtype})")
        if validation_enabled():
            check_node_ids(x, self.in_channels)
        return x.size(0)


    # ------------------------------------------------------------------
    # Forward.
    # ------------------------------------------------------------------
    def forward(self, x: OptTensor, edge_index: Adj,
                edge_type: OptTensor = None,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor, optional): Node features ``[N, F]``, node ids
                ``[N]`` (one-hot input) or :obj:`None` (node :math:`i` is
                the one-hot vector :math:`\mathbf{e}_i`;
                ``N = in_channels``).
            edge_index (torch.Tensor or SparseTensor): The edges
                :math:`j \to i` as ``[2, E]`` (row 0 sources), or a
                target-major sparse adjacency.
            edge_type (torch.Tensor, optional): Relation of every edge,
                ``[E]`` integers in ``[0, num_relations)``; for a sparse
                adjacency its values are used when omitted. All edges are
                relation 0 if omitted and there are none.
            return_attention_weights (bool, optional): If truthy, also
                returns ``(edge_index, alpha)`` with ``alpha`` ``[E', H]``
                (a SparseTensor holding the weights for SparseTensor input
                without :obj:`self_relation`).
        """
        if isinstance(x, (tuple, list)):
            raise ValueError("RGATConv does not take bipartite input "
                             "(x_src, x_dst)")
        H, C = self.heads, self.out_channels
        N = self._num_nodes(x)
        device = x.device if x is not None else self.weight.device
        adjacency = edge_index
        edge_index, edge_type = self._edges(edge_index, edge_type, N, device)
        edge_type = self._check_edge_type(edge_type, edge_index.size(1),
                                          edge_index.device)
        if self.self_relation:
            loops = torch.arange(N, device=edge_index.device)
            edge_index = torch.cat([edge_index, loops.expand(2, N)], dim=1)
            edge_type = torch.cat(
                [edge_type, edge_type.new_full((N, ), self.num_relations)])
        src, dst = edge_index[0], edge_index[1]
        E = src.numel()
        R = self.num_kernels

        # Every (node, relation) pair an edge touches, once: the nodes'
        # relation-specific representations g, queries and keys are
        # computed per pair, relation by relation.
        key_src, key_dst = edge_type * N + src, edge_type * N + dst
        keys, inverse = torch.unique(torch.cat([key_src, key_dst]),
                                     return_inverse=True)
        inv_src, inv_dst = inverse[:E], inverse[E:]
        rel_of_key = torch.div(keys, N, rounding_mode='floor')
        node_of_key = keys - rel_of_key * N
        counts = torch.bincount(rel_of_key, minlength=R).tolist()

        g_all = self._project(x, rel_of_key, node_of_key,
                              counts).view(-1, H, C)
        qs: List[Tensor] = []
        ks: List[Tensor] = []
        if self.query is not None:
            queries, keys_ = self.query.unbind(0), self.key.unbind(0)
            sizes = [c for c in counts if c]
            rels = [r for r, c in enumerate(counts) if c]
            for r, g in zip(rels, g_all.split(sizes)):
                qs.append(torch.einsum('nhc,hcd->nhd', g, queries[r]))
                ks.append(torch.einsum('nhc,hcd->nhd', g, keys_[r]))

        if self.attention_style == 'constant' or not qs:
            logits = g_all.new_zeros((E, H))
        else:
            q_all, k_all = torch.cat(qs), torch.cat(ks)
            q, k = q_all[inv_dst], k_all[inv_src]  # [E, H, D]
            if self.attention_style == 'additive':
                logits = F.leaky_relu((q + k).squeeze(-1),
                                      self.negative_slope)
            else:
                logits = (q * k).sum(dim=-1)

        if self.attention_mode == 'wirgat':
            alpha = segment_softmax(logits, key_dst, num_segments=R * N)
        else:
            alpha = segment_softmax(logits, dst, num_segments=N)
        weights = F.dropout(alpha, p=self.dropout, training=self.training)

        # propagate_type: (g: Tensor, alpha: Tensor)
        out = self.propagate(edge_index, g=g_all[inv_src], alpha=weights,
                             size=(N, N))
        out = self._combine_heads(out, None)

        if return_attention_weights:
            if _is_sparse_tensor(adjacency) and not self.self_relation:
                return out, adjacency.set_value(alpha, layout='coo')
            return out, (edge_index, alpha)
        return out

    def message(self, g: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * g

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_relations={self.num_relations}, '
                f'heads={self.heads}, mode={self.attention_mode}, '
                f'style={self.attention_style})')
