"""MAGNA: multi-hop attention diffusion (Wang, Ying, Huang, Leskovec, IJCAI
2021), the diffusion layer :class:`MAGNAConv` and the Transformer-style
block :class:`MAGNABlock` (diffusion, layer norm, feed-forward, two
residual connections) the paper stacks."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptTensor, Size

from gat_zoo.nn.conv._base import HeadwiseAttentionConv
from gat_zoo.nn.validation import (
    check_int,
    check_node_features,
    check_probability,
    validation_enabled,
)
from gat_zoo.ops import (
    gat_edge_softmax,
    head_spmm,
    segment_softmax,
    segment_topk_mask,
)

__all__ = ['MAGNAConv', 'MAGNABlock']




class MAGNAConv(HeadwiseAttentionConv):
    r"""The multi-head attention diffusion layer of `"Multi-hop Attention
    Graph Neural Network" <https://arxiv.org/abs/2009.14332>`_ (Wang, Ying,
    Huang, Leskovec, IJCAI 2021), MAGNA.

    One-hop attention scores on the edges (self-loops added), per head,

    .. math::
        s_{i,j} = \mathrm{LeakyReLU}\left(\mathbf{v}^{\top} \tanh\left(
        \left[\mathbf{W}_h \mathbf{h}_i \,\Vert\, \mathbf{W}_t \mathbf{h}_j
        \right]\right)\right)
        = \mathrm{LeakyReLU}\left(\mathbf{v}_h^{\top}
        \tanh(\mathbf{W}_h \mathbf{h}_i) + \mathbf{v}_t^{\top}
        \tanh(\mathbf{W}_t \mathbf{h}_j)\right),

    normalised over each target's incoming edges into the attention matrix
    :math:`\mathbf{A}` (:math:`A_{ij}` weighs the message :math:`j \to i`;
    :math:`A_{ij} = 0` off the edges),

    .. math::
        A_{ij} = \frac{\exp(s_{i,j})}{\sum_{k \in \mathcal{N}(i) \cup
        \{i\}} \exp(s_{i,k})},

    are diffused over all path lengths with personalised-PageRank weights,

    .. math::
        \mathcal{A} = \sum_{k=0}^{\infty} \theta_k \mathbf{A}^k, \qquad
        \theta_k = \alpha (1 - \alpha)^k, \quad \alpha \in (0, 1],

    and :math:`\mathcal{A}\mathbf{Z}^{(0)}` is approximated by :math:`K`
    steps of

    .. math::
        \mathbf{Z}^{(k+1)} = (1 - \alpha)\mathbf{A}\mathbf{Z}^{(k)}
        + \alpha \mathbf{Z}^{(0)}, \qquad
        \mathbf{Z}^{(0)} = \mathbf{H}\mathbf{W}_v,

    i.e. exactly

    .. math::
        \mathbf{Z}^{(K)} = \Big(\sum_{k=0}^{K-1} \alpha(1-\alpha)^k
        \mathbf{A}^k + (1-\alpha)^K \mathbf{A}^K\Big)\mathbf{Z}^{(0)},

    which tends to :math:`\mathcal{A}\mathbf{Z}^{(0)} = \alpha(\mathbf{I} -
    (1-\alpha)\mathbf{A})^{-1}\mathbf{Z}^{(0)}` as :math:`K \to \infty`
    (the error is at most :math:`2(1-\alpha)^K` in the row-sum norm). The
    heads are concatenated and projected,
    :math:`\big(\Vert_{m=1}^{M} \mathbf{Z}_m^{(K)}\big)\mathbf{W}_o`.

    Nothing is densified: :math:`\mathbf{A}` lives on the edges
    (``[E, H]``) and each step is one sparse product per head on its CSR
    (:func:`gat_zoo.ops.head_spmm`), or one message-passing round on the
    reference path, so a layer costs :math:`K` one-hop aggregations. As in
    :class:`~gat_zoo.nn.conv.GATConv`, a repeated edge is attended once per
    copy (it counts that many times in the softmax and in
    :math:`A_{ij}`).

    **Paper and official code.** The score above is the paper's form
    (separate projections :math:`\mathbf{W}_h` on the target and
    :math:`\mathbf{W}_t` on the source; the relation term of
    :math:`[\cdot \Vert \mathbf{W}_r \mathbf{r}_k]` is a constant on a graph
    with a single edge type and cancels in the softmax, so it is left out).
    The official code (``xjtuwgt/GNN-MAGNA``, ``MAGNA/MAGNAConv.py``) by
    default shares one projection for the scores and the values,
    :math:`s_{i,j} = \mathrm{LeakyReLU}(\langle\tanh(\mathbf{W}_v
    \mathbf{h}_j), \mathbf{v}_t\rangle + \langle\tanh(\mathbf{W}_v
    \mathbf{h}_i), \mathbf{v}_h\rangle)`
    (:obj:`shared_attention_projection=True`). The per-head value projection
    :math:`\mathbf{W}_v` (``C`` channels per head, the heads splitting the
    block width) follows the code's ``fc``. By default one
    attention-dropout mask is drawn per forward pass, so every step diffuses
    the same sampled matrix (the paper's :math:`\mathcal{A}` of one
    :math:`\mathbf{A}`); the code draws a fresh mask at every diffusion step
    and applies feature dropout after every step, which
    :obj:`resample_attention_dropout` and :obj:`step_dropout` reproduce.
    The code's top-:math:`k` neighbour selection is :obj:`top_k`: each node
    keeps, per head, the incoming scores :math:`s_{i,j}` at least as large
    as its :math:`k`-th largest (ties kept) and the softmax runs over those
    (not in the paper). Surveys that describe MAGNA as
    "Chebyshev polynomial spectral attention" are wrong: the paper uses
    spectral analysis only to show that the diffusion is a low-pass filter;
    the mechanism is the PPR-weighted sum of powers of the attention matrix
    above.

    **Attention weights.** :obj:`return_attention_weights=True` returns the
    *one-hop* coefficients :math:`A_{ij}` (after attention dropout; before
    it with :obj:`resample_attention_dropout`, where every step draws its
    own mask) on the
    edges including the added self-loops, ``(edge_index, alpha)`` with
    ``alpha`` of shape ``[E, H]``. The diffused matrix
    :math:`\mathcal{A}` is implicit (dense in general) and never formed.

    Args:
        in_channels (int): Size of each input sample, or :obj:`-1` to derive
            it from the first input.
        out_channels (int): Channels :math:`C` per head.
        heads (int, optional): Number of heads :math:`M`. (default:
            :obj:`1`)
        concat (bool, optional): Concatenate the heads (the paper) or, if
            :obj:`False`, average them. (default: :obj:`True`)
        alpha (float, optional): Teleport probability :math:`\alpha \in (0,
            1]` of the personalised-PageRank weights. (default: :obj:`0.15`,
            the official code's default)
        num_hops (int, optional): Diffusion steps :math:`K \geq 1`.
            (default: :obj:`4`, the official code's default)
        negative_slope (float, optional): LeakyReLU slope of the scores.
            (default: :obj:`0.2`)
        dropout (float, optional): Dropout on the one-hop attention
            coefficients (one mask per forward pass, or per step with
            :obj:`resample_attention_dropout`). (default: :obj:`0`)
        add_self_loops (bool, optional): Replace the graph's self-loops by
            one per node before the softmax. (default: :obj:`True`)
        shared_attention_projection (bool, optional): Score with the value
            projection, :math:`\mathbf{W}_h = \mathbf{W}_t = \mathbf{W}_v`
            (the official code's default) instead of the paper's separate
            :math:`\mathbf{W}_h`, :math:`\mathbf{W}_t`. (default:
            :obj:`False`)
        project_out (bool, optional): Apply the output projection
            :math:`\mathbf{W}_o` after combining the heads. (default:
            :obj:`True`)
        bias (bool, optional): Learn an additive output bias (not in the
            paper). (default: :obj:`False`)
        step_dropout (float, optional): Feature dropout on
            :math:`\mathbf{Z}^{(k)}` after every diffusion step (the
            official code's). (default: :obj:`0`)
        resample_attention_dropout (bool, optional): Draw a fresh
            attention-dropout mask at every diffusion step (the official
            code) instead of one per forward pass. (default: :obj:`False`)
        top_k (int, optional): If set, each node attends only to the
            incoming edges with its :math:`k` largest scores per head (the
            official code's ``top_k``, ``topk_type='local'``; ties at the
            :math:`k`-th score are kept). (default: :obj:`None`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`); the graph must be square
          (no bipartite input: the diffusion takes powers of
          :math:`\mathbf{A}`)
        - **output:** node features :math:`(|\mathcal{V}|, H * C)` (or
          :math:`(|\mathcal{V}|, C)` with :obj:`concat=False`). If
          :obj:`return_attention_weights=True`, then also
          :math:`((2, |\mathcal{E}|), (|\mathcal{E}|, H))`, the edges
          including the added self-loops
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        alpha: float = 0.15,
        num_hops: int = 4,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        shared_attention_projection: bool = False,
        project_out: bool = True,
        bias: bool = False,
        step_dropout: float = 0.0,
        resample_attention_dropout: bool = False,
        top_k: Optional[int] = None,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if not isinstance(in_channels, int) or isinstance(in_channels, bool):
            raise ValueError(
                f"MAGNAConv takes a single 'in_channels' (got "
                f"{in_channels!r}): the diffusion multiplies powers of a "
                f"square attention matrix, so bipartite graphs are not "
                f"supported")
        if in_channels != -1:
            check_int('in_channels', in_channels, 1)
        check_int('out_channels', out_channels, 1)
        check_int('heads', heads, 1)
        check_int('num_hops', num_hops, 1)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) \
                or not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"'alpha' (the teleport probability) must lie "
                             f"in (0, 1] (got {alpha!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.alpha = float(alpha)
        self.num_hops = num_hops
        self.negative_slope = negative_slope
        self.dropout = check_probability('dropout', dropout)
        self.step_dropout = check_probability('step_dropout', step_dropout)
        self.resample_attention_dropout = bool(resample_attention_dropout)
        if top_k is not None:
            check_int('top_k', top_k, 1)
        self.top_k = top_k
        self.add_self_loops = add_self_loops
        self.fill_value = 'mean'  # no edge features: never read
        self.shared_attention_projection = shared_attention_projection

        width = heads * out_channels
        self.lin: Linear = Linear(in_channels, width, bias=False,
                                  weight_initializer='glorot')
        if shared_attention_projection:
            self.lin_head = self.lin_tail = None
        else:
            self.lin_head = Linear(in_channels, width, bias=False,
                                   weight_initializer='glorot')
            self.lin_tail = Linear(in_channels, width, bias=False,
                                   weight_initializer='glorot')
        self.att_head = Parameter(torch.empty(1, heads, out_channels))
        self.att_tail = Parameter(torch.empty(1, heads, out_channels))
        out_width = width if concat else out_channels
        self.lin_out = (Linear(out_width, out_width, bias=False,
                               weight_initializer='glorot')
                        if project_out else None)
        if bias:
            self.bias = Parameter(torch.empty(out_width))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in (self.lin, self.lin_head, self.lin_tail, self.lin_out):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att_head)
        glorot(self.att_tail)
        zeros(self.bias)

    # ------------------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Adj, size: Size = None,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): The node features ``[N, F]``.
            edge_index (torch.Tensor or SparseTensor or EdgeIndex): The
                edges (``edge_index[0]`` the source :math:`j`,
                ``edge_index[1]`` the target :math:`i`).
            size ((int, int), optional): The shape of the adjacency matrix;
                must be ``(N, N)``. (default: :obj:`None`)
            return_attention_weights (bool, optional): If truthy, also
                returns ``(edge_index, attention_weights)`` with the one-hop
                coefficients ``[E, H]`` (a sparse adjacency holding them for
                sparse input), the edges including the added self-loops.
                (default: :obj:`None`)
        """
        if isinstance(x, (tuple, list)):
            raise ValueError(
                "MAGNAConv takes one node feature matrix, not a pair "
                "(x_src, x_dst): the diffusion multiplies powers of a "
                "square attention matrix, so bipartite graphs are not "
                "supported")
        if size is not None and (len(size) != 2 or size[0] != size[1]):
            raise ValueError(f"MAGNAConv needs a square graph; 'size' "
                             f"{tuple(size)} is not")
        x, _, _ = self._split_features(x, self.in_channels, size)
        adjacency = edge_index
        edge_index = self._check_graph(edge_index, None, x, x, False, size,
                                       None)
        H, C = self.heads, self.out_channels
        h = self.lin(x).view(-1, H, C)
        score_src, score_dst = self._node_scores(x, h)

        if self._fusable(edge_index, x):
            graph, adjacency = self._fused_graph(adjacency, edge_index, x, x,
                                                 size)
            if self.top_k is None:
                att = gat_edge_softmax(graph, score_src, score_dst, None,
                                       self.negative_slope)
            else:
                logits = F.leaky_relu(
                    score_src.index_select(0, graph.col) +
                    score_dst.index_select(0, graph.row),
                    self.negative_slope)
                att = segment_softmax(
                    self._top_k_logits(logits, graph.row, graph.num_dst),
                    graph.row, graph.ptr, graph.num_dst)

            def dropped(weight: Tensor) -> Tensor:
                # Drawn in the caller's edge order, as the reference path
                # draws it: both paths sample the same matrices per seed.
                if not self.training or self.dropout == 0:
                    return weight
                keep = F.dropout(weight.new_ones(weight.shape),
                                 p=self.dropout)
                return weight * graph.to_csr_order(keep)

            if not self.resample_attention_dropout:
                att = dropped(att)

            def step(z: Tensor) -> Tensor:
                weight = (dropped(att) if self.resample_attention_dropout
                          else att)
                return head_spmm(graph, weight, z)

            out = self._diffuse(h, step)
            att_out = graph.to_caller_order(att)
        else:
            if self.add_self_loops:
                edge_index, _ = self._with_self_loops(
                    edge_index, None, x.size(0), self.fill_value)
            # edge_updater_type: (score: Tuple[Tensor, Tensor])
            att = self.edge_updater(edge_index, score=(score_src, score_dst),
                                    size=size)

            def step(z: Tensor) -> Tensor:
                weight = att
                if self.resample_attention_dropout:
                    weight = F.dropout(att, p=self.dropout,
                                       training=self.training)
                # propagate_type: (x: Tensor, alpha: Tensor)
                return self.propagate(edge_index, x=z, alpha=weight,
                                      size=size)

            out = self._diffuse(h, step)
            adjacency, att_out = edge_index, att

        out = self._finish(out)
        if return_attention_weights:
            return self._attention_result(out, adjacency, att_out)
        return out

    def _node_scores(self, x: Tensor, h: Tensor) -> Tuple[Tensor, Tensor]:
        r"""``(score_src, score_dst)``: :math:`\mathbf{v}_t^{\top}
        \tanh(\mathbf{W}_t \mathbf{h}_j)` and :math:`\mathbf{v}_h^{\top}
        \tanh(\mathbf{W}_h \mathbf{h}_i)` per node and head, ``[N, H]``
        each."""
        H, C = self.heads, self.out_channels
        if self.lin_head is None or self.lin_tail is None:
            g_head = g_tail = torch.tanh(h)
        else:
            g_head = torch.tanh(self.lin_head(x).view(-1, H, C))
            g_tail = torch.tanh(self.lin_tail(x).view(-1, H, C))
        score_dst = (g_head * self.att_head).sum(dim=-1)
        score_src = (g_tail * self.att_tail).sum(dim=-1)
        return score_src, score_dst

    def _top_k_logits(self, logits: Tensor, index: Tensor,
                      num_nodes: int) -> Tensor:
        r"""``logits`` with every score below its target's :obj:`top_k`-th
        largest (per head) set to :math:`-\infty`."""
        assert self.top_k is not None
        keep = segment_topk_mask(logits, index, num_nodes, self.top_k)
        return logits.masked_fill(~keep, float('-inf'))

    def _diffuse(self, z0: Tensor, step) -> Tensor:
        r""":math:`K` steps of :math:`\mathbf{Z} \leftarrow (1-\alpha)
        \mathbf{A}\mathbf{Z} + \alpha\mathbf{Z}^{(0)}`, ``[N, H, C]``."""
        z = z0
        for _ in range(self.num_hops):
            z = (1.0 - self.alpha) * step(z) + self.alpha * z0
            if self.step_dropout > 0:
                z = F.dropout(z, p=self.step_dropout, training=self.training)
        return z

    def _finish(self, out: Tensor) -> Tensor:
        if self.concat:
            out = out.reshape(out.size(0), self.heads * self.out_channels)
        else:
            out = out.mean(dim=1)
        if self.lin_out is not None:
            out = self.lin_out(out)
        if self.bias is not None:
            out = out + self.bias
        return out

    def edge_update(self, score_j: Tensor, score_i: Tensor, index: Tensor,
                    ptr: OptTensor, dim_size: Optional[int]) -> Tensor:
        logits = F.leaky_relu(score_j + score_i, self.negative_slope)
        if self.top_k is not None:
            num = dim_size if dim_size is not None else (
                int(index.max()) + 1 if index.numel() else 0)
            logits = self._top_k_logits(logits, index, num)
        if self.resample_attention_dropout:  # dropped at every step instead
            return segment_softmax(logits, index, ptr, dim_size)
        return self.attention_softmax(logits, index, ptr, dim_size)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads}, '
                f'alpha={self.alpha}, num_hops={self.num_hops})')


class MAGNABlock(torch.nn.Module):
    r"""One MAGNA block (Fig. 2 of `"Multi-hop Attention Graph Neural
    Network" <https://arxiv.org/abs/2009.14332>`_: attention computation,
    attention diffusion, layer normalisation, feed-forward layers and two
    residual connections): multi-head attention diffusion
    (:class:`MAGNAConv`) and a two-layer feed-forward network, each a
    pre-layer-norm sublayer (the norm on the sublayer's input, as in the
    official code) with a residual connection,

    .. math::
        \tilde{\mathbf{H}} &= \mathrm{LayerNorm}(\mathbf{H}), \qquad
        \hat{\mathbf{H}} = \Big(\big\Vert_{m=1}^{M}
        \mathrm{AttDiffusion}_m(\tilde{\mathbf{H}})\Big)\mathbf{W}_o, \\
        \hat{\mathbf{H}}' &= \hat{\mathbf{H}} + \mathbf{H}\mathbf{W}_{res},
        \\
        \mathbf{H}' &= \mathbf{W}_2\,\mathrm{ReLU}\big(\mathbf{W}_1
        \mathrm{LayerNorm}(\hat{\mathbf{H}}')\big) + \hat{\mathbf{H}}',

    with :math:`\mathbf{W}_{res} = \mathbf{I}` when the widths agree (else
    a learned projection, as the official code's ``res_fc``) and a hidden
    FFN width of ``ffn_ratio`` times the block width.

    The dropouts are the official code's (the paper gives no placement):
    feature dropout (:obj:`dropout`) on the normalised input of the
    diffusion, on the diffusion output before the residual sum and on the
    FFN output before its residual sum; :obj:`ffn_dropout` between the two
    FFN layers; :obj:`attention_dropout` on the one-hop coefficients; with
    :obj:`per_step_dropout`, also the code's dropouts inside the diffusion
    (a fresh attention mask and feature dropout at every step). The
    FFN layers have biases (the official code's ``nn.Linear`` layers); the
    layer norms are :class:`torch.nn.LayerNorm` (the code uses its own
    variant dividing by the unbiased standard deviation plus
    :math:`10^{-6}`). Without the FFN (:obj:`feed_forward=False`, an
    ablation) the block returns :math:`\mathrm{ELU}(\hat{\mathbf{H}}')`, as
    the code does.

    Args:
        in_channels (int): Input width.
        out_channels (int): Block width :math:`d` (all heads together;
            divisible by :obj:`heads`).
        heads (int, optional): Attention heads :math:`M`. (default:
            :obj:`8`)
        alpha (float, optional): Teleport probability. (default:
            :obj:`0.15`)
        num_hops (int, optional): Diffusion steps :math:`K`. (default:
            :obj:`4`)
        dropout (float, optional): Feature dropout. (default: :obj:`0`)
        attention_dropout (float, optional): Dropout on the one-hop
            attention coefficients. (default: :obj:`0`)
        ffn_dropout (float, optional): Dropout inside the FFN. (default:
            :obj:`0`)
        negative_slope (float, optional): LeakyReLU slope of the scores.
            (default: :obj:`0.2`)
        layer_norm (bool, optional): Use the two layer norms. (default:
            :obj:`True`)
        feed_forward (bool, optional): Use the FFN sublayer. (default:
            :obj:`True`)
        ffn_ratio (int, optional): FFN hidden width over :math:`d`.
            (default: :obj:`4`)
        shared_attention_projection (bool, optional): See
            :class:`MAGNAConv`. (default: :obj:`False`)
        per_step_dropout (bool, optional): The official code's dropout
            inside the diffusion: a fresh attention-dropout mask at every
            step and feature dropout (:obj:`dropout`) after every step
            (:class:`MAGNAConv`'s :obj:`resample_attention_dropout` and
            :obj:`step_dropout`). (default: :obj:`False`)
        top_k (int, optional): The official code's top-:math:`k` neighbour
            selection (see :class:`MAGNAConv`). (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge
          indices :math:`(2, |\mathcal{E}|)` (or a sparse adjacency)
        - **output:** :math:`(|\mathcal{V}|, d)`, and with
          :obj:`return_attention_weights=True` the diffusion layer's
          ``(edge_index, alpha)``
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 8,
                 alpha: float = 0.15, num_hops: int = 4,
                 dropout: float = 0.0, attention_dropout: float = 0.0,
                 ffn_dropout: float = 0.0, negative_slope: float = 0.2,
                 layer_norm: bool = True, feed_forward: bool = True,
                 ffn_ratio: int = 4,
                 shared_attention_projection: bool = False,
                 per_step_dropout: bool = False,
                 top_k: Optional[int] = None):
        super().__init__()
        check_int('in_channels', in_channels, 1)
        check_int('out_channels', out_channels, 1)
        check_int('heads', heads, 1)
        check_int('ffn_ratio', ffn_ratio, 1)
        if out_channels % heads:
            raise ValueError(f"'out_channels' ({out_channels}) must be "
                             f"divisible by 'heads' ({heads}): the heads "
                             f"split the block width")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.dropout = check_probability('dropout', dropout)
        self.ffn_dropout = check_probability('ffn_dropout', ffn_dropout)
        self.norm = (torch.nn.LayerNorm(in_channels) if layer_norm else
                     None)
        self.conv = MAGNAConv(in_channels, out_channels // heads, heads=heads,
                              concat=True, alpha=alpha, num_hops=num_hops,
                              negative_slope=negative_slope,
                              dropout=attention_dropout,
                              shared_attention_projection=(
                                  shared_attention_projection),
                              project_out=True,
                              step_dropout=dropout if per_step_dropout
                              else 0.0,
                              resample_attention_dropout=per_step_dropout,
                              top_k=top_k)
        self.res = (torch.nn.Identity() if in_channels == out_channels else
                    Linear(in_channels, out_channels, bias=False,
                           weight_initializer='glorot'))
        if feed_forward:
            self.ffn_norm = (torch.nn.LayerNorm(out_channels) if layer_norm
                             else None)
            self.ffn_in = Linear(out_channels, ffn_ratio * out_channels)
            self.ffn_out = Linear(ffn_ratio * out_channels, out_channels)
        else:
            self.ffn_norm = self.ffn_in = self.ffn_out = None

    @property
    def layer_norm(self) -> bool:
        return self.norm is not None

    @property
    def feed_forward(self) -> bool:
        return self.ffn_in is not None

    def reset_parameters(self):
        for module in (self.norm, self.conv, self.ffn_norm, self.ffn_in,
                       self.ffn_out):
            if module is not None:
                module.reset_parameters()
        if isinstance(self.res, Linear):
            self.res.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: Optional[bool] = None):
        """The block's output ``[N, d]`` (and the one-hop attention of its
        diffusion layer with :obj:`return_attention_weights`)."""
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        h = self.norm(x) if self.norm is not None else x
        h = F.dropout(h, p=self.dropout, training=self.training)
        att = None
        if return_attention_weights:
            h, att = self.conv(h, edge_index, return_attention_weights=True)
        else:
            h = self.conv(h, edge_index)
        out = F.dropout(h, p=self.dropout, training=self.training) + \
            self.res(x)
        if self.ffn_in is None or self.ffn_out is None:
            out = F.elu(out)
        else:
            ff = self.ffn_norm(out) if self.ffn_norm is not None else out
            ff = F.relu(self.ffn_in(ff))
            ff = F.dropout(ff, p=self.ffn_dropout, training=self.training)
            ff = self.ffn_out(ff)
            out = out + F.dropout(ff, p=self.dropout, training=self.training)
        return (out, att) if return_attention_weights else out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads}, '
                f'alpha={self.conv.alpha}, num_hops={self.conv.num_hops})')
