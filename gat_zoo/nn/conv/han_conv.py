r"""HAN's hierarchical attention layer: node-level attention within each
meta-path graph, then semantic-level attention across meta-paths."""
from __future__ import annotations

from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    Union,
    cast,
)

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot
from torch_geometric.nn.resolver import activation_resolver

from gat_zoo.nn.conv._base import AttentionConv
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import (
    gat_edge_softmax,
    head_spmm,
    segment_softmax,
    triton_attention,
)

__all__ = ['HANConv']

NodeType = str
EdgeType = Tuple[str, str, str]
Metadata = Tuple[List[NodeType], List[EdgeType]]

#: The node type of the homogeneous (meta-path list) form.
_NODE = 'node'


def _key(edge_type: EdgeType) -> str:
    return '__'.join(edge_type)


class HANConv(AttentionConv):
    r"""The hierarchical attention layer of `"Heterogeneous Graph Attention
    Network" <https://arxiv.org/abs/1903.07293>`_ (Wang et al., WWW 2019).

    Each meta-path :math:`\Phi` (or, in the heterogeneous form, each edge
    type) gives a graph with neighbourhoods :math:`\mathcal{N}^{\Phi}_i`
    that **include** :math:`i` itself (Sec. 4.1 of the paper). Node features
    are first projected by a node-type-specific matrix (Eq. 1),

    .. math::
        \mathbf{h}'_i = \mathbf{M}_{\phi_i} \mathbf{h}_i,

    then, per head :math:`k` and meta-path, node-level attention (Eqs. 2-4)
    and aggregation (Eqs. 5-6):

    .. math::
        \alpha^{\Phi}_{ij} = \mathrm{softmax}_{j \in \mathcal{N}^{\Phi}_i}
        \Big(\mathrm{LeakyReLU}\big(\mathbf{a}_{\Phi}^{\top}
        [\mathbf{h}'_i \Vert \mathbf{h}'_j]\big)\Big), \qquad
        \mathbf{z}^{\Phi}_i = \big\Vert_{k=1}^{K} \sigma\Big(
        \sum_{j \in \mathcal{N}^{\Phi}_i} \alpha^{\Phi,k}_{ij}
        \mathbf{h}'^{\,k}_j\Big).

    Semantic-level attention (Eqs. 7-9) weighs the meta-paths with one
    score each, the mean over all target nodes of a one-layer MLP:

    .. math::
        w_{\Phi} = \frac{1}{|\mathcal{V}|} \sum_{i \in \mathcal{V}}
        \mathbf{q}^{\top} \tanh(\mathbf{W} \mathbf{z}^{\Phi}_i + \mathbf{b}),
        \qquad \beta_{\Phi} = \mathrm{softmax}_{\Phi}(w_{\Phi}), \qquad
        \mathbf{Z} = \sum_{\Phi} \beta_{\Phi} \mathbf{Z}_{\Phi}.

    The paper writes :math:`\sigma(\mathbf{a}^{\top}[\cdot])` in Eq. 3 with
    :math:`\sigma` unnamed; like the authors' code (a GAT head) we use
    LeakyReLU(0.2) for the logits and ELU for the :math:`\sigma` of Eq. 5.

    **Two input forms.** With :obj:`num_metapaths=M` the layer is
    homogeneous: ``forward(x, [adj_1, ..., adj_M])`` takes the target
    nodes' features and one adjacency per meta-path (``edge_index``,
    ``SparseTensor`` or ``EdgeIndex``; build them with
    :func:`gat_zoo.ops.metapath_edge_index`) and returns a tensor. With
    :obj:`metadata=(node_types, edge_types)` it is a drop-in for PyG's
    :class:`~torch_geometric.nn.conv.HANConv`: ``forward(x_dict,
    edge_index_dict)`` returns ``{node_type: Z or None}``; every edge type
    ending at a node type is one of its "meta-paths" (relations whose source
    type differs are bipartite and get no self-loops).

    **How this differs from PyG's HANConv** (2.8.1): PyG adds no
    self-loops, while the paper's meta-path neighbourhood includes the node
    (:obj:`add_self_loops=True` here); PyG splits :obj:`out_channels` across
    the heads, here each head has :obj:`out_channels` features and the
    heads are concatenated as the paper's :math:`\Vert_{k=1}^K` (so
    ``HANConv(F, 8, heads=8)`` gives the paper's 64-d :math:`\mathbf{z}`);
    PyG applies ReLU after aggregation, here ELU (the authors' code); the
    semantic attention is the same (mean-then-dot equals dot-then-mean).
    The survey summarises HAN correctly.

    Args:
        in_channels (int or dict): Input width, or one per node type
            (``-1`` for lazy initialisation).
        out_channels (int): Features per head :math:`F'`.
        metadata (tuple, optional): ``(node_types, edge_types)`` of the
            heterogeneous graph (``HeteroData.metadata()``). Give this or
            :obj:`num_metapaths`.
        num_metapaths (int, optional): Number of meta-path graphs of the
            homogeneous form.
        heads (int, optional): Number of attention heads :math:`K`.
            (default: :obj:`8`)
        concat (bool, optional): Concatenate the heads (the paper); if
            :obj:`False`, average them. (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU slope of the node-level
            logits. (default: :obj:`0.2`)
        dropout (float, optional): Dropout on the node-level attention
            coefficients (the paper: 0.6). (default: :obj:`0.`)
        add_self_loops (bool, optional): Put each target node into its own
            meta-path neighbourhood (replacing loops already present by one).
            (default: :obj:`True`)
        semantic_channels (int, optional): Width of the semantic attention
            vector :math:`\mathbf{q}` (the paper: 128). (default: :obj:`128`)
        act (str or callable, optional): The :math:`\sigma` after
            node-level aggregation. (default: :obj:`'elu'`)
        share_projection (bool, optional): One projection
            :math:`\mathbf{M}_{\phi}` per node type, shared by its meta-paths
            (the paper's Eq. 1, and PyG). If :obj:`False`, one per meta-path
            (the authors' code builds a separate GAT head per meta-path).
            (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input (homogeneous):** node features :math:`(|\mathcal{V}|,
          F_{in})`, a list of :math:`M` adjacencies (each :math:`(2,
          |\mathcal{E}_m|)` or sparse)
        - **output (homogeneous):** :math:`(|\mathcal{V}|, K F')` (or
          :math:`(|\mathcal{V}|, F')` with :obj:`concat=False`); with
          :obj:`return_attention_weights=True` also a dict with ``'node'``,
          a list of ``(adjacency, alpha [E_m + loops, K])`` per meta-path,
          and ``'semantic'``, :math:`\beta` of shape :math:`(M,)`
        - **input (heterogeneous):** ``x_dict`` ``{node_type:
          (|\mathcal{V}_t|, F_t)}``, ``edge_index_dict`` ``{edge_type:
          adjacency}``
        - **output (heterogeneous):** ``{node_type: (|\mathcal{V}_t|, K F')
          or None}`` (None for a type no edge type points to); with
          attention weights also ``{'node': {edge_type: (adjacency,
          alpha)}, 'semantic': {node_type: (edge_types, beta)}}``
    """

    def __init__(self, in_channels: Union[int, Dict[str, int]],
                 out_channels: int, metadata: Optional[Metadata] = None,
                 num_metapaths: Optional[int] = None, heads: int = 8,
                 concat: bool = True, negative_slope: float = 0.2,
                 dropout: float = 0.0, add_self_loops: bool = True,
                 semantic_channels: int = 128,
                 act: Union[str, Callable, None] = 'elu',
                 share_projection: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if (metadata is None) == (num_metapaths is None):
            raise ValueError("Give exactly one of 'metadata' (heterogeneous "
                             "input) and 'num_metapaths' (a list of "
                             "meta-path graphs)")
        if metadata is None:
            assert num_metapaths is not None  # exactly one is given
            if int(num_metapaths) < 1:
                raise ValueError(f"'num_metapaths' must be at least 1 (got "
                                 f"{num_metapaths})")
            node_types = [_NODE]
            edge_types = [(_NODE, f'metapath_{k}', _NODE)
                          for k in range(int(num_metapaths))]
        else:
            node_types = list(metadata[0])
            edge_types = [cast(EdgeType, tuple(e)) for e in metadata[1]]
            for src, rel, dst in edge_types:
                if src not in node_types or dst not in node_types:
                    raise ValueError(f"Edge type {(src, rel, dst)} names a "
                                     f"node type missing from the metadata")
        if heads < 1 or out_channels < 1:
            raise ValueError("'heads' and 'out_channels' must be positive")
        if not isinstance(in_channels, Mapping):
            in_channels = {t: int(in_channels) for t in node_types}
        self.in_channels = dict(in_channels)
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.fill_value = 'mean'
        self.semantic_channels = semantic_channels
        self.share_projection = share_projection
        self.homogeneous = metadata is None
        self.node_types = node_types
        self.edge_types: List[EdgeType] = edge_types
        self.act = activation_resolver(act) if isinstance(act, str) else act
        self.bias = None

        width = heads * out_channels
        self.proj = torch.nn.ModuleDict()
        if share_projection:
            for t in node_types:
                if t not in self.in_channels:
                    raise ValueError(f"No input width for node type {t!r}")
                self.proj[t] = Linear(self.in_channels[t], width, bias=False,
                                      weight_initializer='glorot')
        else:
            for src, rel, dst in edge_types:
                key = _key((src, rel, dst))
                self.proj[key] = Linear(self.in_channels[src], width,
                                        bias=False,
                                        weight_initializer='glorot')
                if src != dst:
                    self.proj[key + '__dst'] = Linear(
                        self.in_channels[dst], width, bias=False,
                        weight_initializer='glorot')
        self.att_src = torch.nn.ParameterDict({
            _key(e): Parameter(torch.empty(1, heads, out_channels))
            for e in edge_types})
        self.att_dst = torch.nn.ParameterDict({
            _key(e): Parameter(torch.empty(1, heads, out_channels))
            for e in edge_types})
        out_width = width if concat else out_channels
        self.semantic_lin = Linear(out_width, semantic_channels, bias=True,
                                   weight_initializer='glorot')
        self.semantic_q = Parameter(torch.empty(1, semantic_channels))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in self.proj.values():
            lin.reset_parameters()
        for p in list(self.att_src.values()) + list(self.att_dst.values()):
            glorot(p)
        self.semantic_lin.reset_parameters()
        glorot(self.semantic_q)

    # ------------------------------------------------------------------
    def _inputs(self, x, edge_index):
        """``(x_dict, adjacency_dict)`` from either input form."""
        if self.homogeneous:
            if isinstance(x, Mapping):
                raise TypeError("This HANConv was built with "
                                "'num_metapaths' and takes one feature "
                                "tensor 'x', not a dict")
            if isinstance(edge_index, Mapping):
                adjs = list(edge_index.values())
            elif isinstance(edge_index, (list, tuple)):
                adjs = list(edge_index)
            else:
                adjs = [edge_index]
            if len(adjs) != len(self.edge_types):
                raise ValueError(f"Expected {len(self.edge_types)} meta-path "
                                 f"graphs but got {len(adjs)}")
            return {_NODE: x}, dict(zip(self.edge_types, adjs))
        if not isinstance(x, Mapping) or not isinstance(edge_index, Mapping):
            raise TypeError("This HANConv was built with 'metadata' and "
                            "takes dicts 'x_dict' and 'edge_index_dict'")
        unknown = [e for e in edge_index if tuple(e) not in self.edge_types]
        if unknown:
            raise ValueError(f"Edge types {unknown} are not in the layer's "
                             f"metadata {self.edge_types}")
        return dict(x), {tuple(e): a for e, a in edge_index.items()}

    def _projection(self, edge_type: EdgeType, side: str) -> Linear:
        if self.share_projection:
            return self.proj[edge_type[0] if side == 'src' else edge_type[2]]
        key = _key(edge_type)
        if side == 'dst' and edge_type[0] != edge_type[2]:
            key += '__dst'
        return self.proj[key]

    def forward(self, x: Union[Tensor, Dict[str, Tensor]],
                edge_index: Any,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor or dict): Node features (homogeneous form) or
                ``x_dict``.
            edge_index (list or dict): One adjacency per meta-path (a single
                adjacency when :obj:`num_metapaths=1`), or
                ``edge_index_dict``. Edge types absent from the dict are
                skipped.
            return_attention_weights (bool, optional): If truthy, also
                return the node-level coefficients per meta-path (self-loops
                included) and the semantic weights :math:`\beta`.
                (default: :obj:`None`)
        """
        x_dict, adj_dict = self._inputs(x, edge_index)
        for t, feat in x_dict.items():
            if t not in self.node_types:
                raise ValueError(f"Node type {t!r} is not in the layer's "
                                 f"metadata {self.node_types}")
            if not isinstance(feat, Tensor):
                raise TypeError(f"Features of node type {t!r} must be a "
                                f"tensor (got {type(feat).__name__})")
            if validation_enabled():
                check_node_features(feat, 'x' if self.homogeneous else
                                    f"x_dict[{t!r}]", self.in_channels[t])
        H, C = self.heads, self.out_channels
        projected: Dict[Any, Tensor] = {}

        def project(edge_type: EdgeType, side: str) -> Tensor:
            lin = self._projection(edge_type, side)
            node_type = edge_type[0] if side == 'src' else edge_type[2]
            key = id(lin), node_type
            if key not in projected:  # shared projections run once
                projected[key] = lin(x_dict[node_type]).view(-1, H, C)
            return projected[key]

        per_target: Dict[str, List[Tuple[EdgeType, Tensor]]] = {}
        node_attention: Dict[EdgeType, Tuple[Any, Tensor]] = {}
        for edge_type in self.edge_types:
            if edge_type not in adj_dict:
                continue
            src, _, dst = edge_type
            for t in (src, dst):
                if t not in x_dict:
                    raise ValueError(f"Edge type {edge_type} needs features "
                                     f"of node type {t!r}")
            z, adjacency, alpha = self._node_level(
                edge_type, adj_dict[edge_type], x_dict[src], x_dict[dst],
                project, bool(return_attention_weights))
            per_target.setdefault(dst, []).append((edge_type, z))
            if return_attention_weights:
                assert alpha is not None
                node_attention[edge_type] = (adjacency, alpha)

        out_dict: Dict[str, Optional[Tensor]] = {t: None
                                                 for t in self.node_types}
        semantic: Dict[str, Tuple[Tuple[EdgeType, ...], Tensor]] = {}
        for dst, items in per_target.items():
            zs = torch.stack([z for _, z in items])  # [T, N, D]
            out, beta = self._semantic_level(zs)
            out_dict[dst] = out
            semantic[dst] = (tuple(e for e, _ in items), beta)

        if self.homogeneous:
            node_out = out_dict[_NODE]
            assert node_out is not None
            if return_attention_weights:
                return node_out, {
                    'node': [node_attention[e] for e in self.edge_types],
                    'semantic': semantic[_NODE][1]}
            return node_out
        if return_attention_weights:
            return out_dict, {'node': node_attention, 'semantic': semantic}
        return out_dict

    def _node_level(self, edge_type: EdgeType, adjacency: Any, x_src: Tensor,
                    x_dst: Tensor, project,
                    return_alpha: bool
                    ) -> Tuple[Tensor, Any, Optional[Tensor]]:
        """:math:`\\mathbf{z}^{\\Phi}` ``[N_dst, D]`` of one meta-path, with
        its adjacency (self-loops included) and coefficients ``[E, K]``
        (in the adjacency's order when ``return_alpha``; :obj:`None` from
        the Triton kernel, which runs only when they are not asked for)."""
        key = _key(edge_type)
        bipartite = edge_type[0] != edge_type[2]
        size = (x_src.size(0), x_dst.size(0))
        checked = self._check_graph(adjacency, None, x_src,
                                    x_dst if bipartite else None, bipartite,
                                    size if bipartite else None, None)
        loops = self.add_self_loops and not bipartite
        h_src = project(edge_type, 'src')
        h_dst = project(edge_type, 'dst')
        score_src = (h_src * self.att_src[key]).sum(dim=-1)
        score_dst = (h_dst * self.att_dst[key]).sum(dim=-1)

        alpha: Optional[Tensor]
        if self._fusable(checked, x_src):
            graph, adjacency = self._fused_graph(
                adjacency, checked, x_src, x_dst if bipartite else None,
                size if bipartite else None, add_loops=loops)
            if self._triton_applies(x_src.device, return_alpha):
                # GAT's attention per meta-path as one Triton kernel.
                out = triton_attention(
                    graph, h_src, score_src, score_dst, None,
                    self.negative_slope,
                    self.dropout if self.training else 0.0)
                alpha = None
            else:
                alpha = gat_edge_softmax(graph, score_src, score_dst, None,
                                         self.negative_slope)
                if self.training and self.dropout > 0:
                    # Drawn in the caller's edge order, as the
                    # message-passing path draws it.
                    keep = F.dropout(alpha.new_ones(alpha.shape),
                                     p=self.dropout)
                    alpha = alpha * graph.to_csr_order(keep)
                out = head_spmm(graph, alpha, h_src)
                if return_alpha:
                    alpha = graph.to_caller_order(alpha)
        else:
            edge_index = checked
            if loops:
                edge_index, _ = self._with_self_loops(
                    edge_index, None, x_src.size(0), self.fill_value)
            # edge_updater_type: (score: PairTensor)
            alpha = self.edge_updater(edge_index, score=(score_src,
                                                         score_dst),
                                      size=size if bipartite else None)
            # propagate_type: (x: PairTensor, alpha: Tensor)
            out = self.propagate(edge_index, x=(h_src, h_dst), alpha=alpha,
                                 size=size if bipartite else None)
            adjacency = edge_index
        if self.act is not None:
            out = self.act(out)
        out = (out.flatten(1) if self.concat else
               out.mean(dim=1))
        return out, adjacency, alpha

    def _semantic_level(self, zs: Tensor) -> Tuple[Tensor, Tensor]:
        """``(Z, beta)`` from the stacked per-meta-path embeddings
        ``[T, N, D]``."""
        if zs.size(1) == 0:  # no target nodes: equal weights
            beta = zs.new_full((zs.size(0), ), 1.0 / zs.size(0))
        else:
            scores = torch.tanh(self.semantic_lin(zs)) @ self.semantic_q.t()
            beta = torch.softmax(scores.squeeze(-1).mean(dim=1), dim=0)
        return (beta.view(-1, 1, 1) * zs).sum(dim=0), beta

    def edge_update(self, score_j: Tensor, score_i: Tensor, index: Tensor,
                    ptr: Optional[Tensor],
                    dim_size: Optional[int]) -> Tensor:
        logits = F.leaky_relu(score_j + score_i, self.negative_slope)
        alpha = segment_softmax(logits, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        kind = (f'num_metapaths={len(self.edge_types)}' if self.homogeneous
                else f'edge_types={len(self.edge_types)}')
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads}, {kind})')
