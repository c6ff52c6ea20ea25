from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, Size

from gat_zoo.nn.conv._base import HeadwiseAttentionConv, add_optional
from gat_zoo.ops import (
    gatv2_logits,
    segment_softmax,
    triton_gatv2_attention,
)


class GATv2Conv(HeadwiseAttentionConv):
    r"""The GATv2 operator from the `"How Attentive are Graph Attention
    Networks?" <https://arxiv.org/abs/2105.14491>`_ paper, which fixes the
    static attention problem of :class:`~gat_zoo.nn.GATConv`: since the
    linear layers of GAT are applied right after each other, the ranking of
    attended nodes is the same for every query node. GATv2 applies the
    non-linearity before the attention vector, making attention *dynamic*:

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \alpha_{i,j}\mathbf{\Theta}_{s}\mathbf{x}_{j},

    .. math::
        \alpha_{i,j} =
        \frac{
        \exp\left(\mathbf{a}^{\top}\mathrm{LeakyReLU}\left(
        \mathbf{\Theta}_{s} \mathbf{x}_j + \mathbf{\Theta}_{t} \mathbf{x}_{i}
        + \mathbf{\Theta}_{e} \mathbf{e}_{i,j}
        \right)\right)}
        {\sum_{k \in \mathcal{N}(i) \cup \{ i \}}
        \exp\left(\mathbf{a}^{\top}\mathrm{LeakyReLU}\left(
        \mathbf{\Theta}_{s} \mathbf{x}_k + \mathbf{\Theta}_{t} \mathbf{x}_{i}
        + \mathbf{\Theta}_{e} \mathbf{e}_{i,k}
        \right)\right)}.

    The paper writes :math:`\mathbf{a}^{\top}\mathrm{LeakyReLU}(\mathbf{W}
    [\mathbf{h}_i \Vert \mathbf{h}_j])`; splitting
    :math:`\mathbf{W} = [\mathbf{\Theta}_t \,\Vert\, \mathbf{\Theta}_s]` gives
    the form above, and the message uses :math:`\mathbf{\Theta}_s`
    (``lin_l``; ``lin_r`` is :math:`\mathbf{\Theta}_t`). Because the
    non-linearity sits between the two halves, the logit cannot be split
    per node: every edge needs an :math:`H \times F'` hidden vector. The
    message-passing path builds all of them at once; the fused path
    (:func:`gat_zoo.ops.gatv2_logits`) one chunk of edges at a time; under
    ``gat_zoo.ops.use_fused('triton')`` on a CUDA tensor one Triton kernel
    (:func:`gat_zoo.ops.triton_gatv2_attention`) forms them from the source
    rows it aggregates, so they never reach memory (not with edge features,
    returned attention weights or a subclass that keeps them; its dropout
    mask is a hash of (seed, edge, head)).

    A drop-in replacement for :class:`torch_geometric.nn.conv.GATv2Conv`
    (same arguments, parameter names and state dict); softmax and
    aggregation run on :mod:`gat_zoo.ops`.

    Args:
        in_channels (int or tuple): Size of each input sample, or :obj:`-1`
            to derive the size from the first input(s) to the forward method.
            A tuple corresponds to the sizes of source and target
            dimensionalities in case of a bipartite graph.
        out_channels (int): Size of each output sample per head.
        heads (int, optional): Number of attention heads.
            (default: :obj:`1`)
        concat (bool, optional): If set to :obj:`False`, the heads are
            averaged instead of concatenated. (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU angle of the negative
            slope. (default: :obj:`0.2`)
        dropout (float, optional): Dropout probability of the normalised
            attention coefficients. (default: :obj:`0`)
        add_self_loops (bool, optional): If set to :obj:`False`, will not
            replace the graph's self-loops by one self-loop per node.
            (default: :obj:`True`)
        edge_dim (int, optional): Edge feature dimensionality (in case there
            are any). (default: :obj:`None`)
        fill_value (float or torch.Tensor or str, optional): The way to
            generate edge features of self-loops (in case
            :obj:`edge_dim != None`). (default: :obj:`"mean"`)
        bias (bool, optional): If set to :obj:`False`, the layer will not
            learn additive biases (in ``lin_l``/``lin_r`` and on the
            output). (default: :obj:`True`)
        share_weights (bool, optional): If set to :obj:`True`,
            :math:`\mathbf{\Theta}_s = \mathbf{\Theta}_t`.
            (default: :obj:`False`)
        residual (bool, optional): If set to :obj:`True`, the layer adds a
            learnable skip-connection. (default: :obj:`False`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})` or
          :math:`((|\mathcal{V_s}|, F_{s}), (|\mathcal{V_t}|, F_{t}))`
          if bipartite,
          edge indices :math:`(2, |\mathcal{E}|)`,
          edge features :math:`(|\mathcal{E}|, D)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, H * F_{out})` or
          :math:`((|\mathcal{V}_t|, H * F_{out})` if bipartite.
          If :obj:`return_attention_weights=True`, then
          :math:`((|\mathcal{V}|, H * F_{out}),
          ((2, |\mathcal{E}|), (|\mathcal{E}|, H)))`
          or :math:`((|\mathcal{V_t}|, H * F_{out}), ((2,
          |\mathcal{E}|), (|\mathcal{E}|, H)))` if bipartite
    """

    supports_sparse_features = True

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: Optional[int] = None,
        fill_value: Union[float, Tensor, str] = 'mean',
        bias: bool = True,
        share_weights: bool = False,
        residual: bool = False,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.edge_dim = edge_dim
        self.fill_value = fill_value
        self.residual = residual
        self.share_weights = share_weights

        width = heads * out_channels
        src_channels, dst_channels = ((in_channels, in_channels)
                                      if isinstance(in_channels, int) else
                                      in_channels)
        self.lin_l = Linear(src_channels, width, bias=bias,
                            weight_initializer='glorot')
        if share_weights:
            self.lin_r = self.lin_l
        else:
            self.lin_r = Linear(dst_channels, width, bias=bias,
                                weight_initializer='glorot')

        self.att = Parameter(torch.empty(1, heads, out_channels))

        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, width, bias=False,
                                   weight_initializer='glorot')
        else:
            self.lin_edge = None

        out_width = out_channels * (heads if concat else 1)
        if residual:
            self.res = Linear(dst_channels, out_width, bias=False,
                              weight_initializer='glorot')
        else:
            self.register_parameter('res', None)

        if bias:
            self.bias = Parameter(torch.empty(out_width))
        else:
            self.register_parameter('bias', None)

        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in (self.lin_l, self.lin_r, self.lin_edge, self.res):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att)
        zeros(self.bias)

    def forward(
        self,
        x: Union[Tensor, OptPairTensor],
        edge_index: Adj,
        edge_attr: OptTensor = None,
        size: Size = None,
        return_attention_weights: Optional[bool] = None,
    ):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor or (torch.Tensor, torch.Tensor)): The input node
                features, or a pair ``(x_src, x_dst)`` for a bipartite
                graph.
            edge_index (torch.Tensor or SparseTensor): The edge indices.
            edge_attr (torch.Tensor, optional): The edge features.
                (default: :obj:`None`)
            size ((int, int), optional): The shape of the adjacency matrix.
                (default: :obj:`None`)
            return_attention_weights (bool, optional): If truthy, also
                returns ``(edge_index, attention_weights)``, the edges
                including the added self-loops. (default: :obj:`None`)
        """
        return self._attend(x, edge_index, edge_attr, size,
                            return_attention_weights, None)

    def _attend(self, x: Union[Tensor, OptPairTensor], edge_index: Adj,
                edge_attr: OptTensor, size: Size,
                return_attention_weights: Optional[bool], extra: Any):
        """The forward pass; ``extra`` as in :meth:`_attention_inputs`."""
        H, C = self.heads, self.out_channels
        adjacency = edge_index
        x_src, x_dst_opt, bipartite, edge_index, bias_source = \
            self._attention_inputs(x, edge_index, edge_attr, size, extra,
                                   need_dst=True)
        assert x_dst_opt is not None
        x_dst: Tensor = x_dst_opt

        res: Optional[Tensor] = None
        if self.res is not None:
            res = self.res(x_dst)

        h_src = self.lin_l(x_src).view(-1, H, C)
        if not bipartite and self.share_weights:
            h_dst = h_src
        else:
            h_dst = self.lin_r(x_dst).view(-1, H, C)

        if self._fusable(edge_index, x_src) and (
                edge_attr is None or isinstance(edge_index, Tensor)):
            return self._fused_forward(h_src, h_dst, x_src, x_dst, adjacency,
                                       edge_index, edge_attr, size, res,
                                       bias_source, return_attention_weights)

        if self.add_self_loops:
            edge_index, edge_attr = self._with_self_loops(
                edge_index, edge_attr,
                self._loop_count(x_src, x_dst, size), self.fill_value)

        logit_bias = self._reference_bias(edge_index, bias_source,
                                          h_src.dtype)
        # edge_updater_type: (x: PairTensor, edge_attr: OptTensor,
        #                     logit_bias: OptTensor)
        alpha = self.edge_updater(edge_index, x=(h_src, h_dst),
                                  edge_attr=edge_attr, logit_bias=logit_bias,
                                  size=size)
        self._attention_computed(alpha)

        # propagate_type: (x: PairTensor, alpha: Tensor)
        out = self.propagate(edge_index, x=(h_src, h_dst), alpha=alpha,
                             size=size)

        out = self._combine_heads(out, res)

        if return_attention_weights:
            return self._attention_result(out, edge_index, alpha)
        return out

    def _fused_forward(self, h_src: Tensor, h_dst: Tensor, x_src: Tensor,
                       x_dst: Tensor, adjacency, edge_index,
                       edge_attr: OptTensor, size: Size, res: OptTensor,
                       bias_source: Any,
                       return_attention_weights: Optional[bool]):
        """The same layer on a target-major CSR graph: logits from
        :func:`gat_zoo.ops.gatv2_logits` (``[E, H, C]`` hidden vectors one
        chunk at a time, recomputed in backward) and
        :func:`gat_zoo.ops.head_spmm` instead of ``[E, H, C]`` messages."""
        graph, adjacency = self._fused_graph(adjacency, edge_index, x_src,
                                             x_dst, size)
        edge_weight: OptTensor = None
        if edge_attr is not None and self.lin_edge is not None:
            edge_attr = graph.to_csr_order(self._fused_edge_attr(
                edge_index, edge_attr, x_src, x_dst, size))
            edge_weight = self.lin_edge.weight
        else:
            edge_attr = None

        # Edge features inside the LeakyReLU would need an [E, H, C] input
        # to the kernel, so they keep the composed path.
        if edge_attr is None and self._triton_applies(
                h_src.device, return_attention_weights):
            out = triton_gatv2_attention(
                graph, h_src, h_dst, self.att, self.negative_slope,
                self._fused_bias(graph, bias_source, h_src.dtype),
                self.dropout if self.training else 0.0)
            return self._combine_heads(out, res)
        logits = gatv2_logits(graph, h_src, h_dst, self.att,
                              self.negative_slope, edge_attr, edge_weight)
        logits = add_optional(logits, self._fused_bias(graph, bias_source,
                                                       logits.dtype))
        assert logits is not None
        alpha = segment_softmax(logits, graph.row, graph.ptr, graph.num_dst)
        return self._fused_output(graph, alpha, h_src, res, adjacency,
                                  return_attention_weights)

    def edge_update(self, x_j: Tensor, x_i: Tensor, edge_attr: OptTensor,
                    logit_bias: OptTensor, index: Tensor, ptr: OptTensor,
                    dim_size: Optional[int]) -> Tensor:
        hidden = x_j + x_i
        if edge_attr is not None and self.lin_edge is not None:
            if edge_attr.dim() == 1:
                edge_attr = edge_attr.view(-1, 1)
            hidden = hidden + self.lin_edge(edge_attr).view(
                -1, self.heads, self.out_channels)
        hidden = F.leaky_relu(hidden, self.negative_slope)
        logits = (hidden * self.att).sum(dim=-1)
        if logit_bias is not None:
            logits = logits + logit_bias
        return self.attention_softmax(logits, index, ptr, dim_size)

