"""GAMLP: parameter-free multi-hop propagation and node-adaptive attention
over the hops (Zhang et al., KDD 2022), the layer :class:`GAMLPConv` and the
hop attention :class:`HopAttention` it combines the hops with."""
from __future__ import annotations

import os
from typing import Iterator, List, Optional, Tuple, Union, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj
from torch_geometric.utils import is_torch_sparse_tensor, scatter

from gat_zoo.nn.conv._base import _is_sparse_tensor
from gat_zoo.nn.validation import (
    all_finite,
    check_adjacency,
    check_finite,
    check_int,
    check_node_features,
    check_probability,
    validation_enabled,
)
from gat_zoo.ops import Propagation, normalized_propagation
from gat_zoo.ops._cache import ObjectCache

__all__ = ['GAMLPConv', 'HopAttention', 'gamlp_edge_list',
           'stationary_features']

ATTENTIONS = ('recursive', 'jk', 'smoothing')
ACTIVATIONS = ('relu', 'leaky_relu', 'sigmoid', 'tanh')




def _dense(x: Tensor) -> Tensor:
    """A sparse feature matrix (the trainer's bag-of-words CSR input) as a
    dense one; dense input unchanged."""
    return x if x.layout == torch.strided else x.to_dense()


def _activation(name: str):
    if name == 'relu':
        return F.relu
    if name == 'leaky_relu':
        return lambda t: F.leaky_relu(t, 0.2)
    if name == 'sigmoid':
        return torch.sigmoid
    if name == 'tanh':
        return torch.tanh
    raise ValueError(f"Unknown activation {name!r}; expected one of "
                     f"{ACTIVATIONS}")


# ---------------------------------------------------------------------------
# The propagation matrix.
# ---------------------------------------------------------------------------
def gamlp_edge_list(edge_index: Adj, num_nodes: int,
                    device: Optional[torch.device] = None) -> Tensor:
    """The adjacency in any layout (``[2, E]`` index, :class:`EdgeIndex`,
    :class:`torch_sparse.SparseTensor`, torch sparse tensor) as a checked
    plain ``[2, E]`` int64 (source, target) index of a square graph with
    ``num_nodes`` nodes. Sparse values are ignored (the pattern is the
    graph)."""
    if _is_sparse_tensor(edge_index):
        sizes = tuple(edge_index.sparse_sizes())
        if sizes != (num_nodes, num_nodes):
            raise ValueError(f"The SparseTensor adjacency has sizes {sizes} "
                             f"but the graph has {num_nodes} nodes "
                             f"(x has {num_nodes} rows)")
        row, col, _ = edge_index.coo()
        return torch.stack([col, row], dim=0).long()
    if isinstance(edge_index, Tensor) and is_torch_sparse_tensor(edge_index):
        if tuple(edge_index.shape[:2]) != (num_nodes, num_nodes):
            raise ValueError(f"The sparse adjacency has shape "
                             f"{tuple(edge_index.shape)} but the graph has "
                             f"{num_nodes} nodes (x has {num_nodes} rows)")
        from torch_geometric.utils import to_edge_index
        index, _ = to_edge_index(edge_index)
        return index.flip(0).long()
    if validation_enabled() or not isinstance(edge_index, Tensor):
        edge_index = check_adjacency(edge_index, num_nodes, num_nodes,
                                     device=device)
    if type(edge_index) is not Tensor:
        edge_index = edge_index.as_subclass(Tensor)
    return edge_index.long()


