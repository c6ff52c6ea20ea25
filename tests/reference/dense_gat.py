r"""Dense, masked, float64 reference implementations of GAT and GATv2.

This module is a *test oracle*: an ``O(N^2)`` implementation written straight
from the papers' equations, in the style of the original pyGAT code (a dense
adjacency mask, logits ``e`` for **all** ``(i, j)`` pairs, a masked softmax
over ``j`` and then ``alpha @ Wh``).  It uses nothing but dense tensor algebra
from :mod:`torch` -- no ``torch_geometric`` import, no ``MessagePassing``,
no ``softmax``/``scatter`` utilities and no sparse tensors -- so that it is an
independent check of sparse (edge-list) implementations.

Notation and conventions (chosen to match PyG's ``GATConv``/``GATv2Conv`` so
that the oracle can check any drop-in replacement):

* ``edge_index`` is ``[2, E]``; row 0 holds the *source* node :math:`j`, row 1
  the *target* node :math:`i`; an edge :math:`j \to i` lets :math:`i` attend
  to :math:`j`.  Sources index ``x_src`` (``n_src`` rows), targets index
  ``x_dst`` (``n_dst`` rows); for an ordinary graph pass ``x_src = x_dst``.
* The graph is encoded by the dense *multiplicity matrix*
  :math:`C \in \mathbb{N}^{n_{dst} \times n_{src}}`,
  :math:`C_{ij} = |\{e : \mathrm{src}_e = j, \mathrm{dst}_e = i\}|`
  (see :func:`neighbourhood_counts`).  Duplicate edges are handled exactly:
  every copy of :math:`j \to i` carries the same attention weight
  :math:`\alpha_{ij}` and contributes once to the softmax normaliser and to
  the aggregation.
* With ``add_self_loops=True`` all existing self-loops (:math:`j = i`, also
  in the bipartite case, where "self-loop" simply means equal indices) are
  removed and exactly one loop :math:`i \to i` is added for every
  :math:`i < \min(n_{src}, n_{dst})`.
* ``H`` heads with ``C`` channels each; parameters use PyG's shapes
  (``W`` is ``[H*C, F]`` as in ``torch.nn.Linear.weight``, attention vectors
  are ``[1, H, C]``).
* Everything is computed in ``float64``; inputs of other floating dtypes are
  cast (differentiably) so gradients still reach the caller's tensors.
* There is no dropout: the oracle is the deterministic (``eval()``) layer.
"""

from __future__ import annotations

import math
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    'neighbourhood_counts',
    'dense_gat',
    'dense_gatv2',
    'edge_attention',
    'gat_params_from_module',
    'gatv2_params_from_module',
    'random_graph',
]

DTYPE = torch.float64
FillValue = Union[None, float, int, str, Tensor]


# ---------------------------------------------------------------------------
# Small dense building blocks
# ---------------------------------------------------------------------------
def _f64(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.to(DTYPE)


def _check_edge_index(edge_index: Tensor, n_src: int, n_dst: int) -> Tensor:
    edge_index = torch.as_tensor(edge_index)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E] "
                         f"(got {tuple(edge_index.shape)})")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise ValueError("edge_index must be an integer tensor")
    edge_index = edge_index.long()
    if edge_index.numel() > 0:
        if int(edge_index.min()) < 0:
            raise ValueError("edge_index contains negative indices")
        if int(edge_index[0].max()) >= n_src:
            raise ValueError(f"source index out of range (n_src={n_src})")
        if int(edge_index[1].max()) >= n_dst:
            raise ValueError(f"target index out of range (n_dst={n_dst})")
    return edge_index


def _one_hot(index: Tensor, n: int) -> Tensor:
    r"""Dense incidence matrix :math:`O_{e k} = [\mathrm{index}_e = k]`,
    shape ``[E, n]`` (float64)."""
    return (index.view(-1, 1) == torch.arange(n, device=index.device).view(
        1, -1)).to(DTYPE)


def _loop_eye(n_dst: int, n_src: int, device=None) -> Tensor:
    r""":math:`I_{ij} = [i = j]`, ``[n_dst, n_src]``; non-zero exactly for
    :math:`i < \min(n_{src}, n_{dst})`."""
    return torch.eye(n_dst, n_src, dtype=DTYPE, device=device)


