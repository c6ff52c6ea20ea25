"""ACM: adaptive channel mixing of low-pass, high-pass and identity channels
(Luan et al., NeurIPS 2022)."""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import LayerNorm, ModuleList, Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj, OptTensor

from gat_zoo.nn.conv._base import (
    AttentionConv,
    weighted_edges_of,
)
from gat_zoo.nn.validation import (
    check_choice,
    check_node_features,
    validation_enabled,
)
from gat_zoo.ops import normalized_propagation
from gat_zoo.ops.propagation import Propagation

__all__ = ['ACMConv']

VARIANTS = ('acm', 'acmii')
NORMALIZATIONS = {'rw': 0.0, 'sym': 0.5}
CHANNELS = ('low', 'high', 'identity')


class ACMConv(AttentionConv):
    r"""The adaptive channel mixing (ACM) layer of `"Revisiting Heterophily
    For Graph Neural Networks" <https://arxiv.org/abs/2210.07606>`_ (Luan
    et al., NeurIPS 2022, Sec. 4.2), ACM-GCN and ACMII-GCN.

    A filterbank of a low-pass filter :math:`H_{LP} = \hat{\mathbf{A}}`, a
    high-pass filter :math:`H_{HP} = \mathbf{I} - \hat{\mathbf{A}}` and the
    identity (full-pass) filter, each with its own weights, and a node-wise
    softmax that decides how much of each channel every node keeps.

    **Step 1** (feature extraction per channel). ACM (paper's option 1,
    :obj:`variant='acm'`) filters before the non-linearity,

    .. math::
        \mathbf{H}_L = \mathrm{ReLU}(H_{LP}\mathbf{X}\mathbf{W}_L),\quad
        \mathbf{H}_H = \mathrm{ReLU}(H_{HP}\mathbf{X}\mathbf{W}_H),\quad
        \mathbf{H}_I = \mathrm{ReLU}(\mathbf{X}\mathbf{W}_I),

    ACMII (option 2, :obj:`variant='acmii'`) after it,

    .. math::
        \mathbf{H}_L = H_{LP}\,\mathrm{ReLU}(\mathbf{X}\mathbf{W}_L),\quad
        \mathbf{H}_H = H_{HP}\,\mathrm{ReLU}(\mathbf{X}\mathbf{W}_H),\quad
        \mathbf{H}_I = \mathrm{ReLU}(\mathbf{X}\mathbf{W}_I).

    **Step 2** (row-wise weight learning), with
    :math:`\tilde{\mathbf{w}}_c \in \mathbb{R}^{F'}`,
    :math:`\mathbf{W}_{Mix} \in \mathbb{R}^{3 \times 3}` and temperature
    :math:`T`:

    .. math::
        \tilde{\alpha}_c &= \mathrm{Sigmoid}(\mathbf{H}_c
        \tilde{\mathbf{w}}_c) \in \mathbb{R}^{N},
        \quad c \in \{L, H, I\}

        [\alpha_L, \alpha_H, \alpha_I] &= \mathrm{Softmax}\big(
        ([\tilde{\alpha}_L, \tilde{\alpha}_H, \tilde{\alpha}_I] / T)
        \,\mathbf{W}_{Mix}\big) \in \mathbb{R}^{N \times 3}

    (row-wise softmax). **Step 3** (node-wise adaptive channel mixing):

    .. math::
        \mathbf{X}' = s \cdot \big(\mathrm{diag}(\alpha_L)\mathbf{H}_L +
        \mathrm{diag}(\alpha_H)\mathbf{H}_H +
        \mathrm{diag}(\alpha_I)\mathbf{H}_I\big).

    The paper's Step 3 wraps this in a ReLU and has :math:`s = 1`. Like
    PyG's convolutions this layer returns the pre-activation mix; the
    network (:class:`~gat_zoo.nn.models.ACMGCN`) applies the ReLU after
    hidden layers and none after the output layer, as the official code
    does. The official code also multiplies the mix by the number of
    channels (:math:`s = 3`), which the paper's equations omit: the
    :obj:`scale` argument (default :math:`1`, the paper) sets :math:`s`.
    With :obj:`layer_norm=True` each channel passes a LayerNorm before its
    :math:`\tilde{\mathbf{w}}_c` (the ACM-GCN+ weight learning, paper
    App. B.3, without its optional structure channel).

    **The survey and the paper.** The survey groups ACM with the attention
    models; its "attention" is not over edges but over the three channels,
    one weight vector per node. This layer has no edge attention and
    returns the channel weights :math:`[\alpha_L, \alpha_H, \alpha_I]`.

    Graph handling: :math:`\hat{\mathbf{A}}` is built from
    :math:`\tilde{\mathbf{A}} = \mathbf{A} + \mathbf{I}`, random-walk
    :math:`\tilde{\mathbf{D}}^{-1}\tilde{\mathbf{A}}` (the official code's
    :obj:`normalization='rw'`) or symmetric
    :math:`\tilde{\mathbf{D}}^{-1/2}\tilde{\mathbf{A}}\tilde{\mathbf{D}}^{-1/2}`
    (:obj:`'sym'`); the graph's own self-loops are replaced by exactly one
    of weight 1 per node, parallel edges add up and row :math:`i` collects
    the edges *into* :math:`i` (:func:`gat_zoo.ops.normalized_propagation`).
    The official code symmetrises every graph first; this layer uses the
    edges as given (the network symmetrises, see
    :class:`~gat_zoo.nn.models.ACMGCN`). The low- and high-pass channels
    share one sparse product, :math:`\hat{\mathbf{A}}[\mathbf{Z}_L \Vert
    \mathbf{Z}_H]`, and :math:`H_{HP}\mathbf{Z} = \mathbf{Z} -
    \hat{\mathbf{A}}\mathbf{Z}`; where PyG hooks or explain mode observe
    the message-passing steps the product runs as ``message``/
    ``aggregate`` instead, with the same numbers.

    Args:
        in_channels (int): Size of each input sample.
        out_channels (int): Size :math:`F'` of each output sample (and of
            every channel).
        variant (str, optional): :obj:`'acm'` (filter, then ReLU) or
            :obj:`'acmii'` (ReLU, then filter). (default: :obj:`'acm'`)
        normalization (str, optional): :obj:`'rw'` or :obj:`'sym'`
            normalisation of :math:`\hat{\mathbf{A}}`.
            (default: :obj:`'rw'`)
        temperature (float, optional): The temperature :math:`T`; the
            paper sets it to the number of channels. (default: :obj:`3.0`)
        scale (float, optional): The factor :math:`s` of the mix (the
            official code: :obj:`3.0`). (default: :obj:`1.0`)
        layer_norm (bool, optional): LayerNorm each channel before its
            weight learning (ACM-GCN+). (default: :obj:`False`)
        add_self_loops (bool, optional): Filter with :math:`\mathbf{A} +
            \mathbf{I}` (the paper); :obj:`False` uses :math:`\mathbf{A}`
            as given. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})` (dense or a sparse
          CSR matrix),
          edge indices :math:`(2, |\mathcal{E}|)` (or a ``SparseTensor`` /
          torch sparse adjacency / ``EdgeIndex``),
          edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, F')`, or
          ``(out, {'channel': alpha})`` with the channel weights
          :math:`(|\mathcal{V}|, 3)` (columns low-pass, high-pass,
          identity; rows sum to one) when
          :obj:`return_attention_weights=True`.
    """

    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int,
                 variant: str = 'acm', normalization: str = 'rw',
                 temperature: float = 3.0, scale: float = 1.0,
                 layer_norm: bool = False, add_self_loops: bool = True,
                 **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels)):
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value < 1):
                raise ValueError(f"'{name}' must be a positive int (got "
                                 f"{value!r})")
        check_choice('variant', variant, VARIANTS)
        check_choice('normalization', normalization, NORMALIZATIONS)
        if not (isinstance(temperature, (int, float))
                and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"'temperature' must be a positive number (got "
                             f"{temperature!r})")
        if not (isinstance(scale, (int, float)) and math.isfinite(scale)):
            raise ValueError(f"'scale' must be a finite number (got "
                             f"{scale!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.variant = variant
        self.normalization = normalization
        self.temperature = float(temperature)
        self.scale = float(scale)
        self.add_self_loops = add_self_loops
        # W_L, W_H, W_I side by side: one product for the three channels.
        self.lin: Linear = Linear(in_channels, 3 * out_channels, bias=False)
        self.att = Parameter(torch.empty(3, out_channels))   # w~_L, _H, _I
        self.mix = Parameter(torch.empty(3, 3))              # W_Mix
        self.norms = (ModuleList([LayerNorm(out_channels) for _ in range(3)])
                      if layer_norm else None)
        self.reset_parameters()

    @property
    def layer_norm(self) -> bool:
        return self.norms is not None

    def reset_parameters(self):
        r"""The official code's initialisation: every weight uniform in
        :math:`\pm 1/\sqrt{\text{fan}}` with fan :math:`F'` for
        :math:`\mathbf{W}_c`, :math:`1` for :math:`\tilde{\mathbf{w}}_c`
        and :math:`3` for :math:`\mathbf{W}_{Mix}`."""
        super().reset_parameters()
        bound = 1.0 / math.sqrt(self.out_channels)
        torch.nn.init.uniform_(self.lin.weight, -bound, bound)
        torch.nn.init.uniform_(self.att, -1.0, 1.0)
        bound = 1.0 / math.sqrt(3.0)
        torch.nn.init.uniform_(self.mix, -bound, bound)
        if self.norms is not None:
            for norm in self.norms:
                norm.reset_parameters()

    def operator(self, edge_index: Adj, num_nodes: int,
                 edge_weight: OptTensor = None,
                 dtype: torch.dtype = torch.float32,
                 device: Optional[torch.device] = None) -> Propagation:
        r"""The low-pass filter :math:`\hat{\mathbf{A}}` of a graph (cached
        per ``edge_index`` object)."""
        device = device or (edge_index.device() if callable(
            getattr(edge_index, 'device', None)) else edge_index.device)
        index, edge_weight = weighted_edges_of(edge_index, num_nodes,
                                               edge_weight, device)
        loops = 'remaining' if self.add_self_loops else 'keep'
        return normalized_propagation(
            index, num_nodes, r=NORMALIZATIONS[self.normalization],
            self_loops=loops, edge_weight=edge_weight, dtype=dtype,
            cache_key=edge_index)

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: OptTensor = None,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, Dict[str, Tensor]]]:
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        num_nodes = x.size(0)
        dtype = x.dtype if x.dtype == torch.float64 else torch.float32
        prop = self.operator(edge_index, num_nodes, edge_weight, dtype,
                             x.device)
        C = self.out_channels
        z = self.lin(x)                                   # [N, 3C]
        if self.variant == 'acmii':
            z = F.relu(z)
        # A_hat [Z_L || Z_H] in one sparse product.
        smooth = self._filter(prop, z[:, :2 * C])
        low = smooth[:, :C]
        high = z[:, C:2 * C] - smooth[:, C:]
        ident = z[:, 2 * C:]
        if self.variant == 'acm':
            low, high, ident = F.relu(low), F.relu(high), F.relu(ident)
        channels = torch.stack([low, high, ident], dim=1)  # [N, 3, C]
        alpha = self.channel_weights(channels)
        out = self.scale * torch.einsum('nk,nkc->nc', alpha, channels)
        if return_attention_weights:
            return out, {'channel': alpha}
        return out

    def channel_weights(self, channels: Tensor) -> Tensor:
        r"""Step 2: the ``[N, 3]`` mixing weights of the channels
        ``[N, 3, F']`` (low-pass, high-pass, identity)."""
        if self.norms is not None:
            channels = torch.stack([norm(channels[:, k])
                                    for k, norm in enumerate(self.norms)], 1)
        scores = torch.sigmoid((channels * self.att).sum(dim=-1))  # [N, 3]
        return torch.softmax((scores / self.temperature) @ self.mix, dim=-1)

    def _filter(self, prop: Propagation, z: Tensor) -> Tensor:
        if self._messages_unobserved(z.device):
            return prop(z)
        graph = prop.graph
        index = torch.stack([graph.col, graph.row], dim=0)
        return self.propagate(index, x=z, weight=prop.weight.to(z.dtype),
                              size=(prop.num_nodes, prop.num_nodes))

    def message(self, x_j: Tensor, weight: Tensor) -> Tensor:
        return weight.view(-1, 1) * x_j

    def __repr__(self) -> str:
        extra = ', layer_norm=True' if self.layer_norm else ''
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, variant={self.variant!r}, '
                f'normalization={self.normalization!r}{extra})')
