from __future__ import annotations

import os
import weakref
from collections import OrderedDict
from typing import Any, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.inits import glorot
from torch_geometric.typing import Adj, OptPairTensor, OptTensor, Size
from torch_geometric.utils import is_torch_sparse_tensor

from gat_zoo.nn.conv._base import _is_sparse_tensor
from gat_zoo.nn.conv.gat_conv import GATConv
from gat_zoo.nn.conv.gatv2_conv import GATv2Conv
from gat_zoo.ops import (
    CSRGraph,
    PPRMatrix,
    approximate_ppr,
    as_ppr_matrix,
)
from gat_zoo.ops.ppr import _check_params

__all__ = ['PPRGATConv', 'PPRGATv2Conv', 'PPRGAT_L1_WEIGHT']

#: The weight :math:`\lambda` of the attention L1 term in the official
#: training loop (``train_evaluate.py``: ``lambda1 = lambda2 = 1e-4``, one
#: term per attention layer).
PPRGAT_L1_WEIGHT = 1e-4

PPRInput = Union[None, PPRMatrix, Tensor, Any]


# ---------------------------------------------------------------------------
# PPR values of the attention edges.
# ---------------------------------------------------------------------------
def _num_edges(adjacency: Any) -> int:
    if _is_sparse_tensor(adjacency):
        return adjacency.nnz()
    if is_torch_sparse_tensor(adjacency):
        return adjacency._nnz()
    return adjacency.size(1)


def _endpoints(adjacency: Any) -> Tuple[Tensor, Tensor]:
    """``(source, target)`` of every edge, in the order the message-passing
    path visits them (its ``edge_updater``)."""
    if _is_sparse_tensor(adjacency):
        return adjacency.storage.col(), adjacency.storage.row()
    if is_torch_sparse_tensor(adjacency):
        if adjacency.layout == torch.sparse_csr:
            crow, col = adjacency.crow_indices(), adjacency.col_indices()
            row = torch.repeat_interleave(
                torch.arange(crow.numel() - 1, device=crow.device),
                crow.diff())
            return col, row
        indices = adjacency.indices()
        return indices[1], indices[0]
    plain = adjacency.as_subclass(Tensor) if type(
        adjacency) is not Tensor else adjacency
    return plain[0], plain[1]


class _GraphValues:
    """The PPR value of every edge of a fused CSR graph, remembered per
    ``(graph, PPR matrix)`` pair: graphs and matrices are cached objects,
    so a static graph pays the lookup once, not once per layer and call."""

    def __init__(self, size: int = 8):
        self.size = size
        self.entries: OrderedDict[Tuple[int, int], Tuple[Any, Any, Tensor]] \
            = OrderedDict()

    def __call__(self, graph: CSRGraph, matrix: PPRMatrix) -> Tensor:
        key = (id(graph), id(matrix))
        entry = self.entries.get(key)
        if entry is not None and entry[0]() is graph and \
                entry[1]() is matrix:
            self.entries.move_to_end(key)
            return entry[2]
        values = matrix.lookup(graph.col, graph.row)
        if not torch.compiler.is_compiling():
            self.entries[key] = (weakref.ref(graph), weakref.ref(matrix),
                                 values)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return values

    def clear(self) -> None:
        self.entries.clear()


_graph_values = _GraphValues()


class _PPRSource:
    """Where the layer reads :math:`\\pi_{ij}` from this call: a PPR matrix
    (looked up for every attention edge, self-loops included) or values
    given per edge (caller's order)."""

    __slots__ = ('matrix', 'per_edge')

    def __init__(self, matrix: Optional[PPRMatrix] = None,
                 per_edge: Optional[Tensor] = None):
        self.matrix = matrix
        self.per_edge = per_edge


