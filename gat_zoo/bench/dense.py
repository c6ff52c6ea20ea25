r"""The survey's dense :math:`O(N^2)` GAT: the baseline of the scaling
benchmark (``--speed --speed-sizes``).

The survey writes GAT as masked dense attention,

.. math::
    \mathbf{X}' = \mathrm{softmax}\left(\mathrm{LeakyReLU}\left(
    \mathbf{s}\mathbf{1}^{\top} + \mathbf{1}\mathbf{t}^{\top}\right)
    + \mathbf{M}\right) \mathbf{X}\mathbf{W},

with :math:`\mathbf{M}_{ij} = 0` on edges (and self-loops) and
:math:`-\infty` elsewhere: an :math:`N \times N \times H` tensor of scores
per layer. It computes GAT exactly for graphs without parallel edges, and
shows why nobody runs it beyond a few ten thousand nodes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.inits import glorot, zeros

__all__ = ['DenseMaskedGAT']


class DenseMaskedGAT(torch.nn.Module):
    """GAT as dense masked attention over all node pairs (one layer, heads
    concatenated); takes ``(x, edge_index)`` like the sparse layers."""

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1,
                 negative_slope: float = 0.2):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.heads, self.negative_slope = heads, negative_slope
        self.lin = torch.nn.Linear(in_channels, heads * out_channels,
                                   bias=False)
        self.att_src = Parameter(torch.empty(heads, out_channels))
        self.att_dst = Parameter(torch.empty(heads, out_channels))
        self.bias = Parameter(torch.empty(heads * out_channels))
        self.reset_parameters()

    def reset_parameters(self):
        glorot(self.lin.weight)
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        num_nodes, heads, channels = x.size(0), self.heads, self.out_channels
        h = self.lin(x).view(num_nodes, heads, channels)
        score_src = (h * self.att_src).sum(-1)  # [N, H]
        score_dst = (h * self.att_dst).sum(-1)
        mask = torch.zeros(num_nodes, num_nodes, dtype=torch.bool,
                           device=x.device)
        mask[edge_index[1], edge_index[0]] = True
        mask.fill_diagonal_(True)
        # scores[h, i, j]: target i attends to source j.
        scores = F.leaky_relu(score_dst.t().unsqueeze(2) +
                              score_src.t().unsqueeze(1),
                              self.negative_slope)
        scores = scores.masked_fill(~mask, float('-inf'))
        alpha = torch.softmax(scores, dim=-1)
        out = torch.bmm(alpha, h.transpose(0, 1))  # [H, N, C]
        return out.transpose(0, 1).reshape(num_nodes, -1) + self.bias

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, heads={self.heads})')
