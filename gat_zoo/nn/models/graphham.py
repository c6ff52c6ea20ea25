"""GraphHAM: graph embedding with hierarchical attentive membership (Lin,
Blaser, Wang, WSDM 2022), with its unsupervised training objective."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union, cast

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj

from gat_zoo.nn.conv.graphham_conv import GraphHAMAttention, GraphHAMConv
from gat_zoo.registry import register_model

__all__ = ['GraphHAM', 'context_pairs', 'graphham']


def _plain_edge_index(edge_index: Adj) -> Tensor:
    """``[2, E]`` (row 0 sources) of any adjacency layout."""
    from torch_geometric.typing import SparseTensor
    from torch_geometric.utils import is_torch_sparse_tensor, to_edge_index
    if isinstance(edge_index, SparseTensor) and not isinstance(
            edge_index, Tensor):
        row, col, _ = edge_index.coo()
        return torch.stack([col, row], dim=0)
    if is_torch_sparse_tensor(edge_index):
        return to_edge_index(edge_index)[0].flip(0)
    if type(edge_index) is not Tensor:
        edge_index = edge_index.as_subclass(Tensor)
    return edge_index.long()


def context_pairs(edge_index: Tensor, num_nodes: int, scope: int,
                  walks_per_node: int = 1,
                  generator: Optional[torch.Generator] = None) -> Tensor:
    r"""Positive context pairs within a neighbourhood scope: ``[2, P]``
    pairs :math:`(i, j)` where :math:`j` is where a uniform random walk of
    ``scope`` steps from :math:`i` ends (following edges in either
    direction). Walks that hit a node without neighbours stop there; pairs
    that end where they started are dropped.

    Args:
        edge_index (torch.Tensor): ``[2, E]`` edges.
        num_nodes (int): Number of nodes.
        scope (int): Walk length (the neighbourhood scope, in hops).
        walks_per_node (int, optional): Walks started at every node.
        generator (torch.Generator, optional): Random source.
    """
    if scope < 1:
        raise ValueError(f"'scope' must be at least 1 (got {scope})")
    device = edge_index.device
    und = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    und = und[:, und[0] != und[1]]
    order = torch.argsort(und[0] * num_nodes + und[1])
    row, col = und[0, order], und[1, order]
    deg = torch.bincount(row, minlength=num_nodes)
    ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=device)
    torch.cumsum(deg, 0, out=ptr[1:])
    start = torch.arange(num_nodes, device=device).repeat(walks_per_node)
    cur = start.clone()
    for _ in range(scope):
        d = deg[cur]
        r = torch.rand(cur.numel(), generator=generator, device=device)
        step = (r * d).long().clamp_max((d - 1).clamp_min(0))
        nxt = col[(ptr[cur] + step).clamp_max(max(col.numel() - 1, 0))] \
            if col.numel() else cur
        cur = torch.where(d > 0, nxt, cur)
    keep = cur != start
    return torch.stack([start[keep], cur[keep]], dim=0)


class GraphHAM(torch.nn.Module):
    r"""GraphHAM from `"Graph Embedding with Hierarchical Attentive
    Membership" <https://arxiv.org/abs/2111.00604>`_: a stack of
    hierarchical membership attentive layers
    (:class:`~gat_zoo.nn.conv.GraphHAMConv`), layer :math:`l` owning
    :math:`K_l` latent groups, coarser (fewer) in higher layers.

    **Embeddings and logits.** GraphHAM is an *unsupervised* graph-embedding
    model: it is trained with :meth:`loss` alone, and the paper evaluates
    its node embeddings with a downstream classifier (node
    classification) or by scoring pairs (link prediction). :meth:`embed`
    returns the embedding, the concatenation of the layer-wise node states
    :math:`[\mathbf{h}^{(1)}_i \Vert \dots \Vert \mathbf{h}^{(L)}_i]`
    (every layer recovers context at its own scope, so every layer's state
    is part of the representation; this choice is UNVERIFIED).
    :meth:`forward` returns a linear read-out of that embedding as class
    logits, so the model also fits the library's node-classification
    contract (e.g. to fit a classifier end to end, or in the registry
    sweep); the read-out plays no part in :meth:`loss`.

    **Training objective** (:meth:`loss`): the *membership-based context
    decoder* makes the states of layer :math:`l` recover the context within
    a neighbourhood scope of :math:`l` hops, with negative sampling,

    .. math::
        \mathcal{L}_{\mathrm{ctx}} = \sum_{l=1}^{L} \Big(
        -\mathbb{E}_{(i, j)}\log\sigma\big(d^{(l)}(i, j)\big)
        - \mathbb{E}_{(i, j')}\log\sigma\big(-d^{(l)}(i, j')\big)
        \Big),
        \qquad
        d^{(l)}(i, j) = \mathbf{h}^{(l)\top}_i \mathbf{h}^{(l)}_j
        + \mathbf{u}^{(l)\top}_i \mathbf{u}^{(l)}_j ,

    with the positive term averaged over the context pairs :math:`(i, j)`
    (:math:`j` the end of an :math:`l`-step random walk from :math:`i`, see
    :func:`context_pairs`) and the negative term over uniform negatives
    :math:`(i, j')` (``num_negatives`` per pair). Here
    :math:`\mathbf{u}^{(l)}_i` is the embedding of node :math:`i`'s
    (sampled) group at layer :math:`l`: two nodes are context of each other
    when their states *and their groups* agree at that resolution. The
    *inter-layer constraint* injects the inclusion of groups across layers:
    every group :math:`k` of layer :math:`l` is placed among the groups of
    layer :math:`l+1` exactly as a node is (its embedding passed through
    layer :math:`l+1`'s projection and membership scores),

    .. math::
        P^{(l)}_{kk'} = \mathrm{softmax}_{k'}\Big(
        \big(\mathbf{W}^{(l+1)} \phi(\mathbf{c}^{(l)}_k)\big)^{\top}
        \mathbf{c}^{(l+1)}_{k'} / \sqrt{F_{l+1}}\Big),

    and a node's membership at layer :math:`l+1` must agree with the parent
    of its group at layer :math:`l`:

    .. math::
        \mathcal{L}_{\mathrm{inc}} = \frac{1}{N}\sum_{l=1}^{L-1}\sum_i
        -\sum_{k'} \big(\pi^{(l)}_i P^{(l)}\big)_{k'}
        \log \pi^{(l+1)}_{ik'}, \qquad
        \mathcal{L} = \mathcal{L}_{\mathrm{ctx}} + \lambda\,
        \mathcal{L}_{\mathrm{inc}} .

    Verified from the paper's abstract and Figure 2 caption: memberships
    sampled per layer from the neighbouring context, node states of each
    layer learned by recovering the context within a certain neighbourhood
    scope (membership-based context decoder), inter-layer constraints that
    inject the inclusive relation between the memberships across layers,
    unsupervised embeddings evaluated by node classification and link
    prediction. The functional forms above (decoder score, random-walk
    scope, parent matrix, cross-entropy) are this library's reconstruction
    (UNVERIFIED: the equations could not be read here).

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes of the read-out.
        hidden_channels (int, optional): State size of every layer.
            (default: :obj:`128`)
        num_groups (int or sequence of int, optional): Groups per layer,
            from the first (finest) to the last (coarsest); an int gives
            :math:`K_l = \max(2, K / 2^{l-1})`. (default: :obj:`(16, 4)`)
        num_layers (int, optional): Number of layers :math:`L` (must match
            a sequence :obj:`num_groups`). (default: :obj:`2`)
        tau (float, optional): Gumbel-softmax temperature. (default:
            :obj:`1.0`)
        hard (bool, optional): Straight-through one-hot memberships.
            (default: :obj:`False`)
        dropout (float, optional): Feature dropout on every layer's input.
            (default: :obj:`0`)
        attention_dropout (float, optional): Dropout on the attention
            coefficients. (default: :obj:`0`)
        constraint_weight (float, optional): :math:`\lambda`.
            (default: :obj:`1.0`)
        num_negatives (int, optional): Negatives per positive pair.
            (default: :obj:`1`)
        walks_per_node (int, optional): Context walks per node and layer
            in :meth:`loss`. (default: :obj:`1`)
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 128,
                 num_groups: Union[int, Sequence[int]] = (16, 4),
                 num_layers: int = 2, tau: float = 1.0, hard: bool = False,
                 dropout: float = 0.0, attention_dropout: float = 0.0,
                 constraint_weight: float = 1.0, num_negatives: int = 1,
                 walks_per_node: int = 1):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be a positive int (got "
                             f"{num_layers!r})")
        if isinstance(num_groups, int):
            groups = [max(2, num_groups // 2**layer)
                      for layer in range(num_layers)]
        else:
            groups = [int(k) for k in num_groups]
            if len(groups) != num_layers:
                raise ValueError(f"'num_groups' has {len(groups)} entries "
                                 f"but 'num_layers' is {num_layers}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.num_groups = groups
        self.dropout = dropout
        self.constraint_weight = constraint_weight
        self.num_negatives = num_negatives
        self.walks_per_node = walks_per_node
        self.convs = torch.nn.ModuleList()
        width = in_channels
        for k in groups:
            self.convs.append(
                GraphHAMConv(width, hidden_channels, k, tau=tau, hard=hard,
                             dropout=attention_dropout))
            width = hidden_channels
        self.embedding_channels = hidden_channels * num_layers
        self.classifier = torch.nn.Linear(self.embedding_channels,
                                          out_channels)

    def reset_parameters(self):
        for conv in self.convs:
            conv.reset_parameters()
        self.classifier.reset_parameters()

    def encode(self, x: Tensor, edge_index: Adj,
               gumbel_noise: Optional[Sequence[Tensor]] = None
               ) -> Tuple[List[Tensor], List[GraphHAMAttention]]:
        """Layer-wise states ``[N, hidden]`` and attention records."""
        states: List[Tensor] = []
        records: List[GraphHAMAttention] = []
        h = x
        for layer, conv in enumerate(self.convs):
            h = F.dropout(h, p=self.dropout, training=self.training)
            noise = None if gumbel_noise is None else gumbel_noise[layer]
            out, rec = conv(h, edge_index, gumbel_noise=noise,
                            return_attention_weights=True)
            states.append(out)
            records.append(rec)
            h = F.elu(out)
        return states, records

    def embed(self, x: Tensor, edge_index: Adj) -> Tensor:
        """The node embeddings ``[N, hidden_channels * num_layers]``."""
        return torch.cat(self.encode(x, edge_index)[0], dim=-1)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        """Class logits: a linear read-out of :meth:`embed`."""
        return self.classifier(self.embed(x, edge_index))

    def parent_matrix(self, layer: int) -> Tensor:
        r""":math:`P^{(l)}` ``[K_l, K_{l+1}]`` (``layer`` = :math:`l`,
        0-based): where layer ``layer``'s groups sit among the next
        layer's groups."""
        lower = cast(GraphHAMConv, self.convs[layer])
        upper = cast(GraphHAMConv, self.convs[layer + 1])
        placed = upper.lin(F.elu(lower.groups))
        return upper.membership_logits(placed).softmax(dim=-1)

    def loss(self, x: Tensor, edge_index: Adj,
             positives: Optional[Sequence[Tensor]] = None,
             negatives: Optional[Sequence[Tensor]] = None,
             gumbel_noise: Optional[Sequence[Tensor]] = None,
             generator: Optional[torch.Generator] = None,
             return_parts: bool = False):
        r"""The unsupervised objective :math:`\mathcal{L}_{\mathrm{ctx}} +
        \lambda \mathcal{L}_{\mathrm{inc}}` (see the class docstring).

        Args:
            x (torch.Tensor): Node features.
            edge_index (torch.Tensor or SparseTensor): The graph.
            positives (list of torch.Tensor, optional): Per layer, ``[2,
                P]`` context pairs; sampled by :func:`context_pairs` with
                scope ``l + 1`` if omitted.
            negatives (list of torch.Tensor, optional): Per layer, ``[2,
                P * num_negatives]`` negative pairs; uniform if omitted.
            gumbel_noise (list of torch.Tensor, optional): Per layer Gumbel
                noise for the membership samples.
            generator (torch.Generator, optional): Random source of the
                sampled pairs.
            return_parts (bool, optional): Also return ``(ctx, inc)``.
        """
        N = x.size(0)
        states, records = self.encode(x, edge_index, gumbel_noise)
        plain = _plain_edge_index(edge_index)
        ctx = x.new_zeros(())
        for layer, (h, rec) in enumerate(zip(states, records)):
            u = rec.membership @ cast(GraphHAMConv, self.convs[layer]).groups
            if positives is None:
                pos = context_pairs(plain, N, layer + 1, self.walks_per_node,
                                    generator=generator)
            else:
                pos = positives[layer]
            if negatives is None:
                src = pos[0].repeat(self.num_negatives)
                dst = torch.randint(N, (src.numel(), ), generator=generator,
                                    device=src.device)
                neg = torch.stack([src, dst], dim=0)
            else:
                neg = negatives[layer]
            ctx = ctx + self._pair_loss(h, u, pos, neg)
        inc = x.new_zeros(())
        for layer in range(len(self.convs) - 1):
            parent = records[layer].membership_prob @ \
                self.parent_matrix(layer)
            log_upper = records[layer + 1].membership_prob.clamp_min(
                1e-12).log()
            inc = inc - (parent * log_upper).sum(dim=-1).mean()
        total = ctx + self.constraint_weight * inc
        return (total, ctx, inc) if return_parts else total

    @staticmethod
    def _pair_loss(h: Tensor, u: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        def score(pairs: Tensor) -> Tensor:
            i, j = pairs[0], pairs[1]
            return (h[i] * h[j]).sum(-1) + (u[i] * u[j]).sum(-1)

        loss = h.new_zeros(())
        if pos.numel():
            loss = loss - F.logsigmoid(score(pos)).mean()
        if neg.numel():
            loss = loss - F.logsigmoid(-score(neg)).mean()
        return loss


@register_model('graphham', family='hierarchical',
                paper='Lin, Blaser, Wang, WSDM 2022',
                url='https://arxiv.org/abs/2111.00604', conv=GraphHAMConv)
def graphham(in_channels: int, out_channels: int, **kwargs) -> GraphHAM:
    """GraphHAM: per-layer latent group memberships inferred from context,
    group- and individual-level attention, inclusion constraints across
    layers (unsupervised; forward gives a linear read-out)."""
    return GraphHAM(in_channels, out_channels, **kwargs)