class _PPRMixin:
    r"""PPR handling shared by :class:`PPRGATConv` and
    :class:`PPRGATv2Conv`."""

    heads: int
    add_self_loops: bool
    training: bool
    dropout: float

    def _init_ppr(self, ppr_alpha: float, ppr_eps: float,
                  ppr_topk: Optional[int], ppr_normalization: str,
                  ppr_disk_cache: Union[bool, str, os.PathLike]) -> None:
        _check_params(ppr_alpha, ppr_eps, ppr_topk, ppr_normalization)
        self.ppr_alpha = float(ppr_alpha)
        self.ppr_eps = float(ppr_eps)
        self.ppr_topk = None if ppr_topk is None else int(ppr_topk)
        self.ppr_normalization = ppr_normalization
        self.ppr_disk_cache = ppr_disk_cache
        self.att_ppr = Parameter(torch.empty(1, self.heads, 1))
        glorot(self.att_ppr)
        self._penalty_alpha: Optional[Tensor] = None

    # -- the PPR of this call -------------------------------------------
    def compute_ppr(self, edge_index: Adj,
                    num_nodes: Optional[int] = None) -> PPRMatrix:
        r"""The approximate PPR matrix this layer uses for a graph when
        :obj:`ppr` is not given (:func:`gat_zoo.ops.approximate_ppr` with
        the layer's :obj:`ppr_alpha`, :obj:`ppr_eps`, :obj:`ppr_topk`,
        :obj:`ppr_normalization`), cached per graph object."""
        return approximate_ppr(edge_index, num_nodes, self.ppr_alpha,
                               self.ppr_eps, self.ppr_topk,
                               self.ppr_normalization,
                               disk_cache=self.ppr_disk_cache)

    def _ppr_source(self, ppr: PPRInput, adjacency: Any, x_src: Tensor,
                    x_dst: Optional[Tensor], bipartite: bool,
                    size: Size) -> _PPRSource:
        name = type(self).__name__
        num_src = x_src.size(0) if size is None else int(size[0])
        num_dst: Optional[int] = num_src
        if bipartite:
            num_dst = (int(size[1]) if size is not None else
                       x_dst.size(0) if x_dst is not None else None)
        if ppr is None:
            if bipartite:
                raise ValueError(
                    f"{name} computes personalized PageRank on a single "
                    f"graph, which a bipartite input (x_src, x_dst) is not; "
                    f"pass 'ppr' explicitly (a PPR matrix or one value per "
                    f"edge)")
            return _PPRSource(matrix=self.compute_ppr(adjacency, num_src))
        if isinstance(ppr, Tensor) and ppr.layout == torch.strided:
            if ppr.dim() == 2 and ppr.size(1) == 1:
                ppr = ppr.view(-1)
            if ppr.dim() != 1:
                raise ValueError(
                    f"'ppr' given as a dense tensor must hold one value per "
                    f"edge, shape [num_edges] or [num_edges, 1] (got "
                    f"{tuple(ppr.shape)}); pass a PPR matrix as a "
                    f"PPRMatrix or a sparse tensor")
            if not ppr.is_floating_point():
                raise ValueError(f"'ppr' must be a floating-point tensor "
                                 f"(got {ppr.dtype})")
            num_edges = _num_edges(adjacency)
            if ppr.numel() != num_edges:
                raise ValueError(f"'ppr' has {ppr.numel()} values but the "
                                 f"graph has {num_edges} edges")
            if self.add_self_loops:
                raise ValueError(
                    f"'ppr' given per edge covers the input edges only, not "
                    f"the self-loops {name} adds; pass a PPR matrix (whose "
                    f"diagonal is looked up) or add the self-loops and "
                    f"their values yourself with add_self_loops=False")
            if ppr.device != x_src.device:
                raise ValueError(f"'ppr' is on {ppr.device} but the node "
                                 f"features are on {x_src.device}")
            return _PPRSource(per_edge=ppr)
        matrix = as_ppr_matrix(ppr)
        needed = num_src if num_dst is None else max(num_src, num_dst)
        if (not bipartite and matrix.num_nodes != num_src) or (
                matrix.num_nodes < needed):
            raise ValueError(f"'ppr' is a PPR matrix over "
                             f"{matrix.num_nodes} nodes but the graph has "
                             f"{needed} nodes")
        if matrix.device != x_src.device:
            raise ValueError(f"'ppr' is on {matrix.device} but the node "
                             f"features are on {x_src.device}")
        return _PPRSource(matrix=matrix)

    # The base layers' per-edge logit term (HeadwiseAttentionConv).
    def _bias_source(self, extra: Any, adjacency: Any, x_src: Tensor,
                     x_dst: Optional[Tensor], bipartite: bool,
                     size: Size) -> _PPRSource:
        return self._ppr_source(extra, adjacency, x_src, x_dst, bipartite,
                                size)

    def _reference_bias(self, edge_index: Any, source: _PPRSource,
                        dtype: torch.dtype) -> Tensor:
        return self._reference_ppr_score(edge_index, source, dtype)

    def _fused_bias(self, graph: CSRGraph, source: _PPRSource,
                    dtype: torch.dtype) -> Tensor:
        return self._fused_ppr_score(graph, source, dtype)

    def _ppr_score(self, values: Tensor, dtype: torch.dtype) -> Tensor:
        """:math:`a_{ppr,h}\\,\\pi_e` for every edge and head, ``[E, H]``."""
        return values.to(dtype).view(-1, 1) * self.att_ppr.view(
            1, self.heads).to(dtype)

    def _reference_ppr_score(self, edge_index: Any, source: _PPRSource,
                             dtype: torch.dtype) -> Tensor:
        """Scores of the message-passing path's edges (self-loops added)."""
        if source.per_edge is not None:
            return self._ppr_score(source.per_edge, dtype)
        assert source.matrix is not None
        src, dst = _endpoints(edge_index)
        return self._ppr_score(source.matrix.lookup(src, dst), dtype)

    def _fused_ppr_score(self, graph: CSRGraph, source: _PPRSource,
                         dtype: torch.dtype) -> Tensor:
        """Scores of the fused graph's edges, in its CSR order."""
        if source.per_edge is not None:
            return self._ppr_score(graph.to_csr_order(source.per_edge),
                                   dtype)
        assert source.matrix is not None
        return self._ppr_score(_graph_values(graph, source.matrix), dtype)

    # -- the regulariser ------------------------------------------------
    def _attention_computed(self, alpha: Tensor) -> None:
        self._penalty_alpha = alpha

    def attention_penalty(self) -> Tensor:
        r"""The L1 term PPRGAT is trained with:
        :math:`\lVert\boldsymbol{\alpha}\rVert_1 = \sum_{e, h}
        |\alpha_{e,h}|` of the attention coefficients of the most recent
        forward pass (every attention edge, self-loops included, every
        head), *after* attention dropout, as the layer returned them.

        This is what the official training loop penalises
        (``train_evaluate.py``: ``lambda1 * torch.norm(alpha1, 1)`` on the
        weights the layer returns with ``return_attention_weights=True``),
        with :math:`\lambda =` :data:`PPRGAT_L1_WEIGHT` per layer; the
        caller multiplies. Without dropout the coefficients of each target
        node and head sum to one, so the term is the constant :math:`H
        \cdot |\{i : \mathcal{N}(i) \neq \emptyset\}|` and has zero
        gradient; only the dropped-out coefficients
        (:math:`\alpha_{e,h} m_{e,h} / (1 - p)`) make it vary.

        Returns a 0-dim tensor connected to the autograd graph of that
        forward pass. Raises :class:`RuntimeError` before the first
        forward pass.
        """
        if self._penalty_alpha is None:
            raise RuntimeError(f"{type(self).__name__}.attention_penalty() "
                               f"needs a forward pass first")
        return self._penalty_alpha.abs().sum()

    def __getstate__(self):
        # The remembered coefficients belong to one forward pass's autograd
        # graph: neither pickled nor deep-copied.
        state = super().__getstate__()
        state['_penalty_alpha'] = None
        return state


