"""UAG's uncertainty-aware attention layer (Feng, Wang, Ding, AAAI 2021)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import add_self_loops, remove_self_loops

from gat_zoo.nn.conv._base import AttentionConv, edge_index_of
from gat_zoo.nn.functional import feature_dropout, is_sparse_features
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import segment_softmax
from gat_zoo.ops.spmm import csr_tensor

__all__ = ['UAGConv']


class UAGConv(AttentionConv):
    r"""The uncertainty-aware attention layer of `"UAG: Uncertainty-aware
    Attention Graph Neural Network for Defending Adversarial Attacks"
    <https://arxiv.org/abs/2009.10235>`_ (Feng, Wang & Ding, AAAI 2021).

    Each layer (i) estimates, with a Bayesian (MC-dropout) treatment of its
    weights, how *uncertain* every node's representation is (the paper's
    **Bayesian Uncertainty Technique**, BUT), and (ii) down-weights the
    messages of uncertain neighbours in a GAT-style attention (the
    **Uncertainty-aware Attention Technique**, UAT). Every layer outputs a
    mean and a variance, so the uncertainty of one layer feeds the next
    ("hierarchical uncertainties").

    .. warning::
        **Reconstructed equations.** The paper's full text could not be
        read while this layer was written (no code was published; only the
        abstract and secondary quotes were available). What comes from the
        paper: the two techniques (BUT, UAT) and their roles (abstract); the
        per-layer, hierarchical uncertainty (abstract); the thresholds
        :math:`\alpha_\tau = 15`, :math:`\beta_\tau = 2.5` (experimental
        section, quoted); PyG implementation; 10/10/80 split. *Everything
        below that is an equation is a reconstruction* in the spirit of
        Bayesian deep learning (MC dropout, Gal & Ghahramani 2016) and of
        the variance-based attention of RGCN (Zhu et al., KDD 2019), which
        UAG compares against; in particular how :math:`\alpha_\tau` and
        :math:`\beta_\tau` enter (here: the steepness and the threshold of
        a sigmoid gate on the relative uncertainty) is our choice.

    **BUT (reconstructed).** With MC dropout of rate :math:`p` on the
    layer input, :math:`\tilde{\mathbf{h}}_j = \mathbf{W}(\mathbf{m}_j
    \odot \mathbf{x}_j)/(1-p)`, :math:`\mathbf{m}_j \sim
    \mathrm{Bernoulli}(1-p)`, and an input that itself carries a variance
    :math:`\mathbf{s}_j` (the previous layer's output variance), the
    predictive mean and variance of the transformed node are

    .. math::
        \mathbf{h}_j = \mathbf{W}\mathbf{x}_j, \qquad
        \mathbf{v}_j = \big(\tfrac{p}{1-p}\,\mathbf{x}_j^{\odot 2}
        + \mathbf{s}_j\big)\,(\mathbf{W}^{\odot 2})^{\top},

    the exact variance of the MC-dropout samples (the :math:`T \to \infty`
    limit of the sample variance of :math:`T` stochastic passes), so no
    sampling is needed and the layer is deterministic in evaluation. The
    node uncertainty is the mean variance over channels, taken relative to
    the graph's average so that :math:`\beta_\tau` is scale-free:

    .. math::
        u_j = \tfrac{1}{C}\textstyle\sum_c v_{jc}, \qquad
        \tilde{u}_j = u_j \big/ \big(\tfrac{1}{N}\textstyle\sum_k u_k
        + \epsilon\big).

    **UAT (reconstructed).** A neighbour's message is gated by
    :math:`g_j = \sigma\big(\alpha_\tau(\beta_\tau - \tilde{u}_j)\big)`
    (about 1 for ordinary nodes, about 0 once a node is more than
    :math:`\beta_\tau` times as uncertain as the average, with steepness
    :math:`\alpha_\tau`) inside a GAT attention over
    :math:`\mathcal{N}(i) \cup \{i\}`:

    .. math::
        \alpha_{ij} = \frac{g_j \exp(e_{ij})}
        {\sum_{k \in \mathcal{N}(i) \cup \{i\}} g_k \exp(e_{ik})},
        \qquad e_{ij} = \mathrm{LeakyReLU}\big(\mathbf{a}_d^{\top}
        \mathbf{h}_i + \mathbf{a}_s^{\top}\mathbf{h}_j\big)

    (computed as a softmax of :math:`e_{ij} + \log g_j`). The output mean
    and variance are

    .. math::
        \mathbf{x}'_i &= \textstyle\sum_j \alpha_{ij}\mathbf{h}_j
        + \mathbf{b}

        \mathbf{s}'_i &= \textstyle\sum_j \alpha_{ij}^2 \mathbf{v}_j
        + \Big(\sum_j \alpha_{ij}\mathbf{h}_j^{\odot 2}
        - \big(\sum_j \alpha_{ij}\mathbf{h}_j\big)^{\odot 2}\Big),

    the propagated model variance plus the attention-weighted dispersion
    of the neighbours around their aggregate (the uncertainty a node gets
    from a neighbourhood that disagrees, e.g. after adversarial edge
    insertions between classes).

    With :math:`p = 0` and no input variance every :math:`u_j = 0`, the
    gate is constant and the layer is a single-head GAT layer.

    Graph handling: like GAT, the graph's own self-loops are replaced by
    exactly one loop per node (:obj:`add_self_loops=True`); parallel edges
    count with their multiplicity; a node without incoming edges (no
    self-loop) gets :math:`\mathbf{x}'_i = \mathbf{b}` and zero variance.
    Any adjacency layout (``edge_index``, ``EdgeIndex``, ``SparseTensor``,
    torch sparse) is read as its edge list (values are ignored); the layer
    runs on PyG message passing only (no fused CSR path) and on a single
    (non-bipartite) node set.

    Args:
        in_channels (int): Size of each input sample.
        out_channels (int): Size of each output sample.
        alpha_tau (float, optional): Steepness :math:`\alpha_\tau` of the
            uncertainty gate. (default: :obj:`15.0`, the paper's value)
        beta_tau (float, optional): Threshold :math:`\beta_\tau` on the
            relative uncertainty. (default: :obj:`2.5`, the paper's value)
        mc_dropout (float, optional): MC-dropout rate :math:`p` on the
            layer input: applied to the mean path in training and entering
            the variance :math:`\mathbf{v}` always. (default: :obj:`0.5`)
        negative_slope (float, optional): LeakyReLU slope.
            (default: :obj:`0.2`)
        dropout (float, optional): Dropout on the attention coefficients
            in training (GAT's). (default: :obj:`0.0`)
        add_self_loops (bool, optional): Attend over
            :math:`\mathcal{N}(i) \cup \{i\}`. (default: :obj:`True`)
        uncertainty_aware (bool, optional): :obj:`False` drops the gate
            (:math:`g_j = 1`), leaving GAT attention with variance
            propagation (an ablation). (default: :obj:`True`)
        bias (bool, optional): Learn the output bias. (default: :obj:`True`)
        eps (float, optional): :math:`\epsilon` of the relative
            uncertainty. (default: :obj:`1e-12`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F_{in})`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a ``SparseTensor`` /
          torch sparse adjacency / ``EdgeIndex``),
          input variance :math:`(|\mathcal{V}|, F_{in})` *(optional,
          non-negative)*
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`;
          with :obj:`return_variance=True` the pair
          ``(out, variance)`` (both :math:`(|\mathcal{V}|, F_{out})`);
          with :obj:`return_attention_weights=True` one more entry, the dict
          ``{'edge': (edge_index, alpha), 'gate': g, 'uncertainty': u}``
          with the edge attention :math:`(|\mathcal{E}'|,)` over the edges
          actually used (self-loops included), the node gate
          :math:`g` :math:`(|\mathcal{V}|,)` and the relative uncertainty
          :math:`\tilde{u}` :math:`(|\mathcal{V}|,)`.
    """

    #: Node features may be a sparse CSR matrix (bag-of-words input).
    supports_sparse_features = True

    def __init__(self, in_channels: int, out_channels: int,
                 alpha_tau: float = 15.0, beta_tau: float = 2.5,
                 mc_dropout: float = 0.5, negative_slope: float = 0.2,
                 dropout: float = 0.0, add_self_loops: bool = True,
                 uncertainty_aware: bool = True, bias: bool = True,
                 eps: float = 1e-12, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or (
                    value < 1):
                raise ValueError(f"'{name}' must be a positive int (got "
                                 f"{value!r})")
        for name, rate in (('mc_dropout', mc_dropout),
                           ('dropout', dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ValueError(f"'{name}' must lie in [0, 1) (got "
                                 f"{rate!r})")
        if float(alpha_tau) < 0:
            raise ValueError(f"'alpha_tau' must be non-negative (got "
                             f"{alpha_tau!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.alpha_tau = float(alpha_tau)
        self.beta_tau = float(beta_tau)
        self.mc_dropout = float(mc_dropout)
        self.negative_slope = negative_slope
        self.dropout = float(dropout)
        self.add_self_loops = add_self_loops
        self.uncertainty_aware = uncertainty_aware
        self.eps = eps
        self.lin: Linear = Linear(in_channels, out_channels, bias=False,
                                  weight_initializer='glorot')
        self.att_src = Parameter(torch.empty(1, out_channels))
        self.att_dst = Parameter(torch.empty(1, out_channels))
        self.bias = Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        if self.bias is not None:
            zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Adj,
                variance: OptTensor = None, return_variance: bool = False,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Any, ...]]:
        r"""Args:
            x (torch.Tensor): Node features (the input mean).
            edge_index (torch.Tensor or SparseTensor): The graph.
            variance (torch.Tensor, optional): The input variance
                :math:`\mathbf{s}` (e.g. the previous UAG layer's), same
                shape as :obj:`x`. (default: :obj:`None`, zero)
            return_variance (bool, optional): Also return the output
                variance :math:`\mathbf{s}'`. (default: :obj:`False`)
            return_attention_weights (bool, optional): Also return
                ``{'edge': (edge_index, alpha), 'gate': g,
                'uncertainty': u}``. (default: :obj:`None`)
        """
        if isinstance(x, (tuple, list)):
            raise ValueError("UAGConv works on a single node set; "
                             "bipartite (x_src, x_dst) input is not "
                             "supported")
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
            if variance is not None:
                check_node_features(variance, 'variance', self.in_channels,
                                    x.size(0))
                if variance.device != x.device:
                    raise ValueError(f"'variance' is on {variance.device} "
                                     f"but 'x' is on {x.device}")
        num_nodes = x.size(0)
        index, _ = edge_index_of(edge_index, num_nodes, x.device)
        if self.add_self_loops:
            index, _ = remove_self_loops(index)
            index, _ = add_self_loops(index, num_nodes=num_nodes)

        weight = self.lin.weight                      # [C_out, C_in]
        p = self.mc_dropout
        x_in = feature_dropout(x, p, self.training) if p > 0 else x
        h = x_in @ weight.t()
        second = None
        if p > 0:
            if is_sparse_features(x):  # square the stored values only
                second = csr_tensor(x.crow_indices(), x.col_indices(),
                                    x.values().pow(2) * (p / (1.0 - p)),
                                    x.shape)
            else:
                second = x.pow(2) * (p / (1.0 - p))
        weight_sq = weight.pow(2).t()
        v = h.new_zeros(h.shape) if second is None else second @ weight_sq
        if variance is not None:
            v = v + variance @ weight_sq

        u = v.mean(dim=-1)
        u_rel = u / (u.mean() + self.eps) if num_nodes > 0 else u
        if self.uncertainty_aware:
            log_gate = F.logsigmoid(self.alpha_tau * (self.beta_tau - u_rel))
        else:
            log_gate = u_rel.new_zeros(u_rel.shape)

        a_src = (h * self.att_src).sum(-1)
        a_dst = (h * self.att_dst).sum(-1)
        # edge_updater_type: (a: PairTensor, log_gate: Tensor)
        alpha = self.edge_updater(index, a=(a_src, a_dst), log_gate=log_gate,
                                  size=(num_nodes, num_nodes))
        # propagate_type: (h: Tensor, v: Tensor, alpha: Tensor)
        agg = self.propagate(index, h=h, v=v, alpha=alpha,
                             size=(num_nodes, num_nodes))
        C = self.out_channels
        mean, mean_sq, var_prop = agg[:, :C], agg[:, C:2 * C], agg[:, 2 * C:]
        out_var = var_prop + (mean_sq - mean.pow(2)).clamp_min(0.0)
        out = mean if self.bias is None else mean + self.bias

        result: Tuple[Any, ...] = (out, )
        if return_variance:
            result = result + (out_var, )
        if return_attention_weights:
            attention: Dict[str, Any] = {
                'edge': (index, alpha), 'gate': log_gate.exp(),
                'uncertainty': u_rel}
            result = result + (attention, )
        return result[0] if len(result) == 1 else result

    def edge_update(self, a_j: Tensor, a_i: Tensor, log_gate_j: Tensor,
                    index: Tensor, ptr: OptTensor,
                    dim_size: Optional[int]) -> Tensor:
        logits = F.leaky_relu(a_i + a_j, self.negative_slope) + log_gate_j
        alpha = segment_softmax(logits, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, h_j: Tensor, v_j: Tensor, alpha: Tensor) -> Tensor:
        a = alpha.unsqueeze(-1)
        return torch.cat([a * h_j, a * h_j.pow(2), a.pow(2) * v_j], dim=-1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, alpha_tau={self.alpha_tau:g}, '
                f'beta_tau={self.beta_tau:g})')
