from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, Size
from torch_geometric.utils import (
    add_self_loops,
    is_torch_sparse_tensor,
    remove_self_loops,
    to_edge_index,
)

from gat_zoo.nn.conv._base import (
    HeadwiseAttentionConv,
    _is_sparse_tensor,
)
from gat_zoo.nn.validation import validation_enabled

_ACTIVATIONS = ('tanh', 'none')


def _plain_edge_index(adj: Any) -> Tensor:
    """``[2, E]`` (source, target) index of any supported adjacency layout
    (PyG's sparse layouts hold the transposed adjacency ``adj_t[i, j]``)."""
    if _is_sparse_tensor(adj):
        row, col, _ = adj.coo()
        return torch.stack([col, row], dim=0)
    if isinstance(adj, Tensor) and is_torch_sparse_tensor(adj):
        (row, col), _ = to_edge_index(adj)
        return torch.stack([col, row], dim=0)
    if type(adj) is not Tensor and callable(getattr(adj, 'as_tensor', None)):
        return adj.as_tensor()  # EdgeIndex: a plain tensor of its data
    return adj.as_subclass(Tensor) if type(adj) is not Tensor else adj


class PaGNNConv(HeadwiseAttentionConv):
    r"""The attentive broadcast / aggregation step of the Path-aware Graph
    Neural Network (PaGNN) from the `"Inductive Link Prediction with
    Interactive Structure Learning on Attributed Graph"
    <https://doi.org/10.1007/978-3-030-86520-7_24>`_ paper (Yang et al.,
    ECML-PKDD 2021).

    One step updates every target node from the *active* sources among its
    in-neighbours and from itself:

    .. math::
        \mathbf{x}^{\prime}_i = \sigma\Big(\sum_{j \in
        (\mathcal{N}(i) \cap \mathcal{F}) \cup \{ i \}}
        \alpha_{i,j}\mathbf{\Theta}\mathbf{x}_{j} + \mathbf{b}\Big),
        \qquad
        \alpha_{i,j} = \frac{\exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}^{\top}_{s}\mathbf{\Theta}\mathbf{x}_j +
        \mathbf{a}^{\top}_{t}\mathbf{\Theta}\mathbf{x}_i\right)\right)}
        {\sum_{k \in (\mathcal{N}(i) \cap \mathcal{F}) \cup \{ i \}}
        \exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}^{\top}_{s}\mathbf{\Theta}\mathbf{x}_k +
        \mathbf{a}^{\top}_{t}\mathbf{\Theta}\mathbf{x}_i\right)\right)},

    where :math:`\sigma = \tanh` and :math:`\mathcal{F}` is the
    :obj:`frontier`: the set of nodes that send in this step.

    * **Broadcasting** (the frontier is given): information spreads from a
      pair's source node one hop per step. At hop :math:`k` only the nodes
      reached at hop :math:`k-1` send, so after :math:`K` hops a node's state
      has been built along the paths that lead to it from the source.
    * **Aggregating** (no frontier, :math:`\mathcal{F} = \mathcal{V}`):
      a GAT-style attentive neighbourhood aggregation over the whole graph,
      which the target node of the pair uses to read the broadcast states of
      its neighbourhood.

    **What is reconstructed.** The paper's full text (equations) was not
    available to us; the abstract names the two operations (broadcasting and
    aggregating) and a cache strategy, and the public AntGraphLearning
    example of PaGNN (Ant Group, Apache-2.0) builds both from GeniePath's
    adaptive-path layers (a GAT "breadth" function with :math:`\tanh`,
    followed by an LSTM "depth" gate). This layer is that breadth function
    with the broadcast's frontier restriction; the LSTM gate, the residual
    input and the read-out live in :class:`~gat_zoo.nn.models.PaGNN`.
    The exact attention form, the self term and the activation are our
    reading, not verified against the paper.

    Args:
        in_channels (int or tuple): Size of each input sample, or a tuple of
            source and target sizes for a bipartite graph.
        out_channels (int): Size of each output sample per head.
        heads (int, optional): Number of attention heads. (default: :obj:`1`)
        concat (bool, optional): Concatenate the heads (else average them).
            (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU angle of the negative
            slope. (default: :obj:`0.2`)
        dropout (float, optional): Dropout probability of the normalised
            attention coefficients. (default: :obj:`0`)
        add_self_loops (bool, optional): Replace the graph's self-loops by one
            self term per node (the :math:`\{i\}` above; for a bipartite
            graph, for the indices present on both sides). The self term is
            kept whether or not :math:`i` is in the frontier.
            (default: :obj:`True`)
        act (str, optional): :obj:`'tanh'` (GeniePath's breadth function) or
            :obj:`'none'`. (default: :obj:`'tanh'`)
        bias (bool, optional): Learn the additive bias :math:`\mathbf{b}`.
            (default: :obj:`True`)
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
          frontier :math:`(|\mathcal{V}_s|)` boolean *(optional)*
        - **output:** node features :math:`(|\mathcal{V}_t|, H * F_{out})`
          (:math:`F_{out}` if :obj:`concat=False`). With
          :obj:`return_attention_weights=True`, also
          :math:`((2, |\mathcal{E}'|), (|\mathcal{E}'|, H))`: the edges that
          took part (frontier edges and self terms) and their weights, as
          a dense index whatever the input layout.
    """

    def __init__(
        self,
        in_channels: Union[int, Tuple[int, int]],
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        act: str = 'tanh',
        bias: bool = True,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if act not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {act!r}; expected one of "
                             f"{_ACTIVATIONS}")
        if heads < 1 or out_channels < 1:
            raise ValueError(f"'heads' and 'out_channels' must be positive "
                             f"(got {heads} and {out_channels})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.act = act

        width = heads * out_channels
        self._init_projections(in_channels, width)
        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))
        if bias:
            self.bias = Parameter(torch.empty(width if concat else
                                              out_channels))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in (self.lin, self.lin_src, self.lin_dst):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(
        self,
        x: Union[Tensor, OptPairTensor],
        edge_index: Adj,
        frontier: OptTensor = None,
        size: Size = None,
        return_attention_weights: Optional[bool] = None,
    ):
        r"""Runs one broadcast (with :obj:`frontier`) or aggregation step.

        Args:
            x (torch.Tensor or (torch.Tensor, torch.Tensor)): Node features,
                or ``(x_src, x_dst)`` for a bipartite graph.
            edge_index (torch.Tensor or SparseTensor): The edge indices.
            frontier (torch.Tensor, optional): Boolean mask over the source
                nodes; only edges leaving a frontier node carry a message.
                :obj:`None`: every node sends. (default: :obj:`None`)
            size ((int, int), optional): The shape of the adjacency matrix.
            return_attention_weights (bool, optional): Also return
                ``(edge_index, alpha)`` of the edges that took part.
        """
        H, C = self.heads, self.out_channels
        x_src, x_dst, bipartite = self._split_features(
            x, self.in_channels, size)
        if x_dst is None:
            raise ValueError("PaGNNConv needs the target features (its "
                             "attention and self term read them)")
        edge_index = self._check_graph(edge_index, None, x_src, x_dst,
                                       bipartite, size, None)
        edge_index = _plain_edge_index(edge_index)
        num_src, num_dst = x_src.size(0), x_dst.size(0)
        if size is not None:
            num_src, num_dst = size
        if frontier is not None:
            if validation_enabled():
                if not isinstance(frontier, Tensor) or frontier.dtype != \
                        torch.bool or frontier.shape != (num_src, ):
                    shape = tuple(frontier.shape) if isinstance(
                        frontier, Tensor) else type(frontier).__name__
                    raise ValueError(f"'frontier' must be a boolean mask of "
                                     f"shape ({num_src},) over the source "
                                     f"nodes (got {shape})")
                if frontier.device != x_src.device:
                    raise ValueError(f"'frontier' is on {frontier.device} but "
                                     f"the node features are on "
                                     f"{x_src.device}")
            edge_index = edge_index[:, frontier[edge_index[0]]]

        if self.lin is not None:
            h_src = self.lin(x_src).view(-1, H, C)
            h_dst = h_src if not bipartite else self.lin(x_dst).view(-1, H, C)
        else:
            assert self.lin_src is not None and self.lin_dst is not None
            h_src = self.lin_src(x_src).view(-1, H, C)
            h_dst = self.lin_dst(x_dst).view(-1, H, C)

        if self.add_self_loops:
            edge_index, _ = remove_self_loops(edge_index)
            edge_index, _ = add_self_loops(edge_index,
                                           num_nodes=min(num_src, num_dst))

        score_src = (h_src * self.att_src).sum(dim=-1)
        score_dst = (h_dst * self.att_dst).sum(dim=-1)
        # edge_updater_type: (score: PairTensor)
        alpha = self.edge_updater(edge_index, score=(score_src, score_dst),
                                  size=(num_src, num_dst))
        # propagate_type: (x: PairTensor, alpha: Tensor)
        out = self.propagate(edge_index, x=(h_src, h_dst), alpha=alpha,
                             size=(num_src, num_dst))
        if self.concat:
            out = out.reshape(out.size(0), H * C)
        else:
            out = out.mean(dim=1)
        if self.bias is not None:
            out = out + self.bias
        if self.act == 'tanh':
            out = torch.tanh(out)
        if return_attention_weights:
            return out, (edge_index, alpha)
        return out

    def edge_update(self, score_j: Tensor, score_i: Tensor, index: Tensor,
                    ptr: OptTensor, dim_size: Optional[int]) -> Tensor:
        logits = F.leaky_relu(score_j + score_i, self.negative_slope)
        return self.attention_softmax(logits, index, ptr, dim_size)

