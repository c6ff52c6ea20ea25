"""Dense float64 oracle of GAMLP (Zhang et al., KDD 2022), written from the
paper's equations: the propagation matrix and its powers as dense matrices,
the three receptive-field attentions with their references built
explicitly (no shortcut), the stationary state as a high matrix power."""
from __future__ import annotations

from typing import Callable, List, Optional

import torch
from torch import Tensor


def dense_adjacency(edge_index: Tensor, num_nodes: int,
                    add_self_loops: bool = True) -> Tensor:
    """:math:`\\tilde{A}_{ij}` = number of edges ``j -> i`` (loops in the
    input replaced by one unit loop per node with ``add_self_loops``)."""
    A = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    for j, i in edge_index.t().tolist():
        if add_self_loops and i == j:
            continue
        A[i, j] += 1.0
    if add_self_loops:
        A += torch.eye(num_nodes, dtype=torch.float64)
    return A


def dense_operator(edge_index: Tensor, num_nodes: int, r: float,
                   add_self_loops: bool = True) -> Tensor:
    """:math:`\\hat{T} = \\tilde{D}^{r-1}\\tilde{A}\\tilde{D}^{-r}` (rows
    and columns of degree-0 nodes are zero)."""
    A = dense_adjacency(edge_index, num_nodes, add_self_loops)
    d = A.sum(dim=1)
    left = torch.where(d > 0, d.clamp_min(1e-300) ** (r - 1.0),
                       torch.zeros_like(d))
    # A degree-0 source (no loops, nothing points to it): D^{-r} has 0
    # there for r > 0 by convention, and is exactly 1 for r = 0.
    right = torch.where(d > 0, d.clamp_min(1e-300) ** (-r),
                        torch.full_like(d, 1.0 if r == 0 else 0.0))
    return torch.diag(left) @ A @ torch.diag(right)


def dense_hops(x: Tensor, T: Tensor, num_hops: int) -> List[Tensor]:
    """:math:`[\\hat{T}^l X]_{l=0..K}` with explicit matrix powers."""
    return [torch.linalg.matrix_power(T, k) @ x for k in range(num_hops + 1)]


def dense_stationary(x: Tensor, T: Tensor, power: int = 4096) -> Tensor:
    """:math:`\\hat{T}^{\\infty} X` approximated by a high power."""
    return torch.linalg.matrix_power(T, power) @ x


def _softmax_rows(scores: List[Tensor]) -> Tensor:
    s = torch.stack(scores, dim=1)
    s = s - s.max(dim=1, keepdim=True).values
    e = torch.exp(s)
    return e / e.sum(dim=1, keepdim=True)


def dense_hop_attention(hops: List[Tensor], s_self: Tensor, s_ref: Tensor,
                        bias: Tensor, act: Callable[[Tensor], Tensor],
                        attention: str,
                        jk_reference: Optional[Tensor] = None,
                        stationary: Optional[Tensor] = None):
    """``(H, w)`` of Eqs. 3 and 5-7 for every node, with
    :math:`\\tilde{w}_i(l) = \\delta([X^{(l)}_i \\Vert R^{(l)}_i] \\cdot
    [s_{self}; s_{ref}] + b)`."""
    N = hops[0].size(0)
    scores: List[Tensor] = []
    for hop, h in enumerate(hops):
        if attention == 'recursive':
            if hop == 0:
                ref = hops[0]
            else:
                w_prev = _softmax_rows(scores)
                ref = torch.zeros_like(h)
                for i in range(N):
                    for k in range(hop):
                        ref[i] = ref[i] + w_prev[i, k] * hops[k][i]
        elif attention == 'jk':
            ref = jk_reference
        else:
            ref = stationary
        feat = torch.cat([h, ref], dim=1)
        scores.append(act(feat @ torch.cat([s_self, s_ref]) + bias))
    w = _softmax_rows(scores)
    H = torch.zeros_like(hops[0])
    for hop, h in enumerate(hops):
        H = H + w[:, hop:hop + 1] * h
    return H, w