_FORWARD_DOC = r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor or (torch.Tensor, torch.Tensor)): The input node
                features, or a pair ``(x_src, x_dst)`` for a bipartite graph
                (which needs :obj:`ppr`).
            edge_index (torch.Tensor or SparseTensor or EdgeIndex): The
                edges.
            ppr (PPRMatrix or torch.Tensor or SparseTensor, optional): The
                PPR scores: :obj:`None` computes (and caches) the graph's
                approximate PPR; a :class:`~gat_zoo.ops.PPRMatrix` or a
                sparse ``[N, N]`` matrix (row = source, as
                :func:`~gat_zoo.ops.approximate_ppr` returns) is looked up
                for every attention edge including the self-loops; a dense
                ``[E]`` tensor gives :math:`\pi` per input edge, in the
                adjacency's own edge order (storage order for sparse
                layouts), and requires :obj:`add_self_loops=False`.
                (default: :obj:`None`)
            size ((int, int), optional): The shape of the adjacency matrix.
                (default: :obj:`None`)
            return_attention_weights (bool, optional): If truthy, also
                returns ``(edge_index, attention_weights)`` (a sparse
                adjacency holding the weights for sparse input), the edges
                including the added self-loops. (default: :obj:`None`)
            edge_attr (torch.Tensor, optional): Edge features, with
                :obj:`edge_dim`. (default: :obj:`None`)
        """


class PPRGATConv(_PPRMixin, GATConv):
    r"""The personalized PageRank graph attention operator from the
    `"Personalized PageRank Graph Attention Networks"
    <https://arxiv.org/abs/2205.14259>`_ paper (Choi, ICASSP 2022): GAT
    whose attention logit also sees the approximate personalized PageRank
    (PPR) score :math:`\pi_{ji}` of the pair,

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \alpha_{i,j}\mathbf{\Theta}\mathbf{x}_{j},
        \qquad
        \alpha_{i,j} = \frac{\exp(e_{i,j})}
        {\sum_{k \in \mathcal{N}(i) \cup \{ i \}} \exp(e_{i,k})},

    .. math::
        e_{i,j} = \mathrm{LeakyReLU}\left(
        \mathbf{a}^{\top}_{s} \mathbf{\Theta}\mathbf{x}_j
        + \mathbf{a}^{\top}_{t} \mathbf{\Theta}\mathbf{x}_i
        + a_{ppr}\, \pi_{ji} \right),

    i.e. :math:`\mathbf{a}^{\top}[\mathbf{\Theta}\mathbf{x}_i \,\Vert\,
    \mathbf{\Theta}\mathbf{x}_j \,\Vert\, \pi_{ji}]`: the PPR score is
    concatenated to the pair's features inside GAT's attention (the paper's
    first version), with one scalar :math:`a_{ppr}` per head. For the
    second version, on GATv2, see :class:`PPRGATv2Conv`. Summaries that
    describe PPRGAT as attending over the top-:math:`k` PPR neighbours
    (a neighbourhood widened by PPR) do not match the official code: the
    neighbourhood stays the graph's, PPR only re-weights it.

    The PPR term enters exactly like :class:`GATConv`'s edge-feature term,
    so both execution paths of :class:`GATConv` carry over: on CPU the
    fused CSR path, and the message-passing path as the reference.

    **The PPR matrix.** :math:`\boldsymbol{\Pi}` approximates
    :math:`\alpha(\mathbf{I} - (1 - \alpha)\mathbf{D}^{-1}\mathbf{A})^{-1}`
    by PPRGo's push algorithm (threshold :math:`\epsilon`), keeps the
    :math:`k` largest entries of every row and normalises them
    symmetrically, :math:`\pi_{st} \leftarrow d_s^{1/2}\pi_{st}d_t^{-1/2}`
    (see :func:`gat_zoo.ops.approximate_ppr`). For the edge
    :math:`j \to i` the layer reads :math:`\pi_{ji}` (row = source
    :math:`j`), as the official code does; pairs outside the top-:math:`k`
    read 0. The PPR neighbours do **not** join the neighbourhood: the
    softmax runs over the graph's edges and the self-loops only, the PPR
    score merely biases their logits. Self-loops read the diagonal
    :math:`\pi_{ii}` (at least :math:`\alpha`, the restart mass). The PPR
    is computed on the graph as given (its own self-loops are edges of the
    walk; the self-loops the layer adds for attention are not).

    Without :obj:`ppr` the layer computes :math:`\boldsymbol{\Pi}` of the
    graph it is given (once per graph object and parameter set, in a
    process-wide cache; an in-place edit of the edge index recomputes it).
    On ogbn-arxiv size this takes minutes on a small CPU
    (``benchmarks/results/ppr_scaling.csv``); pass
    :obj:`ppr_disk_cache=True` to keep it on disk, or compute it once with
    :func:`~gat_zoo.ops.approximate_ppr` and pass it as :obj:`ppr`.

    **Training.** The paper's models are trained with an L1 term on the
    attention coefficients, see :meth:`attention_penalty`.

    **Official code.** The released layers (``layers/gat_conv_ppr.py``,
    ``layers/gatv2_conv_ppr.py``) multiply a 1-D tensor of per-edge values
    by ``att_ppr`` of shape ``[1, H, 1]`` and sum over the last axis, which
    broadcasts to one constant per head (:math:`a_{ppr,h}\sum_e \pi_e`)
    added to every logit rather than a per-edge term. This layer adds the
    per-edge term :math:`a_{ppr,h}\,\pi_{ji}` that the paper's description
    (PPR information concatenated into the attention input) implies and the
    code's ``[E]``-per-edge lookup was meant to feed. ``att_ppr`` has the
    official
    shape ``[1, H, 1]`` (their initialisation leaves it uninitialised
    memory; here it is Glorot-initialised like the other attention
    vectors).

    Args:
        in_channels (int or tuple): Size of each input sample, or :obj:`-1`
            to derive the size from the first input(s) to the forward method.
            A tuple corresponds to the sizes of source and target
            dimensionalities in case of a bipartite graph.
        out_channels (int): Size of each output sample per head.
        heads (int, optional): Number of attention heads :math:`H`.
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
        residual (bool, optional): If set to :obj:`True`, the layer adds a
            learnable skip-connection. (default: :obj:`False`)
        ppr_alpha (float, optional): Teleport probability :math:`\alpha` of
            the PPR the layer computes. (default: :obj:`0.25`, the official
            code's value)
        ppr_eps (float, optional): Push threshold :math:`\epsilon`.
            (default: :obj:`1e-4`)
        ppr_topk (int, optional): PPR entries kept per node.
            (default: :obj:`32`)
        ppr_normalization (str, optional): ``'sym'``, ``'row'`` or
            ``'col'``. (default: :obj:`'sym'`)
        ppr_disk_cache (bool or str, optional): Keep computed PPR matrices
            on disk (``$GAT_ZOO_CACHE/ppr`` for :obj:`True`, or the given
            folder). (default: :obj:`False`)
        **kwargs (optional): Further arguments of
            :class:`~gat_zoo.nn.conv.GATConv` (:obj:`edge_dim`,
            :obj:`fill_value`) and of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})` or
          :math:`((|\mathcal{V_s}|, F_{s}), (|\mathcal{V_t}|, F_{t}))`
          if bipartite,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`),
          PPR *(optional)*: a :class:`~gat_zoo.ops.PPRMatrix` /
          sparse :math:`(|\mathcal{V}|, |\mathcal{V}|)` matrix or
          :math:`(|\mathcal{E}|)` values
        - **output:** node features :math:`(|\mathcal{V}|, H * F_{out})` or
          :math:`((|\mathcal{V}_t|, H * F_{out})` if bipartite.
          If :obj:`return_attention_weights=True`, then
          :math:`((|\mathcal{V}|, H * F_{out}),
          ((2, |\mathcal{E}|), (|\mathcal{E}|, H)))`
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
        bias: bool = True,
        residual: bool = False,
        ppr_alpha: float = 0.25,
        ppr_eps: float = 1e-4,
        ppr_topk: Optional[int] = 32,
        ppr_normalization: str = 'sym',
        ppr_disk_cache: Union[bool, str, os.PathLike] = False,
        **kwargs,
    ):
        super().__init__(in_channels, out_channels, heads=heads,
                         concat=concat, negative_slope=negative_slope,
                         dropout=dropout, add_self_loops=add_self_loops,
                         bias=bias, residual=residual, **kwargs)
        self._init_ppr(ppr_alpha, ppr_eps, ppr_topk, ppr_normalization,
                       ppr_disk_cache)

    def reset_parameters(self):
        super().reset_parameters()
        if getattr(self, 'att_ppr', None) is not None:
            glorot(self.att_ppr)

    # 'ppr' takes the base's third positional place (edge_attr moves to
    # the end) by design.
    def forward(  # type: ignore[override]
        self,
        x: Union[Tensor, OptPairTensor],
        edge_index: Adj,
        ppr: PPRInput = None,
        size: Size = None,
        return_attention_weights: Optional[bool] = None,
        edge_attr: OptTensor = None,
    ):
        return self._attend(x, edge_index, edge_attr, size,
                            return_attention_weights, ppr)

    forward.__doc__ = _FORWARD_DOC


