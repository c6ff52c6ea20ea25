r"""Link predictors: PaGNN (path-aware, pairwise) and the GAE baseline with a
GAT encoder.

Both score node pairs: ``model(x, edge_index, pairs)`` returns one logit
per column of ``pairs`` (``[2, P]``, source row first), to be trained with
binary cross-entropy (:mod:`gat_zoo.bench.link`). For these ``task='link'``
models the registry's ``out_channels`` is the width of the pair/node
representation, not a number of classes.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import coalesce, remove_self_loops

from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.conv.gat_conv import GATConv
from gat_zoo.nn.conv.pagnn_conv import PaGNNConv, _plain_edge_index
from gat_zoo.nn.validation import check_adjacency, validation_enabled
from gat_zoo.ops import index_to_ptr
from gat_zoo.registry import register_model

__all__ = ['GAEGAT', 'PaGNN', 'check_pairs']

_PAGNN_PAPER = 'Yang et al., ECML-PKDD 2021'
_DECODERS = ('concat', 'concat_hadamard')
_PAGNN_URL = 'https://doi.org/10.1007/978-3-030-86520-7_24'


def check_pairs(pairs: Any, num_nodes: int, device=None) -> Tensor:
    """Validate a ``[2, P]`` integer tensor of node pairs; returns it as
    ``int64``. Raises :class:`ValueError` naming the problem."""
    if not isinstance(pairs, Tensor):
        raise ValueError(f"'pairs' must be a [2, P] integer tensor (got "
                         f"{type(pairs).__name__})")
    if pairs.is_floating_point() or pairs.is_complex() or \
            pairs.dtype == torch.bool:
        raise ValueError(f"'pairs' must hold integers (got {pairs.dtype})")
    if pairs.dim() != 2 or pairs.size(0) != 2:
        raise ValueError(f"'pairs' must have shape [2, P] (got "
                         f"{tuple(pairs.shape)})")
    if device is not None and pairs.device != torch.device(device):
        raise ValueError(f"'pairs' is on {pairs.device} but the node "
                         f"features are on {device}")
    pairs = pairs.long()
    if pairs.numel() > 0:
        low, high = int(pairs.min()), int(pairs.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(f"'pairs' holds node indices in [{low}, {high}] "
                             f"but the graph has {num_nodes} nodes")
    return pairs


def _model_edge_index(edge_index: Any, num_nodes: int, device) -> Tensor:
    """A validated plain ``[2, E]`` index from any supported layout."""
    if isinstance(edge_index, Tensor) and not edge_index.is_sparse and \
            validation_enabled():
        check_adjacency(edge_index, num_nodes, num_nodes, device=device)
    return _plain_edge_index(edge_index).long()


class _CSRPair:
    """The loop-free, duplicate-free graph as out- and in-neighbour CSR
    lists, with an edge-membership test."""

    def __init__(self, edge_index: Tensor, num_nodes: int):
        edge_index, _ = remove_self_loops(edge_index)
        edge_index = coalesce(edge_index, num_nodes=num_nodes)
        src, dst = edge_index[0], edge_index[1]
        self.num_nodes = num_nodes
        self.out_ptr = index_to_ptr(src, num_nodes)  # coalesce sorts by src
        self.out_nbr = dst
        self.edge_keys = src * num_nodes + dst  # sorted
        perm = torch.argsort(dst * num_nodes + src)
        self.in_ptr = index_to_ptr(dst[perm], num_nodes)
        self.in_nbr = src[perm]

    def expand(self, nodes: Tensor, incoming: bool) -> Tuple[Tensor, Tensor]:
        """``(row, neighbour)``: for each ``nodes[row]`` its out- (or in-)
        neighbours, concatenated."""
        ptr, nbr = ((self.in_ptr, self.in_nbr) if incoming else
                    (self.out_ptr, self.out_nbr))
        start = ptr[nodes]
        deg = ptr[nodes + 1] - start
        row = torch.repeat_interleave(
            torch.arange(nodes.numel(), device=nodes.device), deg)
        offset = torch.arange(row.numel(), device=nodes.device) - (
            torch.cumsum(deg, 0) - deg)[row]
        return row, nbr[start[row] + offset]

    def has_edge(self, u: Tensor, v: Tensor) -> Tensor:
        keys = u * self.num_nodes + v
        if self.edge_keys.numel() == 0:
            return torch.zeros_like(keys, dtype=torch.bool)
        pos = torch.searchsorted(self.edge_keys, keys).clamp(
            max=self.edge_keys.numel() - 1)
        return self.edge_keys[pos] == keys


def _lookup(keys: Tensor, table_keys: Tensor,
            *tables: Tensor) -> List[Tensor]:
    """Rows of ``tables`` at ``keys`` (sorted ``table_keys``), zero where a
    key is absent."""
    if table_keys.numel() == 0:
        return [t.new_zeros(keys.numel(), t.size(-1)) for t in tables]
    pos = torch.searchsorted(table_keys, keys).clamp(
        max=table_keys.numel() - 1)
    found = (table_keys[pos] == keys).unsqueeze(-1)
    return [torch.where(found, t[pos], t.new_zeros(())) for t in tables]


def _excluded(u: Tensor, v: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Whether edge ``u -> v`` joins ``a`` and ``b`` (either direction);
    ``a = -1`` excludes nothing."""
    return ((u == a) & (v == b)) | ((u == b) & (v == a))


