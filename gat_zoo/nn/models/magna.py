"""MAGNA: stacked multi-hop attention diffusion blocks for node
classification."""
from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj
from torch_geometric.utils import is_torch_sparse_tensor

from gat_zoo.nn.conv._base import _is_sparse_tensor, check_model_input
from gat_zoo.nn.conv.magna_conv import MAGNABlock, MAGNAConv
from gat_zoo.registry import register_model

__all__ = ['MAGNA', 'drop_edges']

_PAPER = 'Wang, Ying, Huang, Leskovec, IJCAI 2021'
_URL = 'https://arxiv.org/abs/2009.14332'


def _kept_edges(row: Tensor, col: Tensor, p: float, pairs: bool) -> Tensor:
    """A keep mask over the edges ``row[i] - col[i]``; with :obj:`pairs`
    one draw per unordered node pair, shared by both directions (and any
    parallel copies) of an undirected edge."""
    if not pairs:
        return torch.rand(row.numel(), device=row.device) >= p
    if row.numel() == 0:
        return torch.ones(0, dtype=torch.bool, device=row.device)
    n = int(torch.maximum(row.max(), col.max())) + 1
    pair = torch.minimum(row, col) * n + torch.maximum(row, col)
    _, which = torch.unique(pair, return_inverse=True)
    draw = torch.rand(int(which.max()) + 1, device=row.device)
    return draw[which] >= p


def drop_edges(adjacency: Adj, p: float, training: bool = True,
               pairs: bool = False) -> Adj:
    r"""Remove each edge independently with probability :obj:`p` (training
    only), keeping the adjacency's layout: an ``edge_index`` (also an
    :class:`~torch_geometric.EdgeIndex`, returned as a plain tensor), a
    :class:`torch_sparse.SparseTensor` or a torch sparse tensor. With
    :obj:`pairs`, both directions of an undirected edge are removed or kept
    together (one draw per unordered node pair), as the official MAGNA code
    does.

    Removing an edge before the softmax is the same as giving it the logit
    :math:`-\infty`, which is how the official MAGNA code drops edges."""
    if not training or p == 0.0:
        return adjacency
    if _is_sparse_tensor(adjacency):
        row, col, _ = adjacency.coo()
        keep = _kept_edges(row, col, p, pairs)
        return adjacency.masked_select_nnz(keep, layout='coo')
    if isinstance(adjacency, Tensor) and is_torch_sparse_tensor(adjacency):
        coo = adjacency.to_sparse_coo().coalesce()
        indices = coo.indices()
        keep = _kept_edges(indices[0], indices[1], p, pairs)
        return torch.sparse_coo_tensor(indices[:, keep],
                                       coo.values()[keep], coo.shape)
    plain = adjacency
    if type(plain) is not Tensor:  # EdgeIndex: its index, as a plain tensor
        plain = plain.as_tensor() if hasattr(plain, 'as_tensor') else \
            plain.as_subclass(Tensor)
    keep = _kept_edges(plain[0], plain[1], p, pairs)
    return plain[:, keep]