def _leaky_relu(z: Tensor, negative_slope: float) -> Tensor:
    r""":math:`\mathrm{LeakyReLU}_s(z) = z` if :math:`z > 0` else
    :math:`s z`."""
    return torch.where(z > 0, z, negative_slope * z)


def _masked_softmax(e: Tensor, counts: Tensor) -> Tensor:
    r"""Softmax over the neighbourhood (dimension 1) with multiplicities.

    .. math::
        \alpha_{ij}^{k} = \frac{\exp(e_{ij}^{k} - m_i^{k})}
                               {\sum_{l} C_{il} \exp(e_{il}^{k} - m_i^{k})}
        \quad (C_{ij} > 0), \qquad \alpha_{ij}^{k} = 0 \quad (C_{ij} = 0),

    with :math:`m_i^{k} = \max_{l : C_{il} > 0} e_{il}^{k}` (the stabilising
    shift cancels mathematically).  Rows without any entry give all-zero
    weights.  ``e`` is ``[n_dst, n_src, H]``, ``counts`` is
    ``[n_dst, n_src]``.
    """
    n_dst, n_src, H = e.shape
    if n_src == 0 or n_dst == 0:
        return e.new_zeros(e.shape)
    mask = (counts > 0).unsqueeze(-1).expand_as(e)
    neg_inf = torch.full_like(e, -math.inf)
    m = torch.where(mask, e, neg_inf).amax(dim=1, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    # Off-mask entries are replaced *before* exp so that no inf/nan can leak
    # into the backward pass.
    z = torch.where(mask, e - m, torch.zeros_like(e))
    p = torch.exp(z) * mask.to(DTYPE)
    Z = (counts.unsqueeze(-1) * p).sum(dim=1, keepdim=True)
    Z = torch.where(Z > 0, Z, torch.ones_like(Z))
    return p / Z


# ---------------------------------------------------------------------------
# Graph encodings
# ---------------------------------------------------------------------------
def neighbourhood_counts(edge_index: Tensor, n_src: int, n_dst: int,
                         add_self_loops: bool = True) -> Tensor:
    r"""Dense multiplicity matrix of a (possibly bipartite) multigraph.

    .. math::
        C_{ij} = \sum_{e} [\mathrm{dst}_e = i]\,[\mathrm{src}_e = j]
               = (O_{dst}^{\top} O_{src})_{ij},

    i.e. the number of edges :math:`j \to i`; shape ``[n_dst, n_src]``,
    float64.  With ``add_self_loops=True`` every existing self-loop is
    dropped and one loop per :math:`i < \min(n_{src}, n_{dst})` is added:

    .. math::
        C_{ij} \leftarrow C_{ij}\,(1 - [i = j]) + [i = j].

    The neighbourhood of target :math:`i` is
    :math:`\mathcal{N}(i) = \{j : C_{ij} > 0\}`.
    """
    edge_index = _check_edge_index(edge_index, n_src, n_dst)
    src, dst = edge_index[0], edge_index[1]
    C = _one_hot(dst, n_dst).t() @ _one_hot(src, n_src)
    if add_self_loops:
        eye = _loop_eye(n_dst, n_src, C.device)
        C = C * (1.0 - eye) + eye
    return C


def edge_attention(alpha_dense: Tensor, edge_index: Tensor) -> Tensor:
    r"""Read per-edge attention weights from a dense attention tensor.

    .. math:: a_e^{k} = \alpha^{k}_{\mathrm{dst}_e,\,\mathrm{src}_e}

    ``alpha_dense`` is ``[n_dst, n_src, H]`` (as returned by
    :func:`dense_gat`/:func:`dense_gatv2`), ``edge_index`` is ``[2, E']``
    (e.g. the edge list *with* self-loops that PyG returns with
    ``return_attention_weights=True``).  Returns ``[E', H]``.  Duplicate
    edges read the same value.
    """
    edge_index = torch.as_tensor(edge_index).long()
    return alpha_dense[edge_index[1], edge_index[0]]


def _loop_attr(C0: Tensor, Ed: Tensor, fill_value: FillValue) -> Tensor:
    r"""Edge features of the added self-loops, ``[n_dst, D]``.

    ``C0`` (``[n_dst, n_src]``, 0/1) marks the incoming edges after the
    original self-loops were dropped and ``Ed`` (``[n_dst, n_src, D]``) holds
    their features (zero elsewhere).  For target :math:`i` with incoming set
    :math:`S_i = \{j : C^0_{ij} = 1\}`:

    * float / int :math:`v`: :math:`\ell_i = v\,\mathbf{1}`;
      ``None``: :math:`\ell_i = \mathbf{1}`; a tensor ``[D]``: that vector,
    * ``'add'``/``'sum'``: :math:`\ell_i = \sum_{j \in S_i} f_{ij}`,
    * ``'mean'``: :math:`\ell_i = \frac{1}{\max(|S_i|, 1)}
      \sum_{j \in S_i} f_{ij}`,
    * ``'max'``/``'min'``: elementwise :math:`\max`/:math:`\min` over
      :math:`S_i` (:math:`\mathbf{0}` if :math:`S_i = \emptyset`),
    * ``'mul'``: elementwise product over :math:`S_i`
      (:math:`\mathbf{1}` if :math:`S_i = \emptyset`).
    """
    n_dst, _, D = Ed.shape
    if fill_value is None:
        return Ed.new_ones(n_dst, D)
    if isinstance(fill_value, bool):
        raise ValueError(f"invalid fill_value {fill_value!r}")
    if isinstance(fill_value, (int, float)):
        return Ed.new_full((n_dst, D), float(fill_value))
    if isinstance(fill_value, Tensor):
        v = fill_value.to(device=Ed.device, dtype=DTYPE).reshape(-1)
        if v.numel() == 1:
            v = v.expand(D)
        if v.numel() != D:
            raise ValueError(f"fill_value tensor must have {D} elements")
        return v.view(1, D).expand(n_dst, D)
    if not isinstance(fill_value, str):
        raise ValueError(f"invalid fill_value {fill_value!r}")

    mask = (C0 > 0).unsqueeze(-1).expand_as(Ed)
    count = C0.sum(dim=1).unsqueeze(-1)  # [n_dst, 1]
    if fill_value in ('add', 'sum'):
        return Ed.sum(dim=1)
    if fill_value == 'mean':
        return Ed.sum(dim=1) / count.clamp(min=1.0)
    if fill_value in ('max', 'min'):
        if Ed.size(1) == 0:
            return Ed.new_zeros(n_dst, D)
        sentinel = -math.inf if fill_value == 'max' else math.inf
        filled = torch.where(mask, Ed, torch.full_like(Ed, sentinel))
        red = filled.amax(dim=1) if fill_value == 'max' else filled.amin(1)
        return torch.where(count > 0, red, torch.zeros_like(red))
    if fill_value == 'mul':
        return torch.where(mask, Ed, torch.ones_like(Ed)).prod(dim=1)
    raise ValueError(f"unsupported fill_value {fill_value!r}")


def _dense_edge_features(edge_index: Tensor, edge_attr: Tensor, n_src: int,
                         n_dst: int, add_self_loops: bool,
                         fill_value: FillValue) -> Tensor:
    r"""Dense edge-feature tensor :math:`F \in \mathbb{R}^{n_{dst} \times
    n_{src} \times D}` with :math:`F_{ij} = f_{j \to i}` on edges and
    :math:`0` elsewhere:

    .. math:: F_{ijd} = \sum_e [\mathrm{dst}_e = i][\mathrm{src}_e = j]\,
              f_{ed}.

    The sum is exact only without duplicate :math:`(i, j)` pairs, so
    duplicates raise :class:`ValueError`.  With ``add_self_loops=True`` the
    original self-loops (and their features) are dropped first and the new
    loops get the features of :func:`_loop_attr`.
    """
    edge_attr = edge_attr.to(DTYPE)
    if edge_attr.dim() == 1:
        edge_attr = edge_attr.view(-1, 1)
    if edge_attr.dim() != 2 or edge_attr.size(0) != edge_index.size(1):
        raise ValueError(f"edge_attr must have shape [E, D] with "
                         f"E={edge_index.size(1)} "
                         f"(got {tuple(edge_attr.shape)})")
    src, dst = edge_index[0], edge_index[1]
    keep = torch.ones(src.numel(), dtype=DTYPE, device=src.device)
    if add_self_loops:
        keep = (src != dst).to(DTYPE)
    O_dst = _one_hot(dst, n_dst) * keep.view(-1, 1)
    O_src = _one_hot(src, n_src)
    C0 = O_dst.t() @ O_src
    if C0.numel() > 0 and float(C0.max()) > 1.0:
        raise ValueError(
            "edge features are only supported for graphs without duplicate "
            "edges (the dense [n_dst, n_src, D] encoding cannot hold two "
            "feature vectors for one (i, j) pair)")
    Ed = torch.einsum('ei,ej,ed->ijd', O_dst, O_src, edge_attr)
    if add_self_loops:
        loops = _loop_attr(C0, Ed, fill_value)  # [n_dst, D]
        eye = _loop_eye(n_dst, n_src, Ed.device)
        Ed = Ed + eye.unsqueeze(-1) * loops.unsqueeze(1)
    return Ed


def _check_shape(name: str, t: Tensor, shape: Tuple[int, ...]) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} "
                         f"(got {tuple(t.shape)})")


