from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import SparseTensor
from torch_geometric.utils import is_torch_sparse_tensor

from gat_zoo.nn.conv._base import AttentionConv
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import segment_aggregate, segment_softmax
from gat_zoo.ops._cache import ObjectCache
from gat_zoo.ops.motifs import MOTIF_NAMES

__all__ = ['SiGATConv']

_layouts = ObjectCache(size=8)


def _plain_index(adj: Any, num_nodes: int, what: str,
                 device: torch.device) -> Tensor:
    """A ``[2, E]`` int64 message-passing index (row 0 source, row 1 target)
    from an edge index, :class:`~torch_geometric.EdgeIndex`,
    :class:`torch_sparse.SparseTensor` or torch sparse adjacency (the last two
    in PyG's ``adj[target, source]`` layout), checked against ``num_nodes``.
    """
    if isinstance(adj, SparseTensor) and not isinstance(adj, Tensor):
        sizes = adj.sparse_sizes()
        if any(s != num_nodes for s in sizes):
            raise ValueError(f"{what}: the SparseTensor has sizes "
                             f"{tuple(sizes)} but x has {num_nodes} rows")
        row, col, _ = adj.coo()
        return torch.stack([col, row]).long()
    if isinstance(adj, Tensor) and is_torch_sparse_tensor(adj):
        if tuple(adj.shape[:2]) != (num_nodes, num_nodes):
            raise ValueError(f"{what}: the sparse adjacency has shape "
                             f"{tuple(adj.shape)} but x has {num_nodes} "
                             f"rows")
        idx = adj.to_sparse_coo().coalesce().indices()
        return idx.flip(0).long()
    if not isinstance(adj, Tensor):
        raise ValueError(f"{what} must be an edge index tensor, an EdgeIndex "
                         f"or a sparse adjacency (got {type(adj).__name__})")
    if adj.is_floating_point() or adj.is_complex() or adj.dtype == \
            torch.bool:
        raise ValueError(f"{what} must hold integers (got {adj.dtype})")
    if adj.dim() != 2 or adj.size(0) != 2:
        raise ValueError(f"{what} must have shape [2, num_edges] (got "
                         f"{tuple(adj.shape)})")
    if adj.device != device:
        raise ValueError(f"{what} is on {adj.device} but the node features "
                         f"are on {device}")
    if type(adj) is not Tensor:
        adj = adj.as_subclass(Tensor)
    if adj.dtype != torch.long:
        adj = adj.long()
    if validation_enabled() and adj.numel():
        low, high = int(adj.min()), int(adj.max())
        if low < 0:
            raise ValueError(f"{what} contains negative node indices "
                             f"(smallest: {low})")
        if high >= num_nodes:
            raise ValueError(f"{what} is out of range: node index {high} "
                             f"but x has {num_nodes} rows")
    return adj


