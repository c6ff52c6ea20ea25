"""GAMLP: precomputed multi-hop features, node-adaptive hop attention and
an MLP with initial residual, optionally with a label-propagation input and
the reliable label utilisation (RLU) of later training stages."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj

from gat_zoo.nn.conv.gamlp_conv import GAMLPConv, HopAttention
from gat_zoo.nn.validation import check_int, check_probability
from gat_zoo.registry import register_model

__all__ = ['GAMLP', 'InitialResidualMLP', 'rlu_distillation_loss']

_PAPER = ('Zhang, Yin, Sheng, Li, Ouyang, Li, Tao, Yang, Cui, KDD 2022')
_URL = 'https://arxiv.org/abs/2206.04355'


class _Dense(torch.nn.Module):
    """``x W`` then batch norm (the official code's ``Dense``: the norm
    stands in for the bias), or ``x W + b`` without the norm."""

    def __init__(self, in_channels: int, out_channels: int,
                 batch_norm: bool):
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, out_channels,
                                   bias=not batch_norm)
        self.norm = (torch.nn.BatchNorm1d(out_channels) if batch_norm
                     else None)
        self.reset_parameters()

    def reset_parameters(self):
        torch.nn.init.xavier_uniform_(self.lin.weight)
        if self.lin.bias is not None:
            torch.nn.init.zeros_(self.lin.bias)
        if self.norm is not None:
            self.norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        out = self.lin(x)
        return self.norm(out) if self.norm is not None else out


class InitialResidualMLP(torch.nn.Module):
    r"""GAMLP's output MLP with initial residual (the paper's Eq. 9, in the
    official code's form, ``FeedForwardNetII``):

    .. math::
        \mathbf{Z}^{(0)} &= \mathrm{BN}(\mathbf{H}\mathbf{W}^{(0)}), \\
        \mathbf{Z}^{(l)} &= \mathrm{BN}\Big(\big((1-\alpha)\,
        \sigma(\mathbf{Z}^{(l-1)}) + \alpha\mathbf{Z}^{(0)}\big)
        \mathbf{W}^{(l)}\Big) + \sigma(\mathbf{Z}^{(l-1)}),
        \quad l = 1, \dots, L-2, \\
        \mathbf{Z}^{(L-1)} &= \mathrm{BN}(\sigma(\mathbf{Z}^{(L-2)})
        \mathbf{W}^{(L-1)}),

    with :math:`\sigma = \mathrm{Dropout} \circ \mathrm{PReLU}` (one PReLU
    shared by all layers, as the code). The paper writes the residual as
    :math:`\hat{\mathbf{H}}^{(l)} = \delta(\mathbf{W}^{(l)}
    \hat{\mathbf{H}}^{(l-1)} + \mathbf{X}^{(0)})`; the code mixes in the
    first layer's output with weight :math:`\alpha` (GCNII's initial
    residual) plus an identity skip, which is what is implemented. With
    ``batch_norm=False`` every BN is replaced by a bias. :math:`L = 1`: one
    linear layer.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int = 4, alpha: float = 0.5,
                 dropout: float = 0.5, batch_norm: bool = True):
        super().__init__()
        check_int('num_layers', num_layers, 1)
        self.num_layers = num_layers
        self.alpha = float(alpha)
        self.dropout = check_probability('dropout', dropout)
        dims = ([in_channels] + [hidden_channels] * (num_layers - 1) +
                [out_channels])
        self.layers = torch.nn.ModuleList(
            _Dense(a, b, batch_norm) for a, b in zip(dims[:-1], dims[1:]))
        self.prelu = torch.nn.PReLU() if num_layers > 1 else None

    def reset_parameters(self):
        for layer in self.layers:
            layer.reset_parameters()
        if self.prelu is not None:
            self.prelu.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        h = self.layers[0](x)
        h0 = h
        last = len(self.layers) - 1
        for i in range(1, len(self.layers)):
            assert self.prelu is not None  # set when num_layers > 1
            h = F.dropout(self.prelu(h), p=self.dropout,
                          training=self.training)
            if i == last:
                h = self.layers[i](h)
            else:
                h = self.layers[i]((1 - self.alpha) * h + self.alpha * h0) + h
        return h