def _finish(out: Tensor, x_dst: Tensor, heads: int, out_channels: int,
            concat: bool, W_res: Optional[Tensor],
            bias: Optional[Tensor]) -> Tensor:
    r"""Head combination, residual and bias:

    .. math::
        h_i' = \Big\Vert_{k=1}^{H} o_i^{k} \;\;(\text{concat}) \quad\text{or}
        \quad h_i' = \frac{1}{H}\sum_{k=1}^{H} o_i^{k}, \qquad
        h_i' \leftarrow h_i' + W_{res} x_i + b.
    """
    n_dst = out.size(0)
    if concat:
        out = out.reshape(n_dst, heads * out_channels)
    else:
        out = out.mean(dim=1)
    if W_res is not None:
        W_res = W_res.to(DTYPE)
        _check_shape('W_res', W_res, (out.size(1), x_dst.size(1)))
        out = out + x_dst @ W_res.t()
    if bias is not None:
        bias = bias.to(DTYPE)
        _check_shape('bias', bias, (out.size(1), ))
        out = out + bias
    return out


# ---------------------------------------------------------------------------
# GAT
# ---------------------------------------------------------------------------
def dense_gat(
    x_src: Tensor,
    x_dst: Tensor,
    edge_index: Tensor,
    *,
    W_src: Tensor,
    W_dst: Tensor,
    att_src: Tensor,
    att_dst: Tensor,
    heads: int,
    out_channels: int,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    edge_attr: Optional[Tensor] = None,
    W_edge: Optional[Tensor] = None,
    att_edge: Optional[Tensor] = None,
    fill_value: FillValue = 'mean',
    W_res: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense GAT layer (Velickovic et al., 2018, eqs. 1-6).

    For every head :math:`k` and every pair :math:`(i, j)` (target
    :math:`i`, source :math:`j`) the logit is

    .. math::
        e_{ij}^{k} = \mathrm{LeakyReLU}_{s}\Big(
            \mathbf{a}_{src}^{k\top} W_{src}^{k} x_j
          + \mathbf{a}_{dst}^{k\top} W_{dst}^{k} x_i
          + \mathbf{a}_{edge}^{k\top} W_{edge}^{k} f_{ij}\Big),

    which, for :math:`W_{src} = W_{dst} = W`, is the paper's
    :math:`\mathrm{LeakyReLU}(\mathbf{a}^{\top}[W h_i \,\Vert\, W h_j])`
    with :math:`\mathbf{a} = [\mathbf{a}_{dst} \Vert \mathbf{a}_{src}]`.
    The attention is the masked softmax over the neighbourhood (with edge
    multiplicities :math:`C_{ij}`, see :func:`neighbourhood_counts`)

    .. math::
        \alpha_{ij}^{k} = \frac{\exp(e_{ij}^{k})}
                               {\sum_{l} C_{il}\exp(e_{il}^{k})}
        \;\;(C_{ij} > 0), \qquad \alpha_{ij}^{k} = 0 \;\;\text{otherwise},

    and the output is

    .. math::
        o_i^{k} = \sum_j C_{ij}\,\alpha_{ij}^{k}\, W_{src}^{k} x_j, \qquad
        h_i' = \Big\Vert_{k} o_i^{k} \;\text{ or }\;
               \tfrac{1}{H}\textstyle\sum_k o_i^{k},
        \qquad h_i' \mathrel{+}= W_{res} x_i + b.

    Args:
        x_src: ``[n_src, F_s]`` source features (:math:`x_j`).
        x_dst: ``[n_dst, F_t]`` target features (:math:`x_i`); pass the same
            tensor as ``x_src`` for a non-bipartite graph.
        edge_index: ``[2, E]``; row 0 source :math:`j`, row 1 target
            :math:`i`; duplicates and self-loops allowed.
        W_src, W_dst: ``[H*C, F_s]`` / ``[H*C, F_t]`` (PyG ``lin_src`` /
            ``lin_dst`` weights, or the same ``lin.weight`` twice).
        att_src, att_dst: ``[1, H, C]``.
        heads, out_channels: :math:`H`, :math:`C`.
        concat: concatenate heads (``[n_dst, H*C]``) or average them
            (``[n_dst, C]``).
        negative_slope: :math:`s` of the LeakyReLU.
        add_self_loops: drop existing loops and add one per
            :math:`i < \min(n_{src}, n_{dst})`.
        edge_attr: ``[E, D]`` (or ``[E]``) edge features; used only together
            with ``W_edge`` (``[H*C, D]``) and ``att_edge`` (``[1, H, C]``),
            otherwise ignored, like PyG.  Requires a graph without duplicate
            ``(i, j)`` pairs (after dropping self-loops if
            ``add_self_loops``).
        fill_value: self-loop edge features (see :func:`_loop_attr`).
        W_res: ``[out_dim, F_t]`` residual weight, or ``None``.
        bias: ``[out_dim]`` or ``None``.

    Returns:
        ``(out, alpha)`` with ``out`` of shape ``[n_dst, H*C]`` (concat) or
        ``[n_dst, C]`` and the dense attention ``alpha`` of shape
        ``[n_dst, n_src, H]`` (zero off the graph), both float64.
    """
    H, Cc = int(heads), int(out_channels)
    x_src, x_dst = _f64(x_src), _f64(x_dst)
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    edge_index = _check_edge_index(edge_index, n_src, n_dst)

    W_src, W_dst = _f64(W_src), _f64(W_dst)
    att_src, att_dst = _f64(att_src), _f64(att_dst)
    _check_shape('W_src', W_src, (H * Cc, x_src.size(1)))
    _check_shape('W_dst', W_dst, (H * Cc, x_dst.size(1)))
    _check_shape('att_src', att_src, (1, H, Cc))
    _check_shape('att_dst', att_dst, (1, H, Cc))

    counts = neighbourhood_counts(edge_index, n_src, n_dst, add_self_loops)

    Wh_src = (x_src @ W_src.t()).view(n_src, H, Cc)  # W x_j
    Wh_dst = (x_dst @ W_dst.t()).view(n_dst, H, Cc)  # W x_i
    f_src = (Wh_src * att_src).sum(dim=-1)  # [n_src, H]
    f_dst = (Wh_dst * att_dst).sum(dim=-1)  # [n_dst, H]
    logits = f_dst.unsqueeze(1) + f_src.unsqueeze(0)  # [n_dst, n_src, H]

    if edge_attr is not None and W_edge is not None:
        if att_edge is None:
            raise ValueError("W_edge given without att_edge")
        W_edge, att_edge = _f64(W_edge), _f64(att_edge)
        Ed = _dense_edge_features(edge_index, edge_attr, n_src, n_dst,
                                  add_self_loops, fill_value)
        _check_shape('W_edge', W_edge, (H * Cc, Ed.size(-1)))
        _check_shape('att_edge', att_edge, (1, H, Cc))
        We = (Ed @ W_edge.t()).view(n_dst, n_src, H, Cc)
        logits = logits + (We * att_edge.view(1, 1, H, Cc)).sum(dim=-1)

    e = _leaky_relu(logits, negative_slope)
    alpha = _masked_softmax(e, counts)  # [n_dst, n_src, H]
    out = torch.einsum('ij,ijh,jhc->ihc', counts, alpha, Wh_src)
    out = _finish(out, x_dst, H, Cc, concat, W_res, bias)
    return out, alpha


# ---------------------------------------------------------------------------
# GATv2
# ---------------------------------------------------------------------------
def dense_gatv2(
    x_src: Tensor,
    x_dst: Tensor,
    edge_index: Tensor,
    *,
    W_l: Tensor,
    b_l: Optional[Tensor] = None,
    W_r: Tensor,
    b_r: Optional[Tensor] = None,
    att: Tensor,
    heads: int,
    out_channels: int,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    edge_attr: Optional[Tensor] = None,
    W_edge: Optional[Tensor] = None,
    fill_value: FillValue = 'mean',
    W_res: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Dense GATv2 layer (Brody et al., 2022, eq. 7).

    With :math:`W = [W_l \,\Vert\, W_r]` split into a source ("left") and a
    target ("right") part, the logit of head :math:`k` is

    .. math::
        e_{ij}^{k} = \mathbf{a}^{k\top}\,\mathrm{LeakyReLU}_{s}\big(
            W_l^{k} x_j + b_l^{k} + W_r^{k} x_i + b_r^{k}
            + W_{edge}^{k} f_{ij}\big),

    the attention is the masked softmax with multiplicities

    .. math::
        \alpha_{ij}^{k} = \frac{\exp(e_{ij}^{k})}
                               {\sum_{l} C_{il}\exp(e_{il}^{k})}
        \;\;(C_{ij} > 0), \qquad \alpha_{ij}^{k} = 0 \;\;\text{otherwise},

    and the output is

    .. math::
        o_i^{k} = \sum_j C_{ij}\,\alpha_{ij}^{k}\,(W_l^{k} x_j + b_l^{k}),
        \qquad h_i' = \Big\Vert_{k} o_i^{k} \;\text{ or }\;
        \tfrac{1}{H}\textstyle\sum_k o_i^{k},
        \qquad h_i' \mathrel{+}= W_{res} x_i + b.

    Args:
        x_src, x_dst, edge_index, heads, out_channels, concat,
        negative_slope, add_self_loops, fill_value, W_res, bias: as in
            :func:`dense_gat`.
        W_l, b_l: ``[H*C, F_s]`` / ``[H*C]`` (PyG ``lin_l``), applied to the
            source :math:`x_j`; the message is :math:`W_l x_j + b_l`.
        W_r, b_r: ``[H*C, F_t]`` / ``[H*C]`` (PyG ``lin_r``), applied to the
            target :math:`x_i`.  With ``share_weights`` pass the same tensors
            as ``W_l``/``b_l``.
        att: ``[1, H, C]``.
        edge_attr, W_edge: ``[E, D]`` edge features and ``[H*C, D]``
            projection.  ``edge_attr`` without ``W_edge`` raises (PyG asserts
            the same); duplicate ``(i, j)`` pairs raise.

    Returns:
        ``(out, alpha)`` as in :func:`dense_gat`.
    """
    H, Cc = int(heads), int(out_channels)
    x_src, x_dst = _f64(x_src), _f64(x_dst)
    n_src, n_dst = x_src.size(0), x_dst.size(0)
    edge_index = _check_edge_index(edge_index, n_src, n_dst)

    W_l, W_r, att = _f64(W_l), _f64(W_r), _f64(att)
    _check_shape('W_l', W_l, (H * Cc, x_src.size(1)))
    _check_shape('W_r', W_r, (H * Cc, x_dst.size(1)))
    _check_shape('att', att, (1, H, Cc))

    counts = neighbourhood_counts(edge_index, n_src, n_dst, add_self_loops)

    g_src = x_src @ W_l.t()  # W_l x_j (+ b_l)
    if b_l is not None:
        b_l = _f64(b_l)
        _check_shape('b_l', b_l, (H * Cc, ))
        g_src = g_src + b_l
    g_dst = x_dst @ W_r.t()  # W_r x_i (+ b_r)
    if b_r is not None:
        b_r = _f64(b_r)
        _check_shape('b_r', b_r, (H * Cc, ))
        g_dst = g_dst + b_r
    g_src = g_src.view(n_src, H, Cc)
    g_dst = g_dst.view(n_dst, H, Cc)

    z = g_dst.unsqueeze(1) + g_src.unsqueeze(0)  # [n_dst, n_src, H, C]
    if edge_attr is not None:
        if W_edge is None:
            raise ValueError("edge_attr given but W_edge is None")
        W_edge = _f64(W_edge)
        Ed = _dense_edge_features(edge_index, edge_attr, n_src, n_dst,
                                  add_self_loops, fill_value)
        _check_shape('W_edge', W_edge, (H * Cc, Ed.size(-1)))
        z = z + (Ed @ W_edge.t()).view(n_dst, n_src, H, Cc)

    e = (_leaky_relu(z, negative_slope) * att.view(1, 1, H, Cc)).sum(-1)
    alpha = _masked_softmax(e, counts)  # [n_dst, n_src, H]
    out = torch.einsum('ij,ijh,jhc->ihc', counts, alpha, g_src)
    out = _finish(out, x_dst, H, Cc, concat, W_res, bias)
    return out, alpha


# ---------------------------------------------------------------------------
# Reading parameters from PyG-style modules
# ---------------------------------------------------------------------------
def _weight(lin, name: str, allow_bias: bool = False):
    if lin is None:
        return None, None
    W = getattr(lin, 'weight', None)
    if W is None:
        raise ValueError(f"{name} has no 'weight'")
    if isinstance(W, torch.nn.parameter.UninitializedParameter):
        raise ValueError(f"{name} is lazily initialised; run a forward pass "
                         f"or pass explicit in_channels first")
    b = getattr(lin, 'bias', None)
    if b is not None and not allow_bias:
        raise ValueError(f"{name} has a bias, which this reference layer "
                         f"does not model")
    return W, b


def _warn_dropout(module) -> None:
    if getattr(module, 'training', False) and \
            float(getattr(module, 'dropout', 0.0) or 0.0) > 0.0:
        warnings.warn(
            "module is in training mode with dropout > 0; the reference "
            "layer has no dropout -- call module.eval() before comparing",
            stacklevel=3)


def _common(module) -> Dict[str, object]:
    res = getattr(module, 'res', None)
    W_res = None
    if res is not None:
        if isinstance(res, torch.nn.Identity):
            raise ValueError("identity residual is not modelled; use a "
                             "Linear 'res'")
        W_res, _ = _weight(res, 'res')
    return dict(
        heads=int(module.heads),
        out_channels=int(module.out_channels),
        concat=bool(module.concat),
        negative_slope=float(module.negative_slope),
        add_self_loops=bool(module.add_self_loops),
        fill_value=getattr(module, 'fill_value', 'mean'),
        W_res=W_res,
        bias=getattr(module, 'bias', None),
    )


def gat_params_from_module(module) -> Dict[str, object]:
    r"""Keyword arguments for :func:`dense_gat` read from a module that uses
    PyG ``GATConv``'s attribute names (``lin`` or ``lin_src``/``lin_dst``,
    ``att_src``, ``att_dst``, ``lin_edge``, ``att_edge``, ``res``, ``bias``,
    ``heads``, ``out_channels``, ``concat``, ``negative_slope``,
    ``add_self_loops``, ``fill_value``).

    The returned tensors are the module's own parameters (not copies), so
    gradients of the oracle's output flow into them.  Usage::

        out, alpha = dense_gat(x_src, x_dst, edge_index, edge_attr=ea,
                               **gat_params_from_module(conv))
    """
    _warn_dropout(module)
    lin = getattr(module, 'lin', None)
    if lin is not None:
        W_src, _ = _weight(lin, 'lin')
        W_dst = W_src
    else:
        W_src, _ = _weight(getattr(module, 'lin_src', None), 'lin_src')
        W_dst, _ = _weight(getattr(module, 'lin_dst', None), 'lin_dst')
        if W_src is None or W_dst is None:
            raise ValueError("module has neither 'lin' nor "
                             "'lin_src'/'lin_dst'")
    W_edge, _ = _weight(getattr(module, 'lin_edge', None), 'lin_edge')
    kw = _common(module)
    kw.update(W_src=W_src, W_dst=W_dst, att_src=module.att_src,
              att_dst=module.att_dst, W_edge=W_edge,
              att_edge=getattr(module, 'att_edge', None))
    return kw


def gatv2_params_from_module(module) -> Dict[str, object]:
    r"""Keyword arguments for :func:`dense_gatv2` read from a module that
    uses PyG ``GATv2Conv``'s attribute names (``lin_l``, ``lin_r``, ``att``,
    ``lin_edge``, ``res``, ``bias``, ``share_weights``, ``heads``,
    ``out_channels``, ``concat``, ``negative_slope``, ``add_self_loops``,
    ``fill_value``).  ``lin_l``/``lin_r`` may carry biases (``b_l``,
    ``b_r``).  With ``share_weights=True`` ``lin_r`` is taken to be
    ``lin_l``.
    """
    _warn_dropout(module)
    W_l, b_l = _weight(module.lin_l, 'lin_l', allow_bias=True)
    if getattr(module, 'share_weights', False):
        W_r, b_r = W_l, b_l
    else:
        W_r, b_r = _weight(module.lin_r, 'lin_r', allow_bias=True)
    W_edge, _ = _weight(getattr(module, 'lin_edge', None), 'lin_edge')
    kw = _common(module)
    kw.update(W_l=W_l, b_l=b_l, W_r=W_r, b_r=b_r, att=module.att,
              W_edge=W_edge)
    return kw


# ---------------------------------------------------------------------------
# Random test graphs
# ---------------------------------------------------------------------------
def random_graph(
    n_src: int,
    n_dst: int,
    num_edges: int,
    *,
    seed: int,
    isolated: Optional[Sequence[int]] = None,
    self_loops: bool = True,
    duplicates: bool = True,
) -> Tensor:
    r"""A random (bipartite) multigraph as ``edge_index`` ``[2, num_edges]``.

    * ``isolated``: target nodes that receive no edge at all.  Default
      ``None`` means ``{n_dst // 2, n_dst - 1}`` (for ``n_dst >= 3``).
    * ``self_loops=True`` guarantees (budget permitting) two edges
      :math:`i \to i` on non-isolated nodes (also for ``n_src != n_dst``:
      PyG treats ``src == dst`` as a self-loop even in bipartite graphs);
      ``False`` forbids them.
    * ``duplicates=True`` guarantees (budget permitting) one non-loop edge
      present twice and, with ``self_loops``, a doubled self-loop;
      ``duplicates=False`` makes all ``(src, dst)`` pairs unique.

    Edge order is shuffled.  Deterministic for a given ``seed``.
    """
    g = torch.Generator().manual_seed(int(seed))

    def randint(n: int) -> int:
        return int(torch.randint(n, (1, ), generator=g))

    if isolated is None:
        isolated = sorted({n_dst // 2, n_dst - 1}) if n_dst >= 3 else ()
    iso = set(int(i) for i in isolated)
    targets = [i for i in range(n_dst) if i not in iso]
    allowed = [(j, i) for i in targets for j in range(n_src)
               if self_loops or j != i]
    if num_edges > 0 and not allowed:
        raise ValueError("no admissible edges")
    loops = [p for p in allowed if p[0] == p[1]]
    non_loops = [p for p in allowed if p[0] != p[1]]

    chosen = []
    if self_loops and loops:
        perm = torch.randperm(len(loops), generator=g).tolist()
        chosen += [loops[k] for k in perm[:min(2, num_edges)]]
    if duplicates:
        if non_loops and num_edges - len(chosen) >= 2:
            p = non_loops[randint(len(non_loops))]
            chosen += [p, p]
        if chosen and chosen[0][0] == chosen[0][1] and \
                num_edges - len(chosen) >= 1:
            chosen.append(chosen[0])
    rest = num_edges - len(chosen)
    if duplicates:
        chosen += [allowed[randint(len(allowed))] for _ in range(rest)]
    else:
        taken = set(chosen)
        pool = [p for p in allowed if p not in taken]
        if rest > len(pool):
            raise ValueError(f"cannot draw {num_edges} unique edges")
        perm = torch.randperm(len(pool), generator=g).tolist()
        chosen += [pool[k] for k in perm[:rest]]

    if not chosen:
        return torch.empty(2, 0, dtype=torch.long)
    ei = torch.tensor(chosen, dtype=torch.long).t().contiguous()
    perm = torch.randperm(ei.size(1), generator=g)
    return ei[:, perm]
