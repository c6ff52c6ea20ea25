"""ACM-GCN and ACMII-GCN, the paper-configured networks (Luan et al.,
NeurIPS 2022)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import to_undirected

from gat_zoo.nn.conv._base import (
    _is_sparse_layout,
    check_model_input,
    weighted_edges_of,
)
from gat_zoo.nn.conv.acm_conv import ACMConv
from gat_zoo.nn.functional import feature_dropout
from gat_zoo.ops._cache import ObjectCache
from gat_zoo.registry import register_model

__all__ = ['ACMGCN']


class ACMGCN(torch.nn.Module):
    r"""ACM-GCN of `"Revisiting Heterophily For Graph Neural Networks"
    <https://arxiv.org/abs/2210.07606>`_ (Luan et al., NeurIPS 2022): a
    two-layer GCN whose layers are :class:`~gat_zoo.nn.conv.ACMConv`
    filterbanks (low-pass, high-pass, identity) mixed per node.

    .. math::
        \mathbf{H}^{1} = \mathrm{ReLU}\big(\mathrm{ACM}_1(\mathbf{X})\big),
        \qquad \mathbf{Z} = \mathrm{ACM}_2(\mathbf{H}^{1}),

    with dropout on the input features and on :math:`\mathbf{H}^1`, and
    :math:`\mathbf{Z}` the class logits (no ReLU on the output layer), as
    in the official code (``ACM-Pytorch/models``), which also scales every
    layer's mix by the number of channels (:obj:`scale=3.0`, not in the
    paper's equations) and builds :math:`\hat{\mathbf{A}}` from the graph
    made undirected (:obj:`to_undirected=True`: a directed ``edge_index``,
    e.g. PyG's WebKB, is symmetrised and de-duplicated once per graph).

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Hidden size. (default: :obj:`64`)
        dropout (float, optional): Dropout on the input features and the
            hidden layer. (default: :obj:`0.5`)
        variant (str, optional): :obj:`'acm'` (ACM-GCN) or :obj:`'acmii'`
            (ACMII-GCN). (default: :obj:`'acm'`)
        normalization (str, optional): :obj:`'rw'` (the official code) or
            :obj:`'sym'`. (default: :obj:`'rw'`)
        temperature (float, optional): :math:`T`. (default: :obj:`3.0`)
        scale (float, optional): Factor of each layer's mix.
            (default: :obj:`3.0`)
        layer_norm (bool, optional): ACM-GCN+'s LayerNorm before the
            channel weights. (default: :obj:`False`)
        to_undirected (bool, optional): Symmetrise the graph first.
            (default: :obj:`True`)
    """

    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, dropout: float = 0.5,
                 variant: str = 'acm', normalization: str = 'rw',
                 temperature: float = 3.0, scale: float = 3.0,
                 layer_norm: bool = False, to_undirected: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.to_undirected = to_undirected
        kwargs: Dict[str, Any] = dict(
            variant=variant, normalization=normalization,
            temperature=temperature, scale=scale, layer_norm=layer_norm)
        self.conv1 = ACMConv(in_channels, hidden_channels, **kwargs)
        self.conv2 = ACMConv(hidden_channels, out_channels, **kwargs)
        self._undirected_cache = ObjectCache(size=1)

    def reset_parameters(self):
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def _graph(self, edge_index: Adj, edge_weight: OptTensor,
               num_nodes: int, device: Optional[torch.device] = None
               ) -> Tuple[Adj, OptTensor]:
        """The symmetrised graph, cached while the same ``edge_index``
        object is passed unchanged (so the filters' cache holds too)."""
        if not self.to_undirected:
            return edge_index, edge_weight
        if _is_sparse_layout(edge_index):
            # Symmetrised like an edge index (its values are weights).
            index, weight = weighted_edges_of(edge_index, num_nodes,
                                              edge_weight, device)
            if weight is None:
                return to_undirected(index, num_nodes=num_nodes), None
            return to_undirected(index, weight, num_nodes=num_nodes)
        if not isinstance(edge_index, Tensor) or edge_index.dim() != 2:
            return edge_index, edge_weight
        if edge_weight is not None:  # weights may change: no cache
            return to_undirected(edge_index.as_subclass(Tensor).long(),
                                 edge_weight, num_nodes=num_nodes)
        key = ('acm_undirected', num_nodes)
        result = self._undirected_cache.get((edge_index, ), key)
        if result is not None:
            return result, None
        plain = edge_index.as_subclass(Tensor)
        if plain.numel() and (plain.min() < 0 or plain.max() >= num_nodes):
            return edge_index, None  # the layer reports the bad index
        result = to_undirected(plain.long(), num_nodes=num_nodes)
        self._undirected_cache.put((edge_index, ), key, result)
        return result, None

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: OptTensor = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]]]:
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also ``{'channel': [N, 3],
        'hidden_channel': [N, 3]}``: the output layer's channel weights and
        the hidden layer's."""
        check_model_input(x, edge_index, self.in_channels,
                          finite=False)  # the first layer scans x
        edge_index, edge_weight = self._graph(edge_index, edge_weight,
                                              x.size(0), x.device)
        x = feature_dropout(x, self.dropout, self.training)
        h, a1 = self.conv1(x, edge_index, edge_weight,
                           return_attention_weights=True)
        h = F.dropout(F.relu(h), p=self.dropout, training=self.training)
        out, a2 = self.conv2(h, edge_index, edge_weight,
                             return_attention_weights=True)
        if return_attention_weights:
            return out, {'channel': a2['channel'],
                         'hidden_channel': a1['channel']}
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, variant={self.conv1.variant!r})')


@register_model(family='multi-channel', paper='Luan et al., NeurIPS 2022',
                url='https://arxiv.org/abs/2210.07606', conv=ACMConv)
def acm_gcn(in_channels: int, out_channels: int, **kwargs) -> ACMGCN:
    """ACM-GCN: two adaptive channel mixing layers (low-pass, high-pass,
    identity; filter then ReLU)."""
    kwargs.setdefault('variant', 'acm')
    return ACMGCN(in_channels, out_channels, **kwargs)


@register_model(family='multi-channel', paper='Luan et al., NeurIPS 2022',
                url='https://arxiv.org/abs/2210.07606', conv=ACMConv)
def acmii_gcn(in_channels: int, out_channels: int, **kwargs) -> ACMGCN:
    """ACMII-GCN: ACM-GCN with the ReLU before the filters."""
    kwargs.setdefault('variant', 'acmii')
    return ACMGCN(in_channels, out_channels, **kwargs)


@register_model(family='multi-channel', paper='Luan et al., NeurIPS 2022',
                url='https://arxiv.org/abs/2210.07606', conv=ACMConv)
def acm_gcn_plus(in_channels: int, out_channels: int, **kwargs) -> ACMGCN:
    """ACM-GCN+ without its optional structure channel (paper App. B.3,
    option 1): ACM-GCN with a LayerNorm on each channel before its mixing
    weight. The structure channel ReLU(A W_A), with one learned row per
    node, is not implemented; the paper's results that use it are not
    comparable."""
    kwargs.setdefault('variant', 'acm')
    kwargs.setdefault('layer_norm', True)
    return ACMGCN(in_channels, out_channels, **kwargs)
