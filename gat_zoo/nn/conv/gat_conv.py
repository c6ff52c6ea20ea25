from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch.nn.parameter import UninitializedParameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, Size

from gat_zoo.nn.conv._base import HeadwiseAttentionConv, add_optional
from gat_zoo.ops import gat_edge_softmax, triton_attention


def _fold(weight: Tensor, att: Tensor) -> Tensor:
    r"""``[D, H]`` matrix :math:`(\mathbf{a}_h^{\top}\mathbf{\Theta}_h)_h`
    of a ``[H * C, D]`` projection and ``[1, H, C]`` attention vectors."""
    heads, channels = att.shape[-2], att.shape[-1]
    folded = (weight.view(heads, channels, -1) *
              att.view(heads, channels, 1)).sum(dim=1)
    return folded.t()


class GATConv(HeadwiseAttentionConv):
    r"""The graph attentional operator from the `"Graph Attention Networks"
    <https://arxiv.org/abs/1710.10903>`_ paper.

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \alpha_{i,j}\mathbf{\Theta}_s\mathbf{x}_{j},

    where the attention coefficients :math:`\alpha_{i,j}` are computed as

    .. math::
        \alpha_{i,j} =
        \frac{
        \exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}^{\top}_{s} \mathbf{\Theta}_{s}\mathbf{x}_j
        + \mathbf{a}^{\top}_{t} \mathbf{\Theta}_{t}\mathbf{x}_i
        + \mathbf{a}^{\top}_{e} \mathbf{\Theta}_{e} \mathbf{e}_{i,j}
        \right)\right)}
        {\sum_{k \in \mathcal{N}(i) \cup \{ i \}}
        \exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}^{\top}_{s} \mathbf{\Theta}_{s}\mathbf{x}_k
        + \mathbf{a}^{\top}_{t}\mathbf{\Theta}_{t}\mathbf{x}_i
        + \mathbf{a}^{\top}_{e} \mathbf{\Theta}_{e} \mathbf{e}_{i,k}
        \right)\right)}.

    The paper writes the logit as
    :math:`\mathbf{a}^{\top}[\mathbf{W}\mathbf{h}_i \,\Vert\,
    \mathbf{W}\mathbf{h}_j]`; splitting :math:`\mathbf{a} = [\mathbf{a}_t;
    \mathbf{a}_s]` gives the form above, in which the per-node terms are
    computed once per node rather than once per edge. The edge term
    (:obj:`edge_dim`) is folded the same way: :math:`\mathbf{a}_e^{\top}
    \mathbf{\Theta}_e` is one :math:`D \times H` matrix, so no
    :math:`|\mathcal{E}| \times H \times F'` tensor is built for it.
    :math:`\mathbf{\Theta}_s = \mathbf{\Theta}_t` unless the layer is
    bipartite. With :math:`K` heads, the outputs are concatenated (hidden
    layers) or averaged (the paper's output layer, :obj:`concat=False`).

    A drop-in replacement for :class:`torch_geometric.nn.conv.GATConv`: the
    same arguments, parameter names and state dict, the same forward
    contract; softmax and aggregation run on :mod:`gat_zoo.ops`. Under
    ``gat_zoo.ops.use_fused('triton')`` on a CUDA tensor they run as one
    Triton kernel (:func:`gat_zoo.ops.triton_attention`), except when the
    attention weights are returned or kept by a subclass; its dropout mask
    comes from a hash of (seed, edge, head), not from torch's generator.

    Args:
        in_channels (int or tuple): Size of each input sample, or :obj:`-1`
            to derive the size from the first input(s) to the forward method.
            A tuple corresponds to the sizes of source and target
            dimensionalities in case of a bipartite graph.
        out_channels (int): Size of each output sample per head.
        heads (int, optional): Number of attention heads :math:`K`.
            (default: :obj:`1`)
        concat (bool, optional): If set to :obj:`False`, the heads are
            averaged instead of concatenated. (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU angle of the negative
            slope. (default: :obj:`0.2`)
        dropout (float, optional): Dropout probability of the normalised
            attention coefficients, which exposes each node to a
            stochastically sampled neighbourhood during training.
            (default: :obj:`0`)
        add_self_loops (bool, optional): If set to :obj:`False`, will not
            replace the graph's self-loops by one self-loop per node.
            (default: :obj:`True`)
        edge_dim (int, optional): Edge feature dimensionality (in case there
            are any). (default: :obj:`None`)
        fill_value (float or torch.Tensor or str, optional): The way to
            generate edge features of self-loops (in case
            :obj:`edge_dim != None`): a constant, or :obj:`"add"`,
            :obj:`"mean"`, :obj:`"min"`, :obj:`"max"`, :obj:`"mul"` of the
            features of each node's incoming edges. (default: :obj:`"mean"`)
        bias (bool, optional): If set to :obj:`False`, the layer will not
            learn an additive bias. (default: :obj:`True`)
        residual (bool, optional): If set to :obj:`True`, the layer adds a
            learnable skip-connection. (default: :obj:`False`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})` or
          :math:`((|\mathcal{V_s}|, F_{s}), (|\mathcal{V_t}|, F_{t}))`
          if bipartite,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`),
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

        width = heads * out_channels
        self._init_projections(in_channels, width)

        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))

        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, width, bias=False,
                                   weight_initializer='glorot')
            self.att_edge = Parameter(torch.empty(1, heads, out_channels))
        else:
            self.lin_edge = None
            self.register_parameter('att_edge', None)

        out_width = out_channels * (heads if concat else 1)
        if residual:
            dst_channels = (in_channels if isinstance(in_channels, int) else
                            in_channels[1])
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
        for lin in (self.lin, self.lin_src, self.lin_dst, self.lin_edge,
                    self.res):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        glorot(self.att_edge)
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
                features, or a pair ``(x_src, x_dst)`` for a bipartite graph
                (``x_dst`` may be :obj:`None` together with :obj:`size`).
            edge_index (torch.Tensor or SparseTensor): The edge indices.
            edge_attr (torch.Tensor, optional): The edge features.
                (default: :obj:`None`)
            size ((int, int), optional): The shape of the adjacency matrix.
                (default: :obj:`None`)
            return_attention_weights (bool, optional): If truthy, also
                returns ``(edge_index, attention_weights)`` (a sparse
                adjacency holding the weights for sparse input), the edges
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
        x_src, x_dst, bipartite, edge_index, bias_source = \
            self._attention_inputs(x, edge_index, edge_attr, size, extra)

        res: Optional[Tensor] = None
        if self.res is not None and x_dst is not None:
            res = self.res(x_dst)

        if self._fusable(edge_index, x_src) and (
                edge_attr is None or isinstance(edge_index, Tensor)):
            return self._fused_forward(x_src, x_dst, adjacency, edge_index,
                                       edge_attr, size, res, bias_source,
                                       return_attention_weights)

        if self.lin is not None:
            h_src = self.lin(x_src).view(-1, H, C)
            if not bipartite:
                h_dst = h_src
            else:
                h_dst = None if x_dst is None else self.lin(x_dst).view(
                    -1, H, C)
        else:
            assert self.lin_src is not None and self.lin_dst is not None
            h_src = self.lin_src(x_src).view(-1, H, C)
            h_dst = None if x_dst is None else self.lin_dst(x_dst).view(
                -1, H, C)

        # Node-level halves of a^T [W h_i || W h_j], once per node.
        score_src = (h_src * self.att_src).sum(dim=-1)
        score_dst = None if h_dst is None else (h_dst *
                                                self.att_dst).sum(dim=-1)

        if self.add_self_loops:
            edge_index, edge_attr = self._with_self_loops(
                edge_index, edge_attr,
                self._loop_count(x_src, x_dst, size), self.fill_value)

        score_edge = add_optional(
            self._edge_scores(edge_attr),
            self._reference_bias(edge_index, bias_source, score_src.dtype))

        # edge_updater_type: (score: OptPairTensor, score_edge: OptTensor)
        alpha = self.edge_updater(edge_index, score=(score_src, score_dst),
                                  score_edge=score_edge, size=size)
        self._attention_computed(alpha)

        # propagate_type: (x: OptPairTensor, alpha: Tensor)
        out = self.propagate(edge_index, x=(h_src, h_dst), alpha=alpha,
                             size=size)

        out = self._combine_heads(out, res)

        if return_attention_weights:
            return self._attention_result(out, edge_index, alpha)
        return out

    def _fused_forward(self, x_src: Tensor, x_dst: OptTensor, adjacency,
                       edge_index, edge_attr: OptTensor, size: Size,
                       res: OptTensor, bias_source: Any,
                       return_attention_weights: Optional[bool]):
        """The same layer on a target-major CSR graph: per-node scores from
        the attention vectors folded into the projection, an
        ``[E, H]`` softmax, and :func:`gat_zoo.ops.head_spmm` instead of
        ``[E, H, C]`` messages."""
        H, C = self.heads, self.out_channels
        graph, adjacency = self._fused_graph(adjacency, edge_index, x_src,
                                             x_dst, size)
        lin_src = self.lin if self.lin is not None else self.lin_src
        lin_dst = self.lin if self.lin is not None else self.lin_dst
        assert lin_src is not None and lin_dst is not None
        h_src = lin_src(x_src).view(-1, H, C)
        if (x_dst is not None and lin_dst is not lin_src
                and isinstance(lin_dst.weight, UninitializedParameter)):
            lin_dst(x_dst)  # a lazy target projection sizes itself once
        # a^T (W x) = (W^T a)^T x: one [D, H] matrix per side, so the scores
        # never touch the [N, H, C] projection.
        score_src = x_src @ _fold(lin_src.weight, self.att_src)
        score_dst: OptTensor = None
        if x_dst is not None:
            score_dst = x_dst @ _fold(lin_dst.weight, self.att_dst)
        score_edge: OptTensor = None
        if edge_attr is not None and self.lin_edge is not None:
            score_edge = self._edge_scores(self._fused_edge_attr(
                edge_index, edge_attr, x_src, x_dst, size))
            assert score_edge is not None
            score_edge = graph.to_csr_order(score_edge)
        score_edge = add_optional(
            score_edge, self._fused_bias(graph, bias_source,
                                         score_src.dtype))
        if self._triton_applies(x_src.device, return_attention_weights):
            out = triton_attention(
                graph, h_src, score_src, score_dst, score_edge,
                self.negative_slope, self.dropout if self.training else 0.0)
            return self._combine_heads(out, res)
        alpha = gat_edge_softmax(graph, score_src, score_dst, score_edge,
                                 self.negative_slope)
        return self._fused_output(graph, alpha, h_src, res, adjacency,
                                  return_attention_weights)

    def _edge_scores(self, edge_attr: OptTensor) -> OptTensor:
        """:math:`\\mathbf{a}_e^{\\top}\\mathbf{\\Theta}_e \\mathbf{e}_{ij}`
        for every edge, as one ``[E, D] x [D, H]`` product."""
        if edge_attr is None or self.lin_edge is None:
            return None
        if edge_attr.dim() == 1:
            edge_attr = edge_attr.view(-1, 1)
        return edge_attr @ _fold(self.lin_edge.weight, self.att_edge)

    def edge_update(self, score_j: Tensor, score_i: OptTensor,
                    score_edge: OptTensor, index: Tensor, ptr: OptTensor,
                    dim_size: Optional[int]) -> Tensor:
        logits = score_j if score_i is None else score_j + score_i
        if score_edge is not None:
            logits = logits + score_edge
        logits = F.leaky_relu(logits, self.negative_slope)
        return self.attention_softmax(logits, index, ptr, dim_size)