class _Direction(torch.nn.Module):
    """Broadcast from one end of the pairs, aggregation at the other."""

    def __init__(self, channels: int, num_hops: int, heads: int,
                 negative_slope: float, attention_dropout: float):
        super().__init__()
        conv: Dict[str, Any] = dict(
            heads=heads, concat=False, negative_slope=negative_slope,
            dropout=attention_dropout, add_self_loops=False)
        C = channels
        self.broadcast_convs = torch.nn.ModuleList(
            PaGNNConv(C, C, **conv) for _ in range(num_hops))
        self.broadcast_gates = torch.nn.ModuleList(
            torch.nn.LSTMCell(C, C, bias=False) for _ in range(num_hops))
        self.input = torch.nn.Linear(2 * C, C)
        self.aggregate_convs = torch.nn.ModuleList(
            PaGNNConv(C, C, **conv) for _ in range(num_hops))
        self.aggregate_gates = torch.nn.ModuleList(
            torch.nn.LSTMCell(2 * C, C, bias=False) for _ in range(num_hops))

    def reset_parameters(self):
        for module in self.modules():
            if module is not self and hasattr(module, 'reset_parameters'):
                module.reset_parameters()

    def broadcast(self, h0: Tensor, graph: _CSRPair, anchors: Tensor,
                  partners: Tensor) -> Tuple[Tensor, Tensor]:
        """``(keys, states)``: the broadcast state of every reached
        ``(broadcast b, node v)``, keyed ``b * N + v`` (sorted)."""
        N, C = graph.num_nodes, h0.size(-1)
        B = anchors.numel()
        keys = torch.arange(B, device=h0.device) * N + anchors
        state = h0[anchors]
        hid = h0.new_zeros(B, C)
        cell = h0.new_zeros(B, C)
        frontier = torch.arange(B, device=h0.device)
        for conv, gate in zip(self.broadcast_convs, self.broadcast_gates):
            fkeys = keys[frontier]
            fb, fnode = fkeys // N, fkeys % N
            row, nbr = graph.expand(fnode, incoming=False)
            eb = fb[row]
            keep = ~_excluded(fnode[row], nbr, anchors[eb], partners[eb])
            row, nbr, eb = row[keep], nbr[keep], eb[keep]
            if row.numel() == 0:
                break
            recv, inv = torch.unique(eb * N + nbr, return_inverse=True)
            R, nF = recv.numel(), frontier.numel()
            cur, hid_r, cell_r = _lookup(recv, keys, state, hid, cell)
            x_src = torch.cat([state[frontier], cur], 0)
            loops = torch.arange(R, device=h0.device)
            edge_index = torch.stack([torch.cat([row, nF + loops]),
                                      torch.cat([inv, loops])])
            z = conv((x_src, cur), edge_index)
            hid_r, cell_r = gate(z, (hid_r, cell_r))
            new_state = hid_r + h0[recv % N]
            merged = torch.unique(torch.cat([keys, recv]))
            pos_old = torch.searchsorted(merged, keys)
            pos_new = torch.searchsorted(merged, recv)

            state, hid, cell = (
                _merge_rows(state, new_state, merged.numel(), pos_old,
                            pos_new),
                _merge_rows(hid, hid_r, merged.numel(), pos_old, pos_new),
                _merge_rows(cell, cell_r, merged.numel(), pos_old, pos_new))
            keys, frontier = merged, pos_new
        return keys, state

    def aggregate(self, h0: Tensor, graph: _CSRPair, readers: Tensor,
                  bids: Tensor, partners: Tensor, table_keys: Tensor,
                  table: Tensor) -> Tensor:
        """The read-out of every pair at its reader node, ``[P, C]``."""
        N, C = graph.num_nodes, h0.size(-1)
        P, K = readers.numel(), len(self.aggregate_convs)
        device = h0.device
        pair_keys = torch.arange(P, device=device) * N + readers
        levels: List[Tensor] = [pair_keys] * (K + 1)
        edges: List[Optional[Tuple[Tensor, Tensor]]] = [None] * (K + 1)
        for level in range(K, 0, -1):  # the readers' computation trees
            keys = levels[level]
            kp, kn = keys // N, keys % N
            row, nbr = graph.expand(kn, incoming=True)
            p = kp[row]
            keep = ~_excluded(nbr, kn[row], readers[p], partners[p])
            row, nbr, p = row[keep], nbr[keep], p[keep]
            src_keys = p * N + nbr
            below = torch.unique(torch.cat([keys, src_keys]))
            levels[level - 1] = below
            loops = torch.searchsorted(below, keys)
            edges[level] = (torch.stack([
                torch.cat([torch.searchsorted(below, src_keys), loops]),
                torch.cat([row, torch.arange(keys.numel(), device=device)])
            ]), loops)
        base = levels[0]
        bp, bn = base // N, base % N
        (reached, ) = _lookup(bids[bp] * N + bn, table_keys, table)
        t = self.input(torch.cat([h0[bn], reached], -1))
        y = t[torch.searchsorted(base, pair_keys)]
        hid, cell = h0.new_zeros(P, C), h0.new_zeros(P, C)
        for level, (conv, gate) in enumerate(
                zip(self.aggregate_convs, self.aggregate_gates), start=1):
            entry = edges[level]
            assert entry is not None  # set for levels 1..K above
            edge_index, loops = entry
            t = conv((t, t[loops]), edge_index)
            t_r = t[torch.searchsorted(levels[level], pair_keys)]
            hid, cell = gate(torch.cat([t_r, y], -1), (hid, cell))
            y = hid
        return y

    def forward(self, h0: Tensor, graph: _CSRPair, anchors: Tensor,
                readers: Tensor, exclude: bool) -> Tensor:
        N = graph.num_nodes
        partners = readers.new_full(readers.shape, -1)
        if exclude:
            adjacent = graph.has_edge(anchors, readers) | graph.has_edge(
                readers, anchors)
            partners = torch.where(adjacent, readers, partners)
        # Cache: a broadcast depends on its anchor only (and on the one
        # excluded edge), so it is computed once per distinct key.
        key = anchors * (N + 1) + torch.where(partners < 0, N, partners)
        unique, bids = torch.unique(key, return_inverse=True)
        b_anchor = unique // (N + 1)
        b_partner = unique % (N + 1)
        b_partner = torch.where(b_partner == N, -1, b_partner)
        table_keys, table = self.broadcast(h0, graph, b_anchor, b_partner)
        anchor_of = torch.where(partners < 0, -1, anchors)
        return self.aggregate(h0, graph, readers, bids, anchor_of,
                              table_keys, table)