class _FeedForward(torch.nn.Module):
    """The official code's ``FeedForwardNet``: linear layers with
    (batch norm,) PReLU and dropout between them."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int, dropout: float,
                 batch_norm: bool):
        super().__init__()
        check_int('num_layers', num_layers, 1)
        dims = ([in_channels] + [hidden_channels] * (num_layers - 1) +
                [out_channels])
        self.lins = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(b) if batch_norm else torch.nn.Identity()
            for b in dims[1:-1])
        self.acts = torch.nn.ModuleList(torch.nn.PReLU()
                                        for _ in dims[1:-1])
        self.dropout = dropout
        self.reset_parameters()

    def reset_parameters(self):
        gain = torch.nn.init.calculate_gain('relu')
        for lin in self.lins:
            torch.nn.init.xavier_uniform_(lin.weight, gain=gain)
            torch.nn.init.zeros_(lin.bias)
        for module in list(self.norms) + list(self.acts):
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for i, lin in enumerate(self.lins):
            x = lin(x)
            if i < len(self.lins) - 1:
                x = F.dropout(self.acts[i](self.norms[i](x)), p=self.dropout,
                              training=self.training)
        return x


def rlu_distillation_loss(logits: Tensor, teacher: Tensor,
                          mask: Optional[Tensor] = None) -> Tensor:
    r"""RLU's confidence-weighted distillation (the paper's Eq. 14),

    .. math::
        \mathcal{L}_{KD} = \frac{1}{|\mathcal{V}_r|}\sum_{i \in
        \mathcal{V}_r} \alpha_i \sum_j P^{(m-1)}_{ij}\big(\log
        P^{(m-1)}_{ij} - \log P^{(m)}_{ij}\big), \qquad
        \alpha_i = \max_j P^{(m-1)}_{ij},

    averaged over the reliable nodes (the paper sums; the official code
    averages per batch), with :math:`10^{-8}` inside the teacher's log as
    the code. Zero when no node is reliable."""
    if mask is not None:
        logits, teacher = logits[mask], teacher[mask]
    if teacher.numel() == 0:
        return logits.sum() * 0.0
    conf = teacher.max(dim=-1, keepdim=True).values
    kl = teacher * (torch.log(teacher + 1e-8) - F.log_softmax(logits, -1))
    return (conf * kl).sum(dim=-1).mean()


class GAMLP(torch.nn.Module):
    r"""The node classifier of `"Graph Attention Multi-Layer Perceptron"
    <https://arxiv.org/abs/2206.04355>`_ (Zhang et al., KDD 2022), GAMLP.

    1. Parameter-free propagation :math:`\mathbf{X}^{(l)} =
       \hat{\mathbf{T}}\mathbf{X}^{(l-1)}`, :math:`l \le K`, computed once
       and cached (:class:`~gat_zoo.nn.conv.gamlp_conv.GAMLPConv`).
    2. Input dropout on every hop; optionally (:obj:`pre_process`, the
       official ``--pre-process``) one 2-layer MLP per hop to
       :obj:`hidden_channels`.
    3. Node-adaptive hop attention (recursive, JK or smoothing) giving
       :math:`\mathbf{H} = \sum_l \mathrm{diag}(\mathbf{w}(l))
       \mathbf{X}^{(l)}`; optionally (:obj:`residual`) :math:`\mathbf{H}
       \leftarrow \mathrm{Dropout}(\mathrm{PReLU}(\mathbf{H} +
       \mathbf{X}^{(0)}\mathbf{W}_r))`.
    4. The initial-residual MLP (:class:`InitialResidualMLP`) to class
       logits.
    5. Optional label branch (:obj:`use_labels`, Eq. 10): logits
       :math:`+\,\mathrm{MLP}(\hat{\mathbf{Y}}^{(K_y)})` with the
       propagated label matrix set by :meth:`set_label_input` (see
       :func:`gat_zoo.bench.rlu.label_input`: training labels only, plus
       reliable pseudo-labels in later RLU stages). Without a label input
       the branch sees zeros.

    For RLU's later stages, :meth:`set_distillation` makes every training
    forward compute :func:`rlu_distillation_loss` times :math:`\gamma`,
    which the trainer adds to the loss through :meth:`auxiliary_loss`.

    Args:
        in_channels (int): Input features :math:`F`.
        out_channels (int): Classes :math:`C`.
        hidden_channels (int, optional): MLP width. (default: :obj:`512`)
        num_hops (int, optional): :math:`K`. (default: :obj:`5`)
        r (float, optional): Normalisation exponent of
            :math:`\hat{\mathbf{T}}`. (default: :obj:`0.5`)
        attention (str, optional): ``'recursive'``, ``'jk'`` or
            ``'smoothing'``. (default: :obj:`'recursive'`)
        num_layers (int, optional): Output MLP layers (``n_layers_2``).
            (default: :obj:`4`)
        jk_layers (int, optional): JK reference MLP layers (``n_layers_1``).
            (default: :obj:`4`)
        alpha (float, optional): Initial-residual weight. (default:
            :obj:`0.5`)
        dropout (float, optional): Dropout in the MLPs. (default:
            :obj:`0.5`)
        input_dropout (float, optional): Dropout on the hop features.
            (default: :obj:`0.`)
        attention_dropout (float, optional): Dropout on the hop weights.
            (default: :obj:`0.5`)
        activation (str, optional): :math:`\delta` of the attention scores.
            (default: :obj:`'relu'`)
        pre_process (bool, optional): Per-hop MLPs before the attention.
            (default: :obj:`False`)
        residual (bool, optional): The residual from :math:`\mathbf{X}^{(0)}`
            after the attention. (default: :obj:`False`)
        batch_norm (bool, optional): Batch norm in the MLPs (the official
            output MLP always has it; ``--bns`` switches the per-hop and
            label MLPs'). (default: :obj:`True`)
        use_labels (bool, optional): The label-propagation branch.
            (default: :obj:`False`)
        label_num_layers (int, optional): Label MLP layers (``n_layers_3``).
            (default: :obj:`4`)
        label_dropout (float, optional): Dropout on the label input.
            (default: :obj:`0.5`)
        add_self_loops (bool, optional): See :class:`GAMLPConv`.
            (default: :obj:`True`)
        label_r (float, optional): :math:`r` of the label propagation
            (default: :obj:`r`).
        label_add_self_loops (bool, optional): Self-loops in the label
            propagation (default: :obj:`add_self_loops`). The official code
            propagates labels by the neighbour mean without self-loops
            (:obj:`label_r=0`, :obj:`label_add_self_loops=False`), which
            keeps a training node's own label out of its label input
            except through cycles.
    """

    #: The trainer may pass bag-of-words features as a sparse CSR matrix:
    #: the hops are precomputed densely from it, and the factored scores
    #: and JK layer multiply it sparsely.
    supports_sparse_features: bool = True

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 512, num_hops: int = 5,
                 r: float = 0.5, attention: str = 'recursive',
                 num_layers: int = 4, jk_layers: int = 4, alpha: float = 0.5,
                 dropout: float = 0.5, input_dropout: float = 0.0,
                 attention_dropout: float = 0.5, activation: str = 'relu',
                 pre_process: bool = False, residual: bool = False,
                 batch_norm: bool = True, use_labels: bool = False,
                 label_num_layers: int = 4, label_dropout: float = 0.5,
                 add_self_loops: bool = True, label_r: Optional[float] = None,
                 label_add_self_loops: Optional[bool] = None):
        super().__init__()
        check_int('hidden_channels', hidden_channels, 1)
        if attention == 'smoothing' and pre_process:
            raise ValueError("Smoothing attention compares raw hops with the "
                             "stationary features; it needs "
                             "pre_process=False")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = check_probability('dropout', dropout)
        self.input_dropout = check_probability('input_dropout',
                                                input_dropout)
        self.label_dropout = check_probability('label_dropout',
                                                label_dropout)
        width = hidden_channels if pre_process else in_channels
        self.conv = GAMLPConv(in_channels, num_hops=num_hops, r=r,
                              attention=attention, activation=activation,
                              dropout=attention_dropout,
                              jk_channels=hidden_channels,
                              jk_layers=jk_layers, jk_dropout=dropout,
                              add_self_loops=add_self_loops)
        if pre_process:
            self.process: Optional[torch.nn.ModuleList] = (
                torch.nn.ModuleList(
                    _FeedForward(in_channels, hidden_channels,
                                 hidden_channels, 2, dropout, batch_norm)
                    for _ in range(num_hops + 1)))
            # The attention acts on the processed hops.
            self.conv.hop_attention = HopAttention(
                width, num_hops, attention=attention, activation=activation,
                dropout=attention_dropout, jk_channels=hidden_channels,
                jk_layers=jk_layers, jk_dropout=dropout)
        else:
            self.process = None
        if residual:
            self.res: Optional[torch.nn.Linear] = torch.nn.Linear(
                in_channels, width)
            self.res_act: Optional[torch.nn.PReLU] = torch.nn.PReLU()
        else:
            self.res = self.res_act = None
        self.mlp = InitialResidualMLP(width, hidden_channels, out_channels,
                                      num_layers=num_layers, alpha=alpha,
                                      dropout=dropout, batch_norm=batch_norm)
        # The label propagation's operator (default: the features').
        self.label_r = r if label_r is None else float(label_r)
        self.label_add_self_loops = (add_self_loops if label_add_self_loops
                                     is None else bool(label_add_self_loops))
        self.label_mlp = (_FeedForward(out_channels, hidden_channels,
                                       out_channels, label_num_layers,
                                       dropout, batch_norm)
                          if use_labels else None)
        self._label_input: Optional[Tensor] = None
        self._teacher: Optional[Tensor] = None
        self._reliable: Optional[Tensor] = None
        self.gamma = 0.0
        self._aux: Optional[Tensor] = None

    @property
    def num_hops(self) -> int:
        return self.conv.num_hops

    @property
    def use_labels(self) -> bool:
        return self.label_mlp is not None

    def reset_parameters(self):
        self.conv.reset_parameters()
        for module in (self.process or []):
            module.reset_parameters()
        if self.res is not None:
            self.res.reset_parameters()
            self.res_act.reset_parameters()
        self.mlp.reset_parameters()
        if self.label_mlp is not None:
            self.label_mlp.reset_parameters()

    # ------------------------------------------------------------------
    # Label input and RLU distillation.
    # ------------------------------------------------------------------
    def propagate_labels(self, y0: Tensor, edge_index: Adj,
                         num_hops: int) -> Tensor:
        r""":math:`\hat{\mathbf{Y}}^{(K_y)} = \hat{\mathbf{T}}^{K_y}
        \hat{\mathbf{Y}}^{(0)}` (Eq. 8), with this model's
        :math:`\hat{\mathbf{T}}`."""
        check_int('num_hops', num_hops, 0)
        conv = self.conv
        if (self.label_r, self.label_add_self_loops) != (
                conv.r, conv.add_self_loops):
            conv = GAMLPConv(y0.size(1), num_hops=num_hops, r=self.label_r,
                             add_self_loops=self.label_add_self_loops)
        out = y0
        for hop in conv.iter_hops(y0, edge_index, num_hops, any_width=True):
            out = hop
        return out

    def set_label_input(self, label_emb: Optional[Tensor]) -> None:
        """The propagated label matrix ``[N, C]`` the label branch reads
        (:obj:`None` to clear)."""
        if label_emb is not None and (label_emb.dim() != 2 or label_emb.size(
                1) != self.out_channels):
            raise ValueError(f"The label input must be [N, "
                             f"{self.out_channels}] (got "
                             f"{tuple(label_emb.shape)})")
        self._label_input = None if label_emb is None else label_emb.detach()

    def set_distillation(self, teacher: Optional[Tensor],
                         reliable: Optional[Tensor] = None,
                         gamma: float = 0.0) -> None:
        r"""RLU distillation: ``teacher`` :math:`P^{(m-1)}` ``[N, C]``,
        ``reliable`` the boolean mask of :math:`\mathcal{V}_r`, weight
        :math:`\gamma` (:obj:`None` teacher: off)."""
        self._teacher = None if teacher is None else teacher.detach()
        self._reliable = None if reliable is None else reliable.detach()
        self.gamma = float(gamma)

    def auxiliary_loss(self) -> Optional[Tensor]:
        """:math:`\\gamma\\mathcal{L}_{KD}` of the last training forward
        (the trainer's hook), or :obj:`None`."""
        aux, self._aux = self._aux, None
        return aux

    # ------------------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Adj,
                label_emb: Optional[Tensor] = None,
                return_attention_weights: bool = False):
        """Class logits ``[N, C]`` (and ``{'hop': w [N, K+1]}``)."""
        # hop_tensor checks x and the graph first (GAMLPConv._check_inputs).
        hops = self.conv.hop_tensor(x, edge_index)  # [K+1, N, F]
        hops = F.dropout(hops, p=self.input_dropout, training=self.training)
        ref = None
        if self.conv.attention == 'smoothing':
            ref = self.conv.stationary(x, edge_index)
        if self.process is not None:
            feats = torch.stack([proc(h) for proc, h in
                                 zip(self.process, hops.unbind(0))], dim=0)
        else:
            feats = hops
        if self.process is None and self.conv.factored and (
                self.input_dropout == 0.0 or not self.training):
            # Undropped raw hops: the scores (and JK's first layer) through
            # the propagation, see GAMLPConv.factored_inputs.
            projections, jk_first = self.conv.factored_inputs(x, edge_index)
            h, weight = self.conv.hop_attention(feats, ref, projections,
                                                jk_first)
        else:
            h, weight = self.conv.hop_attention(feats, ref)
        if self.res is not None:
            assert self.res_act is not None  # set together with res
            h = F.dropout(self.res_act(h + self.res(hops[0].to(h.dtype))),
                          p=self.dropout, training=self.training)
        out = self.mlp(h)
        if self.label_mlp is not None:
            if label_emb is None:
                label_emb = self._label_input
            if label_emb is None:
                label_emb = out.new_zeros(out.shape)
            out = out + self.label_mlp(F.dropout(
                label_emb.to(out.dtype), p=self.label_dropout,
                training=self.training))
        if self.training and self._teacher is not None and self.gamma:
            self._aux = self.gamma * rlu_distillation_loss(
                out, self._teacher, self._reliable)
        if return_attention_weights:
            return out, {'hop': weight}
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_hops={self.num_hops}, '
                f'attention={self.conv.attention!r}, '
                f'use_labels={self.use_labels})')


@register_model(family='multi-level', paper=_PAPER, url=_URL, conv=GAMLPConv)
def gamlp_recursive(in_channels: int, out_channels: int,
                    **kwargs) -> GAMLP:
    """GAMLP with recursive hop attention: precomputed K-hop features
    combined per node, then an MLP with initial residual."""
    kwargs.setdefault('attention', 'recursive')
    return GAMLP(in_channels, out_channels, **kwargs)


@register_model(family='multi-level', paper=_PAPER, url=_URL, conv=GAMLPConv)
def gamlp_jk(in_channels: int, out_channels: int, **kwargs) -> GAMLP:
    """GAMLP with JK hop attention: the hop weights are scored against an
    MLP reference on all hops concatenated."""
    kwargs.setdefault('attention', 'jk')
    return GAMLP(in_channels, out_channels, **kwargs)
