from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptTensor, PairTensor
from torch_geometric.utils import (
    batched_negative_sampling,
    is_torch_sparse_tensor,
    is_undirected,
    negative_sampling,
    to_edge_index,
    to_undirected,
)

from gat_zoo.nn.conv._base import AttentionConv, _is_sparse_tensor
from gat_zoo.nn.validation import check_adjacency, validation_enabled
from gat_zoo.ops import gat_edge_softmax, segment_softmax

ATTENTION_TYPES = ('GO', 'DP', 'SD', 'MX')


class SuperGATConv(AttentionConv):
    r"""The self-supervised graph attention operator (SuperGAT) from the
    `"How to Find Your Friendly Neighborhood: Graph Attention Design with
    Self-Supervision" <https://arxiv.org/abs/2204.04879>`_ paper (ICLR 2021).

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \alpha_{i,j}\mathbf{W}\mathbf{h}_{j}, \qquad
        \alpha_{i,j} = \frac{\exp\left(\mathrm{LeakyReLU}\left(e_{i,j}
        \right)\right)}{\sum_{k \in \mathcal{N}(i) \cup \{ i \}}
        \exp\left(\mathrm{LeakyReLU}\left(e_{i,k}\right)\right)},

    with one of the paper's four attention forms for the unnormalised
    score :math:`e_{i,j}` and, for each, the probability
    :math:`\phi_{i,j}` that the edge :math:`j \to i` exists, which the
    self-supervised task trains:

    .. math::
        \textbf{GO:}\quad & e_{i,j} = \mathbf{a}^{\top}
            [\mathbf{W}\mathbf{h}_i \,\Vert\, \mathbf{W}\mathbf{h}_j],
        & \phi_{i,j} = \sigma(e_{i,j})

        \textbf{DP:}\quad & e_{i,j} = (\mathbf{W}\mathbf{h}_i)^{\top}
            \mathbf{W}\mathbf{h}_j,
        & \phi_{i,j} = \sigma(e_{i,j})

        \textbf{SD:}\quad & e_{i,j} = \frac{(\mathbf{W}\mathbf{h}_i)^{\top}
            \mathbf{W}\mathbf{h}_j}{\sqrt{F}},
        & \phi_{i,j} = \sigma(e_{i,j})

        \textbf{MX:}\quad & e_{i,j} = e^{\mathrm{GO}}_{i,j} \cdot
            \sigma\left(e^{\mathrm{DP}}_{i,j}\right),
        & \phi_{i,j} = \sigma\left(e^{\mathrm{DP}}_{i,j}\right)

    GO is GAT's original attention, DP the dot product, SD the dot product
    scaled by the square root of the per-head width :math:`F`
    (:obj:`out_channels`), and MX mixes the two: the dot product acts as a
    soft gate on GO. The attention vector is stored as its two halves,
    :math:`\mathbf{a} = [\mathbf{a}_r \,\Vert\, \mathbf{a}_l]`
    (:obj:`att_r` acts on the target :math:`i`, :obj:`att_l` on the source
    :math:`j`), so the per-node terms are computed once per node.

    **Self-supervision.** In training mode every forward pass draws a set
    of positive edges :math:`\mathcal{E}^{+}` (a fraction :math:`p_e` =
    :obj:`edge_sample_ratio` of the input edges, without the self-loops,
    which are no edges to predict) and negative pairs
    :math:`\mathcal{E}^{-}` (:math:`\lfloor p_n |\mathcal{E}^{+}|\rfloor`
    pairs, :math:`p_n` = :obj:`neg_sample_ratio`, sampled among the
    non-adjacent pairs, or the given :obj:`neg_edge_index`), and stores
    their link logits. :meth:`get_attention_loss` is then the layer's
    binary cross-entropy

    .. math::
        \mathcal{L}_E = -\frac{1}{|\mathcal{E}^{+}| + |\mathcal{E}^{-}|}
        \Big(\sum_{(j, i) \in \mathcal{E}^{+}} \log \phi_{i,j}
        + \sum_{(j, i) \in \mathcal{E}^{-}} \log (1 - \phi_{i,j})\Big),

    which the training loop adds to the node loss as
    :math:`\mathcal{L} = \mathcal{L}_V + \lambda_E \sum_l \mathcal{L}_E^{l}
    + \lambda_2 \lVert \mathbf{W} \rVert^2` (the layer does not apply
    :math:`\lambda_E` or :math:`\lambda_2`). With :math:`K` heads,
    :math:`\phi_{i,j} = \sigma(\frac{1}{K}\sum_k \mathrm{logit}^k_{i,j})`:
    the per-head logits are averaged before the sigmoid, as in the
    authors' code. :meth:`edge_logits` gives the per-head logits of any
    node pairs, e.g. for link prediction at inference time; the logits
    and labels of the last training forward are :attr:`att_x`
    (``[|E+| + |E-|, K]``) and :attr:`att_y`, the pairs themselves
    :attr:`att_edge_index`.

    A drop-in replacement for
    :class:`torch_geometric.nn.conv.SuperGATConv`: the same arguments,
    parameter names and state dict for its two forms (MX, SD), and the same
    eval-mode output; this class adds GO and DP, bipartite input and
    :obj:`return_attention_weights`. Where PyG differs from the above:
    PyG counts the self-loops it adds as positive edges, keeps each edge
    with probability :math:`p_e` (a random number of positives), draws
    :math:`\lfloor p_n p_e |\mathcal{E} \cup \text{loops}|\rfloor`
    negatives, passes that total to *every* graph of a batch, and returns
    ``tensor([0])`` instead of a scalar from :meth:`get_attention_loss` in
    eval mode. PyG's documentation writes the SD scale as
    :math:`\sqrt{d}`; both implementations use :math:`d = F`.

    Args:
        in_channels (int): Size of each input sample, or :obj:`-1` to derive
            the size from the first input to the forward method. Source and
            target nodes share the projection :math:`\mathbf{W}` (the dot
            product compares them), so bipartite input ``(x_src, x_dst)``
            needs the same width on both sides.
        out_channels (int): Size of each output sample per head :math:`F`.
        heads (int, optional): Number of attention heads :math:`K`.
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
        bias (bool, optional): If set to :obj:`False`, the layer will not
            learn an additive bias. (default: :obj:`True`)
        attention_type (str, optional): :obj:`"GO"`, :obj:`"DP"`,
            :obj:`"SD"` or :obj:`"MX"` (any case). (default: :obj:`"MX"`)
        neg_sample_ratio (float, optional): :math:`p_n`, the number of
            negative pairs per positive edge. (default: :obj:`0.5`)
        edge_sample_ratio (float, optional): :math:`p_e \in (0, 1]`, the
            fraction of the input edges used as positives in each training
            step. (default: :obj:`1.0`)
        is_undirected (bool, optional): Declares the input graph undirected.
            Otherwise it is checked, and a directed graph is symmetrised
            before negative sampling, so that no reversed edge is drawn as a
            negative. (default: :obj:`False`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})` or
          :math:`((|\mathcal{V_s}|, F_{in}), (|\mathcal{V_t}|, F_{in}))`
          if bipartite,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`),
          negative edge indices :math:`(2, |\mathcal{E}^{(-)}|)`
          *(optional)*, batch vector :math:`(|\mathcal{V}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, H * F_{out})` or
          :math:`(|\mathcal{V}_t|, H * F_{out})` if bipartite.
          If :obj:`return_attention_weights=True`, then
          :math:`((|\mathcal{V}|, H * F_{out}),
          ((2, |\mathcal{E}|), (|\mathcal{E}|, H)))`, the edges including
          the added self-loops
    """
    att_x: OptTensor
    att_y: OptTensor
    att_edge_index: OptTensor

    supports_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
        attention_type: str = 'MX',
        neg_sample_ratio: float = 0.5,
        edge_sample_ratio: float = 1.0,
        is_undirected: bool = False,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)

        if not isinstance(in_channels, int) or isinstance(in_channels, bool):
            raise ValueError(
                f"SuperGATConv shares one projection between source and "
                f"target nodes, so 'in_channels' must be an int (got "
                f"{in_channels!r})")
        kind = attention_type.upper() if isinstance(attention_type,
                                                    str) else None
        if kind not in ATTENTION_TYPES:
            raise ValueError(f"Unknown attention_type {attention_type!r}; "
                             f"expected one of {', '.join(ATTENTION_TYPES)}")
        if not neg_sample_ratio > 0.0:
            raise ValueError(f"'neg_sample_ratio' must be positive (got "
                             f"{neg_sample_ratio})")
        if not 0.0 < edge_sample_ratio <= 1.0:
            raise ValueError(f"'edge_sample_ratio' must lie in (0, 1] (got "
                             f"{edge_sample_ratio})")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.attention_type = kind
        self.neg_sample_ratio = neg_sample_ratio
        self.edge_sample_ratio = edge_sample_ratio
        self.is_undirected = is_undirected
        self.fill_value = None  # self-loops carry no edge features here

        self.lin: Linear = Linear(in_channels, heads * out_channels,
                                  bias=False, weight_initializer='glorot')

        if kind in ('GO', 'MX'):
            self.att_l = Parameter(torch.empty(1, heads, out_channels))
            self.att_r = Parameter(torch.empty(1, heads, out_channels))
        else:  # DP, SD: no attention parameters
            self.register_parameter('att_l', None)
            self.register_parameter('att_r', None)

        if bias:
            self.bias = Parameter(
                torch.empty(heads * out_channels if concat else out_channels))
        else:
            self.register_parameter('bias', None)

        # Link logits [E+ + E-, H], labels [E+ + E-] and the pairs [2, ...]
        # of the last training forward.
        self.att_x = self.att_y = self.att_edge_index = None

        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        glorot(self.att_l)
        glorot(self.att_r)
        zeros(self.bias)
        self.att_x = self.att_y = self.att_edge_index = None

    # ------------------------------------------------------------------
    # Forward.
    # ------------------------------------------------------------------
    def forward(
        self,
        x: Union[Tensor, PairTensor],
        edge_index: Adj,
        neg_edge_index: OptTensor = None,
        batch: Union[OptTensor, PairTensor] = None,
        return_attention_weights: Optional[bool] = None,
    ):
        r"""Runs the forward pass of the module; in training mode it also
        samples positive and negative edges and stores their link logits
        for :meth:`get_attention_loss`.

        Args:
            x (torch.Tensor or (torch.Tensor, torch.Tensor)): The input node
                features, or a pair ``(x_src, x_dst)`` for a bipartite graph.
            edge_index (torch.Tensor or SparseTensor): The edge indices.
            neg_edge_index (torch.Tensor, optional): The negative edges to
                train against (training mode only). If not given, they are
                sampled. (default: :obj:`None`)
            batch (torch.Tensor, optional): The batch vector assigning each
                node to a graph, so that negatives are sampled within each
                graph of a mini-batch (a pair of vectors if bipartite).
                (default: :obj:`None`)
            return_attention_weights (bool, optional): If truthy, also
                returns ``(edge_index, attention_weights)`` (a sparse
                adjacency holding the weights for sparse input), the edges
                including the added self-loops. (default: :obj:`None`)
        """
        H, C = self.heads, self.out_channels
        x_src, x_dst, bipartite = self._split_features(x, self.in_channels,
                                                       None)
        if x_dst is None:
            raise ValueError("SuperGATConv needs the target node features: "
                             "its attention compares source and target "
                             "projections")
        adjacency = edge_index
        edge_index = self._check_graph(edge_index, None, x_src, x_dst,
                                       bipartite, None, None)

        h_src = self.lin(x_src).view(-1, H, C)
        h_dst = self.lin(x_dst).view(-1, H, C) if bipartite else h_src
        score_src, score_dst = self._node_scores(h_src, h_dst)

        if self.attention_type == 'GO' and self._fusable(edge_index, x_src):
            # GO is GAT's attention: the GAT kernels apply as they are.
            graph, adjacency = self._fused_graph(adjacency, edge_index,
                                                 x_src, x_dst, None)
            alpha = gat_edge_softmax(graph, score_src, score_dst, None,
                                     self.negative_slope)
            result = self._fused_output(graph, alpha, h_src, None, adjacency,
                                        return_attention_weights)
        else:
            loop_index = edge_index
            if self.add_self_loops:
                loop_index, _ = self._with_self_loops(
                    edge_index, None, self._loop_count(x_src, x_dst, None),
                    None)

            # edge_updater_type: (h: PairTensor, score: OptPairTensor)
            alpha = self.edge_updater(loop_index, h=(h_src, h_dst),
                                      score=(score_src, score_dst))

            # propagate_type: (x: PairTensor, alpha: Tensor)
            out = self.propagate(loop_index, x=(h_src, h_dst), alpha=alpha)
            out = self._combine_heads(out, None)
            if return_attention_weights:
                result = self._attention_result(out, loop_index, alpha)
            else:
                result = out

        if self.training:
            self._self_supervise(edge_index, h_src, h_dst, score_src,
                                 score_dst, bipartite, neg_edge_index, batch)
        return result

    def edge_update(self, h_i: Tensor, h_j: Tensor, score_i: OptTensor,
                    score_j: OptTensor, index: Tensor, ptr: OptTensor,
                    dim_size: Optional[int]) -> Tensor:
        logits = self._attention_logits(h_i, h_j, score_i, score_j)
        logits = F.leaky_relu(logits, self.negative_slope)
        alpha = segment_softmax(logits, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    # ------------------------------------------------------------------
    # Attention and link logits.
    # ------------------------------------------------------------------
    def _node_scores(self, h_src: Tensor,
                     h_dst: Tensor) -> Tuple[OptTensor, OptTensor]:
        r"""Per-node halves of :math:`\mathbf{a}^{\top}[\mathbf{W}\mathbf{h}_i
        \Vert \mathbf{W}\mathbf{h}_j]` (GO, MX), ``[N, H]`` each."""
        if self.att_l is None or self.att_r is None:
            return None, None
        return ((h_src * self.att_l).sum(dim=-1),
                (h_dst * self.att_r).sum(dim=-1))

    def _dot(self, h_i: Tensor, h_j: Tensor) -> Tensor:
        dot = (h_i * h_j).sum(dim=-1)
        if self.attention_type == 'SD':
            dot = dot / math.sqrt(self.out_channels)
        return dot

    def _attention_logits(self, h_i: Tensor, h_j: Tensor, score_i: OptTensor,
                          score_j: OptTensor) -> Tensor:
        """:math:`e_{ij}` per edge and head, before the LeakyReLU."""
        kind = self.attention_type
        if kind in ('DP', 'SD'):
            return self._dot(h_i, h_j)
        assert score_i is not None and score_j is not None
        go = score_i + score_j
        if kind == 'GO':
            return go
        return go * torch.sigmoid(self._dot(h_i, h_j))  # MX

    def _link_logits(self, pairs: Tensor, h_src: Tensor, h_dst: Tensor,
                     score_src: OptTensor, score_dst: OptTensor) -> Tensor:
        r"""Logits of :math:`\phi_{ij}` ``[P, H]`` for ``pairs`` ``[2, P]``
        (row 0 sources :math:`j`, row 1 targets :math:`i`)."""
        src, dst = pairs[0], pairs[1]
        if self.attention_type == 'GO':
            assert score_src is not None and score_dst is not None
            return score_src.index_select(0, src) + score_dst.index_select(
                0, dst)
        # DP, SD, MX: the (scaled) dot product; MX's is unscaled.
        return self._dot(h_dst.index_select(0, dst),
                         h_src.index_select(0, src))

    def edge_logits(self, x: Union[Tensor, PairTensor],
                    edge_index: Tensor) -> Tensor:
        r"""The self-supervised link logits of arbitrary node pairs.

        Returns a ``[P, H]`` tensor whose sigmoid is each head's probability
        :math:`\phi_{i,j}` that the edge :math:`j \to i` exists, for the
        pairs ``edge_index`` ``[2, P]`` (row 0 the sources :math:`j`, row 1
        the targets :math:`i`). Uses the layer's current parameters, no
        dropout and no sampling, in either mode; ``.mean(-1)`` gives the
        head-averaged logit the loss is computed on.

        Args:
            x (torch.Tensor or (torch.Tensor, torch.Tensor)): Node features,
                or ``(x_src, x_dst)``.
            edge_index (torch.Tensor): The pairs to score.
        """
        H, C = self.heads, self.out_channels
        x_src, x_dst, bipartite = self._split_features(x, self.in_channels,
                                                       None)
        if x_dst is None:
            raise ValueError("edge_logits needs the target node features")
        pairs = self._pairs(edge_index, x_src, x_dst, 'edge_index')
        h_src = self.lin(x_src).view(-1, H, C)
        h_dst = self.lin(x_dst).view(-1, H, C) if bipartite else h_src
        score_src, score_dst = self._node_scores(h_src, h_dst)
        return self._link_logits(pairs, h_src, h_dst, score_src, score_dst)

    # ------------------------------------------------------------------
    # Self-supervision.
    # ------------------------------------------------------------------
    @staticmethod
    def _pairs(index: Any, x_src: Tensor, x_dst: Tensor, name: str) -> Tensor:
        """A ``[2, P]`` int64 index checked against both node counts."""
        if isinstance(index, Tensor) and type(index) is not Tensor:
            index = index.as_subclass(Tensor)  # EdgeIndex
        if not validation_enabled():
            return index.long()
        try:
            index = check_adjacency(index, x_src.size(0), x_dst.size(0),
                                    device=x_src.device)
        except ValueError as error:
            raise ValueError(str(error).replace("'edge_index'",
                                                f"'{name}'")) from None
        return index

    @staticmethod
    def _input_edges(edge_index: Any) -> Tensor:
        """The input adjacency in any layout as a plain ``[2, E]`` index
        (sources, targets)."""
        if _is_sparse_tensor(edge_index):
            row, col, _ = edge_index.coo()  # adj_t: row = target
            return torch.stack([col, row], dim=0)
        if isinstance(edge_index, Tensor) and is_torch_sparse_tensor(
                edge_index):
            index, _ = to_edge_index(edge_index)
            return index.flip(0)
        if type(edge_index) is not Tensor:
            edge_index = edge_index.as_subclass(Tensor)
        return edge_index.long()

    def positive_sampling(self, edge_index: Tensor,
                          bipartite: bool = False) -> Tensor:
        r"""The positive edges of one training step: the input edges without
        self-loops (unless :obj:`bipartite`, where equal indices name
        different nodes), of which :math:`\lfloor p_e |\mathcal{E}|\rfloor`
        (at least one) are drawn without replacement when
        :obj:`edge_sample_ratio` :math:`< 1`."""
        if not bipartite:
            edge_index = edge_index[:, edge_index[0] != edge_index[1]]
        num_edges = edge_index.size(1)
        if self.edge_sample_ratio < 1.0 and num_edges > 0:
            keep = max(1, int(self.edge_sample_ratio * num_edges))
            perm = torch.randperm(num_edges, device=edge_index.device)
            edge_index = edge_index[:, perm[:keep]]
        return edge_index

    def negative_sampling(self, edge_index: Tensor,
                          num_nodes: Union[int, Tuple[int, int]],
                          batch: Union[OptTensor, PairTensor] = None,
                          num_neg_samples: Optional[int] = None) -> Tensor:
        r"""Up to :obj:`num_neg_samples` node pairs that are not edges of
        ``edge_index`` (and, on one node set, no self-loops), within each
        graph of :obj:`batch` if given. :obj:`num_nodes` is a pair
        ``(num_src, num_dst)`` for a bipartite graph. The default count is
        :math:`\lfloor p_n p_e |\mathcal{E}|\rfloor`."""
        if num_neg_samples is None:
            num_neg_samples = int(self.neg_sample_ratio *
                                  self.edge_sample_ratio *
                                  edge_index.size(1))
        if num_neg_samples <= 0:
            return edge_index.new_empty(2, 0)
        bipartite = not isinstance(num_nodes, int)
        if not bipartite and not self.is_undirected and not is_undirected(
                edge_index, num_nodes=num_nodes):
            edge_index = to_undirected(edge_index, num_nodes=num_nodes)
        if batch is None:
            return negative_sampling(edge_index, num_nodes,
                                     num_neg_samples=num_neg_samples)
        if edge_index.size(1) == 0:
            return edge_index.new_empty(2, 0)
        # PyG's batched sampler splits the edges by graph (so they must be
        # grouped by graph) and draws its count in *each* graph: pass the
        # ratio, so that every graph gets its share of the total.
        src_batch = batch if isinstance(batch, Tensor) else batch[0]
        order = torch.sort(src_batch[edge_index[0]], stable=True)[1]
        ratio = float(num_neg_samples) / edge_index.size(1)
        return batched_negative_sampling(edge_index[:, order], batch,
                                         num_neg_samples=ratio)

    def _self_supervise(self, edge_index: Any, h_src: Tensor, h_dst: Tensor,
                        score_src: OptTensor, score_dst: OptTensor,
                        bipartite: bool, neg_edge_index: OptTensor,
                        batch: Union[OptTensor, PairTensor]) -> None:
        """Samples positives and negatives and stores their link logits."""
        edges = self._input_edges(edge_index)
        pos = self.positive_sampling(edges, bipartite)
        if neg_edge_index is None:
            num_nodes: Union[int, Tuple[int, int]] = (
                (h_src.size(0), h_dst.size(0)) if bipartite else
                h_src.size(0))
            neg = self.negative_sampling(
                edges, num_nodes, batch,
                num_neg_samples=int(self.neg_sample_ratio * pos.size(1)))
        else:
            neg = self._pairs(neg_edge_index, h_src, h_dst, 'neg_edge_index')
        pairs = torch.cat([pos, neg.to(pos.device)], dim=1)
        logits = self._link_logits(pairs, h_src, h_dst, score_src, score_dst)
        labels = logits.new_zeros(pairs.size(1))
        labels[:pos.size(1)] = 1.0
        self.att_x, self.att_y, self.att_edge_index = logits, labels, pairs

    def get_attention_loss(self) -> Tensor:
        r"""The self-supervised edge loss :math:`\mathcal{L}_E` of the last
        training forward, a 0-dim tensor: binary cross-entropy of the
        head-averaged link logits :attr:`att_x` against :attr:`att_y`
        (positives 1, negatives 0). In eval mode, where nothing is sampled,
        it is zero (as in PyG)."""
        if not self.training:
            return torch.zeros((), device=self.lin.weight.device)
        if self.att_x is None or self.att_y is None:
            raise RuntimeError(
                "SuperGATConv.get_attention_loss() was called before a "
                "forward pass in training mode; run the layer (in train() "
                "mode) first")
        if self.att_x.size(0) == 0:  # no edges, nothing to predict
            return self.att_x.sum() * 0.0
        return F.binary_cross_entropy_with_logits(self.att_x.mean(dim=-1),
                                                  self.att_y)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads}, '
                f'type={self.attention_type})')
