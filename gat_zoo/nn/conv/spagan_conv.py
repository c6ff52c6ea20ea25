from __future__ import annotations

from typing import List, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj

from gat_zoo.nn.conv._base import AttentionConv
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import segment_softmax
from gat_zoo.ops.paths import PathSet

__all__ = ['SPAGANAttention', 'SPAGANConv', 'SPAGAN_POOLINGS']

#: How a path's node features are pooled into the path feature.
SPAGAN_POOLINGS = ('mean', 'max')


class SPAGANAttention(NamedTuple):
    r"""The attention weights :class:`SPAGANConv` returns with
    ``return_attention_weights=True``.

    Attributes:
        paths (PathSet): The paths attended to, the added self-paths
            included (they come last within each length).
        path_alpha (list of torch.Tensor): ``path_alpha[c - 1]`` is
            ``[P_c, H]``: :math:`\alpha_p`, the softmax over the center's
            paths of length :math:`c` (after attention dropout), in the
            row order of ``paths.paths[c - 1]``.
        length_alpha (torch.Tensor): ``[N, C, H]``: :math:`\beta_{i,c}`,
            the softmax over the lengths at which node :math:`i` has paths
            (0 at the lengths where it has none).
    """
    paths: PathSet
    path_alpha: List[Tensor]
    length_alpha: Tensor


