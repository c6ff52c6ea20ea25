"""DySAT's structural and temporal self-attention (Sankar, Wu, Gou, Zhang,
Yang, WSDM 2020)."""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import coalesce, scatter

from gat_zoo.nn.conv._base import (
    HeadwiseAttentionConv,
    weighted_edges_of,
)
from gat_zoo.nn.validation import (
    check_finite,
    check_int,
    check_node_features,
    check_probability,
    validation_enabled,
)
from gat_zoo.ops import cached_csr

__all__ = ['DySATStructuralConv', 'TemporalSelfAttention']

_URL = 'https://arxiv.org/abs/1812.09430'


def dysat_graph(index: Tensor, num_nodes: int, edge_weight: OptTensor,
                add_self_loops: bool, normalize: bool,
                dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    r"""The weighted snapshot :math:`\mathbf{A}` DySAT attends over:
    parallel edges merged into one edge whose weight is the sum of theirs
    (the official code's multigraph adjacency, where a pair's weight is its
    number of interactions), then :math:`\mathbf{A} + \mathbf{I}` and the
    symmetric normalisation :math:`\tilde{\mathbf{D}}^{-1/2}(\mathbf{A} +
    \mathbf{I})\tilde{\mathbf{D}}^{-1/2}` (the official preprocessing;
    :math:`\tilde{d}_v` is the weighted in-degree).

    Returns ``(index [2, E'], weight [E'])``, target-sorted."""
    device = index.device
    if edge_weight is None:
        edge_weight = torch.ones(index.size(1), dtype=dtype, device=device)
    else:
        edge_weight = edge_weight.to(dtype)
    if add_self_loops:
        loop = torch.arange(num_nodes, device=device)
        index = torch.cat([index, torch.stack([loop, loop])], dim=1)
        edge_weight = torch.cat([edge_weight, torch.ones(
            num_nodes, dtype=dtype, device=device)])
    # Sort by target (then source) and merge parallel edges.
    index, edge_weight = coalesce(index.flip(0), edge_weight,
                                  num_nodes=num_nodes, reduce='sum')
    index = index.flip(0)
    if normalize and index.size(1) > 0:
        deg = scatter(edge_weight, index[1], 0, dim_size=num_nodes,
                      reduce='sum')
        inv = deg.clamp(min=0).pow(-0.5)
        inv = inv.masked_fill(torch.isinf(inv), 0.)
        edge_weight = inv[index[0]] * edge_weight * inv[index[1]]
    return index, edge_weight


def _cached_dysat_graph(index: Tensor, num_nodes: int,
                        edge_weight: OptTensor, add_self_loops: bool,
                        normalize: bool,
                        dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    """:func:`dysat_graph`, remembered while the edge index and the edge
    weights are the same, unmodified tensors. DySAT's training runs the
    structural layer once per snapshot and mini-batch on fixed snapshots,
    and rebuilding (sorting, merging, normalising) each time costs about a
    sixth of a step."""
    def build() -> Tuple[Tensor, Tensor]:
        return dysat_graph(index, num_nodes, edge_weight, add_self_loops,
                           normalize, dtype)

    if edge_weight is not None and edge_weight.requires_grad:
        return build()  # the weights are learned: nothing to remember
    slot = cached_csr(index, ('dysat_graph', num_nodes, add_self_loops,
                              normalize, dtype), dict)
    # The slot holds the weight tensor itself, so its identity cannot be
    # taken over by a new tensor while the entry lives.
    version = None if edge_weight is None else edge_weight._version
    if ('graph' not in slot or slot['weight'] is not edge_weight
            or slot['version'] != version):
        slot.update(graph=build(), weight=edge_weight, version=version)
    return slot['graph']


class DySATStructuralConv(HeadwiseAttentionConv):
    r"""The structural self-attention layer of `"DySAT: Deep Neural
    Representation Learning on Dynamic Graphs via Self-Attention Networks"
    <https://arxiv.org/abs/1812.09430>`_ (Sankar et al., WSDM 2020, Eq. 1),
    applied to one snapshot :math:`\mathcal{G}^t`:

    .. math::
        \mathbf{h}_v &= \sigma\Big(\sum_{u \in \mathcal{N}_v}
        \alpha_{uv}\,\mathbf{W}^s\mathbf{x}_u\Big), \qquad
        \alpha_{uv} = \frac{\exp\big(\mathrm{LeakyReLU}\big(A_{uv}\cdot
        \mathbf{a}^{\top}[\mathbf{W}^s\mathbf{x}_u \,\Vert\,
        \mathbf{W}^s\mathbf{x}_v]\big)\big)}
        {\sum_{w \in \mathcal{N}_v}\exp\big(\mathrm{LeakyReLU}\big(A_{wv}
        \cdot\mathbf{a}^{\top}[\mathbf{W}^s\mathbf{x}_w \,\Vert\,
        \mathbf{W}^s\mathbf{x}_v]\big)\big)}

    with :math:`\sigma = \mathrm{ELU}` and :math:`H` heads concatenated.
    Unlike GAT, the weight :math:`A_{uv}` of the link *scales the attention
    logit* before the LeakyReLU. As in the official code, :math:`\mathbf{A}`
    is the snapshot's weighted adjacency with parallel edges merged (their
    weights summed: a pair's weight is its number of interactions), plus
    :math:`\mathbf{I}`, symmetrically normalised
    (:math:`\tilde{\mathbf{D}}^{-1/2}(\mathbf{A}+\mathbf{I})
    \tilde{\mathbf{D}}^{-1/2}`, :obj:`normalize=True`); the paper only says
    :math:`A_{uv}` is the link weight. :math:`\mathcal{N}_v` is every
    :math:`u` with :math:`A_{uv} \neq 0` in the stored edge list (after the
    self-loops). The paper's survey one-liner ("GAT per snapshot") omits the
    link weight; this layer follows the paper. So it does for the score
    vector :math:`\mathbf{a}`, which has no bias: the official code scores
    each half with a 1x1 convolution that keeps TensorFlow's default bias,
    and since the link weight scales that bias too, it shifts each edge's
    logit rather than cancelling in the softmax.

    Args:
        in_channels (int): Size of each input sample.
        out_channels (int): Size of each output sample *per head*.
        heads (int, optional): Number of attention heads :math:`H`, whose
            outputs are concatenated. (default: :obj:`1`)
        negative_slope (float, optional): LeakyReLU slope. (default:
            :obj:`0.2`)
        dropout (float, optional): Dropout of the attention coefficients
            (the official ``spatial_drop``). (default: :obj:`0.`)
        feature_dropout (float, optional): Dropout of the projected
            neighbour features :math:`\mathbf{W}\mathbf{x}_u` that are
            aggregated, after the attention logits are computed (where the
            official code applies ``spatial_drop`` a second time).
            (default: :obj:`0.`)
        add_self_loops (bool, optional): Use :math:`\mathbf{A}+\mathbf{I}`
            (an existing loop's weight grows by one). (default: :obj:`True`)
        normalize (bool, optional): Symmetrically normalise the weights.
            (default: :obj:`True`)
        residual (bool, optional): Add a bias-free linear skip connection
            before the activation (the official ``use_residual``, off by
            default). (default: :obj:`False`)
        act (bool, optional): Apply the ELU. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a ``SparseTensor`` /
          torch sparse adjacency / ``EdgeIndex``),
          edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, H \cdot F_{out})`,
          or ``(out, (edge_index, alpha))`` with the merged, looped edges
          :math:`(2, |\mathcal{E}'|)` and attention :math:`(|\mathcal{E}'|,
          H)` when :obj:`return_attention_weights=True`.
    """

    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1,
                 negative_slope: float = 0.2, dropout: float = 0.,
                 add_self_loops: bool = True, normalize: bool = True,
                 residual: bool = False, act: bool = True,
                 feature_dropout: float = 0., **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        check_int('in_channels', in_channels, 1)
        check_int('out_channels', out_channels, 1)
        check_int('heads', heads, 1)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.negative_slope = negative_slope
        self.dropout = check_probability('dropout', dropout)
        self.feature_dropout = check_probability('feature_dropout',
                                                 feature_dropout)
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self.act = act
        self.lin: Linear = Linear(in_channels, heads * out_channels,
                                  bias=False, weight_initializer='glorot')
        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))
        self.res = (Linear(in_channels, heads * out_channels, bias=False,
                           weight_initializer='glorot') if residual else None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        if self.res is not None:
            self.res.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: OptTensor = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Tuple[Tensor, Tensor]]]:
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        H, C = self.heads, self.out_channels
        num_nodes = x.size(0)
        index, edge_weight = weighted_edges_of(edge_index, num_nodes,
                                               edge_weight, x.device)
        index, weight = _cached_dysat_graph(index, num_nodes, edge_weight,
                                            self.add_self_loops,
                                            self.normalize, x.dtype)
        h = self.lin(x).view(-1, H, C)
        score_src = (h * self.att_src).sum(-1)
        score_dst = (h * self.att_dst).sum(-1)
        alpha = self.edge_updater(index, score=(score_src, score_dst),
                                  weight=weight, size=(num_nodes, num_nodes))
        values = F.dropout(h, p=self.feature_dropout, training=self.training)
        out = self.propagate(index, x=values, alpha=alpha,
                             size=(num_nodes, num_nodes))
        out = out.reshape(num_nodes, H * C)
        if self.res is not None:
            out = out + self.res(x)
        if self.act:
            out = F.elu(out)
        if return_attention_weights:
            return out, (index, alpha)
        return out

    def edge_update(self, score_j: Tensor, score_i: Tensor, weight: Tensor,
                    index: Tensor, ptr: OptTensor,
                    dim_size: Optional[int]) -> Tensor:
        logits = weight.view(-1, 1) * (score_j + score_i)
        logits = F.leaky_relu(logits, self.negative_slope)
        return self.attention_softmax(logits, index, ptr, dim_size)



