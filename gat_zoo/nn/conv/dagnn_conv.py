"""DAGNN's adaptive-adjustment propagation (Liu, Gao, Ji, KDD 2020)."""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import (
    AttentionConv,
    weighted_edges_of,
)
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import normalized_propagation
from gat_zoo.ops.propagation import Propagation

__all__ = ['DAGNNConv']


class DAGNNConv(AttentionConv):
    r"""The adaptive adjustment of `"Towards Deeper Graph Neural Networks"
    <https://arxiv.org/abs/2007.09296>`_ (DAGNN, Liu, Gao & Ji, KDD 2020,
    Eq. 9): propagate the (already transformed) node representations over
    :math:`K` hops and let every node decide, per hop, how much of that
    hop's representation to retain.

    .. math::
        \mathbf{H}_\ell &= \hat{\mathbf{A}}^{\ell}\mathbf{Z},
        \quad \ell = 0, \dots, K, \qquad
        \hat{\mathbf{A}} = \tilde{\mathbf{D}}^{-1/2}(\mathbf{A} + \mathbf{I})
        \tilde{\mathbf{D}}^{-1/2}

        s_{i\ell} &= \sigma\big(\mathbf{H}_{\ell, i}\,\mathbf{s}
        + b\big)

        \mathbf{x}'_i &= \sum_{\ell=0}^{K} s_{i\ell}\,\mathbf{H}_{\ell, i}

    with one projection :math:`\mathbf{s} \in \mathbb{R}^{C}` (and bias
    :math:`b`) shared by all hops and nodes. The paper's model is
    :math:`\mathrm{softmax}(\mathbf{X}')` on top of
    :math:`\mathbf{Z} = \mathrm{MLP}(\mathbf{X})`
    (:class:`gat_zoo.nn.models.DAGNN`); this layer returns the logits
    :math:`\mathbf{X}'`.

    **The survey and the paper differ.** The survey describes DAGNN's hop
    weights as a softmax attention over depths. In the paper (and the
    official code) each retention score is an *independent sigmoid*: the
    scores of one node need not sum to one, a node may keep all hops or
    none, and nothing couples the hops but the shared :math:`\mathbf{s}`.
    This layer follows the paper.

    Graph handling follows the official code (PyG's ``gcn_norm``): the
    graph's own self-loops are replaced by exactly one loop of weight 1 per
    node, parallel edges count with their multiplicity, and
    :math:`\tilde{d}_i` is the (weighted) in-degree. The propagation is a
    fixed operator, built once per graph and applied as a CSR sparse-dense
    product (:func:`gat_zoo.ops.normalized_propagation`); where PyG hooks or
    explain mode observe the message-passing steps it runs them as
    ``message``/``aggregate`` instead, with the same numbers.

    Args:
        in_channels (int): Size :math:`C` of each input (and output) sample;
            in the paper the number of classes.
        K (int): Number of propagation hops :math:`K`. (default: :obj:`10`)
        add_self_loops (bool, optional): Use :math:`\mathbf{A} + \mathbf{I}`
            (the paper); :obj:`False` propagates over :math:`\mathbf{A}` as
            given. (default: :obj:`True`)
        bias (bool, optional): Learn the retention bias :math:`b`.
            (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, C)`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a ``SparseTensor`` /
          torch sparse adjacency / ``EdgeIndex``),
          edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, C)`, or
          ``(out, {'hop': scores})`` with the retention scores
          :math:`(|\mathcal{V}|, K + 1)` when
          :obj:`return_attention_weights=True`.
    """

    def __init__(self, in_channels: int, K: int = 10,
                 add_self_loops: bool = True, bias: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"'in_channels' must be a positive int (got "
                             f"{in_channels!r})")
        if not isinstance(K, int) or K < 0:
            raise ValueError(f"'K' must be a non-negative int (got {K!r})")
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.K = K
        self.add_self_loops = add_self_loops
        self.proj = Linear(in_channels, 1, bias=bias,
                           weight_initializer='glorot')
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.proj.reset_parameters()

    def operator(self, edge_index: Adj, num_nodes: int,
                 edge_weight: OptTensor = None,
                 dtype: torch.dtype = torch.float32,
                 device: Optional[torch.device] = None) -> Propagation:
        r"""The normalised propagation :math:`\hat{\mathbf{A}}` of a graph
        (cached per ``edge_index`` object)."""
        device = device or (edge_index.device() if callable(
            getattr(edge_index, 'device', None)) else edge_index.device)
        index, edge_weight = weighted_edges_of(edge_index, num_nodes,
                                               edge_weight, device)
        loops = 'remaining' if self.add_self_loops else 'keep'
        # Cached on the caller's adjacency object: a static graph is
        # normalised once, not once per epoch.
        return normalized_propagation(index, num_nodes, r=0.5,
                                      self_loops=loops,
                                      edge_weight=edge_weight, dtype=dtype,
                                      cache_key=edge_index)

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: OptTensor = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]]]:
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        num_nodes = x.size(0)
        dtype = x.dtype if x.dtype == torch.float64 else torch.float32
        prop = self.operator(edge_index, num_nodes, edge_weight, dtype,
                             x.device)
        hops = [x]
        if self._messages_unobserved(x.device):
            for _ in range(self.K):
                hops.append(prop(hops[-1]))
        else:
            graph = prop.graph
            index = torch.stack([graph.col, graph.row], dim=0)
            for _ in range(self.K):
                hops.append(self.propagate(index, x=hops[-1],
                                           weight=prop.weight.to(x.dtype),
                                           size=(num_nodes, num_nodes)))
        stacked = torch.stack(hops, dim=1)               # [N, K + 1, C]
        scores = torch.sigmoid(self.proj(stacked)).squeeze(-1)
        out = torch.einsum('nk,nkc->nc', scores, stacked)
        if return_attention_weights:
            return out, {'hop': scores}
        return out

    def message(self, x_j: Tensor, weight: Tensor) -> Tensor:
        return weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.in_channels}, K={self.K})'
