r"""HAN: one hierarchical attention layer (node level per meta-path, then
semantic level) and a linear classifier, as configured in the paper."""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gat_zoo.nn.conv.han_conv import HANConv, Metadata
from gat_zoo.registry import register_model

__all__ = ['HAN']

_PAPER = 'Wang, Ji, Shi, Wang, Cui, Yu, Ye, WWW 2019'
_URL = 'https://arxiv.org/abs/1903.07293'


class HAN(torch.nn.Module):
    r"""HAN (`Wang et al., WWW 2019 <https://arxiv.org/abs/1903.07293>`_):
    dropout, one :class:`~gat_zoo.nn.conv.HANConv` (:math:`K` heads of
    :math:`F'` features, concatenated: the paper's embedding
    :math:`\mathbf{Z}`), then the classifier :math:`\mathbf{C}\mathbf{Z}`
    trained with cross-entropy on the labelled nodes (Eq. 11).
    :meth:`embed` returns :math:`\mathbf{Z}`, the embedding the paper
    evaluates with KNN and k-means.

    Homogeneous form (:obj:`num_metapaths`): ``model(x, metapaths)`` with
    the target nodes' features and a list of meta-path adjacencies (a single
    adjacency is one meta-path). Heterogeneous form (:obj:`metadata` and
    :obj:`target`): ``model(x_dict, edge_index_dict)`` returns the target
    type's logits.

    Args:
        in_channels (int or dict): Input width (per node type).
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Features per head :math:`F'`.
            (default: :obj:`8`)
        heads (int, optional): Heads :math:`K` (the paper: 8, so
            :math:`\mathbf{Z}` is 64-d). (default: :obj:`8`)
        num_metapaths (int, optional): Meta-path graphs of the homogeneous
            form. (default: :obj:`1` unless :obj:`metadata` is given)
        metadata (tuple, optional): ``(node_types, edge_types)``.
        target (str, optional): The classified node type (with
            :obj:`metadata`).
        dropout (float, optional): Dropout on the input features.
            (default: :obj:`0.6`)
        attention_dropout (float, optional): Dropout on node-level
            coefficients. (default: :obj:`dropout`)
        semantic_channels, negative_slope, add_self_loops, act,
        share_projection: As in :class:`~gat_zoo.nn.conv.HANConv`.
    """

    def __init__(self, in_channels: Union[int, Dict[str, int]],
                 out_channels: int, hidden_channels: int = 8, heads: int = 8,
                 num_metapaths: Optional[int] = None,
                 metadata: Optional[Metadata] = None,
                 target: Optional[str] = None, dropout: float = 0.6,
                 attention_dropout: Optional[float] = None,
                 semantic_channels: int = 128, negative_slope: float = 0.2,
                 add_self_loops: bool = True,
                 act: Union[str, Callable, None] = 'elu',
                 share_projection: bool = True):
        super().__init__()
        if metadata is not None:
            if target is None or target not in metadata[0]:
                raise ValueError(f"'target' must name one of the node types "
                                 f"{list(metadata[0])} (got {target!r})")
            if num_metapaths is not None:
                raise ValueError("Give 'metadata' or 'num_metapaths', not "
                                 "both")
        elif num_metapaths is None:
            num_metapaths = 1
        self.target = target
        self.dropout = dropout
        self.conv = HANConv(
            in_channels, hidden_channels, metadata=metadata,
            num_metapaths=num_metapaths, heads=heads,
            negative_slope=negative_slope,
            dropout=dropout if attention_dropout is None
            else attention_dropout, add_self_loops=add_self_loops,
            semantic_channels=semantic_channels, act=act,
            share_projection=share_projection)
        self.classifier = torch.nn.Linear(heads * hidden_channels,
                                          out_channels)

    def reset_parameters(self):
        self.conv.reset_parameters()
        self.classifier.reset_parameters()

    def _drop(self, x):
        if isinstance(x, dict):
            return {k: F.dropout(v, self.dropout, self.training)
                    for k, v in x.items()}
        return F.dropout(x, self.dropout, self.training)

    def embed(self, x: Union[Tensor, Dict[str, Tensor]], edge_index: Any,
              return_attention_weights: Optional[bool] = None):
        r"""The embedding :math:`\mathbf{Z}` ``[N, K F']`` of the (target)
        nodes; with :obj:`return_attention_weights` also the conv's
        node-level and semantic attention."""
        out = self.conv(self._drop(x), edge_index,
                        return_attention_weights=return_attention_weights)
        if return_attention_weights:
            z, attention = out
        else:
            z, attention = out, None
        if isinstance(z, dict):
            z = z[self.target]
            if z is None:
                raise ValueError(f"No edge type points to the target node "
                                 f"type {self.target!r}")
        return (z, attention) if return_attention_weights else z

    def forward(self, x: Union[Tensor, Dict[str, Tensor]], edge_index: Any,
                return_attention_weights: Optional[bool] = None):
        out = self.embed(x, edge_index, return_attention_weights)
        if return_attention_weights:
            z, attention = out
            return self.classifier(z), attention
        return self.classifier(out)


@register_model('han', family='hierarchical', paper=_PAPER, url=_URL,
                conv=HANConv)
def han(in_channels: int, out_channels: int, **kwargs: Any) -> HAN:
    """HAN: node-level attention per meta-path (self included), semantic
    attention across meta-paths, a linear classifier."""
    return HAN(in_channels, out_channels, **kwargs)
