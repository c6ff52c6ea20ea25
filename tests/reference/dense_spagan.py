r"""Dense float64 oracles for SPAGAN: the layer from the paper's equations
given fixed paths, and brute-force shortest paths.

Independent of the sparse implementation: no ``torch_geometric``, no
``gat_zoo``, no scatter/segment kernels, no sparse tensors; the layer is
dense one-hot algebra, the shortest paths are exhaustive enumeration of
simple paths in plain Python.

Conventions (those of :mod:`gat_zoo.ops.paths` and
:class:`gat_zoo.nn.conv.spagan_conv.SPAGANConv`):

* ``edge_index[:, e] = (j, i)``: node :math:`i` receives from :math:`j`; a
  path of center :math:`i` steps :math:`i \to j` at the cost of that edge.
* A path is a row ``(v_0 = center, v_1, ..., v_c)``; ``paths[c - 1]`` holds
  the paths of :math:`c` hops.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'brute_force_shortest_paths',
    'dense_spagan',
    'spagan_params_from_module',
]

DTYPE = torch.float64


# ---------------------------------------------------------------------------
# Shortest paths by enumeration.
# ---------------------------------------------------------------------------
def brute_force_shortest_paths(
    edge_index: Tensor,
    cost: Optional[Sequence[float]],
    num_nodes: int,
    max_hops: int,
    degree_ratio: Optional[float] = 0.5,
    path_ratio: Optional[float] = 1.0,
) -> Tuple[List[List[Tuple[int, ...]]], List[List[float]]]:
    r"""Every simple path from every center, the documented rule applied
    literally.

    For center :math:`s` and node :math:`v \neq s`: among all simple paths
    :math:`s \to v` (steps :math:`u \to w` for edges :math:`w \to u`,
    self-loops never, duplicates at their smallest cost), the minimum cost
    (summed from :math:`s` outwards in float64), then the fewest hops, then
    the lexicographically smallest node sequence read backwards from
    :math:`v`. Kept when it has at most ``max_hops`` hops; for
    :math:`c \geq 2` the :math:`\min(\lfloor r_{deg} d_s \rfloor,
    \lfloor r_{path} n_s^{(c)} \rfloor)` cheapest per center (ties: smaller
    end node), :math:`d_s` the number of distinct :math:`j \neq s` with an
    edge :math:`j \to s`.

    Returns ``(paths, costs)``: per length, the paths as tuples sorted by
    (center, end node), and their costs.
    """
    n = int(num_nodes)
    ei = edge_index.tolist()
    w = [1.0] * len(ei[0]) if cost is None else [float(c) for c in cost]
    step: Dict[Tuple[int, int], float] = {}
    for (j, i), c in zip(zip(ei[0], ei[1]), w):
        if i == j:
            continue
        step[(i, j)] = min(step.get((i, j), math.inf), c)
    out_edges: Dict[int, List[int]] = {u: [] for u in range(n)}
    for (u, v) in step:
        out_edges[u].append(v)

    best: Dict[Tuple[int, int], Tuple[float, int, tuple, tuple]] = {}

    def visit(path: List[int], total: float) -> None:
        u = path[-1]
        for v in out_edges[u]:
            if v in path:
                continue
            t = total + step[(u, v)]
            p = path + [v]
            rank = (t, len(p) - 1, tuple(reversed(p)))
            key = (p[0], v)
            if key not in best or rank < best[key][:3]:
                best[key] = rank + (tuple(p), )
            visit(p, t)

    for s in range(n):
        visit([s], 0.0)

    degree = [len({j for (i, j) in step if i == s}) for s in range(n)]
    paths: List[List[Tuple[int, ...]]] = []
    costs: List[List[float]] = []
    for c in range(1, max_hops + 1):
        level = []
        for s in range(n):
            mine = sorted(((cost_, p[-1], p) for (a, _), (cost_, hops, _, p)
                           in best.items() if a == s and hops == c))
            k = len(mine)
            if c >= 2:
                if degree_ratio is not None:
                    k = min(k, int(math.floor(degree_ratio * degree[s]
                                              + 1e-9)))
                if path_ratio is not None:
                    k = min(k, int(math.floor(path_ratio * len(mine)
                                              + 1e-9)))
            level += [(s, end, cst, p) for cst, end, p in mine[:k]]
        level.sort(key=lambda r: (r[0], r[1]))
        paths.append([r[3] for r in level])
        costs.append([r[2] for r in level])
    return paths, costs


# ---------------------------------------------------------------------------
# The layer.
# ---------------------------------------------------------------------------
def _leaky_relu(z: Tensor, slope: float) -> Tensor:
    return torch.where(z > 0, z, slope * z)


def _one_hot(index: Tensor, n: int) -> Tensor:
    return (index.view(-1, 1) == torch.arange(n).view(1, -1)).to(DTYPE)


def _masked_softmax_rows(e: Tensor, member: Tensor) -> Tensor:
    r"""Softmax of ``e`` ``[P, H]`` within groups given by the 0/1 matrix
    ``member`` ``[N, P]`` (row :math:`i` marks group :math:`i`; each column
    in at most one group). Returns ``[P, H]``:

    .. math:: \alpha_p = \exp(e_p - m_{g(p)}) / \sum_{q \in g(p)}
              \exp(e_q - m_{g(p)}).
    """
    N, P = member.shape
    if P == 0:
        return e.clone()
    big = torch.where(member.unsqueeze(-1) > 0, e.unsqueeze(0),
                      torch.full((N, P, e.size(1)), -math.inf, dtype=DTYPE))
    m = big.amax(dim=1).detach()  # [N, H]
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    shift = member.t() @ m  # [P, H], the group max of each column
    z = torch.exp(e - shift)
    denom = member.t() @ (member @ z)  # [P, H]
    return z / denom


def dense_spagan(
    x: Tensor,
    paths: Sequence[Tensor],
    *,
    W: Tensor,
    att_path: Tensor,
    att_center: Tensor,
    att_len: Tensor,
    att_len_center: Tensor,
    heads: int,
    out_channels: int,
    concat: bool = True,
    pooling: str = 'mean',
    negative_slope: float = 0.2,
    add_self_paths: bool = True,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, List[Tensor], Tensor]:
    r"""One SPAGAN layer, dense, from the equations.

    For every length :math:`c` with paths :math:`\mathcal{P}^c` (one-hot
    position matrices :math:`G_t \in \{0,1\}^{P_c \times N}`, owner matrix
    :math:`O = G_0`):

    .. math::
        Z = X W^{\top}, \quad
        \Phi = \tfrac1c \textstyle\sum_{t=1}^c G_t Z \;\text{ or }\;
        \max_{t} G_t Z, \quad
        e = \mathrm{LeakyReLU}(\Phi \mathbf{a}_c + O Z \mathbf{a}'_c),

    :math:`\alpha` = softmax of :math:`e` within each owner's rows,
    :math:`H^{(c)} = O^{\top}(\alpha \odot \Phi)`, then
    :math:`\beta_{i,c}` = softmax over the lengths :math:`c` with
    :math:`(O^{\top}\mathbf{1})_i > 0` of :math:`\mathrm{LeakyReLU}(
    \mathbf{b}^{\top} H^{(c)}_i + \mathbf{b}'^{\top} Z_i)`, output
    :math:`\sum_c \beta_{i,c} H^{(c)}_i`, heads concatenated or averaged,
    plus the bias. With ``add_self_paths`` each node's :math:`(i, \dots,
    i)` is appended to every length. No dropout.

    Returns ``(out, [alpha_c], beta)`` with ``alpha_c`` ``[P_c, H]`` (self
    paths last) and ``beta`` ``[N, C, H]``.
    """
    Hh, C = int(heads), int(out_channels)
    x = x.to(DTYPE)
    N = x.size(0)
    Z = (x @ W.to(DTYPE).t()).view(N, Hh, C)
    a_p, a_c = att_path.to(DTYPE), att_center.to(DTYPE)
    b, b_c = att_len.to(DTYPE).view(Hh, C), att_len_center.to(DTYPE).view(
        Hh, C)
    outs, masks, alphas = [], [], []
    for c, p in enumerate(paths, start=1):
        p = torch.as_tensor(p, dtype=torch.long).view(-1, c + 1)
        if add_self_paths:
            p = torch.cat([p, torch.arange(N).view(-1, 1).repeat(1, c + 1)])
        G = [_one_hot(p[:, t], N) for t in range(c + 1)]
        members = torch.stack([torch.einsum('pn,nhc->phc', G[t], Z)
                               for t in range(1, c + 1)])  # [c, P, H, C]
        if pooling == 'mean':
            phi = members.sum(0) / c
        else:
            phi = members.amax(0)
        owner = G[0]
        e = (phi * a_p[c - 1]).sum(-1) + torch.einsum(
            'pn,nh->ph', owner, (Z * a_c[c - 1]).sum(-1))
        e = _leaky_relu(e, negative_slope)
        alpha = _masked_softmax_rows(e, owner.t())
        outs.append(torch.einsum('pn,ph,phc->nhc', owner, alpha, phi))
        masks.append(owner.sum(0) > 0)
        alphas.append(alpha)
    Hc = torch.stack(outs, dim=1)  # [N, L, H, C]
    mask = torch.stack(masks, dim=1)  # [N, L]
    f = _leaky_relu((Hc * b).sum(-1) + (Z * b_c).sum(-1).unsqueeze(1),
                    negative_slope)  # [N, L, H]
    fm = torch.where(mask.unsqueeze(-1), f, torch.full_like(f, -math.inf))
    m = fm.amax(dim=1, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    z = torch.where(mask.unsqueeze(-1), torch.exp(f - m),
                    torch.zeros_like(f))
    denom = z.sum(dim=1, keepdim=True)
    beta = z / torch.where(denom > 0, denom, torch.ones_like(denom))
    out = (beta.unsqueeze(-1) * Hc).sum(1)
    out = out.reshape(N, Hh * C) if concat else out.mean(1)
    if bias is not None:
        out = out + bias.to(DTYPE)
    return out, alphas, beta


def spagan_params_from_module(module) -> Dict[str, object]:
    """Keyword arguments of :func:`dense_spagan` from a
    ``SPAGANConv``-like module (its own parameters, so gradients reach
    them)."""
    return dict(W=module.lin.weight, att_path=module.att_path,
                att_center=module.att_center, att_len=module.att_len,
                att_len_center=module.att_len_center,
                heads=module.heads, out_channels=module.out_channels,
                concat=module.concat, pooling=module.pooling,
                negative_slope=module.negative_slope,
                add_self_paths=module.add_self_paths, bias=module.bias)
