from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import is_torch_sparse_tensor

from gat_zoo.nn.conv._base import AttentionConv, _is_sparse_tensor
from gat_zoo.nn.validation import check_node_features, validation_enabled
from gat_zoo.ops import segment_aggregate, segment_softmax

__all__ = ['GraphHAMConv', 'GraphHAMAttention']


class GraphHAMAttention(NamedTuple):
    r"""Everything :class:`GraphHAMConv` attends with, returned by
    ``return_attention_weights=True``.

    Attributes:
        edge_index (torch.Tensor): ``[2, E']`` the edges attended over
            (row 0 sources), the added self-loops included, in the order of
            the ``alpha`` rows.
        alpha (torch.Tensor): ``[E']`` the coefficients the messages are
            weighted with, :math:`\alpha_{ij}` (after attention dropout).
        group_alpha (torch.Tensor): ``[E']`` group-level attention
            :math:`\alpha^{G}_{ij}`, the softmax over :math:`j` of the
            membership-to-neighbour logits alone.
        individual_alpha (torch.Tensor): ``[E']`` individual-level
            attention :math:`\alpha^{I}_{ij}`, the softmax over :math:`j` of
            the node-to-node logits alone.
        membership (torch.Tensor): ``[N, K]`` the membership :math:`z_i`
            used in this call (a Gumbel-softmax sample in training, the
            probabilities :math:`\pi_i` in evaluation).
        membership_prob (torch.Tensor): ``[N, K]`` the inferred membership
            distribution :math:`\pi_i`.
    """
    edge_index: Tensor
    alpha: Tensor
    group_alpha: Tensor
    individual_alpha: Tensor
    membership: Tensor
    membership_prob: Tensor


