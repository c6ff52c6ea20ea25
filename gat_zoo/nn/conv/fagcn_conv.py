"""FAGCN's frequency-adaptive convolution (Bo, Wang, Shi, Shen, AAAI 2021),
:class:`FAGCNConv`."""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj, OptTensor, SparseTensor
from torch_geometric.utils import is_torch_sparse_tensor

from gat_zoo.nn.conv._base import (
    AttentionConv,
    _is_sparse_tensor,
    weighted_edges_of,
)
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import (
    CSRGraph,
    cached_csr,
    head_spmm,
    segment_aggregate,
)

__all__ = ['FAGCNConv']


class FAGCNConv(AttentionConv):
    r"""The frequency-adaptive graph convolution of `"Beyond Low-frequency
    Information in Graph Convolutional Networks"
    <https://arxiv.org/abs/2101.00797>`_ (FAGCN, Bo, Wang, Shi & Shen, AAAI
    2021).

    Every edge :math:`j \to i` gets a *signed* coefficient from a
    self-gate on the two end points,

    .. math::
        \alpha_{ij} = \tanh\big(\mathbf{g}^{\top}
        [\mathbf{h}_i \,\Vert\, \mathbf{h}_j]\big) \in (-1, 1),

    and the layer mixes the normalised neighbourhood with the raw (first
    layer's) representation :math:`\mathbf{h}^{(0)}`,

    .. math::
        \mathbf{h}'_i = \epsilon\, \mathbf{h}^{(0)}_i +
        \sum_{j \in \mathcal{N}(i)} \frac{\alpha_{ij}}{\sqrt{d_i d_j}}
        \mathbf{h}_j .

    A positive :math:`\alpha_{ij}` adds the neighbour (a low-pass filter,
    :math:`\epsilon I + \hat{A}`), a negative one subtracts it (high-pass,
    :math:`\epsilon I - \hat{A}`); there is no softmax, so the coefficients
    of a node need not sum to one. Here :math:`\mathbf{g} =
    [\mathbf{g}_i; \mathbf{g}_j]` is split into the target part ``att_r``
    and the neighbour part ``att_l`` (PyG's parameter names, so that a
    :class:`torch_geometric.nn.conv.FAConv` state dict loads strictly).

    **Graph handling, and where PyG differs.** As in the paper and the
    official code (``bdy9527/FAGCN``, which calls ``dgl.remove_self_loop``)
    no self-loops are added by default: :math:`\mathcal{N}(i)` is the
    graph's own neighbourhood. PyG's :class:`~torch_geometric.nn.conv.FAConv`
    adds them by default (``add_self_loops=True``); with
    :obj:`add_self_loops=False` it computes what this layer computes, and
    :obj:`add_self_loops=True` here reproduces PyG's default (every node's
    own loops replaced by exactly one). :math:`d_i` is the (weighted)
    in-degree, parallel edges count with their multiplicity and a node
    without in-edges contributes nothing (PyG's ``gcn_norm``; the official
    code works on symmetrised, simple graphs, where in- and out-degree
    agree). Edge dropout acts on the normalised coefficients during
    training, as in the paper and the official code. The official gate is a
    ``Linear(2C, 1)`` *with* a bias, which the paper's equation does not
    have; :obj:`bias=True` adds it. The official code initialises the gate
    with Xavier-normal (gain :math:`\sqrt 2`, over the whole
    :math:`2C`-wide gate), as :meth:`reset_parameters` does here.

    **Attention.** The signed coefficients :math:`\alpha_{ij}` (before the
    degree normalisation and the dropout) are computed in
    :meth:`edge_update` and reach :meth:`message` as ``alpha`` (multiplied
    by :math:`1/\sqrt{d_i d_j}` and dropped out); they are what
    :obj:`return_attention_weights=True` returns, as PyG does. The survey
    files FAGCN under multi-channel attention; these coefficients are not a
    softmax distribution (signed and unnormalised), and the "channels" are
    the low- and high-pass parts of one signed propagation, not separate
    branches.

    **Execution.** The normalised graph is built once per ``edge_index``
    object (while it is not edited in place) and sorted by target; the
    aggregation is then one CSR sparse-dense product weighted by the
    coefficients (:func:`gat_zoo.ops.head_spmm`). Where PyG hooks, explain
    mode or the device mode ask for it, the layer runs PyG's
    ``edge_updater``/``propagate`` steps instead, with the same numbers.

    Args:
        channels (int): Size :math:`C` of each input (and output) sample.
        eps (float, optional): :math:`\epsilon`, the weight of the raw
            representation. (default: :obj:`0.1`, PyG's; the official code
            uses :obj:`0.3`)
        dropout (float, optional): Dropout probability of the edge
            coefficients during training. (default: :obj:`0.0`)
        cached (bool, optional): Cache the normalised graph of the first
            call and reuse it (transductive use only, as PyG's). Without it
            the normalisation is still cached per ``edge_index`` object
            while that object is unchanged. (default: :obj:`False`)
        add_self_loops (bool, optional): Replace the graph's self-loops by
            one per node before normalising (PyG's default, not the paper).
            (default: :obj:`False`)
        normalize (bool, optional): Compute :math:`1/\sqrt{d_i d_j}`; with
            :obj:`False` the given :obj:`edge_weight` is used as the
            normalisation instead (as PyG's). (default: :obj:`True`)
        bias (bool, optional): Add a learnable bias inside the
            :math:`\tanh` gate (the official code's). (default:
            :obj:`False`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, C)`,
          raw node features :math:`(|\mathcal{V}|, C)`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a ``SparseTensor`` /
          torch sparse adjacency / ``EdgeIndex``),
          edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, C)`, or with
          :obj:`return_attention_weights=True`
          :math:`((|\mathcal{V}|, C), ((2, |\mathcal{E}'|),
          (|\mathcal{E}'|)))` (the edges used, self-loops included when
          added, and :math:`\alpha` per edge; for a ``SparseTensor`` input
          a ``SparseTensor`` holding :math:`\alpha`)
    """

    def __init__(self, channels: int, eps: float = 0.1, dropout: float = 0.0,
                 cached: bool = False, add_self_loops: bool = False,
                 normalize: bool = True, bias: bool = False, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if isinstance(channels, bool) or not isinstance(channels, int) or \
                channels < 1:
            raise ValueError(f"'channels' must be a positive int (got "
                             f"{channels!r})")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or \
                not math.isfinite(eps):
            raise ValueError(f"'eps' must be a finite number (got {eps!r})")
        if isinstance(dropout, bool) or not isinstance(
                dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be a probability in [0, 1) "
                             f"(got {dropout!r})")
        self.channels = channels
        self.eps = float(eps)
        self.dropout = float(dropout)
        self.cached = bool(cached)
        self.add_self_loops = bool(add_self_loops)
        self.normalize = bool(normalize)
        self.att_l = Linear(channels, 1, bias=False)   # neighbour j
        self.att_r = Linear(channels, 1, bias=False)   # target i
        if bias:
            self.att_bias = Parameter(torch.empty(1))
        else:
            self.register_parameter('att_bias', None)
        self._cached_graph: Optional[Tuple[Tensor, Tensor, CSRGraph]] = None
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        # Xavier-normal over the whole gate g in R^{2C} (fan_in 2C,
        # fan_out 1), gain sqrt(2): the official initialisation.
        std = math.sqrt(2.0) * math.sqrt(2.0 / (2 * self.channels + 1))
        with torch.no_grad():
            self.att_l.weight.normal_(0.0, std)
            self.att_r.weight.normal_(0.0, std)
            if self.att_bias is not None:
                bound = 1.0 / math.sqrt(2 * self.channels)
                self.att_bias.uniform_(-bound, bound)
        self._cached_graph = None

    # ------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        # A state dict of PyG's FAConv has no gate bias: with bias=True it
        # loads as a zero bias (the same layer), so it also loads strictly.
        key = prefix + 'att_bias'
        if (self.att_bias is not None and key not in state_dict
                and prefix + 'att_l.weight' in state_dict):
            state_dict[key] = torch.zeros_like(self.att_bias)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _graph(self, edge_index: Any, num_nodes: int,
               edge_weight: OptTensor, dtype: torch.dtype,
               device: torch.device) -> Tuple[Tensor, Tensor, CSRGraph]:
        """``(index [2, E'], norm [E'], csr)``: the edges used
        (self-loops as configured), :math:`1/\\sqrt{d_i d_j}` (times the
        edge weight) per edge, and the same edges sorted by target."""
        if self.cached and self._cached_graph is not None:
            return self._cached_graph
        index, edge_weight = weighted_edges_of(edge_index, num_nodes,
                                               edge_weight, device)
        if not self.normalize and edge_weight is None:
            raise ValueError("'normalize=False' needs the normalisation as "
                             "'edge_weight' (or as the values of a sparse "
                             "adjacency)")

        def build() -> Tuple[Tensor, Tensor, CSRGraph]:
            used, norm = self._normalized(index, num_nodes, edge_weight,
                                          dtype)
            return used, norm, CSRGraph.from_edge_index(used, num_nodes,
                                                        num_nodes)

        if edge_weight is None:
            key = ('fagcn', num_nodes, self.add_self_loops, dtype)
            graph = cached_csr(edge_index, key, build)
        else:
            graph = build()
        if self.cached:
            self._cached_graph = graph
        return graph

    def _normalized(self, index: Tensor, num_nodes: int,
                    edge_weight: OptTensor,
                    dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        weight = (torch.ones(index.size(1), dtype=dtype, device=index.device)
                  if edge_weight is None else edge_weight.to(dtype))
        if self.add_self_loops:
            loop = index[0] == index[1]
            loop_weight = weight.new_ones(num_nodes)
            loop_weight[index[0, loop]] = weight[loop]
            nodes = torch.arange(num_nodes, device=index.device)
            index = torch.cat([index[:, ~loop], nodes.expand(2, -1)], dim=1)
            weight = torch.cat([weight[~loop], loop_weight])
        if not self.normalize:
            return index, weight
        degree = segment_aggregate(weight.view(-1, 1), index[1],
                                   num_segments=num_nodes,
                                   reduce='sum').view(-1)
        inv_sqrt = torch.where(degree > 0,
                               degree.clamp_min(1e-300).rsqrt(),
                               torch.zeros_like(degree))
        norm = inv_sqrt[index[0]] * weight * inv_sqrt[index[1]]
        return index, norm

    # ------------------------------------------------------------------
    def forward(self, x: Tensor, x_0: Optional[Tensor], edge_index: Adj,
                edge_weight: OptTensor = None,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): The node representations :math:`\mathbf{h}`,
                ``[N, C]``.
            x_0 (torch.Tensor): The raw representations
                :math:`\mathbf{h}^{(0)}`, ``[N, C]``; may be :obj:`None`
                only when :obj:`eps` is 0.
            edge_index (torch.Tensor or SparseTensor or EdgeIndex): The
                edges, ``edge_index[0]`` the neighbour :math:`j`,
                ``edge_index[1]`` the target :math:`i`.
            edge_weight (torch.Tensor, optional): Edge weights ``[E]``
                (the normalisation itself when :obj:`normalize=False`).
            return_attention_weights (bool, optional): If truthy, also
                returns the signed coefficients (see *Shapes*).
        """
        if isinstance(x, (tuple, list)):
            raise ValueError("FAGCNConv takes one node feature matrix, not a "
                             "pair (x_src, x_dst): its neighbourhood "
                             "normalisation needs a square graph")
        if validation_enabled():
            check_node_features(x, 'x', self.channels)
        num_nodes = x.size(0)
        if x_0 is None:
            if self.eps != 0.0:
                raise ValueError("'x_0' (the raw representations) is needed "
                                 "when eps != 0")
        elif validation_enabled():
            check_node_features(x_0, 'x_0', self.channels, num_nodes)
        index, norm, graph = self._graph(edge_index, num_nodes, edge_weight,
                                         x.dtype, x.device)
        norm = norm.to(x.dtype)
        a_src, a_dst = self.att_l(x), self.att_r(x)
        if self._messages_unobserved(x.device):
            # Fused: the coefficients in CSR order and one sparse-dense
            # product (no [E, C] message tensor); the same numbers.
            alpha = self.edge_update(a_src.index_select(0, graph.col),
                                     a_dst.index_select(0, graph.row))
            coefficient = alpha * graph.to_csr_order(norm)
            if self.training and self.dropout > 0:
                coefficient = F.dropout(coefficient, p=self.dropout)
            out = head_spmm(graph, coefficient.view(-1, 1),
                            x.unsqueeze(1)).squeeze(1)
            alpha = graph.to_caller_order(alpha)
        else:
            # propagate_type: (alpha: PairTensor)
            alpha = self.edge_updater(index, alpha=(a_src, a_dst),
                                      size=(num_nodes, num_nodes))
            coefficient = alpha * norm
            if self.training and self.dropout > 0:
                coefficient = F.dropout(coefficient, p=self.dropout)
            # propagate_type: (x: Tensor, alpha: Tensor)
            out = self.propagate(index, x=x, alpha=coefficient,
                                 size=(num_nodes, num_nodes))
        if x_0 is not None and self.eps != 0.0:
            out = out + self.eps * x_0
        if return_attention_weights:
            return out, self._attention(edge_index, index, alpha, num_nodes)
        return out

    def edge_update(self, alpha_j: Tensor, alpha_i: Tensor) -> Tensor:
        logit = (alpha_j + alpha_i).view(-1)
        if self.att_bias is not None:
            logit = logit + self.att_bias.to(logit.dtype)
        return torch.tanh(logit)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.view(-1, 1) * x_j

    def _attention(self, adjacency: Any, index: Tensor, alpha: Tensor,
                   num_nodes: int):
        if _is_sparse_tensor(adjacency):
            if not self.add_self_loops:
                return adjacency.set_value(alpha, layout='coo')
            return SparseTensor(row=index[1], col=index[0], value=alpha,
                                sparse_sizes=(num_nodes, num_nodes))
        if isinstance(adjacency, Tensor) and is_torch_sparse_tensor(
                adjacency):
            adj = torch.sparse_coo_tensor(index.flip(0), alpha,
                                          (num_nodes, num_nodes))
            return adj, alpha
        return index, alpha

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.channels}, eps={self.eps}'
                f', add_self_loops={self.add_self_loops})')