def stationary_features(x: Tensor, edge_index: Tensor, num_nodes: int,
                        r: float, add_self_loops: bool = True) -> Tensor:
    r"""The stationary state :math:`\mathbf{X}^{(\infty)} =
    \hat{\mathbf{T}}^{\infty}\mathbf{X}` of the paper's Eq. 4,

    .. math::
        \hat{T}^{\infty}_{ij} = \frac{(d_i+1)^r (d_j+1)^{1-r}}
        {\sum_{k \in \mathcal{C}(i)} (d_k + 1)},

    per connected component :math:`\mathcal{C}(i)` (:math:`2m + n` for a
    connected graph). Exact for undirected graphs with self-loops (the
    limit of the powers); for a directed graph it is the same formula on
    in-degrees, an approximation."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    src, dst = edge_index[0].cpu().numpy(), edge_index[1].cpu().numpy()
    mat = coo_matrix((np.ones(src.shape[0]), (src, dst)),
                     shape=(num_nodes, num_nodes))
    _, comp = connected_components(mat, directed=True, connection='weak')
    comp = torch.from_numpy(comp).to(x.device).long()
    keep = src != dst if add_self_loops else np.ones_like(src, dtype=bool)
    deg = torch.bincount(torch.from_numpy(dst[keep]).long(),
                         minlength=num_nodes).to(x.device, torch.float64)
    if add_self_loops:
        deg = deg + 1.0
    pos = deg > 0
    dpow_out = torch.zeros_like(deg)
    dpow_out[pos] = deg[pos].pow(1.0 - r)
    dpow_in = torch.zeros_like(deg)
    dpow_in[pos] = deg[pos].pow(r)
    num_comp = int(comp.max()) + 1 if num_nodes else 0
    total = scatter(deg, comp, 0, dim_size=num_comp, reduce='sum')
    mass = scatter(dpow_out.view(-1, 1).to(x.dtype) * x, comp, 0,
                   dim_size=num_comp, reduce='sum')
    scale = torch.where(total > 0, 1.0 / total.clamp_min(1e-300),
                        torch.zeros_like(total))
    return (dpow_in * scale[comp]).to(x.dtype).view(-1, 1) * mass[comp]


# ---------------------------------------------------------------------------
# Hop attention.
# ---------------------------------------------------------------------------
class HopAttention(torch.nn.Module):
    r"""GAMLP's receptive-field attention: node-adaptive weights over the
    hop features :math:`\mathbf{X}^{(0)}, \dots, \mathbf{X}^{(K)}`,

    .. math::
        \tilde{w}_i(l) = \delta\big(\tilde{\mathbf{X}}^{(l)}_i \cdot
        \mathbf{s} + b\big), \qquad
        w_i(l) = \frac{e^{\tilde{w}_i(l)}}{\sum_{k=0}^{K}
        e^{\tilde{w}_i(k)}}, \qquad
        \mathbf{H}_i = \sum_{l=0}^{K} w_i(l)\,\mathbf{X}^{(l)}_i,

    with :math:`\tilde{\mathbf{X}}^{(l)}_i = [\mathbf{X}^{(l)}_i \Vert
    \mathbf{R}^{(l)}_i]` and the reference :math:`\mathbf{R}` of the chosen
    attention:

    * ``'recursive'`` (Eq. 6): :math:`\mathbf{R}^{(l)}_i = \sum_{k<l}
      w^{<l}_i(k)\,\mathbf{X}^{(k)}_i`, the combination of the earlier hops
      with the softmax of their scores so far (as the official code;
      :math:`\mathbf{R}^{(0)} = \mathbf{X}^{(0)}`, the code's choice for the
      empty sum);
    * ``'jk'`` (Eq. 7): :math:`\mathbf{R}_i = \mathbf{E}_i =
      \mathrm{PReLU}(\mathrm{MLP}(\mathbf{X}^{(0)}_i \Vert\dots\Vert
      \mathbf{X}^{(K)}_i))` (the official code feeds all hops, hop 0
      included; the paper writes hops 1..K);
    * ``'smoothing'`` (Eq. 5): :math:`\mathbf{R}_i = \mathbf{X}^{(\infty)}_i`,
      the stationary state (given as ``reference``).

    Attention dropout (:obj:`dropout`) drops individual weights
    :math:`w_i(l)` during training, as the official code does (also inside
    the recursive references).

    Args:
        channels (int): Width :math:`D` of every hop feature.
        num_hops (int): :math:`K` (the module takes :math:`K+1` tensors).
        attention (str, optional): ``'recursive'``, ``'jk'`` or
            ``'smoothing'``. (default: :obj:`'recursive'`)
        activation (str, optional): :math:`\delta`: ``'relu'`` (the
            official code's default), ``'leaky_relu'`` (slope 0.2),
            ``'sigmoid'`` or ``'tanh'``. (default: :obj:`'relu'`)
        dropout (float, optional): Attention dropout. (default: :obj:`0.`)
        jk_channels (int, optional): Width of :math:`\mathbf{E}` (JK only).
            (default: :obj:`512`)
        jk_layers (int, optional): Layers of the JK MLP. (default: :obj:`2`)
        jk_dropout (float, optional): Dropout inside the JK MLP and on
            :math:`\mathbf{E}`. (default: :obj:`0.`)

    Shapes:
        - **input:** a list of :math:`K+1` tensors :math:`(N, D)` (and
          :math:`(N, D)` ``reference`` for smoothing attention)
        - **output:** :math:`(N, D)` and the weights :math:`(N, K+1)`
    """

    def __init__(self, channels: int, num_hops: int,
                 attention: str = 'recursive', activation: str = 'relu',
                 dropout: float = 0.0, jk_channels: int = 512,
                 jk_layers: int = 2, jk_dropout: float = 0.0):
        super().__init__()
        check_int('channels', channels, 1)
        check_int('num_hops', num_hops, 0)
        if attention not in ATTENTIONS:
            raise ValueError(f"Unknown attention {attention!r}; expected one "
                             f"of {ATTENTIONS}")
        self.channels = channels
        self.num_hops = num_hops
        self.attention = attention
        self.activation = activation
        self.act = _activation(activation)
        self.dropout = check_probability('dropout', dropout)
        self.jk_dropout = check_probability('jk_dropout', jk_dropout)
        ref_width = channels
        self.jk = None
        if attention == 'jk':
            check_int('jk_channels', jk_channels, 1)
            check_int('jk_layers', jk_layers, 1)
            dims = [(num_hops + 1) * channels] + [jk_channels] * jk_layers
            self.jk = torch.nn.ModuleList(
                Linear(a, b, weight_initializer='glorot')
                for a, b in zip(dims[:-1], dims[1:]))
            self.jk_act = torch.nn.ModuleList(
                torch.nn.PReLU() for _ in range(jk_layers))
            ref_width = jk_channels
        self.att_self = Parameter(torch.empty(channels))
        self.att_ref = Parameter(torch.empty(ref_width))
        self.att_bias = Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self):
        glorot(self.att_self.view(1, -1))
        glorot(self.att_ref.view(1, -1))
        zeros(self.att_bias)
        if self.jk is not None:
            for lin in self.jk:
                lin.reset_parameters()
            for act in self.jk_act:
                act.reset_parameters()

    @staticmethod
    def _project(stacked: Tensor, vec: Tensor) -> Tensor:
        """``[N, K+1]`` products of every hop feature with ``vec`` (a
        matrix-vector product: much faster on CPU than a 1- or 2-column
        matrix product, forward and backward)."""
        flat = stacked.reshape(-1, stacked.size(-1))
        return torch.mv(flat, vec).view(stacked.size(0), -1).t()

    def _drop(self, w: Tensor) -> Tensor:
        return F.dropout(w, p=self.dropout, training=self.training)

    def jk_reference(self, hops: Optional[List[Tensor]],
                     first: Optional[Tensor] = None) -> Tensor:
        r""":math:`\mathbf{E}`, the JK branch's reference vector (``first``:
        the first layer's output, if computed elsewhere)."""
        assert self.jk is not None
        for i, (lin, act) in enumerate(zip(self.jk, self.jk_act)):
            if i == 0:
                # ``hops`` is given whenever ``first`` is not.
                h = first if first is not None else lin(
                    torch.cat(cast(List[Tensor], hops), -1))
            else:
                h = lin(h)
            h = F.dropout(act(h), p=self.jk_dropout, training=self.training)
        return h

    def forward(self, hops: Union[List[Tensor], Tensor],
                reference: Optional[Tensor] = None,
                projections: Optional[Tuple[Tensor, Tensor]] = None,
                jk_first: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""``(H [N, D], weights [N, K+1])`` from a list of :math:`K+1` hop
        features ``[N, D]`` or one stacked ``[K+1, N, D]`` tensor.

        ``projections`` ``(own, ref)``, each ``[N, K+1]``: the products
        :math:`\mathbf{X}^{(l)} \cdot \mathbf{s}_{self}` and
        :math:`\mathbf{X}^{(l)} \cdot \mathbf{s}_{ref}`, and ``jk_first``,
        the JK MLP's first layer, when the caller computed them another way
        (:class:`GAMLPConv`'s factored path); same values."""
        if isinstance(hops, Tensor):
            stacked = hops
        else:
            stacked = torch.stack(list(hops), dim=0)
        if stacked.dim() != 3 or stacked.size(0) != self.num_hops + 1 or \
                stacked.size(-1) != self.channels:
            shape = (tuple(stacked.shape) if isinstance(hops, Tensor) else
                     [tuple(h.shape) for h in hops])
            raise ValueError(f"HopAttention expects {self.num_hops + 1} hop "
                             f"features (num_hops={self.num_hops}) of width "
                             f"{self.channels}, got {shape}")
        if validation_enabled() and not stacked.is_floating_point():
            raise ValueError(f"HopAttention expects floating-point hop "
                             f"features (got {stacked.dtype})")
        # Per hop: X^(l) . s_self and X^(l) . s_ref, [N, K+1] each.
        if self.attention == 'recursive':
            # The score is linear in the reference before the activation,
            # so s_ref . sum_k w_k X^(k) = sum_k w_k (X^(k) . s_ref): the
            # references are never built, O(K^2 N) instead of O(K^2 N F).
            if projections is not None:
                own, proj = projections
            else:
                own, proj = self._project(stacked, self.att_self), \
                    self._project(stacked, self.att_ref)
            scores = [self.act(own[:, 0] + proj[:, 0] + self.att_bias)]
            for hop in range(1, stacked.size(0)):
                w = torch.softmax(torch.stack(scores, dim=-1), dim=-1)
                w = self._drop(w)
                ref_score = (w * proj[:, :hop]).sum(dim=-1)
                scores.append(self.act(own[:, hop] + ref_score +
                                       self.att_bias))
            logits = torch.stack(scores, dim=-1)
        else:
            if self.attention == 'jk':
                ref = self.jk_reference(
                    None if jk_first is not None else
                    list(stacked.unbind(0)), first=jk_first)
            else:
                if reference is None:
                    raise ValueError("Smoothing attention needs the "
                                     "stationary features 'reference'")
                ref = reference
            own = (projections[0] if projections is not None else
                   self._project(stacked, self.att_self))
            logits = self.act(own + (ref @ self.att_ref).unsqueeze(-1) +
                              self.att_bias)
        weight = torch.softmax(logits, dim=-1)
        dropped = self._drop(weight)
        out = torch.einsum('nk,knd->nd', dropped, stacked)
        # A NaN or infinity among the hops reaches the output (softmax
        # weights are positive), so the [N, D] output is checked, not the
        # (K+1) times larger hops, which training reads every step; only
        # then are the hops scanned, to name the culprit.
        if validation_enabled() and not all_finite(out):
            check_finite(stacked, 'hops')
        return out, weight

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.channels}, '
                f'num_hops={self.num_hops}, attention={self.attention!r})')


# ---------------------------------------------------------------------------
# The layer.
# ---------------------------------------------------------------------------
class GAMLPConv(MessagePassing):
    r"""Parameter-free multi-hop propagation and receptive-field attention of
    `"Graph Attention Multi-Layer Perceptron"
    <https://arxiv.org/abs/2206.04355>`_ (Zhang et al., KDD 2022), GAMLP.

    The features are propagated :math:`K` times with the normalised
    adjacency (self-loops added, :math:`\tilde{\mathbf{A}} = \mathbf{A} +
    \mathbf{I}`, :math:`\tilde{\mathbf{D}}` its degrees),

    .. math::
        \mathbf{X}^{(l)} = \hat{\mathbf{T}}\mathbf{X}^{(l-1)}, \qquad
        \hat{\mathbf{T}} = \tilde{\mathbf{D}}^{r-1}\tilde{\mathbf{A}}
        \tilde{\mathbf{D}}^{-r}, \qquad l = 1, \dots, K,

    (:math:`r = 0.5`: symmetric normalisation; :math:`r = 1`:
    :math:`\tilde{\mathbf{A}}\tilde{\mathbf{D}}^{-1}`; :math:`r = 0`:
    :math:`\tilde{\mathbf{D}}^{-1}\tilde{\mathbf{A}}`, the neighbour mean
    of the official code), and combined per node with learned hop weights
    (:class:`HopAttention`),

    .. math::
        \mathbf{H} = \sum_{l=0}^{K} \mathrm{diag}(\mathbf{w}(l))
        \mathbf{X}^{(l)}, \qquad w_i(l) = \mathrm{softmax}_l\,
        \delta\big([\mathbf{X}^{(l)}_i \Vert \mathbf{R}^{(l)}_i] \cdot
        \mathbf{s}\big).

    The propagation has no parameters, so it is computed once per graph and
    feature matrix and cached (:obj:`cached`; not when ``x`` requires a
    gradient, then it is differentiated through). :meth:`precompute`
    streams it hop by hop: the list it returns holds :math:`(K+1) N F`
    values (in :obj:`storage_dtype`); with ``path`` the hops go to a
    ``[K+1, N, F]`` memory-mapped file and only two hops (:math:`2NF`
    values) are in memory while it is computed.

    Graph conventions: ``edge_index[0]`` is the source :math:`j`,
    ``edge_index[1]`` the target :math:`i`; self-loops in the input are
    replaced by one unit loop per node (with :obj:`add_self_loops`);
    parallel edges count with their multiplicity (:math:`\tilde{A}_{ij}` is
    the number of edges :math:`j \to i`); degrees are row sums (in-degrees).
    Isolated nodes keep their own features at every hop. Without
    self-loops, a node with no incoming edge gets zeros from hop 1 on, and
    for :math:`r > 0` it sends nothing either (its
    :math:`\tilde{d}_j^{-r}` is taken as 0; :math:`r = 0` needs no
    convention).
    Values of sparse adjacencies are ignored.

    Args:
        in_channels (int): Input width :math:`F` (also the output width).
        out_channels (int, optional): Must be :obj:`None` or
            :obj:`in_channels` (the layer has no projection).
        num_hops (int, optional): Propagation steps :math:`K`. (default:
            :obj:`5`)
        r (float, optional): Normalisation exponent :math:`r \in [0, 1]`.
            (default: :obj:`0.5`)
        attention (str, optional): ``'recursive'``, ``'jk'`` or
            ``'smoothing'``. (default: :obj:`'recursive'`)
        activation (str, optional): :math:`\delta` of the scores.
            (default: :obj:`'relu'`)
        dropout (float, optional): Attention dropout on the hop weights.
            (default: :obj:`0.`)
        jk_channels, jk_layers, jk_dropout: The JK attention's reference
            MLP (see :class:`HopAttention`).
        add_self_loops (bool, optional): Use :math:`\mathbf{A}+\mathbf{I}`.
            (default: :obj:`True`)
        cached (bool, optional): Cache the propagated hops per
            ``(x, edge_index)`` (objects and in-place versions).
            (default: :obj:`True`)
        storage_dtype (torch.dtype, optional): Dtype the hops are kept in
            (e.g. :obj:`torch.float16` to halve the memory; they are cast
            back to ``x``'s dtype for the attention). (default: ``x``'s)
        factored (bool, optional): Compute the attention scores and the JK
            MLP's first layer from ``x`` through the propagation
            (:meth:`factored_inputs`) instead of from the stored hops: the
            same values, several times faster; the hops are then read only
            for the weighted sum. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(N, F)`, edge indices
          :math:`(2, |\mathcal{E}|)` (or a sparse adjacency / EdgeIndex)
        - **output:** :math:`(N, F)`; with
          :obj:`return_attention_weights=True` also ``{'hop': w}``,
          :math:`w` of shape :math:`(N, K+1)`
    """

    def __init__(self, in_channels: int, out_channels: Optional[int] = None,
                 num_hops: int = 5, r: float = 0.5,
                 attention: str = 'recursive', activation: str = 'relu',
                 dropout: float = 0.0, jk_channels: int = 512,
                 jk_layers: int = 2, jk_dropout: float = 0.0,
                 add_self_loops: bool = True, cached: bool = True,
                 storage_dtype: Optional[torch.dtype] = None,
                 factored: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(**kwargs)
        check_int('in_channels', in_channels, 1)
        if out_channels is not None and out_channels != in_channels:
            raise ValueError(f"GAMLPConv combines propagated copies of its "
                             f"input, so its output width is in_channels "
                             f"({in_channels}); got out_channels="
                             f"{out_channels!r}")
        self.out_channels = in_channels
        check_int('num_hops', num_hops, 0)
        if isinstance(r, bool) or not isinstance(r, (int, float)) or \
                not 0.0 <= float(r) <= 1.0:
            raise ValueError(f"'r' must lie in [0, 1] (got {r!r})")
        self.in_channels = in_channels
        self.num_hops = num_hops
        self.r = float(r)
        self.add_self_loops = bool(add_self_loops)
        self.cached = bool(cached)
        self.storage_dtype = storage_dtype
        self.factored = bool(factored)
        self.hop_attention = HopAttention(
            in_channels, num_hops, attention=attention,
            activation=activation, dropout=dropout, jk_channels=jk_channels,
            jk_layers=jk_layers, jk_dropout=jk_dropout)
        self._hop_cache = ObjectCache(size=2)
        self.reset_parameters()

    @property
    def attention(self) -> str:
        return self.hop_attention.attention

    def reset_parameters(self):
        super().reset_parameters()
        self.hop_attention.reset_parameters()

    # ------------------------------------------------------------------
    # Propagation.
    # ------------------------------------------------------------------
    def _check_inputs(self, x: Tensor, edge_index: Adj,
                      any_width: bool = False) -> Tensor:
        if isinstance(x, (tuple, list)):
            raise ValueError("GAMLPConv takes one node feature matrix, not a "
                             "pair: the propagation multiplies powers of a "
                             "square matrix")
        check_node_features(x, 'x', None if any_width else self.in_channels)
        return gamlp_edge_list(edge_index, x.size(0), device=x.device)

    def _operator(self, edge_index: Adj, x: Tensor, any_width: bool = False
                  ) -> Propagation:
        plain = self._check_inputs(x, edge_index, any_width)
        # float64 values: the operator is built once per graph and cast to
        # the features' dtype on use, so float64 hops stay exact.
        return normalized_propagation(
            plain, x.size(0), r=self.r,
            self_loops='remaining' if self.add_self_loops else 'keep',
            dtype=torch.float64, cache_key=edge_index)

    def iter_hops(self, x: Tensor, edge_index: Adj,
                  num_hops: Optional[int] = None,
                  any_width: bool = False) -> Iterator[Tensor]:
        r"""Yields :math:`\mathbf{X}^{(0)}, \dots, \mathbf{X}^{(K)}` one at a
        time (only the current hop is held). ``any_width``: propagate a
        matrix of any width (e.g. labels), not only ``in_channels``."""
        num_hops = self.num_hops if num_hops is None else num_hops
        check_int('num_hops', num_hops, 0)
        yield from self._operator(edge_index, x, any_width).powers(
            _dense(x), num_hops)

    def propagate_hops(self, x: Tensor, edge_index: Adj,
                       num_hops: Optional[int] = None) -> List[Tensor]:
        """The list of the :math:`K+1` hop features, in memory."""
        return list(self.iter_hops(x, edge_index, num_hops))

    def precompute(self, x: Tensor, edge_index: Adj,
                   num_hops: Optional[int] = None,
                   dtype: Optional[torch.dtype] = None,
                   path: Optional[Union[str, os.PathLike]] = None
                   ) -> List[Tensor]:
        """Stream the hops, without gradient, into a list of ``dtype``
        tensors, or (``path``) into a ``[K+1, N, F]`` memory-mapped file
        (``float16``/``float32``/``float64``; ``x``'s dtype by default)
        whose per-hop views are returned."""
        num_hops = self.num_hops if num_hops is None else num_hops
        dtype = dtype or self.storage_dtype or x.dtype
        with torch.no_grad():
            if path is None:
                return [h.to(dtype) for h in
                        self.iter_hops(x, edge_index, num_hops)]
            np_dtype = {torch.float16: np.float16, torch.float32: np.float32,
                        torch.float64: np.float64}.get(dtype)
            if np_dtype is None:
                raise ValueError(f"A memory-mapped precomputation stores "
                                 f"float16, float32 or float64 (got "
                                 f"{dtype})")
            store = np.lib.format.open_memmap(
                os.fspath(path), mode='w+', dtype=np_dtype,
                shape=(num_hops + 1, x.size(0), x.size(1)))
            for hop, h in enumerate(self.iter_hops(x, edge_index, num_hops)):
                store[hop] = h.detach().cpu().to(dtype).numpy()
            store.flush()
            return [torch.from_numpy(store[hop]) for hop in range(num_hops + 1)]

    def hops(self, x: Tensor, edge_index: Adj) -> List[Tensor]:
        """The hop features for the attention: cached per graph and ``x``
        (when :obj:`cached` and ``x`` needs no gradient), else computed
        differentiably."""
        return list(self.hop_tensor(x, edge_index).unbind(0))

    def hop_tensor(self, x: Tensor, edge_index: Adj) -> Tensor:
        """The hops stacked, ``[K+1, N, F]`` (cached as :meth:`hops`)."""
        if validation_enabled() or isinstance(x, (tuple, list)):
            self._check_inputs(x, edge_index)
        if x.requires_grad or not self.cached:
            return torch.stack(self.propagate_hops(x, edge_index), dim=0)
        key = ('hops', self.num_hops, self.r, self.add_self_loops,
               self.storage_dtype, x.dtype, x.device)
        value = self._hop_cache.get((x, edge_index), key)
        if value is None:
            # Streamed straight into the stacked buffer: (K+1) N F values
            # plus one hop in flight.
            value = torch.empty(self.num_hops + 1, x.size(0), x.size(1),
                                dtype=self.storage_dtype or x.dtype,
                                device=x.device)
            with torch.no_grad():
                for hop, h in enumerate(self.iter_hops(x, edge_index)):
                    value[hop] = h
            self._hop_cache.put((x, edge_index), key, value)
        return value.to(x.dtype)

    def stationary(self, x: Tensor, edge_index: Adj) -> Tensor:
        r""":math:`\mathbf{X}^{(\infty)}` (see :func:`stationary_features`;
        cached like the hops)."""
        plain = self._check_inputs(x, edge_index)
        cacheable = self.cached and not x.requires_grad
        key = ('stationary', self.r, self.add_self_loops, x.dtype, x.device)
        if cacheable:
            value = self._hop_cache.get((x, edge_index), key)
            if value is not None:
                return value
        value = stationary_features(_dense(x), plain, x.size(0), self.r,
                                    self.add_self_loops)
        if cacheable:
            self._hop_cache.put((x, edge_index), key, value)
        return value

    def factored_inputs(self, x: Tensor, edge_index: Adj
                        ) -> Tuple[Tuple[Tensor, Tensor], Optional[Tensor]]:
        r"""The attention's linear pieces without touching the stacked hops:
        since :math:`\mathbf{X}^{(l)} = \hat{\mathbf{T}}^l\mathbf{X}`,

        .. math::
            \mathbf{X}^{(l)}\mathbf{s} = \hat{\mathbf{T}}^l(\mathbf{X}
            \mathbf{s}), \qquad
            [\mathbf{X}^{(0)} \Vert\dots\Vert \mathbf{X}^{(K)}]
            \mathbf{W} = \sum_l \hat{\mathbf{T}}^l (\mathbf{X}
            \mathbf{W}_l),

        so the per-hop scores cost :math:`K` sparse products with an
        :math:`N \times 2` matrix and the JK MLP's first layer one product
        with :math:`\mathbf{X}` (cheap when ``x`` is sparse) plus :math:`K`
        sparse products with :math:`N \times d` (Horner's scheme). Returns
        ``((own, ref) [N, K+1] each, jk_first or None)``; the same values
        as :class:`HopAttention` computes from the hops (up to rounding)."""
        att = self.hop_attention
        operator = self._operator(edge_index, x)
        K = self.num_hops
        vec = torch.stack([att.att_self, att.att_ref], dim=-1) if (
            att.att_ref.numel() == att.channels) else att.att_self.view(-1, 1)
        v = x @ vec.to(x.dtype)
        cols = [v]
        for _ in range(K):
            v = operator(v)
            cols.append(v)
        proj = torch.stack(cols, dim=1)  # [N, K+1, 1 or 2]
        own = proj[..., 0]
        ref = proj[..., 1] if proj.size(-1) > 1 else own
        jk_first = None
        if att.jk is not None:
            lin = cast(Linear, att.jk[0])
            h = lin.weight.size(0)
            w = lin.weight.view(h, K + 1, att.channels).permute(2, 1, 0)
            parts = (x @ w.reshape(att.channels, (K + 1) * h).to(
                x.dtype)).view(-1, K + 1, h)
            y = parts[:, K]
            for k in range(K - 1, -1, -1):
                y = operator(y) + parts[:, k]
            jk_first = y + lin.bias if lin.bias is not None else y
        return (own, ref), jk_first

    def clear_cache(self) -> None:
        self._hop_cache.clear()

    # ------------------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: Optional[bool] = None):
        r"""The hop combination :math:`\mathbf{H}` ``[N, F]`` (and
        ``{'hop': w}`` with the weights ``[N, K+1]``)."""
        hops = self.hop_tensor(x, edge_index)
        ref = (self.stationary(x, edge_index)
               if self.attention == 'smoothing' else None)
        if self.factored:
            projections, jk_first = self.factored_inputs(x, edge_index)
            out, weight = self.hop_attention(hops, ref, projections,
                                             jk_first)
        else:
            out, weight = self.hop_attention(hops, ref)
        if return_attention_weights:
            return out, {'hop': weight}
        return out

    def combine(self, hops: Union[List[Tensor], Tensor],
                reference: Optional[Tensor] = None,
                return_attention_weights: Optional[bool] = None):
        """The attention on given hop features (e.g. dropped out, or
        streamed from a file)."""
        out, weight = self.hop_attention(hops, reference)
        if return_attention_weights:
            return out, {'hop': weight}
        return out

    def message(self, x_j: Tensor) -> Tensor:  # pragma: no cover - unused
        return x_j

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'num_hops={self.num_hops}, r={self.r}, '
                f'attention={self.attention!r})')