class GraphHAMConv(AttentionConv):
    r"""The hierarchical membership attentive layer of GraphHAM, from the
    `"Graph Embedding with Hierarchical Attentive Membership"
    <https://arxiv.org/abs/2111.00604>`_ paper (Lin, Blaser, Wang, WSDM
    2022).

    The layer owns :math:`K` latent *groups*, embedded in the same space as
    the node states (:math:`\mathbf{c}_k \in \mathbb{R}^{F'}`). For every
    node it first infers a group membership from the node's neighbourhood
    context, then aggregates the neighbours with attention driven both by
    that membership (group level) and by the node itself (individual
    level):

    .. math::
        \mathbf{g}_i = \mathbf{W}\mathbf{h}_i, \qquad
        \mathbf{s}_i = \frac{1}{|\tilde{\mathcal{N}}(i)|}
        \sum_{j \in \tilde{\mathcal{N}}(i)} \mathbf{g}_j, \qquad
        \tilde{\mathcal{N}}(i) = \mathcal{N}(i) \cup \{i\},

    .. math::
        \pi_{ik} = \frac{\exp(\mathbf{s}_i^{\top}\mathbf{c}_k/\sqrt{F'})}
        {\sum_{k'} \exp(\mathbf{s}_i^{\top}\mathbf{c}_{k'}/\sqrt{F'})},
        \qquad
        \mathbf{z}_i = \mathrm{softmax}\big((\log \pi_i + \mathbf{q}_i)
        / \tau\big),\ q_{ik} \sim \mathrm{Gumbel}(0, 1),
        \qquad
        \mathbf{u}_i = \sum_k z_{ik}\,\mathbf{c}_k ,

    (a Gumbel-softmax sample of the membership in training, optionally
    straight-through one-hot; :math:`\mathbf{z}_i = \pi_i` in evaluation),

    .. math::
        e^{G}_{ij} = \mathbf{u}_i^{\top}\mathbf{g}_j / \sqrt{F'}, \qquad
        e^{I}_{ij} = \mathrm{LeakyReLU}\big(\mathbf{a}_t^{\top}\mathbf{g}_i
        + \mathbf{a}_s^{\top}\mathbf{g}_j\big),

    .. math::
        \alpha_{ij} = \frac{\exp(e^{G}_{ij} + e^{I}_{ij})}
        {\sum_{k \in \tilde{\mathcal{N}}(i)} \exp(e^{G}_{ik} + e^{I}_{ik})}
        = \frac{\alpha^{G}_{ij}\,\alpha^{I}_{ij}}
        {\sum_{k} \alpha^{G}_{ik}\,\alpha^{I}_{ik}},
        \qquad
        \mathbf{h}'_i = \sum_{j \in \tilde{\mathcal{N}}(i)} \alpha_{ij}\,
        \mathbf{g}_j \;+\; \mathbf{u}_i \;+\; \mathbf{b},

    where :math:`\alpha^{G}` and :math:`\alpha^{I}` are the softmaxes of the
    group-level and of the individual-level logits alone (the combined
    weight is their normalised product). The group term
    :math:`\mathbf{u}_i` injects the (global) context of the group the node
    belongs to; the non-linearity is left to the network.

    **What is from the paper and what is not.** Verified from the paper's
    abstract and Figure 2 caption: per layer, a group membership is first
    *sampled* for every node from its neighbouring context; nodes and groups
    are embedded in the same space; neighbours are aggregated with both
    group-level and individual-level attention, attended by the inferred
    membership. The exact functional forms above (mean context, scaled
    dot-product membership and group logits, GAT-style individual logits,
    additive combination of the logits, the group embedding added to the
    output) could not be read from the paper here and are this library's
    reconstruction (UNVERIFIED). The multi-layer structure (coarser groups in
    higher layers, the inter-layer inclusion constraint, the membership-based
    context decoder) lives in :class:`~gat_zoo.nn.models.GraphHAM`.

    **Survey wording.** Surveys describe GraphHAM as "multi-granularity
    hierarchical attention". The hierarchy in the paper is one of latent
    *node groups* (memberships per layer, coarser in higher layers, tied
    by inclusion constraints), not a hierarchy of attention over hops or
    over graph levels, and the model is trained *unsupervised* (a context
    reconstruction objective), then evaluated on node classification and
    link prediction with the learned embeddings.

    **Multi-edges and self-loops.** Existing self-loops are replaced by one
    per node when :obj:`add_self_loops=True`; duplicate edges count once
    per copy (in the context mean and in the softmax). A node without any
    incoming edge (only possible with :obj:`add_self_loops=False`) has a
    zero context, hence the uniform membership :math:`\pi_i = 1/K`, and
    receives no message: :math:`\mathbf{h}'_i = \mathbf{u}_i + \mathbf{b}`.

    Args:
        in_channels (int): Size of each input sample :math:`F`.
        out_channels (int): Size of each output sample :math:`F'`.
        num_groups (int): Number of latent groups :math:`K` of this layer.
        tau (float, optional): Gumbel-softmax temperature :math:`\tau`.
            (default: :obj:`1.0`)
        hard (bool, optional): Straight-through one-hot membership samples
            in training (the forward pass uses the one-hot argmax of the
            relaxed sample, the backward pass its gradient).
            (default: :obj:`False`)
        sample (bool, optional): Sample memberships in training; if
            :obj:`False` the probabilities :math:`\pi_i` are used in
            training too. (default: :obj:`True`)
        negative_slope (float, optional): LeakyReLU slope of the individual
            logits. (default: :obj:`0.2`)
        dropout (float, optional): Dropout probability of the normalised
            coefficients :math:`\alpha_{ij}`. (default: :obj:`0`)
        add_self_loops (bool, optional): Replace self-loops by one per node
            (:math:`\tilde{\mathcal{N}}(i)`). (default: :obj:`True`)
        group_residual (bool, optional): Add :math:`\mathbf{u}_i` to the
            output. (default: :obj:`True`)
        bias (bool, optional): Learn an additive bias. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:**
          node features :math:`(|\mathcal{V}|, F)`,
          edge indices :math:`(2, |\mathcal{E}|)` (or a
          :class:`torch_sparse.SparseTensor`, a torch sparse tensor or an
          :class:`torch_geometric.EdgeIndex`; sparse adjacencies are
          :math:`(|\mathcal{V}|, |\mathcal{V}|)` target-major),
          Gumbel noise :math:`(|\mathcal{V}|, K)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, F')`.
          If :obj:`return_attention_weights=True`, then
          :math:`((|\mathcal{V}|, F'), \text{GraphHAMAttention})` with
          edge index :math:`(2, |\mathcal{E}'|)`, the three edge attentions
          :math:`(|\mathcal{E}'|)` and memberships :math:`(|\mathcal{V}|,
          K)`, where :math:`\mathcal{E}'` includes the added self-loops
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_groups: int,
        tau: float = 1.0,
        hard: bool = False,
        sample: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        group_residual: bool = True,
        bias: bool = True,
        **kwargs,
    ):
        kwargs.setdefault('aggr', 'add')
        super().__init__(node_dim=0, **kwargs)
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('num_groups', num_groups)):
            if not isinstance(value, int) or isinstance(value, bool) or \
                    value < 1:
                raise ValueError(f"'{name}' must be a positive int (got "
                                 f"{value!r})")
        if not (isinstance(tau, (int, float)) and tau > 0):
            raise ValueError(f"'tau' must be a positive number (got "
                             f"{tau!r})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must lie in [0, 1) (got "
                             f"{dropout!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_groups = num_groups
        self.tau = float(tau)
        self.hard = hard
        self.sample = sample
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.group_residual = group_residual
        self.fill_value = 'mean'

        self.lin: Linear = Linear(in_channels, out_channels, bias=False,
                                  weight_initializer='glorot')
        self.groups = Parameter(torch.empty(num_groups, out_channels))
        self.att_src = Parameter(torch.empty(1, out_channels))
        self.att_dst = Parameter(torch.empty(1, out_channels))
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.lin.reset_parameters()
        glorot(self.groups)
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    # ------------------------------------------------------------------
    # Input handling.
    # ------------------------------------------------------------------
    def _edge_index(self, edge_index: Any, num_nodes: int,
                    device: torch.device) -> Tensor:
        """A plain ``[2, E]`` int64 index (row 0 sources) from any
        adjacency layout, validated."""
        if isinstance(edge_index, (tuple, list)):
            raise TypeError("'edge_index' must be a torch.Tensor, a "
                            "SparseTensor or an EdgeIndex (got a "
                            f"{type(edge_index).__name__})")
        if _is_sparse_tensor(edge_index):
            row, col, _ = edge_index.coo()
            return torch.stack([col, row], dim=0)
        if isinstance(edge_index, Tensor) and is_torch_sparse_tensor(
                edge_index):
            from torch_geometric.utils import to_edge_index
            index, _ = to_edge_index(edge_index)
            return index.flip(0)
        if type(edge_index) is not Tensor:
            edge_index = edge_index.as_subclass(Tensor)
        return edge_index.long()

    # ------------------------------------------------------------------
    # Membership inference.
    # ------------------------------------------------------------------
    def membership_logits(self, context: Tensor) -> Tensor:
        r"""``[N, K]`` logits :math:`\mathbf{s}_i^{\top}\mathbf{c}_k /
        \sqrt{F'}` of contexts ``[N, F']`` (also used by the model to
        place lower-layer groups among this layer's groups)."""
        return context @ self.groups.t() / math.sqrt(self.out_channels)

    def _membership(self, logits: Tensor, gumbel_noise: OptTensor):
        prob = logits.softmax(dim=-1)
        if not (self.training and self.sample) and gumbel_noise is None:
            return prob, prob
        if gumbel_noise is None:
            gumbel_noise = -torch.empty_like(logits).exponential_().log()
        elif validation_enabled() and gumbel_noise.shape != logits.shape:
            raise ValueError(f"'gumbel_noise' must have shape "
                             f"{tuple(logits.shape)} (got "
                             f"{tuple(gumbel_noise.shape)})")
        soft = ((logits.log_softmax(dim=-1) + gumbel_noise) /
                self.tau).softmax(dim=-1)
        if self.hard:
            index = soft.argmax(dim=-1, keepdim=True)
            one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
            soft = one_hot - soft.detach() + soft
        return soft, prob

    # ------------------------------------------------------------------
    # Forward.
    # ------------------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Adj,
                gumbel_noise: OptTensor = None,
                return_attention_weights: Optional[bool] = None):
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): Node features ``[N, F]``.
            edge_index (torch.Tensor or SparseTensor): The edges
                :math:`j \to i` as ``[2, E]`` (row 0 sources), an
                :class:`~torch_geometric.EdgeIndex`, or a target-major
                sparse adjacency.
            gumbel_noise (torch.Tensor, optional): ``[N, K]`` Gumbel(0, 1)
                noise to use instead of a fresh draw; given, it is used in
                evaluation mode too (this makes the sample reproducible).
            return_attention_weights (bool, optional): If truthy, also
                returns a :class:`GraphHAMAttention`.
        """
        if isinstance(x, (tuple, list)):
            raise ValueError("GraphHAMConv does not take bipartite input "
                             "(x_src, x_dst)")
        if validation_enabled():
            check_node_features(x, 'x', self.in_channels)
        N = x.size(0)
        edge_index = self._check_graph(edge_index, None, x, None, False,
                                       None, None)
        edge_index = self._edge_index(edge_index, N, x.device)
        if self.add_self_loops:
            edge_index, _ = self._with_self_loops(edge_index, None, N, None)
        if gumbel_noise is not None and not isinstance(gumbel_noise, Tensor):
            raise TypeError(f"'gumbel_noise' must be a torch.Tensor (got "
                            f"{type(gumbel_noise).__name__})")

        g = self.lin(x)  # [N, F']
        src, dst = edge_index[0], edge_index[1]
        context = segment_aggregate(g[src], dst, num_segments=N,
                                    reduce='mean')
        z, prob = self._membership(self.membership_logits(context),
                                   gumbel_noise)
        u = z @ self.groups  # [N, F']

        score_src = (g * self.att_src).sum(dim=-1)
        score_dst = (g * self.att_dst).sum(dim=-1)
        # edge_updater_type: (g: Tensor, u: Tensor, score: PairTensor)
        att = self.edge_updater(edge_index, g=(g, g), u=(u, u),
                                score=(score_src, score_dst), size=(N, N))
        alpha, group_alpha, individual_alpha = att.unbind(dim=-1)
        weights = F.dropout(alpha, p=self.dropout, training=self.training)

        # propagate_type: (g: PairTensor, alpha: Tensor)
        out = self.propagate(edge_index, g=(g, g), alpha=weights,
                             size=(N, N))
        if self.group_residual:
            out = out + u
        if self.bias is not None:
            out = out + self.bias

        if return_attention_weights:
            return out, GraphHAMAttention(edge_index, weights, group_alpha,
                                          individual_alpha, z, prob)
        return out

    def edge_update(self, g_j: Tensor, u_i: Tensor, score_j: Tensor,
                    score_i: Tensor, index: Tensor, ptr: OptTensor,
                    dim_size: Optional[int]) -> Tensor:
        """``[E, 3]``: combined, group-level and individual-level
        coefficients of every edge."""
        group = (u_i * g_j).sum(dim=-1) / math.sqrt(self.out_channels)
        individual = F.leaky_relu(score_j + score_i, self.negative_slope)
        logits = torch.stack([group + individual, group, individual], -1)
        return segment_softmax(logits, index, ptr, dim_size)

    def message(self, g_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * g_j

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_groups={self.num_groups})')
