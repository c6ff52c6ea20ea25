"""AM-GCN, the paper-configured network (Wang, Zhu, Bo, Cui, Shi, Pei,
KDD 2020), with its consistency and disparity constraints."""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.typing import Adj

from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.conv.amgcn_conv import AMGCNConv, knn_feature_graph
from gat_zoo.ops._cache import ObjectCache
from gat_zoo.registry import register_model

__all__ = ['AMGCN', 'consistency_loss', 'hsic']


def consistency_loss(z1: Tensor, z2: Tensor) -> Tensor:
    r"""The consistency constraint :math:`\mathcal{L}_c` (paper Sec. 3) in
    the official code's form: the columns of each embedding are centred,
    the rows :math:`\ell_2`-normalised, :math:`\mathbf{S} =
    \mathbf{Z}\mathbf{Z}^{\top}`, and :math:`\mathcal{L}_c =
    \frac{1}{N^2}\lVert\mathbf{S}_T - \mathbf{S}_F\rVert_F^2` (the paper
    writes the plain Frobenius norm, without the centring and the
    :math:`1/N^2`). Computed as
    :math:`(\lVert Y_1^{\top}Y_1\rVert^2 + \lVert Y_2^{\top}Y_2\rVert^2 -
    2\lVert Y_1^{\top}Y_2\rVert^2)/N^2`, no :math:`N \times N` matrix."""
    n = z1.size(0)
    y1 = torch.nn.functional.normalize(z1 - z1.mean(0, keepdim=True), dim=1)
    y2 = torch.nn.functional.normalize(z2 - z2.mean(0, keepdim=True), dim=1)
    total = (y1.t() @ y1).pow(2).sum() + (y2.t() @ y2).pow(2).sum() \
        - 2 * (y1.t() @ y2).pow(2).sum()
    return total / float(n * n)


def hsic(z1: Tensor, z2: Tensor) -> Tensor:
    r"""The disparity measure (paper Sec. 3) with linear kernels,
    :math:`\mathrm{tr}(\mathbf{R}\mathbf{K}_1\mathbf{R}\mathbf{K}_2)`,
    :math:`\mathbf{K} = \mathbf{Z}\mathbf{Z}^{\top}`, :math:`\mathbf{R} =
    \mathbf{I} - \frac{1}{N}\mathbf{e}\mathbf{e}^{\top}`, as the official
    code computes it (the paper's :math:`(N-1)^{-2}` factor is left out;
    the code's :math:`\beta` values go with this scale). Equal to
    :math:`\lVert (\mathbf{R}\mathbf{Z}_1)^{\top}\mathbf{R}\mathbf{Z}_2
    \rVert_F^2`, computed so."""
    c1 = z1 - z1.mean(0, keepdim=True)
    c2 = z2 - z2.mean(0, keepdim=True)
    return (c1.t() @ c2).pow(2).sum()