class PaGNN(torch.nn.Module):
    r"""The Path-aware Graph Neural Network (PaGNN) link predictor of
    `"Inductive Link Prediction with Interactive Structure Learning on
    Attributed Graph" <https://doi.org/10.1007/978-3-030-86520-7_24>`_
    (Yang et al., ECML-PKDD 2021).

    For a candidate pair :math:`(s, t)`, with
    :math:`\mathbf{h}_v = \mathbf{W}_0\mathbf{x}_v + \mathbf{b}_0`:

    **Broadcasting** from :math:`s`, :math:`K` hops. The state starts as
    :math:`\mathbf{b}_s = \mathbf{h}_s` and zero elsewhere, with frontier
    :math:`\mathcal{F}_0 = \{s\}`. At hop :math:`k` the nodes
    :math:`\mathcal{V}_k` that have an in-neighbour in
    :math:`\mathcal{F}_{k-1}` are updated by a
    :class:`~gat_zoo.nn.conv.PaGNNConv` step restricted to the frontier,
    gated by an LSTM cell (GeniePath's depth function) and added to their
    input features:

    .. math::
        \mathbf{z}_v &= \tanh\Big(\sum_{u \in (\mathcal{N}(v) \cap
        \mathcal{F}_{k-1}) \cup \{v\}} \alpha^{(k)}_{v,u}
        \mathbf{\Theta}^{(k)} \mathbf{b}_u + \mathbf{\beta}^{(k)}\Big),
        \\
        (\mathbf{o}_v, \mathbf{c}_v) &= \mathrm{LSTM}^{(k)}(\mathbf{z}_v;
        \mathbf{o}_v, \mathbf{c}_v), \qquad
        \mathbf{b}_v \leftarrow \mathbf{o}_v + \mathbf{h}_v
        \quad (v \in \mathcal{V}_k), \qquad
        \mathcal{F}_k = \mathcal{V}_k,

    (LSTM memories start at zero when a node is first reached). After
    :math:`K` hops :math:`\mathbf{b}` encodes which nodes the source reaches
    and along which paths.

    **Aggregating** at :math:`t`. Every node reads
    :math:`\mathbf{u}_v = \mathbf{W}_u[\mathbf{h}_v \,\Vert\,
    \mathbf{b}_v] + \mathbf{b}_u`; :math:`K` attention steps over the whole
    graph give :math:`\mathbf{t}^{(l)} = \mathrm{PaGNNConv}^{(l)}
    (\mathbf{t}^{(l-1)})`, :math:`\mathbf{t}^{(0)} = \mathbf{u}`, and an
    LSTM over the layers reads them out at :math:`t`:
    :math:`\mathbf{y}^{(0)} = \mathbf{u}_t`,
    :math:`\mathbf{y}^{(l)} = \mathrm{LSTM}^{(l)}([\mathbf{t}^{(l)}_t
    \,\Vert\, \mathbf{y}^{(l-1)}])`, :math:`\mathbf{e}_{s\to t} =
    \mathbf{y}^{(K)}`.

    The same is done from :math:`t` to :math:`s` with its own parameters,
    and the pair's logit is
    :math:`\mathbf{w}^{\top}[\mathbf{e}_{t\to s} \,\Vert\,
    \mathbf{e}_{s\to t}] + c`.

    Only the nodes within :math:`K` hops that the result depends on are
    computed: the broadcast touches the frontier's edges, the aggregation
    the reader's :math:`K`-hop computation tree, all pairs of a call in one
    batch. The result equals running the layers on the whole graph
    (checked against a dense whole-graph oracle). **Cache:** a broadcast
    depends on its source node only, so it is computed once per distinct
    source in a call and shared by every pair that has that source (all
    candidate targets of a node at inference time).

    With :obj:`exclude_target_edge=True` (default) the edge between the two
    ends of a pair, if present, is removed for that pair (as SEAL does), so a
    training positive cannot be read off its own edge; evaluation pairs are
    not in the message-passing graph, so nothing changes for them.

    **What is reconstructed** (the paper's equations were not available to
    us): the names and roles of broadcasting and aggregating, the
    concatenation of both directions and the cache come from the abstract
    and from the AntGraphLearning example of PaGNN (Ant Group); the GeniePath
    breadth/depth form (GAT attention with :math:`\tanh`, LSTM gates), the
    residual :math:`\mathbf{o}_v + \mathbf{h}_v` and the input
    :math:`[\mathbf{h} \,\Vert\, \mathbf{b}]` follow that example. Our
    choices: LSTM memories only for reached nodes, a single logit with
    binary cross-entropy (the example uses a two-way output), gradients flow
    through the broadcast (the example writes the broadcast state through
    ``.data``, which stops them), and the target-edge exclusion.

    Args:
        in_channels (int): Input feature size.
        out_channels (int, optional): Hidden width :math:`C` of every
            representation. (default: :obj:`32`, the example's
            ``embedding_size``)
        num_hops (int, optional): Broadcast hops and aggregation layers
            :math:`K`. (default: :obj:`2`, the example's ``n_hops``)
        heads (int, optional): Attention heads (averaged). (default:
            :obj:`1`)
        dropout (float, optional): Dropout on :math:`\mathbf{h}`.
            (default: :obj:`0`)
        attention_dropout (float, optional): Dropout on attention
            coefficients. (default: :obj:`0`)
        negative_slope (float, optional): LeakyReLU slope of the attention.
            (default: :obj:`0.2`)
        exclude_target_edge (bool, optional): See above. (default:
            :obj:`True`)
        decoder (str, optional): :obj:`'concat'` (the example's linear
            layer on :math:`[\mathbf{e}_{t\to s} \,\Vert\,
            \mathbf{e}_{s\to t}]`) or :obj:`'concat_hadamard'`, which also
            feeds :math:`\mathbf{e}_{t\to s} \odot \mathbf{e}_{s\to t}`
            (our addition, not the paper's: with the plain concatenation
            two ends more than :math:`K` hops apart score additively,
            :math:`f(s) + g(t)`, since neither broadcast reaches the other
            end's neighbourhood). (default: :obj:`'concat'`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge
          indices :math:`(2, |\mathcal{E}|)` (or a sparse layout), pairs
          :math:`(2, P)`
        - **output:** logits :math:`(P)`
    """

    def __init__(self, in_channels: int, out_channels: int = 32,
                 num_hops: int = 2, heads: int = 1, dropout: float = 0.0,
                 attention_dropout: float = 0.0, negative_slope: float = 0.2,
                 exclude_target_edge: bool = True,
                 decoder: str = 'concat'):
        super().__init__()
        if decoder not in _DECODERS:
            raise ValueError(f"Unknown decoder {decoder!r}; expected one of "
                             f"{_DECODERS}")
        if num_hops < 1:
            raise ValueError(f"'num_hops' must be at least 1 (got "
                             f"{num_hops})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_hops = num_hops
        self.dropout = dropout
        self.exclude_target_edge = exclude_target_edge
        self.decoder_kind = decoder
        self.lin = torch.nn.Linear(in_channels, out_channels)
        args = (out_channels, num_hops, heads, negative_slope,
                attention_dropout)
        self.from_source = _Direction(*args)  # broadcast s, read at t
        self.from_target = _Direction(*args)  # broadcast t, read at s
        width = (2 if decoder == 'concat' else 3) * out_channels
        self.decoder = torch.nn.Linear(width, 1)

    def reset_parameters(self):
        self.lin.reset_parameters()
        self.from_source.reset_parameters()
        self.from_target.reset_parameters()
        self.decoder.reset_parameters()

    def forward(self, x: Tensor, edge_index: Any, pairs: Tensor) -> Tensor:
        """Logits ``[P]`` of the pairs ``pairs[:, p] = (s, t)``."""
        check_model_input(x, edge_index, self.in_channels)
        N = x.size(0)
        edge_index = _model_edge_index(edge_index, N, x.device)
        pairs = check_pairs(pairs, N, x.device)
        if pairs.size(1) == 0:
            return x.new_zeros(0)
        graph = _CSRPair(edge_index, N)
        h0 = F.dropout(self.lin(x), p=self.dropout, training=self.training)
        s, t = pairs[0], pairs[1]
        e_t = self.from_source(h0, graph, s, t, self.exclude_target_edge)
        e_s = self.from_target(h0, graph, t, s, self.exclude_target_edge)
        parts = [e_s, e_t]
        if self.decoder_kind == 'concat_hadamard':
            parts.append(e_s * e_t)
        return self.decoder(torch.cat(parts, -1)).view(-1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_hops={self.num_hops})')


class GAEGAT(torch.nn.Module):
    r"""Graph auto-encoder (`"Variational Graph Auto-Encoders"
    <https://arxiv.org/abs/1611.07308>`_, Kipf & Welling 2016, the non-
    variational GAE) whose encoder is two :class:`~gat_zoo.nn.GATConv`
    layers instead of GCN layers, and whose decoder is the inner product:

    .. math::
        \mathbf{Z} = \mathrm{GAT}_2(\mathrm{ELU}(\mathrm{GAT}_1(
        \mathbf{X}))), \qquad \hat{y}_{s,t} = \mathbf{z}_s^{\top}
        \mathbf{z}_t \;\text{(a logit)}.

    The baseline PaGNN is compared with: one embedding per node, no
    pair-specific structure.

    Args:
        in_channels (int): Input feature size.
        out_channels (int, optional): Embedding width (GAE's 16).
            (default: :obj:`16`)
        hidden_channels (int, optional): Hidden width per head (GAE's 32).
            (default: :obj:`32`)
        heads (int, optional): Heads of the hidden layer (concatenated).
            (default: :obj:`1`)
        dropout (float, optional): Dropout on layer inputs. (default:
            :obj:`0`)
        attention_dropout (float, optional): Dropout on attention
            coefficients. (default: :obj:`0`)
    """

    def __init__(self, in_channels: int, out_channels: int = 16,
                 hidden_channels: int = 32, heads: int = 1,
                 dropout: float = 0.0, attention_dropout: float = 0.0):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.conv1 = GATConv(in_channels, hidden_channels, heads=heads,
                             dropout=attention_dropout)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=1,
                             concat=False, dropout=attention_dropout)

    def reset_parameters(self):
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def encode(self, x: Tensor, edge_index: Any) -> Tensor:
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, p=self.dropout, training=self.training)
        return self.conv2(x, edge_index)

    @staticmethod
    def decode(z: Tensor, pairs: Tensor) -> Tensor:
        return (z[pairs[0]] * z[pairs[1]]).sum(dim=-1)

    def forward(self, x: Tensor, edge_index: Any, pairs: Tensor) -> Tensor:
        """Logits ``[P]`` of the pairs ``pairs[:, p] = (s, t)``."""
        check_model_input(x, edge_index, self.in_channels,
                          finite=False)  # the GATConv encoder scans x
        pairs = check_pairs(pairs, x.size(0), x.device)
        return self.decode(self.encode(x, edge_index), pairs)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels})')


@register_model(family='high-order', paper=_PAGNN_PAPER, url=_PAGNN_URL,
                task='link', conv=PaGNNConv)
def pagnn(in_channels: int, out_channels: int = 32, **kwargs) -> PaGNN:
    """PaGNN: path-aware link prediction by broadcasting from one end of a
    pair and aggregating at the other."""
    return PaGNN(in_channels, out_channels, **kwargs)


@register_model(family='baseline', paper='Kipf & Welling, NeurIPS BDL 2016',
                url='https://arxiv.org/abs/1611.07308', task='link',
                conv=GATConv)
def gae_gat(in_channels: int, out_channels: int = 16, **kwargs) -> GAEGAT:
    """GAE with a GAT encoder and an inner-product decoder (link
    baseline)."""
    return GAEGAT(in_channels, out_channels, **kwargs)


def _merge_rows(old: Tensor, new: Tensor, size: int, pos_old: Tensor,
                pos_new: Tensor) -> Tensor:
    """Rows of ``old`` at ``pos_old`` and of ``new`` at ``pos_new`` in a
    zero tensor of ``size`` rows (``new`` wins where both land)."""
    out = old.new_zeros(size, old.size(-1))
    return out.index_copy(0, pos_old, old).index_copy(0, pos_new, new)
