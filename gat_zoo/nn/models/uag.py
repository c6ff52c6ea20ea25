"""UAG, the paper-configured network (Feng, Wang, Ding, AAAI 2021)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj

from gat_zoo.nn.conv.uag_conv import UAGConv
from gat_zoo.registry import register_model

__all__ = ['UAG']


class UAG(torch.nn.Module):
    r"""Uncertainty-aware Attention Graph neural network of `"UAG:
    Uncertainty-aware Attention Graph Neural Network for Defending
    Adversarial Attacks" <https://arxiv.org/abs/2009.10235>`_: two
    :class:`~gat_zoo.nn.conv.UAGConv` layers; the first layer's output
    variance is the second layer's input variance, so the uncertainty a
    node picks up from a disagreeing (possibly attacked) neighbourhood in
    layer 1 lowers its weight as a neighbour in layer 2.

    Between the layers the mean goes through ReLU and the variance through
    the ReLU's first-order (delta-method) rule
    :math:`\mathbf{s} \mapsto \mathbf{s} \odot [\mathbf{x}' > 0]`. Dropout
    is the layers' own MC dropout (:obj:`dropout`), which also sets their
    variance estimate. The architecture (depth, width, activation) is our
    choice: the paper's text was not available (see
    :class:`~gat_zoo.nn.conv.UAGConv`); :math:`\alpha_\tau = 15`,
    :math:`\beta_\tau = 2.5` are the paper's.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Hidden width. (default: :obj:`16`)
        alpha_tau (float, optional): Gate steepness. (default: :obj:`15.0`)
        beta_tau (float, optional): Gate threshold on the relative
            uncertainty. (default: :obj:`2.5`)
        dropout (float, optional): MC-dropout rate of both layers.
            (default: :obj:`0.5`)
        attention_dropout (float, optional): Dropout on the attention
            coefficients. (default: :obj:`0.0`)
        uncertainty_aware (bool, optional): :obj:`False` removes the gate
            (ablation). (default: :obj:`True`)
    """

    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 16, alpha_tau: float = 15.0,
                 beta_tau: float = 2.5, dropout: float = 0.5,
                 attention_dropout: float = 0.0,
                 uncertainty_aware: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        kw: Dict[str, Any] = dict(
            alpha_tau=alpha_tau, beta_tau=beta_tau, mc_dropout=dropout,
            dropout=attention_dropout, uncertainty_aware=uncertainty_aware)
        self.conv1 = UAGConv(in_channels, hidden_channels, **kw)
        self.conv2 = UAGConv(hidden_channels, out_channels, **kw)

    def reset_parameters(self):
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Any]]]:
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also ``{'layer1': ..., 'layer2':
        ...}``, each :class:`UAGConv`'s attention dict."""
        h, var, att1 = self.conv1(x, edge_index, return_variance=True,
                                  return_attention_weights=True)
        var = var * (h > 0).to(var.dtype)
        h = F.relu(h)
        out, att2 = self.conv2(h, edge_index, variance=var,
                               return_attention_weights=True)
        if return_attention_weights:
            return out, {'layer1': att1, 'layer2': att2}
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, hidden={self.conv1.out_channels})')


@register_model(family='multi-channel', paper='Feng, Wang, Ding, AAAI 2021',
                url='https://arxiv.org/abs/2009.10235', conv=UAGConv)
def uag(in_channels: int, out_channels: int, **kwargs) -> UAG:
    """UAG: GAT attention gated by each neighbour's (MC-dropout) Bayesian
    uncertainty, with layer-wise variance propagation (equations
    reconstructed; see :class:`~gat_zoo.nn.conv.UAGConv`)."""
    return UAG(in_channels, out_channels, **kwargs)