class AMGCN(torch.nn.Module):
    r"""Adaptive Multi-channel GCN of `"AM-GCN: Adaptive Multi-channel
    Graph Convolutional Networks" <https://arxiv.org/abs/2007.02265>`_:
    :class:`~gat_zoo.nn.conv.AMGCNConv` over the topology graph and the
    kNN feature graph, then a linear classifier on the fused embedding
    :math:`\mathbf{Z}` (paper Sec. 3; the softmax is in the loss).

    The training objective (paper Sec. 3) is :math:`\mathcal{L}_t + \gamma
    \mathcal{L}_c + \beta \mathcal{L}_d`; :meth:`auxiliary_loss` returns
    :math:`\gamma\mathcal{L}_c(\mathbf{Z}_{CT}, \mathbf{Z}_{CF}) + \beta
    \mathcal{L}_d` of the last training forward, with the disparity
    :math:`\mathcal{L}_d = \tfrac{1}{2}[\mathrm{HSIC}(\mathbf{Z}_T,
    \mathbf{Z}_{CT}) + \mathrm{HSIC}(\mathbf{Z}_F, \mathbf{Z}_{CF})]`
    (the official code averages the two terms; the paper sums them) — see
    :func:`consistency_loss` and :func:`hsic` for the code's scaling.
    (The code names :math:`\gamma` ``theta``.)

    The feature graph: pass :obj:`feature_edge_index` to :meth:`forward`,
    set :attr:`feature_graph`, or let the model build the :math:`k`-NN
    cosine graph of the input features once per input tensor
    (:func:`~gat_zoo.nn.conv.amgcn_conv.knn_feature_graph`).

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): GCN hidden width (``nhid1``).
            (default: :obj:`768`)
        embedding_channels (int, optional): Embedding width (``nhid2``).
            (default: :obj:`256`)
        dropout (float, optional): Dropout inside the GCNs.
            (default: :obj:`0.5`)
        k (int, optional): Neighbours of the kNN feature graph.
            (default: :obj:`7`)
        consistency_weight (float, optional): :math:`\gamma` (``theta``).
            (default: :obj:`1e-3`)
        disparity_weight (float, optional): :math:`\beta` (``beta``).
            (default: :obj:`5e-10`)
        normalization (str, optional): :obj:`'sym'` (paper) or :obj:`'row'`
            (official code). (default: :obj:`'sym'`)
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 768, embedding_channels: int = 256,
                 dropout: float = 0.5, k: int = 7,
                 consistency_weight: float = 1e-3,
                 disparity_weight: float = 5e-10,
                 normalization: str = 'sym'):
        super().__init__()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"'k' must be a positive int (got {k!r})")
        for name, value in (('consistency_weight', consistency_weight),
                            ('disparity_weight', disparity_weight)):
            if float(value) < 0:
                raise ValueError(f"'{name}' must be non-negative (got "
                                 f"{value!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.k = k
        self.consistency_weight = float(consistency_weight)
        self.disparity_weight = float(disparity_weight)
        self.conv = AMGCNConv(in_channels, hidden_channels,
                              embedding_channels, dropout=dropout,
                              normalization=normalization)
        self.lin = torch.nn.Linear(embedding_channels, out_channels)
        self.feature_graph: Optional[Adj] = None
        self._knn_cache = ObjectCache(size=1)
        self._aux: Optional[Tensor] = None

    def reset_parameters(self):
        self.conv.reset_parameters()
        self.lin.reset_parameters()

    def knn_graph(self, x: Tensor) -> Tensor:
        """The kNN feature graph of ``x``, cached for this very tensor
        (a new tensor, or ``x`` edited in place, is recomputed; a memory
        address reused by another tensor is not mistaken for it)."""
        key = ('amgcn_knn', self.k)
        graph = self._knn_cache.get((x, ), key)
        if graph is None:
            graph = knn_feature_graph(x, self.k)
            self._knn_cache.put((x, ), key, graph)
        return graph

    def forward(self, x: Tensor, edge_index: Adj,
                feature_edge_index: Optional[Adj] = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]]]:
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also ``{'view': [N, 3]}``
        (topology, feature, common)."""
        check_model_input(x, edge_index, self.in_channels)
        if feature_edge_index is None:
            feature_edge_index = self.feature_graph
        if feature_edge_index is None:
            feature_edge_index = self.knn_graph(x)
        z, att, views = self.conv(x, edge_index, feature_edge_index,
                                  return_attention_weights=True,
                                  return_views=True)
        if self.training:
            aux = None
            if self.consistency_weight > 0:
                aux = self.consistency_weight * consistency_loss(
                    views['common_topology'], views['common_feature'])
            if self.disparity_weight > 0:
                term = self.disparity_weight * 0.5 * (
                    hsic(views['topology'], views['common_topology'])
                    + hsic(views['feature'], views['common_feature']))
                aux = term if aux is None else aux + term
            self._aux = aux
        out = self.lin(z)
        if return_attention_weights:
            return out, att
        return out

    def auxiliary_loss(self) -> Optional[Tensor]:
        r""":math:`\gamma\mathcal{L}_c + \beta\mathcal{L}_d` of the last
        training forward (:obj:`None` when both weights are zero)."""
        return self._aux

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, k={self.k}, '
                f'normalization={self.conv.normalization!r})')


@register_model(family='multi-view',
                paper='Wang, Zhu, Bo, Cui, Shi, Pei, KDD 2020',
                url='https://arxiv.org/abs/2007.02265', conv=AMGCNConv)
def amgcn(in_channels: int, out_channels: int, **kwargs) -> AMGCN:
    """AM-GCN: specific and common GCNs over the topology and kNN feature
    graphs, node-wise attention over the views, consistency and HSIC
    disparity constraints."""
    return AMGCN(in_channels, out_channels, **kwargs)
