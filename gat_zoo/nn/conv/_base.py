"""Machinery shared by the attention convolutions of :mod:`gat_zoo`.

:class:`AttentionConv` is a :class:`~torch_geometric.nn.conv.MessagePassing`
whose aggregation runs on :func:`gat_zoo.ops.segment_aggregate`, plus the
graph plumbing every attention layer repeats: reading ``x`` or
``(x_src, x_dst)``, validating the adjacency in any of its layouts, adding
self-loops, and packaging ``return_attention_weights`` the way PyG does.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import OptTensor, SparseTensor, torch_sparse
from torch_geometric.utils import (
    add_self_loops,
    is_torch_sparse_tensor,
    remove_self_loops,
    scatter,
)
from torch_geometric.utils.sparse import set_sparse_value

from gat_zoo.nn.validation import (
    check_adjacency,
    check_edge_attr,
    check_edge_type,
    check_finite,
    check_node_features,
    node_counts,
    validation_enabled,
)
from gat_zoo.ops import (
    CSRGraph,
    cached_csr,
    fused_allowed,
    head_spmm,
    segment_aggregate,
    segment_softmax,
    triton_selected,
)

_HOOK_DICTS = (
    '_propagate_forward_pre_hooks', '_propagate_forward_hooks',
    '_message_forward_pre_hooks', '_message_forward_hooks',
    '_aggregate_forward_pre_hooks', '_aggregate_forward_hooks',
    '_message_and_aggregate_forward_pre_hooks',
    '_message_and_aggregate_forward_hooks',
    '_edge_update_forward_pre_hooks', '_edge_update_forward_hooks',
)

_SEGMENT_REDUCTIONS = {'add': 'sum', 'sum': 'sum', 'mean': 'mean',
                       'max': 'max'}


def _is_sparse_tensor(adj: Any) -> bool:
    return isinstance(adj, SparseTensor) and not isinstance(adj, Tensor)


def edge_index_of(adjacency: Any, num_nodes: int,
                  device: Optional[torch.device]
                  ) -> Tuple[Tensor, OptTensor]:
    """``([2, E] int64 (source, target) index, the adjacency's values or
    None)`` from any supported layout (``edge_index``, ``EdgeIndex``,
    ``SparseTensor``, torch sparse), checked against a square graph of
    ``num_nodes`` nodes: the input handling of layers that work on the
    edge list itself (relational layers, fixed propagation operators)."""
    if _is_sparse_tensor(adjacency):
        sizes = adjacency.sparse_sizes()
        if validation_enabled() and tuple(sizes) != (num_nodes, num_nodes):
            raise ValueError(f"The SparseTensor adjacency has sizes "
                             f"{tuple(sizes)} but the graph has "
                             f"{num_nodes} nodes")
        row, col, value = adjacency.coo()
        return torch.stack([col, row], dim=0), value
    if isinstance(adjacency, Tensor) and is_torch_sparse_tensor(adjacency):
        if validation_enabled() and tuple(adjacency.shape[:2]) != (
                num_nodes, num_nodes):
            raise ValueError(f"The sparse adjacency has shape "
                             f"{tuple(adjacency.shape)} but the graph has "
                             f"{num_nodes} nodes")
        from torch_geometric.utils import to_edge_index
        index, value = to_edge_index(adjacency)
        return index.flip(0), value
    if validation_enabled():
        adjacency = check_adjacency(adjacency, num_nodes, num_nodes,
                                    device=device)
    if type(adjacency) is not Tensor:
        adjacency = adjacency.as_subclass(Tensor)
    return adjacency.long(), None


def _is_sparse_layout(adjacency: Any) -> bool:
    return _is_sparse_tensor(adjacency) or (
        isinstance(adjacency, Tensor) and is_torch_sparse_tensor(adjacency))


def _refuse_beside_sparse(adjacency: Any, per_edge: Any, name: str,
                          what: str) -> None:
    if per_edge is not None and _is_sparse_layout(adjacency):
        raise ValueError(f"'{name}' cannot be given beside a sparse "
                         f"adjacency (its edges are in its own sorted "
                         f"order): store {what} as the sparse matrix's "
                         f"values, or pass an edge_index")


def typed_edges_of(adjacency: Any, edge_type: Optional[Tensor],
                   num_nodes: int, device: torch.device
                   ) -> Tuple[Tensor, OptTensor]:
    """:func:`edge_index_of` for relational input: the index and the edge
    types, given as ``edge_type`` or, for a sparse adjacency, as its values.

    A sparse adjacency orders its edges itself (sorted by target), so
    relation ids given beside it in the caller's edge order would be
    silently misaligned: that combination is an error."""
    _refuse_beside_sparse(adjacency, edge_type, 'edge_type',
                          'the relation ids')
    index, value = edge_index_of(adjacency, num_nodes, device)
    return index, edge_type if edge_type is not None else value


def check_model_input(x: Any, edge_index: Any,
                      in_channels: Optional[int] = None,
                      finite: bool = True) -> None:
    """The entry check of a network whose first step is not one of the
    attention layers (an input projection, a precomputed propagation, a
    symmetrised copy of the graph): ``x`` a finite ``[N, in_channels]``
    floating-point matrix and ``edge_index`` a graph over its ``N`` nodes,
    on its device, in any supported layout. Without it a bad input would
    surface as a shape error deep inside a ``Linear`` or, worse, as a
    silently wrong preprocessing of the graph. ``finite=False`` skips the
    scan for NaN and infinity (one pass over ``x``) where the network's
    first layer makes it anyway."""
    if not validation_enabled():
        return
    check_node_features(x, 'x', in_channels, finite=finite)
    edge_index_of(edge_index, x.size(0), x.device)


def weighted_edges_of(adjacency: Any, num_nodes: int, edge_weight: Any,
                      device: Optional[torch.device]
                      ) -> Tuple[Tensor, OptTensor]:
    """``(index [2, E], edge_weight [E] or None)``: :func:`edge_index_of`
    plus the edge weights of layers that take them: the given
    ``edge_weight``, checked against the edge count, or else the
    adjacency's own floating-point values (a weighted ``SparseTensor`` or
    torch sparse matrix). Weights given beside a sparse adjacency are an
    error, as for :func:`typed_edges_of`."""
    _refuse_beside_sparse(adjacency, edge_weight, 'edge_weight',
                          'the weights')
    index, value = edge_index_of(adjacency, num_nodes, device)
    if edge_weight is None and value is not None and (
            value.is_floating_point()):
        edge_weight = value
    if edge_weight is not None and validation_enabled():
        if not isinstance(edge_weight, Tensor):
            raise TypeError(f"'edge_weight' must be a torch.Tensor (got "
                            f"{type(edge_weight).__name__})")
        if edge_weight.dim() != 1 or edge_weight.numel() != index.size(1):
            raise ValueError(f"'edge_weight' must have shape [num_edges] = "
                             f"[{index.size(1)}] (got "
                             f"{tuple(edge_weight.shape)})")
        if edge_weight.is_floating_point():
            check_finite(edge_weight, 'edge_weight')
    return index, edge_weight


class AttentionConv(MessagePassing):
    """Base class: message passing whose aggregation uses gat_zoo's segment
    kernels, with shared input handling for attention layers."""

    #: Whether node features may be a sparse CSR matrix (the input touches
    #: nothing but linear projections, which take it as a sparse product).
    supports_sparse_features: bool = False

    def aggregate(self, inputs: Tensor, index: Tensor,
                  ptr: Optional[Tensor] = None,
                  dim_size: Optional[int] = None) -> Tensor:
        reduce = _SEGMENT_REDUCTIONS.get(self.aggr) if isinstance(
            self.aggr, str) else None
        if reduce is None:  # a learnable or multi aggregation: PyG's own
            return super().aggregate(inputs, index, ptr=ptr,
                                     dim_size=dim_size)
        return segment_aggregate(inputs, index, ptr=ptr,
                                 num_segments=dim_size, reduce=reduce)

    def _init_projections(self, in_channels: Union[int, Tuple[int, int]],
                          width: int) -> None:
        """GAT's bias-free Glorot projections: one shared ``lin`` for a
        single input size, ``lin_src``/``lin_dst`` for a pair (PyG's
        parameter names, so that state dicts carry over)."""
        self.lin: Optional[Linear] = None
        self.lin_src: Optional[Linear] = None
        self.lin_dst: Optional[Linear] = None
        if isinstance(in_channels, int):
            self.lin = Linear(in_channels, width, bias=False,
                              weight_initializer='glorot')
        else:
            self.lin_src = Linear(in_channels[0], width, bias=False,
                                  weight_initializer='glorot')
            self.lin_dst = Linear(in_channels[1], width, bias=False,
                                  weight_initializer='glorot')

    # ------------------------------------------------------------------
    # Input handling.
    # ------------------------------------------------------------------
    @staticmethod
    def _split_features(
        x: Union[Tensor, Tuple[Tensor, Optional[Tensor]]],
        in_channels: Union[int, Tuple[int, int]],
        size: Optional[Tuple[int, int]],
    ) -> Tuple[Tensor, Optional[Tensor], bool]:
        """``(x_src, x_dst, bipartite_input)``, checked against the layer's
        input sizes and ``size``."""
        if isinstance(x, (tuple, list)):
            if len(x) != 2:
                raise ValueError(f"'x' must be a tensor or a pair "
                                 f"(x_src, x_dst) (got {len(x)} entries)")
            x_src, x_dst = x
            bipartite = True
        else:
            x_src, x_dst, bipartite = x, x, False
        if validation_enabled():
            c_src, c_dst = ((in_channels, in_channels) if isinstance(
                in_channels, int) else in_channels)
            s_src, s_dst = (None, None) if size is None else size
            check_node_features(x_src, 'x_src' if bipartite else 'x', c_src,
                                s_src)
            if x_dst is not None and bipartite:
                check_node_features(x_dst, 'x_dst', c_dst, s_dst)
                if x_dst.device != x_src.device:
                    raise ValueError(f"'x_src' is on {x_src.device} but "
                                     f"'x_dst' is on {x_dst.device}")
            elif size is not None and not bipartite and s_dst != s_src:
                raise ValueError(f"'size' {tuple(size)} describes a "
                                 f"bipartite graph but a single feature "
                                 f"matrix was given")
        return x_src, x_dst, bipartite

    @staticmethod
    def _check_graph(edge_index: Any, edge_attr: Optional[Tensor],
                     x_src: Tensor, x_dst: Optional[Tensor], bipartite: bool,
                     size: Optional[Tuple[int, int]],
                     edge_dim: Optional[int]) -> Any:
        """Validate the adjacency in any supported layout; returns it with
        a dense index widened to int64."""
        if not validation_enabled():
            return edge_index
        num_src, num_dst = node_counts(x_src, x_dst, size)
        if not bipartite and size is None:
            num_dst = num_src
        if _is_sparse_tensor(edge_index):
            sizes = edge_index.sparse_sizes()
            expected = (num_dst, num_src)
            if any(e is not None and s != e
                   for s, e in zip(sizes, expected)):
                raise ValueError(f"The SparseTensor adjacency has sizes "
                                 f"{tuple(sizes)} but the node features "
                                 f"give (num_dst, num_src) = {expected}")
            num_edges = edge_index.nnz()
        elif isinstance(edge_index, Tensor) and is_torch_sparse_tensor(
                edge_index):
            expected = (num_dst, num_src)
            if any(e is not None and s != e
                   for s, e in zip(edge_index.shape, expected)):
                raise ValueError(f"The sparse adjacency has shape "
                                 f"{tuple(edge_index.shape)} but the node "
                                 f"features give (num_dst, num_src) = "
                                 f"{expected}")
            num_edges = edge_index._nnz()
        else:
            edge_index = check_adjacency(edge_index, num_src, num_dst,
                                         device=x_src.device)
            num_edges = edge_index.size(1)
        check_edge_attr(edge_attr, num_edges, edge_dim)
        return edge_index

    @staticmethod
    def _with_self_loops(edge_index: Any, edge_attr: Optional[Tensor],
                         num_nodes: int,
                         fill_value: Any) -> Tuple[Any, Optional[Tensor]]:
        """Replace existing self-loops by exactly one per node, as the GAT
        paper's neighbourhood :math:`\\mathcal{N}(i) \\cup \\{i\\}` asks.

        ``num_nodes`` is the number of nodes present on both sides (for a
        bipartite graph, the smaller side)."""
        if _is_sparse_tensor(edge_index):
            if edge_attr is not None:
                raise NotImplementedError(
                    "Edge features together with 'add_self_loops=True' are "
                    "not supported for SparseTensor adjacency; pass an "
                    "edge_index tensor or add the self-loops beforehand")
            return torch_sparse.set_diag(edge_index), None
        edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
        if (edge_attr is not None and isinstance(fill_value, str)
                and not is_torch_sparse_tensor(edge_index)):
            # Reduce incoming edge features over *all* targets, then keep the
            # looped ones: PyG's helper sizes this reduction by the loop count
            # and indexes out of bounds when a bipartite graph has more
            # targets than sources.
            target = edge_index[1]
            num_targets = max(num_nodes, int(target.max()) +
                              1 if target.numel() else 0)
            fill_value = scatter(edge_attr, target, 0, dim_size=num_targets,
                                 reduce=fill_value)[:num_nodes]
        return add_self_loops(edge_index, edge_attr, fill_value=fill_value,
                              num_nodes=num_nodes)

    @staticmethod
    def _loop_count(x_src: Tensor, x_dst: Optional[Tensor],
                    size: Optional[Tuple[int, int]]) -> int:
        if size is not None:
            return min(size)
        if x_dst is not None:
            return min(x_src.size(0), x_dst.size(0))
        return x_src.size(0)

    def _combine_heads(self, out: Tensor, res: Optional[Tensor]) -> Tensor:
        """``[N, H, C]`` → concatenated ``[N, H*C]`` or head mean
        ``[N, C]``, plus the skip connection and the bias."""
        if self.concat:
            out = out.reshape(out.size(0), out.size(1) * out.size(2))
        else:
            out = out.mean(dim=1)
        if res is not None:
            out = out + res
        if self.bias is not None:
            out = out + self.bias
        return out

    # ------------------------------------------------------------------
    # Fused path.
    # ------------------------------------------------------------------
    def _messages_unobserved(self, device: torch.device) -> bool:
        """Whether the layer may skip the message-passing steps on
        ``device``: unless the fused mode forbids it there, or anything
        observes those steps (PyG hooks, explain mode, decomposed
        layers). Layers whose every adjacency layout becomes the same
        sparse operator need nothing more."""
        if not fused_allowed(device):
            return False
        if self.decomposed_layers > 1 or self.explain:
            return False
        return not any(getattr(self, name, None) for name in _HOOK_DICTS)

    def _fusable(self, edge_index: Any, x_src: Tensor) -> bool:
        """Whether this call may take the fused CSR path.

        It may unless the mode forbids it on this device, the adjacency is
        a torch sparse tensor, or anything observes the message-passing
        steps the fused path skips: PyG hooks (e.g. the one
        :class:`~torch_geometric.explain.AttentionExplainer` registers to
        read ``alpha``), explain mode, or decomposed layers.
        """
        if not self._messages_unobserved(x_src.device):
            return False
        if _is_sparse_tensor(edge_index):
            return True
        return isinstance(edge_index, Tensor) and not is_torch_sparse_tensor(
            edge_index)

    def _fused_graph(self, edge_index: Any, checked_index: Any,
                     x_src: Tensor, x_dst: Optional[Tensor],
                     size: Optional[Tuple[int, int]],
                     add_loops: Optional[bool] = None
                     ) -> Tuple[CSRGraph, Any]:
        """``(graph, adjacency)``: the target-major CSR graph (self-loops
        included when the layer adds them) and the adjacency in the
        caller's layout and order, as ``return_attention_weights`` reports
        it.

        ``edge_index`` is the object the caller passed (the cache key: a
        static graph is sorted once, not on every call), ``checked_index``
        the validated index derived from it; ``add_loops`` overrides the
        layer's ``add_self_loops`` (e.g. per relation of a heterogeneous
        layer)."""
        num_src, num_dst = node_counts(x_src, x_dst, size)
        if num_dst is None:
            num_dst = num_src
        if add_loops is None:
            add_loops = bool(getattr(self, 'add_self_loops', False))
        loops = self._loop_count(x_src, x_dst, size)

        def build() -> Tuple[CSRGraph, Any]:
            adj = checked_index
            if _is_sparse_tensor(adj):
                if add_loops:
                    adj = torch_sparse.set_diag(adj)
                rowptr, col, _ = adj.csr()
                return CSRGraph(rowptr, col, num_src,
                                row=adj.storage.row()), adj
            plain = adj.as_subclass(Tensor) if type(adj) is not Tensor \
                else adj
            if add_loops:
                plain, _ = self._with_self_loops(plain, None, loops,
                                                 self.fill_value)
            return CSRGraph.from_edge_index(plain, num_src, num_dst), plain

        return cached_csr(edge_index, (num_src, num_dst, add_loops, loops),
                          build)

    def _fused_edge_attr(self, edge_index: Any, edge_attr: Tensor,
                         x_src: Tensor, x_dst: Optional[Tensor],
                         size: Optional[Tuple[int, int]]) -> Tensor:
        """Edge features of the fused graph's edges, in the caller's order
        (the self-loops' features filled in as the reference path does)."""
        attr: Optional[Tensor] = edge_attr
        if getattr(self, 'add_self_loops', False):
            _, attr = self._with_self_loops(
                edge_index, edge_attr, self._loop_count(x_src, x_dst, size),
                self.fill_value)
        assert attr is not None
        return attr.view(-1, 1) if attr.dim() == 1 else attr

    def _fused_output(self, graph: CSRGraph, alpha: Tensor, h_src: Tensor,
                      res: Optional[Tensor], adjacency: Any,
                      return_attention_weights: Optional[bool]):
        """Attention dropout, aggregation and output packaging of the fused
        path, from coefficients ``alpha`` ``[E, H]`` in CSR order."""
        dropout = getattr(self, 'dropout', 0.0)
        if self.training and dropout > 0:
            # The mask is drawn in the caller's edge order, as the
            # message-passing path draws it, so both paths see the same
            # random neighbourhoods under the same seed.
            keep = F.dropout(alpha.new_ones(alpha.shape), p=dropout)
            alpha = alpha * graph.to_csr_order(keep)
        self._attention_computed(alpha)
        out = self._combine_heads(head_spmm(graph, alpha, h_src), res)
        if return_attention_weights:
            return self._attention_result(out, adjacency,
                                          graph.to_caller_order(alpha))
        return out

    def _attention_computed(self, alpha: Tensor) -> None:
        """Called with each forward pass's coefficients ``[E, H]`` (after
        attention dropout, in either path's edge order), for subclasses
        that keep them, e.g. for a penalty on the attention."""

    def _triton_applies(self, device: torch.device,
                        return_attention_weights: Optional[bool]) -> bool:
        """Whether a fused call may run as one Triton kernel, which never
        writes the coefficients: the mode asks for it and it can run on
        ``device``, and nothing needs them (neither the caller nor a
        subclass's :meth:`_attention_computed`)."""
        return (not return_attention_weights and triton_selected(device)
                and type(self)._attention_computed
                is AttentionConv._attention_computed)

    @staticmethod
    def _attention_result(out: Tensor, edge_index: Any, alpha: Tensor):
        """``return_attention_weights`` output in PyG's conventions."""
        if _is_sparse_tensor(edge_index):
            return out, edge_index.set_value(alpha, layout='coo')
        if is_torch_sparse_tensor(edge_index):
            return out, (set_sparse_value(edge_index, alpha), alpha)
        return out, (edge_index, alpha)


class RelationalInput:
    """Input handling of relational layers (``num_relations`` edge types):
    the adjacency in any layout as a ``[2, E]`` (source, target) index with
    its edge types (a sparse adjacency may carry them as values), and the
    edge types checked against ``self.num_relations``."""

    num_relations: int

    def _edges(self, edge_index: Any, edge_type: OptTensor, num_nodes: int,
               device: torch.device) -> Tuple[Tensor, OptTensor]:
        """``([2, E] int64 (source, target) index, edge types or None)``
        from any layout, checked."""
        return typed_edges_of(edge_index, edge_type, num_nodes, device)

    def _check_edge_type(self, edge_type: OptTensor, num_edges: int,
                         device: torch.device) -> Tensor:
        return check_edge_type(edge_type, num_edges, self.num_relations,
                               device)


def add_optional(a: OptTensor, b: OptTensor) -> OptTensor:
    """``a + b`` where either may be absent."""
    if a is None:
        return b
    return a if b is None else a + b


class HeadwiseAttentionConv(AttentionConv):
    """An :class:`AttentionConv` with one coefficient per edge and head
    (GAT's form): the coefficients are a softmax over each target's
    incoming edges, dropped out in training, and scale the source's
    ``[H, C]`` message. Subclasses compute the logits in ``edge_update``
    and pass them to :meth:`attention_softmax`; they need ``heads``,
    ``dropout``, ``in_channels`` and ``out_channels`` attributes."""

    def attention_softmax(self, logits: Tensor, index: Tensor,
                          ptr: OptTensor, dim_size: Optional[int]) -> Tensor:
        alpha = segment_softmax(logits, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def _attention_inputs(self, x: Any, edge_index: Any,
                          edge_attr: OptTensor, size: Any, extra: Any,
                          need_dst: bool = False
                          ) -> Tuple[Tensor, OptTensor, bool, Any, Any]:
        """The checked inputs of a forward pass: ``(x_src, x_dst,
        bipartite, checked edge index, bias source)``. ``extra`` is a
        subclass's own forward argument, which :meth:`_bias_source` turns
        into an additive per-edge logit term (PPRGAT's personalised
        PageRank scores); ``need_dst`` refuses ``(x_src, None)``."""
        x_src, x_dst, bipartite = self._split_features(
            x, self.in_channels, size)
        if need_dst and x_dst is None:
            raise ValueError(f"{type(self).__name__} needs target node "
                             f"features: the attention logit depends on "
                             f"x_i, so (x_src, None) is not supported")
        checked = self._check_graph(edge_index, edge_attr, x_src, x_dst,
                                    bipartite, size, self.edge_dim)
        bias_source = self._bias_source(extra, edge_index, x_src, x_dst,
                                        bipartite, size)
        return x_src, x_dst, bipartite, checked, bias_source

    # An additive per-edge logit term from a subclass's own forward
    # argument (PPRGAT's PageRank scores), in both execution paths. The
    # base layer has none.
    def _bias_source(self, extra: Any, adjacency: Any, x_src: Tensor,
                     x_dst: OptTensor, bipartite: bool, size: Any) -> Any:
        """Checks ``extra`` against this call's graph and prepares what
        :meth:`_reference_bias` and :meth:`_fused_bias` read."""
        return None

    def _reference_bias(self, edge_index: Any, source: Any,
                        dtype: torch.dtype) -> OptTensor:
        """``[E, H]`` terms for the message-passing path's edges
        (self-loops added), or :obj:`None`."""
        return None

    def _fused_bias(self, graph: CSRGraph, source: Any,
                    dtype: torch.dtype) -> OptTensor:
        """``[E, H]`` terms for the fused graph's edges, in its CSR
        order, or :obj:`None`."""
        return None

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads})')
