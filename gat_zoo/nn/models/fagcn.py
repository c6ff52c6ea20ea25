"""FAGCN, the paper-configured network (Bo, Wang, Shi, Shen, AAAI 2021)."""
from __future__ import annotations

import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from gat_zoo.nn.conv._base import check_model_input
from gat_zoo.nn.conv.fagcn_conv import FAGCNConv
from gat_zoo.nn.functional import feature_dropout, is_sparse_features
from gat_zoo.nn.validation import check_int, check_probability
from gat_zoo.ops import cached_csr
from gat_zoo.registry import register_model

__all__ = ['FAGCN']



class FAGCN(torch.nn.Module):
    r"""The Frequency Adaptation Graph Convolutional Network of `"Beyond
    Low-frequency Information in Graph Convolutional Networks"
    <https://arxiv.org/abs/2101.00797>`_ (Bo, Wang, Shi & Shen, AAAI 2021):

    .. math::
        \mathbf{h}^{(0)} &= \mathrm{ReLU}\big(\mathbf{W}_1\,
        \mathrm{dropout}(\mathbf{x})\big), \qquad
        \mathbf{h}^{(0)} \leftarrow \mathrm{dropout}(\mathbf{h}^{(0)})

        \mathbf{h}^{(l)}_i &= \epsilon\,\mathbf{h}^{(0)}_i +
        \sum_{j \in \mathcal{N}(i)} \frac{\alpha^{(l)}_{ij}}
        {\sqrt{d_i d_j}}\,\mathbf{h}^{(l-1)}_j, \quad l = 1, \dots, L

        \mathbf{z} &= \mathbf{W}_2\,\mathbf{h}^{(L)}

    with :math:`L` :class:`~gat_zoo.nn.conv.FAGCNConv` layers (their own
    gates :math:`\mathbf{g}^{(l)}`, no weight matrices) between the two
    linear maps, as in the paper and the official code
    (``bdy9527/FAGCN``, ``model.py``): the same dropout on the input, on
    :math:`\mathbf{h}^{(0)}` and on the edge coefficients; biases in both
    linear maps and in the gates; Xavier-normal initialisation with gain
    :math:`\sqrt 2`. Returns the logits (the code's ``log_softmax`` is the
    trainer's cross-entropy).

    The official data loader makes every graph simple and undirected and
    removes its self-loops (``dgl.to_simple``, ``to_bidirected``,
    ``remove_self_loop``). Cora, CiteSeer, chameleon and squirrel are
    stored that way already; for a directed graph such as film (Actor)
    :obj:`symmetrize=True` does the same inside the model (cached per
    graph object).

    Args:
        in_channels (int): Input feature size.
        out_channels (int): Number of classes.
        hidden_channels (int, optional): Width of
            :math:`\mathbf{h}`. (default: :obj:`32`)
        num_layers (int, optional): :math:`L`. (default: :obj:`2`)
        eps (float, optional): :math:`\epsilon`. (default: :obj:`0.3`)
        dropout (float, optional): Dropout on the input, on
            :math:`\mathbf{h}^{(0)}` and (unless
            :obj:`attention_dropout` is given) on the edge coefficients.
            (default: :obj:`0.5`)
        attention_dropout (float, optional): Dropout on the edge
            coefficients, if it should differ. (default: :obj:`None`)
        gate_bias (bool, optional): A bias in each gate (the official
            code's; not in the paper's equation). (default: :obj:`True`)
        add_self_loops (bool, optional): See
            :class:`~gat_zoo.nn.conv.FAGCNConv`. (default: :obj:`False`)
        symmetrize (bool, optional): Make the graph undirected, simple and
            loop-free first, as the official loader does. (default:
            :obj:`False`)
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 32, num_layers: int = 2,
                 eps: float = 0.3, dropout: float = 0.5,
                 attention_dropout: Optional[float] = None,
                 gate_bias: bool = True, add_self_loops: bool = False,
                 symmetrize: bool = False):
        super().__init__()
        check_int('in_channels', in_channels, 1)
        check_int('out_channels', out_channels, 1)
        check_int('hidden_channels', hidden_channels, 1)
        check_int('num_layers', num_layers, 1)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = check_probability('dropout', dropout)
        attention_dropout = (self.dropout if attention_dropout is None else
                             check_probability('attention_dropout',
                                                attention_dropout))
        self.symmetrize = bool(symmetrize)
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, out_channels)
        self.convs = torch.nn.ModuleList([
            FAGCNConv(hidden_channels, eps=eps, dropout=attention_dropout,
                      add_self_loops=add_self_loops, bias=gate_bias)
            for _ in range(num_layers)])
        self.reset_parameters()

    #: ``x`` may be a sparse CSR matrix (it only meets dropout and ``lin1``).
    supports_sparse_features = True

    def reset_parameters(self):
        for lin in (self.lin1, self.lin2):
            lin.reset_parameters()  # PyTorch's bias initialisation
            torch.nn.init.xavier_normal_(lin.weight, gain=math.sqrt(2.0))
        for conv in self.convs:
            conv.reset_parameters()

    def _graph(self, edge_index: Adj, num_nodes: int) -> Adj:
        if not self.symmetrize or not isinstance(edge_index, Tensor):
            return edge_index

        def build() -> Tensor:
            index = edge_index.as_subclass(Tensor) if type(
                edge_index) is not Tensor else edge_index
            index, _ = remove_self_loops(index.long())
            index = to_undirected(index, num_nodes=num_nodes)
            return coalesce(index, num_nodes=num_nodes)

        return cached_csr(edge_index, ('fagcn_symmetrize', num_nodes), build)

    def forward(self, x: Tensor, edge_index: Adj,
                return_attention_weights: Optional[bool] = None
                ) -> Union[Tensor, Tuple[Tensor, List[Tuple[Adj, Tensor]]]]:
        """Class logits ``[N, out_channels]``; with
        :obj:`return_attention_weights`, also one ``(edge_index, alpha)``
        pair per layer (the signed coefficients, before dropout)."""
        check_model_input(x, edge_index, self.in_channels)
        edge_index = self._graph(edge_index, x.size(0))
        x = feature_dropout(x, self.dropout, self.training)
        if is_sparse_features(x):
            x = torch.sparse.mm(x, self.lin1.weight.t()) + self.lin1.bias
        else:
            x = self.lin1(x)
        x = F.relu(x)
        raw = h = F.dropout(x, p=self.dropout, training=self.training)
        attention = []
        for conv in self.convs:
            if return_attention_weights:
                h, att = conv(h, raw, edge_index,
                              return_attention_weights=True)
                attention.append(att)
            else:
                h = conv(h, raw, edge_index)
        out = self.lin2(h)
        if return_attention_weights:
            return out, attention
        return out

    def __repr__(self) -> str:
        conv = self.convs[0]
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, hidden_channels={conv.channels}, '
                f'num_layers={len(self.convs)}, eps={conv.eps})')


@register_model(family='multi-channel', paper='Bo, Wang, Shi, Shen, AAAI 2021',
                url='https://arxiv.org/abs/2101.00797', conv=FAGCNConv)
def fagcn(in_channels: int, out_channels: int, **kwargs) -> FAGCN:
    """FAGCN: signed tanh edge gates (low- and high-pass at once) with an
    epsilon-residual to the first layer's representation."""
    return FAGCN(in_channels, out_channels, **kwargs)