class PPRGATv2Conv(_PPRMixin, GATv2Conv):
    r"""The second version of PPRGAT from the `"Personalized PageRank Graph
    Attention Networks" <https://arxiv.org/abs/2205.14259>`_ paper, built
    on GATv2's dynamic attention (the official code's
    ``GATv2ConvPPR``, selected by its ``v2=True`` flag): the PPR score
    :math:`\pi_{ji}` is added to GATv2's logit,

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i) \cup \{ i \}}
        \alpha_{i,j}\mathbf{\Theta}_{s}\mathbf{x}_{j},
        \qquad
        \alpha_{i,j} = \frac{\exp(e_{i,j})}
        {\sum_{k \in \mathcal{N}(i) \cup \{ i \}} \exp(e_{i,k})},

    .. math::
        e_{i,j} = \mathbf{a}^{\top}\mathrm{LeakyReLU}\left(
        \mathbf{\Theta}_{s} \mathbf{x}_j + \mathbf{\Theta}_{t} \mathbf{x}_{i}
        \right) + a_{ppr}\,\pi_{ji},

    with one scalar :math:`a_{ppr}` per head, outside the non-linearity as
    in the official ``GATv2ConvPPR.message`` (the paper's second-version
    equation could not be checked against its text; see the project
    notes). Everything else is :class:`GATv2Conv`.

    **The PPR matrix.** :math:`\boldsymbol{\Pi}` approximates
    :math:`\alpha(\mathbf{I} - (1 - \alpha)\mathbf{D}^{-1}\mathbf{A})^{-1}`
    by PPRGo's push algorithm (threshold :math:`\epsilon`), keeps the
    :math:`k` largest entries of every row and normalises them
    symmetrically, :math:`\pi_{st} \leftarrow d_s^{1/2}\pi_{st}d_t^{-1/2}`
    (see :func:`gat_zoo.ops.approximate_ppr`). For the edge
    :math:`j \to i` the layer reads :math:`\pi_{ji}` (row = source
    :math:`j`), as the official code does; pairs outside the top-:math:`k`
    read 0. The PPR neighbours do **not** join the neighbourhood: the
    softmax runs over the graph's edges and the self-loops only, the PPR
    score merely biases their logits. Self-loops read the diagonal
    :math:`\pi_{ii}` (at least :math:`\alpha`, the restart mass). The PPR
    is computed on the graph as given (its own self-loops are edges of the
    walk; the self-loops the layer adds for attention are not).

    Without :obj:`ppr` the layer computes :math:`\boldsymbol{\Pi}` of the
    graph it is given (once per graph object and parameter set, in a
    process-wide cache; an in-place edit of the edge index recomputes it).
    On ogbn-arxiv size this takes minutes on a small CPU
    (``benchmarks/results/ppr_scaling.csv``); pass
    :obj:`ppr_disk_cache=True` to keep it on disk, or compute it once with
    :func:`~gat_zoo.ops.approximate_ppr` and pass it as :obj:`ppr`.

    **Training.** The paper's models are trained with an L1 term on the
    attention coefficients, see :meth:`attention_penalty`.

    **Official code.** The released layers (``layers/gat_conv_ppr.py``,
    ``layers/gatv2_conv_ppr.py``) multiply a 1-D tensor of per-edge values
    by ``att_ppr`` of shape ``[1, H, 1]`` and sum over the last axis, which
    broadcasts to one constant per head (:math:`a_{ppr,h}\sum_e \pi_e`)
    added to every logit rather than a per-edge term. This layer adds the
    per-edge term :math:`a_{ppr,h}\,\pi_{ji}` that the paper's description
    (PPR information concatenated into the attention input) implies and the
    code's ``[E]``-per-edge lookup was meant to feed. ``att_ppr`` has the
    official
    shape ``[1, H, 1]`` (their initialisation leaves it uninitialised
    memory; here it is Glorot-initialised like the other attention
    vectors).

    Args:
        in_channels (int or tuple): Size of each input sample, or :obj:`-1`
            to derive the size from the first input(s) to the forward method.
            A tuple corresponds to the sizes of source and target
            dimensionalities in case of a bipartite graph.
        out_channels (int): Size of each output sample per head.
        heads (int, optional): Number of attention heads :math:`H`.
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
            learn additive biases. (default: :obj:`True`)
        residual (bool, optional): If set to :obj:`True`, the layer adds a
            learnable skip-connection. (default: :obj:`False`)
        ppr_alpha (float, optional): Teleport probability :math:`\alpha` of
            the PPR the layer computes. (default: :obj:`0.25`, the official
            code's value)
        ppr_eps (float, optional): Push threshold :math:`\epsilon`.
            (default: :obj:`1e-4`)
        ppr_topk (int, optional): PPR entries kept per node.
            (default: :obj:`32`)
        ppr_normalization (str, optional): ``'sym'``, ``'row'`` or
            ``'col'``. (default: :obj:`'sym'`)
        ppr_disk_cache (bool or str, optional): Keep computed PPR matrices
            on disk (``$GAT_ZOO_CACHE/ppr`` for :obj:`True`, or the given
            folder). (default: :obj:`False`)
        **kwargs (optional): Further arguments of
            :class:`~gat_zoo.nn.conv.GATv2Conv` (:obj:`edge_dim`,
            :obj:`fill_value`, :obj:`share_weights`) and of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** as :class:`PPRGATConv`
        - **output:** as :class:`PPRGATConv`
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
        bias: bool = True,
        residual: bool = False,
        ppr_alpha: float = 0.25,
        ppr_eps: float = 1e-4,
        ppr_topk: Optional[int] = 32,
        ppr_normalization: str = 'sym',
        ppr_disk_cache: Union[bool, str, os.PathLike] = False,
        **kwargs,
    ):
        super().__init__(in_channels, out_channels, heads=heads,
                         concat=concat, negative_slope=negative_slope,
                         dropout=dropout, add_self_loops=add_self_loops,
                         bias=bias, residual=residual, **kwargs)
        self._init_ppr(ppr_alpha, ppr_eps, ppr_topk, ppr_normalization,
                       ppr_disk_cache)

    def reset_parameters(self):
        super().reset_parameters()
        if getattr(self, 'att_ppr', None) is not None:
            glorot(self.att_ppr)

    # 'ppr' takes the base's third positional place (edge_attr moves to
    # the end) by design.
    def forward(  # type: ignore[override]
        self,
        x: Union[Tensor, OptPairTensor],
        edge_index: Adj,
        ppr: PPRInput = None,
        size: Size = None,
        return_attention_weights: Optional[bool] = None,
        edge_attr: OptTensor = None,
    ):
        return self._attend(x, edge_index, edge_attr, size,
                            return_attention_weights, ppr)

    forward.__doc__ = _FORWARD_DOC
