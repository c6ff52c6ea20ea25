"""AM-GCN's multi-channel convolution with attention over views (Wang,
Zhu, Bo, Cui, Shi, Pei, KDD 2020), :class:`AMGCNConv`, and the kNN feature
graph it runs on (:func:`knn_feature_graph`)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import Adj

from gat_zoo.nn.conv._base import AttentionConv, edge_index_of
from gat_zoo.nn.validation import (
    check_node_features,
    check_probability,
    validation_enabled,
)
from gat_zoo.ops import normalized_propagation
from gat_zoo.ops.propagation import Propagation

__all__ = ['AMGCNConv', 'knn_feature_graph']

NORMALIZATIONS = {'sym': 0.5, 'row': 0.0}
VIEWS = ('topology', 'feature', 'common')


def knn_feature_graph(x: Tensor, k: int, *, metric: str = 'cosine',
                      symmetric: bool = True) -> Tensor:
    r"""The kNN feature graph :math:`\mathbf{A}_f` of AM-GCN (paper Sec. 3):
    every node is joined to its :math:`k` most similar nodes by cosine
    similarity of the features (itself excluded).

    The neighbours come from scikit-learn's ``NearestNeighbors`` (a library
    routine, not an :math:`O(N^2)` Python loop); with :obj:`symmetric`
    the directed kNN relation is made undirected (the union of both
    directions, each pair once per direction), as the official code does
    when it loads its ``knn/c{k}.txt`` files.

    Args:
        x (torch.Tensor): Node features ``[N, F]`` (dense or sparse).
        k (int): Neighbours per node.
        metric (str): scikit-learn metric (default: :obj:`'cosine'`).
        symmetric (bool): Return the undirected union. (default:
            :obj:`True`)

    Returns:
        ``[2, E]`` int64 (source, target) index on ``x``'s device, sorted,
        without duplicates or self-loops.
    """
    try:
        from sklearn.neighbors import NearestNeighbors
    except ImportError as err:  # a bench extra, not a core dependency
        raise ImportError(
            "knn_feature_graph needs scikit-learn (pip install "
            "'gat_zoo[bench]'); or pass AM-GCN a precomputed feature graph "
            "('feature_edge_index' / 'model.feature_graph')") from err
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError("'x' must be a 2-D tensor of node features")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"'k' must be a positive int (got {k!r})")
    n = x.size(0)
    if n < 2:
        return torch.empty(2, 0, dtype=torch.long, device=x.device)
    dense = x.to_dense() if x.is_sparse or x.layout != torch.strided else x
    feats = dense.detach().cpu().double().numpy()
    kk = min(k + 1, n)
    nn_model = NearestNeighbors(n_neighbors=kk, metric=metric,
                                algorithm='brute').fit(feats)
    _, nbr = nn_model.kneighbors(feats)
    rows = np.repeat(np.arange(n), kk)
    cols = nbr.reshape(-1)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    # Ties can push the node itself out of its own list: keep k per node.
    order = np.lexsort((np.arange(rows.size), rows))
    rows, cols = rows[order], cols[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    rows, cols = rows[rank < k], cols[rank < k]
    if symmetric:
        rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    pairs = np.unique(np.stack([rows, cols], 1), axis=0)
    # (node, neighbour) pairs; messages flow from the neighbour.
    index = torch.from_numpy(pairs.T.copy()).long().flip(0).contiguous()
    return index.to(x.device)


class AMGCNConv(AttentionConv):
    r"""The adaptive multi-channel convolution of `"AM-GCN: Adaptive
    Multi-channel Graph Convolutional Networks"
    <https://arxiv.org/abs/2007.02265>`_ (Wang et al., KDD 2020).

    Two graphs over the same nodes: the topology graph :math:`\mathbf{A}_t`
    and the kNN feature graph :math:`\mathbf{A}_f`
    (:func:`knn_feature_graph`). With the GCN operator
    :math:`\hat{\mathbf{A}} = \tilde{\mathbf{D}}^{-1/2}(\mathbf{A} +
    \mathbf{I})\tilde{\mathbf{D}}^{-1/2}` (paper Sec. 3), three two-layer GCNs
    (paper Sec. 3) produce

    .. math::
        \mathbf{Z}^{(l)} = \mathrm{ReLU}\big(\hat{\mathbf{A}}\,
        \mathbf{Z}^{(l-1)}\mathbf{W}^{(l)}\big),

    the *specific* embeddings :math:`\mathbf{Z}_T` (own weights, on
    :math:`\mathbf{A}_t`) and :math:`\mathbf{Z}_F` (own weights, on
    :math:`\mathbf{A}_f`) and the *common* embeddings
    :math:`\mathbf{Z}_{CT}`, :math:`\mathbf{Z}_{CF}` (one shared set of
    weights, on either graph), :math:`\mathbf{Z}_C = (\mathbf{Z}_{CT} +
    \mathbf{Z}_{CF})/2` (paper Sec. 3). Node-wise attention over the three views
    (paper Sec. 3)

    .. math::
        \omega_i^{v} = \mathbf{q}^{\top}\tanh\big(\mathbf{W}
        (\mathbf{z}_i^{v})^{\top} + \mathbf{b}\big),\qquad
        \alpha_i^{v} = \frac{\exp(\omega_i^{v})}{\sum_{u \in \{T, F, C\}}
        \exp(\omega_i^{u})}

    gives :math:`\mathbf{Z} = \boldsymbol{\alpha}_T\cdot\mathbf{Z}_T +
    \boldsymbol{\alpha}_F\cdot\mathbf{Z}_F + \boldsymbol{\alpha}_C\cdot
    \mathbf{Z}_C` (paper Sec. 3). The classifier, the consistency and the
    disparity (HSIC) constraints live in :class:`~gat_zoo.nn.models.AMGCN`.

    **Official code** (``zhumeiqiBUPT/AM-GCN``, ``models.py``/``utils.py``),
    followed here: the second GCN layer has no ReLU (the three embeddings
    are linear outputs), each GCN layer has a bias, dropout sits between
    the two layers, and the attention's :math:`\mathbf{W}` has 16 rows
    with a bias (:math:`\mathbf{b}`), :math:`\mathbf{q}` no bias. The code
    normalises with :math:`\tilde{\mathbf{D}}^{-1}(\mathbf{A}+\mathbf{I})`
    (row normalisation), not the paper's symmetric form:
    :obj:`normalization='row'` reproduces the code, :obj:`'sym'` (default)
    the paper. The survey's one-liner speaks of "attention over views";
    that is exactly this node-wise softmax over three embeddings, not edge
    attention, so :obj:`return_attention_weights=True` returns it under
    ``'view'``.

    **Graph handling.** Messages flow from ``edge_index[0]`` to
    ``edge_index[1]``; the graphs are used as given (pass undirected graphs
    for the paper's setting), parallel edges add up, the graph's own
    self-loops are replaced by one per node (:math:`\mathbf{A} +
    \mathbf{I}`), so an isolated node keeps its own features and a graph
    without edges reduces each GCN to a per-node MLP.

    Args:
        in_channels (int): Input feature size :math:`F`.
        hidden_channels (int): Width of the GCNs' first layer (the code's
            ``nhid1``).
        out_channels (int): Embedding size (the code's ``nhid2``).
        dropout (float, optional): Dropout between the two GCN layers.
            (default: :obj:`0.5`)
        attention_channels (int, optional): Rows of the attention's
            :math:`\mathbf{W}`. (default: :obj:`16`)
        normalization (str, optional): :obj:`'sym'` (paper) or
            :obj:`'row'` (official code). (default: :obj:`'sym'`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F)`, topology adjacency
          :math:`(2, |\mathcal{E}_t|)` and feature adjacency
          :math:`(2, |\mathcal{E}_f|)` (either may be a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`)
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`. If
          :obj:`return_attention_weights=True`, then also
          ``{'view': (|V|, 3)}``, the attention over (topology, feature,
          common). With :obj:`return_views=True`, a dict of the four
          embeddings ``'topology'`` (:math:`\mathbf{Z}_T`), ``'feature'``
          (:math:`\mathbf{Z}_F`), ``'common_topology'``
          (:math:`\mathbf{Z}_{CT}`), ``'common_feature'``
          (:math:`\mathbf{Z}_{CF}`) comes last.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, dropout: float = 0.5,
                 attention_channels: int = 16, normalization: str = 'sym',
                 **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        for name, value in (('in_channels', in_channels),
                            ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels),
                            ('attention_channels', attention_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    value < 1:
                raise ValueError(f"'{name}' must be a positive int (got "
                                 f"{value!r})")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"'normalization' must be one of "
                             f"{tuple(NORMALIZATIONS)} (got "
                             f"{normalization!r})")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.dropout = check_probability('dropout', dropout)
        self.attention_channels = attention_channels
        self.normalization = normalization
        # One two-layer GCN per channel: weights [F, H], [H, O] and biases.
        self.weights = torch.nn.ParameterDict()
        for view in VIEWS:
            self.weights[f'{view}_w1'] = Parameter(
                torch.empty(in_channels, hidden_channels))
            self.weights[f'{view}_b1'] = Parameter(
                torch.empty(hidden_channels))
            self.weights[f'{view}_w2'] = Parameter(
                torch.empty(hidden_channels, out_channels))
            self.weights[f'{view}_b2'] = Parameter(torch.empty(out_channels))
        self.att_lin = torch.nn.Linear(out_channels, attention_channels)
        self.att_q = torch.nn.Linear(attention_channels, 1, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        # The GCN layers of the official code: U(-1/sqrt(out), 1/sqrt(out)).
        for p in self.weights.values():
            bound = 1.0 / float(p.size(-1)) ** 0.5
            torch.nn.init.uniform_(p, -bound, bound)
        self.att_lin.reset_parameters()
        self.att_q.reset_parameters()

    # ------------------------------------------------------------------
    def operator(self, edge_index: Adj, num_nodes: int,
                 dtype: torch.dtype = torch.float32,
                 device: Optional[torch.device] = None) -> Propagation:
        r"""The normalised :math:`\hat{\mathbf{A}}` of one graph (cached
        per adjacency object)."""
        device = device or (edge_index.device() if callable(
            getattr(edge_index, 'device', None)) else edge_index.device)
        index, value = edge_index_of(edge_index, num_nodes, device)
        weight = value if value is not None and value.is_floating_point() \
            else None
        return normalized_propagation(
            index, num_nodes, r=NORMALIZATIONS[self.normalization],
            self_loops='remaining', edge_weight=weight, dtype=dtype,
            cache=weight is None, cache_key=edge_index)

    def _spread(self, prop: Propagation, h: Tensor, fused: bool) -> Tensor:
        if fused:
            return prop(h)
        graph = prop.graph
        index = torch.stack([graph.col, graph.row], dim=0)
        n = prop.num_nodes
        return self.propagate(index, x=h, weight=prop.weight.to(h.dtype),
                               size=(n, n))

    def _gcn(self, x: Tensor, prop: Propagation, view: str,
             fused: bool) -> Tensor:
        w = self.weights
        h = self._spread(prop, x @ w[f'{view}_w1'], fused) + w[f'{view}_b1']
        h = F.relu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self._spread(prop, h @ w[f'{view}_w2'], fused) + \
            w[f'{view}_b2']

    def forward(self, x: Tensor, edge_index: Adj, feature_edge_index: Adj,
                return_attention_weights: Optional[bool] = None,
                return_views: bool = False
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]],
                           Tuple[Tensor, Dict[str, Tensor],
                                 Dict[str, Tensor]]]:
        r"""Runs the forward pass (see the class docstring for the
        outputs)."""
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        if x.layout != torch.strided:
            x = x.to_dense()
        n = x.size(0)
        dtype = x.dtype if x.dtype == torch.float64 else torch.float32
        prop_t = self.operator(edge_index, n, dtype, x.device)
        prop_f = self.operator(feature_edge_index, n, dtype, x.device)
        fused = self._messages_unobserved(x.device)
        z_t = self._gcn(x, prop_t, 'topology', fused)
        z_f = self._gcn(x, prop_f, 'feature', fused)
        z_ct = self._gcn(x, prop_t, 'common', fused)
        z_cf = self._gcn(x, prop_f, 'common', fused)
        z_c = 0.5 * (z_ct + z_cf)
        stacked = torch.stack([z_t, z_f, z_c], dim=1)          # [N, 3, O]
        omega = self.att_q(torch.tanh(self.att_lin(stacked))).squeeze(-1)
        alpha = torch.softmax(omega, dim=1)                    # [N, 3]
        out = (alpha.unsqueeze(-1) * stacked).sum(dim=1)
        result: List[Any] = [out]
        if return_attention_weights:
            result.append({'view': alpha})
        if return_views:
            result.append({'topology': z_t, 'feature': z_f,
                           'common_topology': z_ct,
                           'common_feature': z_cf})
        return result[0] if len(result) == 1 else tuple(result)

    def message(self, x_j: Tensor, weight: Tensor) -> Tensor:
        return weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.hidden_channels}, {self.out_channels}, '
                f'normalization={self.normalization!r})')
