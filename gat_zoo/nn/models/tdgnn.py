"""TDGNN (Wang and Derr, CIKM 2021): an MLP followed by the tree-decomposed
propagation, as TDGNN-s (sum of layers) and TDGNN-w (learned per-layer
weights)."""
from __future__ import annotations

from typing import Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj

from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.conv.tdgnn_conv import TDGNNConv
from gat_zoo.nn.functional import feature_dropout, is_sparse_features
from gat_zoo.nn.validation import check_int, check_probability
from gat_zoo.registry import register_model

__all__ = ['TDGNN']

_PAPER = 'Wang and Derr, CIKM 2021'
_URL = 'https://arxiv.org/abs/2108.11022'



class TDGNN(torch.nn.Module):
    r"""The node classifier of `"Tree Decomposed Graph Neural Network"
    <https://arxiv.org/abs/2108.11022>`_ (Wang and Derr, CIKM 2021): a
    two-layer MLP computes :math:`\mathbf{Z}` and
    :class:`~gat_zoo.nn.conv.TDGNNConv` propagates it over the tree
    decomposition,

    .. math::
        \mathbf{Z} = \mathbf{W}_2\,\mathrm{dropout}\big(\mathrm{ReLU}(
        \mathbf{W}_1\,\mathrm{dropout}(\mathbf{X}) + \mathbf{b}_1)\big)
        + \mathbf{b}_2, \qquad
        \mathbf{H} = \gamma_0\mathbf{Z} + \sum_{\ell \in \mathcal{L}}
        \gamma_\ell \mathbf{H}_\ell,

    returning the logits :math:`\mathbf{H}` (the official code's
    ``model.py``: ``lin1``, ``lin2`` are :class:`torch.nn.Linear` with
    biases and PyTorch's default initialisation; it applies
    ``log_softmax``, which the trainer's cross-entropy does here).

    The official code trains with three Adam weight decays, ``wd1`` on
    :math:`\mathbf{W}_1, \mathbf{b}_1`, ``wd2`` on :math:`\mathbf{W}_2,
    \mathbf{b}_2` and ``wd3`` on :math:`\gamma`. A single-weight-decay
    trainer reproduces them exactly through :obj:`group_weight_decay`:
    :meth:`auxiliary_loss` returns :math:`\sum_g \tfrac{1}{2}\lambda_g
    \lVert\theta_g\rVert^2`, whose gradient :math:`\lambda_g\theta_g` is
    what Adam's (coupled) ``weight_decay`` adds (train with
    ``weight_decay=0`` then).

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): MLP width. (default: :obj:`16`)
        num_hops (int, optional): :math:`K` (the code's ``tree_layer``).
            (default: :obj:`10`)
        layers (sequence of int, optional): The layer set
            :math:`\mathcal{L}`. (default: :obj:`(1, 2, 3, 4)`)
        aggregation (str, optional): :obj:`'sum'` (TDGNN-s) or
            :obj:`'weighted'` (TDGNN-w). (default: :obj:`'sum'`)
        dropout (float, optional): Dropout on the input features (the
            code's ``dropout1``). (default: :obj:`0.8`)
        hidden_dropout (float, optional): Dropout on the hidden layer (the
            code's ``dropout2``). (default: :obj:`0.8`)
        group_weight_decay (sequence of float, optional): L2 coefficients
            ``(wd1, wd2)`` or ``(wd1, wd2, wd3)`` of the MLP's first and
            second layers and of :math:`\gamma`, added through
            :meth:`auxiliary_loss`. (default: :obj:`None`, none)
        include_self (bool, optional): See
            :class:`~gat_zoo.nn.conv.TDGNNConv`. (default: :obj:`True`)
        reverse_dependency (bool, optional): The official code's dependency
            on directed graphs, see :class:`~gat_zoo.nn.conv.TDGNNConv`.
            (default: :obj:`False`)
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 16, num_hops: int = 10,
                 layers: Sequence[int] = (1, 2, 3, 4),
                 aggregation: str = 'sum', dropout: float = 0.8,
                 hidden_dropout: float = 0.8,
                 group_weight_decay: Optional[Sequence[float]] = None,
                 include_self: bool = True,
                 reverse_dependency: bool = False):
        super().__init__()
        check_int('in_channels', in_channels, 1)
        check_int('out_channels', out_channels, 1)
        check_int('hidden_channels', hidden_channels, 1)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = check_probability('dropout', dropout)
        self.hidden_dropout = check_probability('hidden_dropout',
                                                 hidden_dropout)
        if group_weight_decay is not None:
            group_weight_decay = tuple(float(v) for v in group_weight_decay)
            if len(group_weight_decay) not in (2, 3) or any(
                    v < 0 for v in group_weight_decay):
                raise ValueError(f"'group_weight_decay' must be 2 or 3 "
                                 f"non-negative numbers (wd1, wd2[, wd3]) "
                                 f"(got {group_weight_decay!r})")
        self.group_weight_decay = group_weight_decay
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, out_channels)
        self.prop = TDGNNConv(num_hops=num_hops, layers=layers,
                              aggregation=aggregation,
                              include_self=include_self,
                              reverse_dependency=reverse_dependency)

    @property
    def supports_sparse_features(self) -> bool:
        """``x`` may be a sparse CSR matrix (it only meets dropout and the
        first linear layer)."""
        return True

    def reset_parameters(self):
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()
        self.prop.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: bool = False):
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also the propagation's dict
        (``'layers'``, ``'layer_weights'``, ``'tree'``)."""
        check_model_input(x, edge_index, self.in_channels)
        x = feature_dropout(x, self.dropout, self.training)
        if is_sparse_features(x):
            x = torch.sparse.mm(x, self.lin1.weight.t()) + self.lin1.bias
        else:
            x = self.lin1(x)
        x = F.relu(x)
        x = F.dropout(x, p=self.hidden_dropout, training=self.training)
        x = self.lin2(x)
        return self.prop(x, edge_index,
                         return_attention_weights=return_attention_weights)

    def auxiliary_loss(self) -> Optional[Tensor]:
        """The per-group L2 penalty of :obj:`group_weight_decay` (or
        :obj:`None`)."""
        if self.group_weight_decay is None:
            return None
        groups = [list(self.lin1.parameters()), list(self.lin2.parameters())]
        if len(self.group_weight_decay) == 3:
            groups.append(list(self.prop.parameters()))
        total = None
        for coefficient, params in zip(self.group_weight_decay, groups):
            if coefficient == 0.0 or not params:
                continue
            # ``params`` is not empty, so the sum is a tensor.
            term = 0.5 * coefficient * cast(
                Tensor, sum(p.pow(2).sum() for p in params))
            total = term if total is None else total + term
        return total

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, hidden_channels='
                f'{self.lin1.out_features}, num_hops={self.prop.num_hops}, '
                f'layers={list(self.prop.layers)}, '
                f'aggregation={self.prop.aggregation!r})')


@register_model(family='multi-level', paper=_PAPER, url=_URL, conv=TDGNNConv)
def tdgnn_s(in_channels: int, out_channels: int, **kwargs) -> TDGNN:
    """TDGNN-s: an MLP, then the sum of the tree-decomposed layers weighted
    by multi-hop (diffusion) dependencies."""
    kwargs.setdefault('aggregation', 'sum')
    return TDGNN(in_channels, out_channels, **kwargs)


@register_model(family='multi-level', paper=_PAPER, url=_URL, conv=TDGNNConv)
def tdgnn_w(in_channels: int, out_channels: int, **kwargs) -> TDGNN:
    """TDGNN-w: an MLP, then the tree-decomposed layers combined with
    learnable per-layer weights."""
    kwargs.setdefault('aggregation', 'weighted')
    return TDGNN(in_channels, out_channels, **kwargs)