class SiGATConv(AttentionConv):
    r"""The signed graph attention operator from the `"Signed Graph Attention
    Networks" <https://arxiv.org/abs/1906.10958>`_ paper (Huang, Shen, Hou,
    Cheng, ICANN 2019).

    A signed, directed graph is read through :math:`M` motifs (the paper's
    38: 6 first-order and 32 triad motifs of balance and status theory, see
    :mod:`gat_zoo.ops.motifs` and
    :func:`~gat_zoo.ops.motifs.signed_motif_graphs`), each giving node
    :math:`i` a neighbourhood :math:`\mathcal{N}_m(i)`. Every motif has its
    own single-head GAT aggregator

    .. math::
        \alpha^{m}_{ij} = \frac{\exp\left(\mathrm{LeakyReLU}\left(
        \mathbf{a}_m^{\top}[\mathbf{W}_m\mathbf{x}_i \,\Vert\,
        \mathbf{W}_m\mathbf{x}_j]\right)\right)}
        {\sum_{k \in \mathcal{N}_m(i) \cup \{i\}} \exp\left(
        \mathrm{LeakyReLU}\left(\mathbf{a}_m^{\top}[\mathbf{W}_m\mathbf{x}_i
        \,\Vert\, \mathbf{W}_m\mathbf{x}_k]\right)\right)},
        \qquad
        \mathbf{X}_m(i) = \sum_{j \in \mathcal{N}_m(i) \cup \{i\}}
        \alpha^{m}_{ij}\mathbf{W}_m\mathbf{x}_j,

    and the node's own input and its :math:`M` motif messages are
    concatenated and combined by a two-layer MLP:

    .. math::
        \mathbf{z}_i = \mathbf{W}_2 \tanh\left(\mathbf{W}_1
        [\mathbf{x}_i \,\Vert\, \mathbf{X}_1(i) \,\Vert\, \cdots \,\Vert\,
        \mathbf{X}_M(i)] + \mathbf{b}_1\right) + \mathbf{b}_2.

    **Where this follows the paper rather than the survey.** The survey's
    one-line description ("an MLP over positive and negative neighbours")
    has neither the motifs nor the per-motif attention; here there is one
    attention aggregator per motif (38 by default), as in the paper's Fig. 2
    and its official code. Details from the official code
    (``huangjunjie-cs/SiGAT``, ``sigat.py``) that the paper's text leaves
    open: LeakyReLU slope 0.1, the projections :math:`\mathbf{W}_m` carry a
    bias (:obj:`bias=True`), the self-feature :math:`\mathbf{x}_i` enters the
    MLP untransformed, the hidden width of the MLP is :obj:`in_channels`,
    and :obj:`reset_parameters` draws the parameters as that code does
    (:math:`\mathbf{a}_m` and the MLP weights Kaiming-normal, MLP biases
    0.01, :math:`\mathbf{W}_m` as :class:`torch.nn.Linear`).

    The :math:`M` aggregators run as one batched segment softmax over the
    union of the motif graphs (segment = (motif, centre)), so the cost is
    one gather and one scatter over :math:`\sum_m |\mathcal{E}_m|` edges.

    Args:
        in_channels (int): Size of each input sample :math:`F`.
        out_channels (int): Size of each output embedding :math:`D`.
        motif_channels (int, optional): Width :math:`C` of every motif
            message :math:`\mathbf{X}_m(i)`; :obj:`None` uses
            :obj:`in_channels` (the paper). (default: :obj:`None`)
        hidden_channels (int, optional): Hidden width of the combination MLP;
            :obj:`None` uses :obj:`in_channels` (the paper).
            (default: :obj:`None`)
        motifs (int or sequence of str, optional): The motifs: their names
            (the keys of the returned attention weights) or their number.
            (default: the 38 of :data:`gat_zoo.ops.motifs.MOTIF_NAMES`)
        negative_slope (float, optional): LeakyReLU slope. (default:
            :obj:`0.1`)
        dropout (float, optional): Dropout probability of the normalised
            attention coefficients (the paper uses none).
            (default: :obj:`0.`)
        add_self_loops (bool, optional): Whether each node attends to itself
            in every motif (:math:`\mathcal{N}_m(i) \cup \{i\}`); existing
            self-loops are replaced by one per node. (default: :obj:`True`)
        bias (bool, optional): Whether the motif projections
            :math:`\mathbf{W}_m` learn a bias. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F)`,
          motif graphs: a sequence of :math:`M` edge indices
          :math:`(2, |\mathcal{E}_m|)` (or
          :class:`~torch_geometric.EdgeIndex`,
          :class:`torch_sparse.SparseTensor`, torch sparse tensors), or one
          edge index :math:`(2, |\mathcal{E}|)` together with
          :obj:`motif_type` :math:`(|\mathcal{E}|)`
        - **output:** embeddings :math:`(|\mathcal{V}|, D)`. If
          :obj:`return_attention_weights=True`, then
          :math:`((|\mathcal{V}|, D), \{\text{name}_m: ((2,
          |\mathcal{E}_m| + |\mathcal{V}|), (|\mathcal{E}_m| +
          |\mathcal{V}|, 1))\})`: per motif, its edges (self-loops
          appended) and their attention :math:`\alpha^m_{ij}`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        motif_channels: Optional[int] = None,
        hidden_channels: Optional[int] = None,
        motifs: Union[int, Sequence[str]] = MOTIF_NAMES,
        negative_slope: float = 0.1,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f"'in_channels' must be a positive int (got "
                             f"{in_channels!r}); SiGAT is not bipartite")
        if isinstance(motifs, int):
            if motifs <= 0:
                raise ValueError(f"'motifs' must be positive (got {motifs})")
            names = (tuple(MOTIF_NAMES) if motifs == len(MOTIF_NAMES) else
                     tuple(f'motif_{m}' for m in range(motifs)))
        else:
            names = tuple(str(m) for m in motifs)
            if not names or len(set(names)) != len(names):
                raise ValueError("'motifs' must be non-empty distinct names")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.motif_channels = motif_channels or in_channels
        self.hidden_channels = hidden_channels or in_channels
        self.motif_names = names
        self.num_motifs = len(names)
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops

        M, C = self.num_motifs, self.motif_channels
        # All M projections W_m stacked into one [M * C, F] weight.
        self.lin: torch.nn.Linear = torch.nn.Linear(in_channels, M * C,
                                                    bias=bias)
        self.att_dst = Parameter(torch.empty(1, M, C))  # a_m, centre half
        self.att_src = Parameter(torch.empty(1, M, C))  # a_m, neighbour half
        self.mlp_hidden = torch.nn.Linear(in_channels + M * C,
                                          self.hidden_channels)
        self.mlp_out = torch.nn.Linear(self.hidden_channels, out_channels)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        # One nn.Linear(F, C) draw per motif, as M separate layers would.
        bound = 1.0 / math.sqrt(self.in_channels)
        with torch.no_grad():
            self.lin.weight.uniform_(-bound, bound)
            if self.lin.bias is not None:
                self.lin.bias.uniform_(-bound, bound)
            # a_m ~ Kaiming-normal of a [2C, 1] vector: std sqrt(2).
            self.att_dst.normal_(0.0, math.sqrt(2.0))
            self.att_src.normal_(0.0, math.sqrt(2.0))
        for lin in (self.mlp_hidden, self.mlp_out):
            torch.nn.init.kaiming_normal_(lin.weight)
            torch.nn.init.constant_(lin.bias, 0.01)

    def _layout(self, graphs, num_nodes: int, device):
        """``(src, dst, motif, ptr, sizes)``: the union of the motif graphs
        (self-loops replaced by one per node if the layer adds them; a
        repeated edge kept once, since the motif neighbourhood
        :math:`N_m(i)` is a set), sorted by (motif, centre, neighbour),
        with the CSR pointer of its ``motif * N + centre`` segments; cached
        per list of graph tensors."""
        key = ('sigat_layout', num_nodes, self.add_self_loops, len(graphs))
        objs = tuple(graphs)
        hit = _layouts.get(objs, key) if objs else None
        if hit is not None:
            return hit
        M, N = len(graphs), num_nodes
        parts, sizes = [], []
        for m, g in enumerate(graphs):
            g = g.to(device)
            if self.add_self_loops:
                loops = torch.arange(N, device=device)
                g = torch.cat([g[:, g[0] != g[1]],
                               torch.stack([loops, loops])], dim=1)
            # unique() sorts the (centre, neighbour) keys and drops repeats.
            keys = torch.unique(g[1] * max(N, 1) + g[0])
            g = torch.stack([keys % max(N, 1), keys // max(N, 1)])
            parts.append(torch.cat([g, torch.full_like(g[:1], m)]))
            sizes.append(g.size(1))
        allg = (torch.cat(parts, dim=1) if parts else
                torch.zeros(3, 0, dtype=torch.long, device=device))
        src, dst, motif = allg[0], allg[1], allg[2]
        counts = torch.bincount(motif * N + dst, minlength=M * N)
        ptr = torch.zeros(M * N + 1, dtype=torch.long, device=device)
        ptr[1:] = torch.cumsum(counts, 0)
        value = (src, dst, motif, ptr, sizes)
        if objs and not torch.compiler.is_compiling():
            _layouts.put(objs, key, value)
        return value

    # ------------------------------------------------------------------
    def _motif_edges(self, edge_index: Any, motif_type: Optional[Tensor],
                     num_nodes: int, device: torch.device) -> List[Tensor]:
        M = self.num_motifs
        if isinstance(edge_index, (list, tuple)):
            if motif_type is not None:
                raise ValueError("'motif_type' is only used with a single "
                                 "edge index, not with a list of motif "
                                 "graphs")
            if len(edge_index) != M:
                raise ValueError(f"Expected {M} motif graphs (one per motif "
                                 f"of the layer) but got {len(edge_index)}")
            return [_plain_index(e, num_nodes, f"motif graph {m} "
                                 f"({self.motif_names[m]!r})", device)
                    for m, e in enumerate(edge_index)]
        edge_index = _plain_index(edge_index, num_nodes, "'edge_index'",
                                  device)
        if motif_type is None:
            if M != 1:
                raise ValueError(f"A single edge index needs 'motif_type' "
                                 f"(one motif id per edge in [0, {M})), or "
                                 f"pass a list of {M} motif graphs")
            return [edge_index]
        if not isinstance(motif_type, Tensor) or motif_type.is_floating_point(
        ) or motif_type.is_complex() or motif_type.dtype == torch.bool:
            raise ValueError("'motif_type' must be an integer tensor of motif "
                             "ids")
        if motif_type.dim() != 1 or motif_type.numel() != edge_index.size(1):
            raise ValueError(f"'motif_type' must have shape [num_edges] = "
                             f"[{edge_index.size(1)}] (got "
                             f"{tuple(motif_type.shape)})")
        motif_type = motif_type.long()
        if motif_type.numel():
            low, high = int(motif_type.min()), int(motif_type.max())
            if low < 0 or high >= M:
                raise ValueError(f"'motif_type' holds ids in [{low}, {high}] "
                                 f"but the layer has {M} motifs (ids in "
                                 f"[0, {M}))")
        return [edge_index[:, motif_type == m] for m in range(M)]

    def forward(
        self,
        x: Tensor,
        motif_edge_index: Union[Sequence[Any], Any],
        motif_type: Optional[Tensor] = None,
        return_attention_weights: Optional[bool] = None,
    ):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): Node features (for SiGAT: learned node
                embeddings) :math:`(N, F)`.
            motif_edge_index (sequence or torch.Tensor): One adjacency per
                motif, or one edge index whose edges carry motif ids
                :obj:`motif_type`. Row 0 is the neighbour :math:`j`, row 1
                the centre :math:`i`.
            motif_type (torch.Tensor, optional): Motif id of each edge of a
                single :obj:`motif_edge_index`. (default: :obj:`None`)
            return_attention_weights (bool, optional): If truthy, also
                returns ``{motif name: (edge_index, alpha)}`` with each
                motif's edges (self-loops included) and their coefficients
                ``[E_m, 1]``. (default: :obj:`None`)
        """
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels, None)
        N = x.size(0)
        M, C = self.num_motifs, self.motif_channels
        graphs = self._motif_edges(motif_edge_index, motif_type, N,
                                   x.device)
        src, dst, motif, ptr, sizes = self._layout(graphs, N, x.device)
        segment = motif * N + dst

        h = self.lin(x).view(N, M, C)                      # W_m x
        score_dst = (h * self.att_dst).sum(-1).view(-1)    # [N * M]
        score_src = (h * self.att_src).sum(-1).view(-1)
        flat_src = src * M + motif
        logits = F.leaky_relu(
            score_dst.index_select(0, dst * M + motif) +
            score_src.index_select(0, flat_src), self.negative_slope)
        alpha = segment_softmax(logits.unsqueeze(-1), segment, ptr=ptr,
                                num_segments=M * N)
        if self.training and self.dropout > 0:
            alpha = F.dropout(alpha, p=self.dropout)
        msg = h.view(N * M, C).index_select(0, flat_src) * alpha  # [E, C]
        agg = segment_aggregate(msg, segment, ptr=ptr, num_segments=M * N,
                                reduce='sum')                     # [M*N, C]
        agg = agg.view(M, N, C).transpose(0, 1).reshape(N, M * C)

        z = self.mlp_out(torch.tanh(self.mlp_hidden(
            torch.cat([x, agg], dim=-1))))
        if return_attention_weights:
            out: Dict[str, Tuple[Tensor, Tensor]] = {}
            for name, g_src, g_dst, a in zip(
                    self.motif_names, src.split(sizes), dst.split(sizes),
                    alpha.split(sizes)):
                out[name] = (torch.stack([g_src, g_dst]), a)
            return z, out
        return z

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, motifs={self.num_motifs}, '
                f'motif_channels={self.motif_channels})')
