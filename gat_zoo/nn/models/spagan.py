"""SPAGAN: a GAT whose attention defines shortest paths, then attention over
those paths."""
from __future__ import annotations

from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Tuple,
    cast,
)

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj

from gat_zoo.nn.conv.gat_conv import GATConv
from gat_zoo.nn.conv.spagan_conv import SPAGANConv
from gat_zoo.nn.functional import feature_dropout
from gat_zoo.nn.models.gat import GAT
from gat_zoo.ops.paths import (
    PathSet,
    attention_costs,
    shortest_paths,
)
from gat_zoo.registry import register_model

__all__ = ['SPAGAN']


class SPAGAN(torch.nn.Module):
    r"""The node classifier of `"SPAGAN: Shortest Path Graph Attention
    Network" <https://arxiv.org/abs/2101.03464>`_ (Yang et al., IJCAI
    2019), trained in stages:

    1. a GAT (:class:`~gat_zoo.nn.models.GAT`, :attr:`gat`) is trained;
    2. its first layer's attention, averaged over heads, gives every edge a
       cost (:func:`~gat_zoo.ops.paths.attention_costs`), and the
       shortest paths of up to :obj:`max_hops` hops from every node are
       computed and sampled
       (:func:`~gat_zoo.ops.paths.shortest_paths`);
    3. the SPAGAN network, started from the GAT's weights
       (:obj:`warm_start`, as the official code continues training one
       network), is trained on these paths: a hidden
       :class:`~gat_zoo.nn.conv.SPAGANConv` with :obj:`heads` concatenated
       heads over paths of lengths :math:`1, \dots,` :obj:`max_hops`,
       ELU, and an output :class:`~gat_zoo.nn.conv.SPAGANConv` over
       one-hop paths only with :obj:`out_heads` averaged heads (as in the
       official code); dropout on every layer's input and on the path
       attention.

    The paper's training workflow (its Fig. 2) *regenerates* the paths
    from the new attention after a training phase and trains again;
    :obj:`path_rounds` is the number of path sets, each followed by a
    SPAGAN phase: with :obj:`path_rounds=2` the paths are recomputed from
    the trained SPAGAN's own one-hop attention (its hidden layer evaluated
    on the full one-hop neighbourhood) and training continues. The official
    code does one round (GAT, then SPAGAN), the default here.

    The stages run through :meth:`fit_stages`, the multi-stage hook of
    :func:`gat_zoo.bench.train.train_node_classifier`; outside the bench,
    call it with your own ``train_stage`` or set the paths with
    :meth:`prepare` / :meth:`set_paths`. Before any paths are set,
    :meth:`forward` uses the one-hop paths of ``edge_index`` in both layers
    (SPAGAN without its higher-order paths). The stage-1 GAT is kept as
    :attr:`gat` but is not a submodule: :meth:`parameters` and the state
    dict hold SPAGAN's own weights only, and the paths (a
    :class:`~gat_zoo.ops.paths.PathSet`) are an attribute to be
    saved separately.

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Features per head of the hidden
            layer (GAT and SPAGAN). (default: :obj:`8`)
        heads (int, optional): Heads of the hidden layer. (default:
            :obj:`8`)
        out_heads (int, optional): Heads of the output layer, averaged.
            (default: :obj:`1`)
        dropout (float, optional): Dropout on layer inputs and attention.
            (default: :obj:`0.6`)
        negative_slope (float, optional): LeakyReLU slope. (default:
            :obj:`0.2`)
        max_hops (int, optional): Longest path, in hops. (default:
            :obj:`2`, the official code's paths of 2 and 3 nodes)
        pooling (str, optional): Path feature, ``'mean'`` or ``'max'`` (see
            :class:`~gat_zoo.nn.conv.SPAGANConv`). (default: :obj:`'mean'`)
        degree_ratio, path_ratio (float, optional): Path sampling
            :math:`r_{deg}`, :math:`r_{path}`. (defaults: the code's
            :obj:`0.5`, :obj:`1.0`)
        path_rounds (int, optional): Number of path computations, each
            followed by SPAGAN training. (default: :obj:`1`)
        warm_start (bool, optional): Start SPAGAN from the trained GAT:
            its projections, its one-hop attention vectors (as the
            length-1 path attention) and biases are copied over, so that
            on one-hop paths alone SPAGAN computes what the GAT did. The
            official code trains a single network whose projection and
            one-hop attention serve both stages; :obj:`False` starts
            SPAGAN from a fresh initialisation. (default: :obj:`True`)
    """

    #: The stage-1 GAT, kept in ``__dict__`` (not a submodule).
    gat: Optional[GAT]

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 8, heads: int = 8,
                 out_heads: int = 1, dropout: float = 0.6,
                 negative_slope: float = 0.2, max_hops: int = 2,
                 pooling: str = 'mean', degree_ratio: Optional[float] = 0.5,
                 path_ratio: Optional[float] = 1.0, path_rounds: int = 1,
                 warm_start: bool = True):
        super().__init__()
        if int(path_rounds) < 1:
            raise ValueError(f"'path_rounds' must be at least 1 (got "
                             f"{path_rounds})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.max_hops = int(max_hops)
        self.degree_ratio = degree_ratio
        self.path_ratio = path_ratio
        self.path_rounds = int(path_rounds)
        self.warm_start = bool(warm_start)
        self._gat_kwargs: Dict[str, Any] = dict(
            hidden_channels=hidden_channels, heads=heads, out_heads=out_heads,
            num_layers=2, dropout=dropout, negative_slope=negative_slope,
            conv=GATConv)
        # The stage-1 GAT is a helper, not part of the network: it is built
        # and trained by fit_stages() (kept out of parameters() and the
        # state dict, so every parameter of SPAGAN is used by forward()).
        self.__dict__['gat'] = None
        self.conv1 = SPAGANConv(in_channels, hidden_channels, heads=heads,
                                concat=True, max_hops=max_hops,
                                pooling=pooling,
                                negative_slope=negative_slope,
                                dropout=dropout)
        self.conv2 = SPAGANConv(hidden_channels * heads, out_channels,
                                heads=out_heads, concat=False, max_hops=1,
                                pooling=pooling,
                                negative_slope=negative_slope,
                                dropout=dropout)
        self.paths: Optional[PathSet] = None

    def reset_parameters(self):
        self.__dict__['gat'] = None
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()
        self.paths = None

    @property
    def supports_sparse_features(self) -> bool:
        return True

    # -- paths ----------------------------------------------------------
    def set_paths(self, paths: Optional[PathSet]) -> None:
        """Use these paths (e.g. computed once and stored) from now on."""
        if paths is not None and not isinstance(paths, PathSet):
            raise TypeError(f"'paths' must be a PathSet (got "
                            f"{type(paths).__name__})")
        self.paths = paths

    def new_gat(self) -> GAT:
        """A fresh stage-1 GAT with this model's widths, heads, dropout
        and slope, kept as :attr:`gat` (not a submodule)."""
        gat = GAT(self.in_channels, self.out_channels, **self._gat_kwargs)
        self.__dict__['gat'] = gat
        return gat

    @torch.no_grad()
    def load_gat_weights(self, gat: GAT) -> None:
        r"""Copies a two-layer GAT of the same widths into SPAGAN: each
        layer's projection and bias, and its attention vectors as the
        length-1 path attention (:math:`\mathbf{a}_1 = [\mathbf{a}_{src}
        \Vert \mathbf{a}_{dst}]`: the path end is the GAT's source, the
        center its target)."""
        for conv, gat_conv in zip((self.conv1, self.conv2),
                                  cast(Iterable[GATConv], gat.convs)):
            if gat_conv.lin is None or gat_conv.lin.weight.shape != \
                    conv.lin.weight.shape:
                raise ValueError(f"load_gat_weights: the GAT's layers do "
                                 f"not match SPAGAN's ({gat_conv} vs "
                                 f"{conv})")
            conv.lin.weight.copy_(gat_conv.lin.weight)
            conv.att_path[0].copy_(gat_conv.att_src[0])
            conv.att_center[0].copy_(gat_conv.att_dst[0])
            if conv.bias is not None and gat_conv.bias is not None:
                conv.bias.copy_(gat_conv.bias)

    @torch.no_grad()
    def attention(self, x: Tensor, edge_index: Adj,
                  source: str = 'gat') -> Tuple[Tensor, Tensor]:
        """``(edge_index, alpha [E, H])`` of the first layer in eval mode:
        the GAT's (``'gat'``) or the SPAGAN hidden layer's on one-hop paths
        (``'spagan'``), self-loops included."""
        was_training = self.training
        self.eval()
        try:
            if source == 'gat':
                if self.gat is None:
                    raise RuntimeError("no stage-1 GAT: run fit_stages() "
                                       "or new_gat() and train it first")
                _, (ei, alpha) = self.gat.convs[0](
                    x, edge_index, return_attention_weights=True)
            elif source == 'spagan':
                _, att = self.conv1(x, edge_index,
                                    return_attention_weights=True)
                path = att.paths.paths[0]
                ei = torch.stack([path[:, 1], path[:, 0]])
                alpha = att.path_alpha[0]
            else:
                raise ValueError(f"Unknown attention source {source!r}; "
                                 f"expected 'gat' or 'spagan'")
        finally:
            self.train(was_training)
        if not isinstance(ei, Tensor) or ei.dim() != 2:
            raise ValueError("SPAGAN computes paths from a [2, E] "
                             "edge_index; convert sparse adjacencies first")
        return ei, alpha

    def prepare(self, x: Tensor, edge_index: Adj,
                source: str = 'gat') -> PathSet:
        """Compute (and use) the paths from the current attention of
        ``source`` (see :meth:`attention`)."""
        ei, alpha = self.attention(x, edge_index, source)
        cost = attention_costs(ei, alpha)
        self.paths = shortest_paths(ei, cost, x.size(0), self.max_hops,
                                    self.degree_ratio, self.path_ratio,
                                    cache=False).to(x.device)
        return self.paths

    def fit_stages(self, x: Tensor, edge_index: Adj,
                   train_stage: Callable[[torch.nn.Module], object]
                   ) -> List[object]:
        """The stages before the final SPAGAN training: train the GAT, make
        the paths; for every further round, train SPAGAN and regenerate
        the paths from its attention. ``train_stage(module)`` trains a
        module and leaves its selected weights in place."""
        gat = self.new_gat()
        param = next(self.parameters())
        gat.to(param.device)
        results = [train_stage(gat)]
        if self.warm_start:
            self.load_gat_weights(gat)
        self.prepare(x, edge_index, 'gat')
        for _ in range(1, self.path_rounds):
            results.append(train_stage(self))
            self.prepare(x, edge_index, 'spagan')
        return results

    # -- forward ----------------------------------------------------------
    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: bool = False):
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights` also each layer's
        :class:`~gat_zoo.nn.conv.spagan_conv.SPAGANAttention`."""
        paths = self.paths
        if paths is not None and paths.max_hops and \
                paths.device != x.device:
            paths = self.paths = paths.to(x.device)
        h = feature_dropout(x, self.dropout, self.training)
        # Without paths (before fit_stages/prepare/set_paths) the hidden
        # layer sees the one-hop paths of edge_index.
        out1 = self.conv1(h, edge_index if paths is None else None,
                          paths=paths,
                          return_attention_weights=return_attention_weights)
        h, att1 = out1 if return_attention_weights else (out1, None)
        h = F.elu(h)
        h = F.dropout(h, p=self.dropout, training=self.training)
        out2 = self.conv2(h, edge_index,
                          return_attention_weights=return_attention_weights)
        if return_attention_weights:
            return out2[0], [att1, out2[1]]
        return out2

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, max_hops={self.max_hops}, '
                f'path_rounds={self.path_rounds})')


@register_model(family='high-order', paper='Yang et al., IJCAI 2019',
                url='https://arxiv.org/abs/2101.03464', conv=SPAGANConv)
def spagan(in_channels: int, out_channels: int, **kwargs) -> SPAGAN:
    """SPAGAN: attention over the attention-cost shortest paths to
    higher-order neighbours, trained after a GAT stage."""
    return SPAGAN(in_channels, out_channels, **kwargs)