class SPAGANConv(AttentionConv):
    r"""The shortest path attention operator from the `"SPAGAN: Shortest
    Path Graph Attention Network" <https://arxiv.org/abs/2101.03464>`_
    paper (Yang et al., IJCAI 2019).

    Each node :math:`i` attends to *paths*, not neighbours: the shortest
    paths :math:`p = (i, v_1, \dots, v_c)` of every length
    :math:`c = 1, \dots, C` from :math:`i` to its higher-order neighbours
    (:func:`gat_zoo.ops.paths.shortest_paths`). Per head, a path
    is represented by pooling the projected features of its nodes other
    than the center,

    .. math::
        \phi(p) = \frac{1}{c} \sum_{t=1}^{c} \mathbf{W}\mathbf{h}_{v_t}
        \quad (\text{mean}) \qquad\text{or}\qquad
        \phi(p) = \max_{t=1}^{c} \mathbf{W}\mathbf{h}_{v_t}
        \quad (\text{element-wise max}),

    the paths of one length compete in a softmax over the center's paths of
    that length,

    .. math::
        \alpha_p = \frac{\exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}_c^{\top}[\phi(p) \,\Vert\, \mathbf{W}\mathbf{h}_i]
        \right)\right)}{\sum_{q \in \mathcal{P}_i^{c}} \exp\left(
        \mathrm{LeakyReLU}\left(\mathbf{a}_c^{\top}[\phi(q) \,\Vert\,
        \mathbf{W}\mathbf{h}_i]\right)\right)},
        \qquad
        \mathbf{h}_i^{(c)} = \sum_{p \in \mathcal{P}_i^{c}} \alpha_p\,
        \phi(p),

    with one attention vector :math:`\mathbf{a}_c` per length, and the
    lengths compete in a second softmax,

    .. math::
        \beta_{i,c} = \frac{\exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{b}^{\top}[\mathbf{h}_i^{(c)} \,\Vert\, \mathbf{W}
        \mathbf{h}_i]\right)\right)}{\sum_{c'} \exp\left(
        \mathrm{LeakyReLU}\left(\mathbf{b}^{\top}[\mathbf{h}_i^{(c')}
        \,\Vert\, \mathbf{W}\mathbf{h}_i]\right)\right)},
        \qquad
        \mathbf{h}_i' = \sum_{c} \beta_{i,c}\, \mathbf{h}_i^{(c)},

    the sum running over the lengths at which :math:`i` has paths. With
    :math:`K` heads the outputs are concatenated or averaged, as in GAT;
    the non-linearity (ELU in the paper) is left to the network.

    Paper and official code. The survey this package follows calls the path
    encoder an LSTM; neither the paper nor the official code
    (``ihollywhy/SPAGAN``, ``layers_spagat.py``) uses one: the path feature
    is a pooling of the node features along the path. We could not verify
    the paper's exact pooling from its text; our reading is a mean
    (:obj:`pooling='mean'`, the default), while the official code takes an
    element-wise max with the mean commented out (:obj:`pooling='max'`).
    Both pool over the path's nodes other than the center, as the code
    does. The official code also adds a bias to :math:`\mathbf{W}
    \mathbf{h}` before pooling; here the bias is added to the output
    (PyG's convention). Attention dropout acts on :math:`\alpha_p` only, as
    in the code (:math:`\beta` has none).

    Self-paths. As GAT's self-loop, every node gets the path :math:`(i, i,
    \dots, i)` of every length (:obj:`add_self_paths`), whose feature is
    :math:`\mathbf{W}\mathbf{h}_i`; the official code adds the same.

    As a plain layer. Given only ``edge_index``, the paths are the one-hop
    paths :math:`(i, j)` of the edges :math:`j \to i` (existing self-loops
    replaced by one self-path per node): with a single length
    :math:`\beta = 1` and the layer is GAT with its own attention vector,
    which is how the paper's output layer works (it uses one-hop paths
    only).

    Args:
        in_channels (int): Size of each input sample, or :obj:`-1` to derive
            it from the first input.
        out_channels (int): Size of each output sample per head.
        heads (int, optional): Number of heads :math:`K`. (default:
            :obj:`1`)
        concat (bool, optional): Concatenate the heads (else average).
            (default: :obj:`True`)
        max_hops (int, optional): The largest path length :math:`C` the
            layer has an attention vector :math:`\mathbf{a}_c` for.
            (default: :obj:`2`)
        pooling (str, optional): ``'mean'`` or ``'max'``, the path feature
            :math:`\phi`. (default: :obj:`'mean'`)
        negative_slope (float, optional): LeakyReLU slope. (default:
            :obj:`0.2`)
        dropout (float, optional): Dropout on :math:`\alpha_p`. (default:
            :obj:`0`)
        add_self_paths (bool, optional): Add the self-path of every node at
            every length. (default: :obj:`True`)
        bias (bool, optional): Learn an additive output bias. (default:
            :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`) and/or a
          :class:`~gat_zoo.ops.paths.PathSet` with
          :math:`P_c` paths of length :math:`c` ``[P_c, c + 1]``
        - **output:** node features :math:`(|\mathcal{V}|, H * F_{out})`
          (or :math:`(|\mathcal{V}|, F_{out})` when averaging); with
          :obj:`return_attention_weights=True` also a
          :class:`SPAGANAttention`
    """

    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1,
                 concat: bool = True, max_hops: int = 2,
                 pooling: str = 'mean', negative_slope: float = 0.2,
                 dropout: float = 0.0, add_self_paths: bool = True,
                 bias: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if not isinstance(in_channels, int):
            raise ValueError(f"{type(self).__name__} works on one graph; "
                             f"'in_channels' must be an int (got "
                             f"{in_channels!r})")
        if isinstance(max_hops, bool) or int(max_hops) != max_hops or \
                max_hops < 1:
            raise ValueError(f"'max_hops' must be a positive integer (got "
                             f"{max_hops!r})")
        if pooling not in SPAGAN_POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}; expected one of "
                             f"{SPAGAN_POOLINGS}")
        if heads < 1 or out_channels < 1:
            raise ValueError(f"'heads' and 'out_channels' must be positive "
                             f"(got {heads}, {out_channels})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.max_hops = int(max_hops)
        self.pooling = pooling
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_paths = add_self_paths

        self.lin: Linear = Linear(in_channels, heads * out_channels,
                                  bias=False, weight_initializer='glorot')
        # a_c = [att_path[c]; att_center[c]] and b = [att_len; att_len_center]
        self.att_path = Parameter(torch.empty(self.max_hops, heads,
                                              out_channels))
        self.att_center = Parameter(torch.empty(self.max_hops, heads,
                                                out_channels))
        self.att_len = Parameter(torch.empty(1, heads, out_channels))
        self.att_len_center = Parameter(torch.empty(1, heads, out_channels))
        if bias:
            self.bias = Parameter(torch.empty(out_channels *
                                              (heads if concat else 1)))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        for att in (self.att_path, self.att_center):
            for c in range(self.max_hops):
                glorot(att.data[c])
        glorot(self.att_len)
        glorot(self.att_len_center)
        zeros(self.bias)

    # ------------------------------------------------------------------
    def _path_set(self, x: Tensor, edge_index: Optional[Adj],
                  paths: Optional[PathSet]) -> PathSet:
        name = type(self).__name__
        num_nodes = x.size(0)
        if paths is None:
            if edge_index is None:
                raise ValueError(f"{name} needs 'edge_index' or 'paths'")
            edge_index = self._check_graph(edge_index, None, x, x, False,
                                           None, None)
            return PathSet.from_edge_index(
                edge_index, num_nodes,
                remove_self_loops=self.add_self_paths)
        if not isinstance(paths, PathSet):
            raise TypeError(f"'paths' must be a PathSet (got "
                            f"{type(paths).__name__})")
        if paths.num_nodes != num_nodes:
            raise ValueError(f"'paths' are paths of a graph with "
                             f"{paths.num_nodes} nodes but 'x' has "
                             f"{num_nodes} rows")
        if paths.max_hops > self.max_hops:
            raise ValueError(f"'paths' has paths of up to "
                             f"{paths.max_hops} hops but the layer was "
                             f"built with max_hops={self.max_hops}")
        if paths.max_hops and paths.device != x.device:
            raise ValueError(f"'paths' is on {paths.device} but the node "
                             f"features are on {x.device}")
        return paths

    def _with_self_paths(self, paths: PathSet) -> PathSet:
        if not self.add_self_paths:
            return paths
        nodes = torch.arange(paths.num_nodes, device=paths.device)
        out = []
        for c, p in enumerate(paths.paths, start=1):
            loops = nodes.view(-1, 1).expand(-1, c + 1)
            out.append(torch.cat([p, loops], dim=0))
        return PathSet(out, paths.num_nodes, check=False)

    def _pool(self, h: Tensor, path: Tensor) -> Tensor:
        """:math:`\\phi(p)` ``[P, H, C]`` of ``[P, c + 1]`` paths."""
        c = path.size(1) - 1
        if path.size(0) == 0:
            return h.new_zeros((0, ) + tuple(h.shape[1:]))
        members = h.index_select(0, path[:, 1:].reshape(-1)).view(
            path.size(0), c, *h.shape[1:])
        if self.pooling == 'mean':
            return members.mean(dim=1)
        return members.amax(dim=1)

    def forward(self, x: Tensor, edge_index: Optional[Adj] = None,
                paths: Optional[PathSet] = None,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): Node features ``[N, F_in]``.
            edge_index (torch.Tensor or SparseTensor or EdgeIndex,
                optional): The edges; used (as one-hop paths) only when
                :obj:`paths` is :obj:`None`.
            paths (PathSet, optional): The paths to attend to (without
                self-paths; :obj:`add_self_paths` adds them), e.g. from
                :func:`~gat_zoo.ops.paths.shortest_paths`.
            return_attention_weights (bool, optional): Also return a
                :class:`SPAGANAttention`. (default: :obj:`None`)
        """
        if isinstance(x, (tuple, list)):
            raise ValueError(f"{type(self).__name__} attends to paths of "
                             f"one graph; bipartite input (x_src, x_dst) "
                             f"is not supported")
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        H, C = self.heads, self.out_channels
        paths = self._with_self_paths(self._path_set(x, edge_index, paths))
        N = paths.num_nodes
        L = max(paths.max_hops, 1)

        h = self.lin(x).view(-1, H, C)
        center = (h.unsqueeze(0) * self.att_center.unsqueeze(1)).sum(-1)
        # center: [max_hops, N, H], the W h_i half of every a_c.
        per_length: List[Tensor] = []
        alphas: List[Tensor] = []
        present: List[Tensor] = []
        for c, path in enumerate(paths.paths, start=1):
            owner = path[:, 0]
            phi = self._pool(h, path)
            logits = (phi * self.att_path[c - 1]).sum(-1) + \
                center[c - 1].index_select(0, owner)
            logits = F.leaky_relu(logits, self.negative_slope)
            alpha = segment_softmax(logits, owner, num_segments=N)
            alpha = F.dropout(alpha, p=self.dropout, training=self.training)
            index = torch.stack([torch.arange(path.size(0),
                                              device=path.device), owner])
            # propagate_type: (x: Tensor, alpha: Tensor)
            out_c = self.propagate(index, x=(phi, None), alpha=alpha,
                                   size=(path.size(0), N))
            per_length.append(out_c)
            alphas.append(alpha)
            present.append(torch.bincount(owner, minlength=N) > 0)
        if not per_length:  # no lengths at all
            per_length.append(h.new_zeros(N, H, C))
            present.append(torch.zeros(N, dtype=torch.bool,
                                       device=h.device))
        stacked = torch.stack(per_length, dim=1)  # [N, L, H, C]
        mask = torch.stack(present, dim=1)  # [N, L]
        len_logits = (stacked * self.att_len.unsqueeze(0)).sum(-1) + (
            h * self.att_len_center).sum(-1).unsqueeze(1)
        len_logits = F.leaky_relu(len_logits, self.negative_slope)
        len_logits = torch.where(mask.unsqueeze(-1), len_logits,
                                 torch.full_like(len_logits, -float('inf')))
        node = torch.arange(N, device=h.device).repeat_interleave(L)
        beta = segment_softmax(len_logits.reshape(N * L, H), node,
                               num_segments=N).view(N, L, H)
        out = (beta.unsqueeze(-1) * stacked).sum(dim=1)
        out = self._combine_heads(out, None)
        if return_attention_weights:
            return out, SPAGANAttention(paths, alphas, beta)
        return out

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads}, '
                f'max_hops={self.max_hops}, pooling={self.pooling!r})')