class TemporalSelfAttention(torch.nn.Module):
    r"""The temporal self-attention layer of `"DySAT: Deep Neural
    Representation Learning on Dynamic Graphs via Self-Attention Networks"
    <https://arxiv.org/abs/1812.09430>`_ (Eq. 3): each node attends over its
    own sequence of snapshot representations
    :math:`\mathbf{X}_v = [\mathbf{x}_v^1 + \mathbf{p}^1; \dots;
    \mathbf{x}_v^T + \mathbf{p}^T] \in \mathbb{R}^{T \times F}` (learned
    position embeddings :math:`\mathbf{p}^t`), causally:

    .. math::
        \mathbf{Z}_v &= \boldsymbol{\beta}_v(\mathbf{X}_v\mathbf{W}_v),
        \qquad \beta_v^{ij} = \frac{\exp(e_v^{ij})}{\sum_{k=1}^{T}
        \exp(e_v^{ik})}

        e_v^{ij} &= \frac{\big((\mathbf{X}_v\mathbf{W}_q)
        (\mathbf{X}_v\mathbf{W}_k)^{\top}\big)_{ij}}{\sqrt{F'}} + M_{ij},
        \qquad M_{ij} = \begin{cases} 0 & i \ge j \\ -\infty &
        \text{otherwise}\end{cases}

    with :math:`H` heads, each on an :math:`F/H` slice of the bias-free
    :math:`F \times F` projections, concatenated. :math:`F'` is the head
    width :math:`F/H` (scaled dot-product attention; the official code
    divides by :math:`\sqrt{T}` instead, a deviation we do not copy). After
    the attention come the official code's position-wise feed-forward layer
    with its own skip, :math:`\mathbf{Z} \leftarrow \mathrm{ReLU}(\mathbf{Z}
    \mathbf{W}_f + \mathbf{b}_f) + \mathbf{Z}` (:obj:`feedforward`), and an
    optional residual :math:`+\mathbf{X}_v` (:obj:`residual`).

    Args:
        channels (int): Size :math:`F` of each snapshot representation.
        num_time_steps (int): Maximum sequence length :math:`T` (rows of
            the position-embedding table).
        heads (int, optional): Number of heads :math:`H`; must divide
            :obj:`channels`. (default: :obj:`1`)
        dropout (float, optional): Dropout of the attention coefficients
            (the official ``temporal_drop``). (default: :obj:`0.`)
        residual (bool, optional): Add the (position-embedded) input.
            (default: :obj:`False`)
        feedforward (bool, optional): Apply the position-wise feed-forward
            layer. (default: :obj:`True`)

    Shapes:
        - **input:** :math:`(|\mathcal{V}|, T, F)` with
          :math:`T \le` :obj:`num_time_steps`
        - **output:** :math:`(|\mathcal{V}|, T, F)`, or
          ``(out, {'temporal': beta})`` with :math:`\beta` of shape
          :math:`(|\mathcal{V}|, H, T, T)` when
          :obj:`return_attention_weights=True`.
    """

    def __init__(self, channels: int, num_time_steps: int, heads: int = 1,
                 dropout: float = 0., residual: bool = False,
                 feedforward: bool = True):
        super().__init__()
        check_int('channels', channels, 1)
        check_int('num_time_steps', num_time_steps, 1)
        check_int('heads', heads, 1)
        if channels % heads:
            raise ValueError(f"'heads' ({heads}) must divide 'channels' "
                             f"({channels})")
        self.channels = channels
        self.num_time_steps = num_time_steps
        self.heads = heads
        self.dropout = check_probability('dropout', dropout)
        self.residual = residual
        self.position = Parameter(torch.empty(num_time_steps, channels))
        self.lin_q = Linear(channels, channels, bias=False,
                            weight_initializer='glorot')
        self.lin_k = Linear(channels, channels, bias=False,
                            weight_initializer='glorot')
        self.lin_v = Linear(channels, channels, bias=False,
                            weight_initializer='glorot')
        self.ffn = (Linear(channels, channels, bias=True,
                           weight_initializer='glorot')
                    if feedforward else None)
        self.reset_parameters()

    def reset_parameters(self):
        glorot(self.position)
        for lin in (self.lin_q, self.lin_k, self.lin_v, self.ffn):
            if lin is not None:
                lin.reset_parameters()

    def forward(self, x: Tensor,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]]]:
        if not isinstance(x, Tensor):
            raise TypeError(f"'x' must be a torch.Tensor (got "
                            f"{type(x).__name__})")
        if x.dim() != 3 or x.size(-1) != self.channels:
            raise ValueError(f"'x' must have shape [num_nodes, T, "
                             f"{self.channels}] (got {tuple(x.shape)})")
        if not x.is_floating_point():
            raise ValueError(f"'x' must be a floating-point tensor (got "
                             f"{x.dtype})")
        if validation_enabled():
            check_finite(x, 'x')
        N, T, C = x.shape
        if T > self.num_time_steps:
            raise ValueError(f"'x' has {T} time steps but the layer has "
                             f"position embeddings for "
                             f"{self.num_time_steps}")
        H, D = self.heads, C // self.heads
        z = x + self.position[:T].to(x.dtype)
        q = self.lin_q(z).view(N, T, H, D).transpose(1, 2)   # [N, H, T, D]
        k = self.lin_k(z).view(N, T, H, D).transpose(1, 2)
        v = self.lin_v(z).view(N, T, H, D).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        if return_attention_weights:
            logits = q @ k.transpose(-1, -2) / math.sqrt(D)    # [N, H, T, T]
            future = torch.ones(T, T, dtype=torch.bool,
                                device=x.device).triu(1)
            beta = logits.masked_fill(future, float('-inf')).softmax(-1)
            out = F.dropout(beta, p=p, training=self.training) @ v
        else:
            # The same causal attention as one fused kernel: on short
            # sequences (T <= 16) a separate softmax over [N, H, T, T] costs
            # more than the products around it.
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=p, is_causal=True, scale=1 / math.sqrt(D))
        out = out.transpose(1, 2).reshape(N, T, C)
        if self.ffn is not None:
            out = F.relu(self.ffn(out)) + out
        if self.residual:
            out = out + z
        if return_attention_weights:
            return out, {'temporal': beta}
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.channels}, '
                f'num_time_steps={self.num_time_steps}, heads={self.heads})')