class MAGNA(torch.nn.Module):
    r"""The node classifier of `"Multi-hop Attention Graph Neural Network"
    <https://arxiv.org/abs/2009.14332>`_ (Wang, Ying, Huang, Leskovec,
    IJCAI 2021): ``num_layers`` MAGNA blocks of width ``hidden_channels``
    (:class:`~gat_zoo.nn.conv.magna_conv.MAGNABlock`: pre-layer-norm
    multi-head attention diffusion and feed-forward sublayers with
    residual connections) and a linear classifier on the last block's
    output, as in the official code (``codes/MAGNA.py``).

    Training-time regularisers of the official code: feature dropout
    (:obj:`dropout`), dropout on the one-hop attention coefficients
    (:obj:`attention_dropout`) and edge dropout (:obj:`edge_dropout`: each
    block sees the graph with every edge removed independently with that
    probability; the layer's self-loops are added afterwards and never
    dropped). By default edges are dropped one by one, so directed graphs
    work too; :obj:`pair_edge_dropout` drops both directions of an
    undirected edge together, as the official code does. (The code removes
    :math:`\lfloor E/2 \cdot p/2 \rfloor` undirected pairs, a fraction
    :math:`p/2` of the edges; the paper configuration therefore sets
    :obj:`edge_dropout` to half the code's ``edge_drop``.)

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Block width :math:`d`, all heads
            together (:math:`d / M` channels per head). (default:
            :obj:`512`)
        heads (int, optional): Attention heads :math:`M` per block.
            (default: :obj:`8`)
        num_layers (int, optional): Number of MAGNA blocks. (default:
            :obj:`2`)
        alpha (float, optional): Teleport probability :math:`\alpha` of the
            diffusion. (default: :obj:`0.15`)
        num_hops (int, optional): Diffusion steps :math:`K`. (default:
            :obj:`4`)
        dropout (float, optional): Feature dropout. (default: :obj:`0.25`)
        attention_dropout (float, optional): Attention dropout. (default:
            :obj:`0.5`)
        edge_dropout (float, optional): Edge dropout per block. (default:
            :obj:`0.1`)
        pair_edge_dropout (bool, optional): Drop both directions of an
            undirected edge together (one draw per node pair). (default:
            :obj:`False`)
        code_init (bool, optional): Initialise the weights as the official
            code does (Xavier-normal with the tanh gain for the attention
            projections, attention vectors and residual projections, with
            the ReLU gain for the feed-forward layers, gain 1 for the input
            projection and the classifier) instead of PyG's Glorot-uniform
            and default initialisers. (default: :obj:`False`)
        ffn_dropout (float, optional): Dropout inside each FFN. (default:
            :obj:`0.1`, the code's ``PositionwiseFeedForward`` default)
        negative_slope (float, optional): LeakyReLU slope. (default:
            :obj:`0.2`)
        layer_norm (bool, optional): Layer norms in the blocks. (default:
            :obj:`True`)
        feed_forward (bool, optional): FFN sublayers. (default:
            :obj:`True`)
        shared_attention_projection (bool, optional): The official code's
            score form instead of the paper's (see
            :class:`~gat_zoo.nn.conv.magna_conv.MAGNAConv`). (default:
            :obj:`False`)
        input_projection (int, optional): If set, a linear projection of
            the (dropped-out) input to this width before the first block
            (the code's ``project_dim``). (default: :obj:`None`)
        per_step_dropout (bool, optional): The official code's dropout
            inside each diffusion: a fresh attention-dropout mask at every
            step and feature dropout after every step (see
            :class:`~gat_zoo.nn.conv.magna_conv.MAGNABlock`). (default:
            :obj:`False`)
        top_k (int, optional): The official code's top-:math:`k` neighbour
            selection before each softmax (see
            :class:`~gat_zoo.nn.conv.magna_conv.MAGNAConv`). (default:
            :obj:`None`)

    The defaults are the official code's ``codes/train.py`` defaults; the
    paper's per-dataset values could not be checked here (see
    ``gat_zoo.paper_config('magna', ...)`` for the sources).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 512, heads: int = 8,
                 num_layers: int = 2, alpha: float = 0.15,
                 num_hops: int = 4, dropout: float = 0.25,
                 attention_dropout: float = 0.5, edge_dropout: float = 0.1,
                 ffn_dropout: float = 0.1, negative_slope: float = 0.2,
                 layer_norm: bool = True, feed_forward: bool = True,
                 shared_attention_projection: bool = False,
                 input_projection: Optional[int] = None,
                 per_step_dropout: bool = False,
                 top_k: Optional[int] = None,
                 pair_edge_dropout: bool = False,
                 code_init: bool = False):
        super().__init__()
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) \
                or num_layers < 1:
            raise ValueError(f"'num_layers' must be at least 1 (got "
                             f"{num_layers!r})")
        if not 0.0 <= float(edge_dropout) < 1.0:
            raise ValueError(f"'edge_dropout' must be a probability in "
                             f"[0, 1) (got {edge_dropout!r})")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"'dropout' must be a probability in [0, 1) "
                             f"(got {dropout!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = float(dropout)
        self.edge_dropout = float(edge_dropout)
        self.pair_edge_dropout = bool(pair_edge_dropout)
        self.project = None
        width = in_channels
        if input_projection is not None:
            self.project = Linear(in_channels, int(input_projection),
                                  weight_initializer='glorot')
            width = int(input_projection)
        self.blocks = torch.nn.ModuleList()
        for _ in range(num_layers):
            self.blocks.append(
                MAGNABlock(width, hidden_channels, heads=heads, alpha=alpha,
                           num_hops=num_hops, dropout=dropout,
                           attention_dropout=attention_dropout,
                           ffn_dropout=ffn_dropout,
                           negative_slope=negative_slope,
                           layer_norm=layer_norm, feed_forward=feed_forward,
                           shared_attention_projection=(
                               shared_attention_projection),
                           per_step_dropout=per_step_dropout,
                           top_k=top_k))
            width = hidden_channels
        self.classifier = Linear(hidden_channels, out_channels,
                                 weight_initializer='glorot')
        self.code_init = bool(code_init)
        if self.code_init:
            self._initialise_as_code()

    def reset_parameters(self):
        if self.project is not None:
            self.project.reset_parameters()
        for block in self.blocks:
            block.reset_parameters()
        self.classifier.reset_parameters()
        if self.code_init:
            self._initialise_as_code()

    def _initialise_as_code(self):
        # codes/MAGNA.py and MAGNA/MAGNAConv.py re-initialise the weights
        # with Xavier-normal after construction; biases keep torch's
        # default. With the shared projection the code leaves its output
        # projection at torch's default (kaiming-uniform, a = sqrt(5)).
        init = torch.nn.init
        tanh, relu = init.calculate_gain('tanh'), init.calculate_gain('relu')
        for block in self.blocks:
            conv = block.conv
            separate = conv.lin_head is not None
            for lin in (conv.lin, conv.lin_head, conv.lin_tail):
                if lin is not None:
                    init.xavier_normal_(lin.weight, gain=tanh)
            if conv.lin_out is not None:
                if separate:
                    init.xavier_normal_(conv.lin_out.weight, gain=tanh)
                else:
                    init.kaiming_uniform_(conv.lin_out.weight,
                                          a=math.sqrt(5))
            init.xavier_normal_(conv.att_head, gain=tanh)
            init.xavier_normal_(conv.att_tail, gain=tanh)
            if isinstance(block.res, Linear):
                init.xavier_normal_(block.res.weight, gain=tanh)
            for lin in (block.ffn_in, block.ffn_out):
                if lin is not None:
                    init.xavier_normal_(lin.weight, gain=relu)
        init.xavier_normal_(self.classifier.weight)
        if self.project is not None:
            init.xavier_normal_(self.project.weight)

    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: bool = False):
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also a list with each block's
        one-hop ``(edge_index, alpha)``."""
        check_model_input(x, edge_index, self.in_channels)
        attentions: List[Tuple[Any, Any]] = []
        if self.project is not None:
            x = self.project(F.dropout(x, p=self.dropout,
                                       training=self.training))
        for block in self.blocks:
            adj = drop_edges(edge_index, self.edge_dropout, self.training,
                             pairs=self.pair_edge_dropout)
            if return_attention_weights:
                x, att = block(x, adj, return_attention_weights=True)
                attentions.append(att)
            else:
                x = block(x, adj)
        out = self.classifier(x)
        return (out, attentions) if return_attention_weights else out

    def __repr__(self) -> str:
        block = self.blocks[0]
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, num_layers={len(self.blocks)}, '
                f'hidden_channels={block.out_channels}, '
                f'heads={block.heads})')


@register_model(family='high-order', paper=_PAPER, url=_URL, conv=MAGNAConv)
def magna(in_channels: int, out_channels: int, **kwargs) -> MAGNA:
    """MAGNA: one-hop attention diffused over all path lengths with
    personalised-PageRank weights, in Transformer-style blocks."""
    return MAGNA(in_channels, out_channels, **kwargs)
