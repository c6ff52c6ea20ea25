"""Input checks shared by every :mod:`gat_zoo` layer.

A bad graph must fail loudly at the layer boundary with a message naming the
problem, not deep inside a scatter kernel (which may read out of bounds) and
never as a silently wrong result. The checks cost one min/max pass over the
edge index; they are skipped while :func:`torch.compile` traces (so they add
no graph break) and can be switched off with ``GAT_ZOO_VALIDATE=0`` or
:func:`set_validation`.
"""
from __future__ import annotations

import math
import os
from typing import Any, Optional, Tuple

import torch
from torch import Tensor

__all__ = [
    'all_finite',
    'check_adjacency',
    'check_choice',
    'check_edge_attr',
    'check_edge_type',
    'check_finite',
    'check_int',
    'check_node_features',
    'check_node_ids',
    'check_probability',
    'set_validation',
    'validation_enabled',
]

_enabled = os.environ.get('GAT_ZOO_VALIDATE', '1').lower() not in (
    '0', 'false', 'no', 'off')


def set_validation(enabled: bool) -> None:
    """Switch the input checks on or off for the whole process."""
    global _enabled
    _enabled = bool(enabled)


def validation_enabled() -> bool:
    """Whether checks run now (never while :func:`torch.compile` traces)."""
    return _enabled and not torch.compiler.is_compiling()


def check_int(name: str, value: Any, minimum: int) -> int:
    """A constructor argument that must be an integer ``>= minimum`` (not a
    bool); returns it, else raises :class:`ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or \
            value < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum} (got "
                         f"{value!r})")
    return value


def check_choice(name: str, value: Any, choices: Any) -> Any:
    """An argument that must be one of ``choices`` (a sequence or mapping
    of names); returns it, else raises :class:`ValueError` naming it and
    the choices."""
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}; expected one of "
                         f"{tuple(choices)}")
    return value


def check_probability(name: str, value: Any) -> float:
    """A dropout-like argument in ``[0, 1)``; returns it as a float, else
    raises :class:`ValueError` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0.0 <= float(value) < 1.0:
        raise ValueError(f"'{name}' must be a probability in [0, 1) (got "
                         f"{value!r})")
    return float(value)


def _plain(t: Tensor) -> Tensor:
    # EdgeIndex and other tensor subclasses: do the checks on plain tensors
    # so no subclass dispatch (or cache invalidation) happens.
    return t.as_subclass(Tensor) if type(t) is not Tensor else t


def check_node_features(x: Tensor, name: str = 'x',
                        in_channels: Optional[int] = None,
                        num_nodes: Optional[int] = None,
                        finite: bool = True) -> None:
    """Raise :class:`ValueError`/:class:`TypeError` unless ``x`` is a
    floating-point ``[num_nodes, in_channels]`` matrix (without NaN or
    infinity, unless ``finite=False`` leaves that scan to a later check)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor (got "
                        f"{type(x).__name__})")
    if x.dim() != 2:
        raise ValueError(f"'{name}' must be two-dimensional [num_nodes, "
                         f"num_features] (got shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise ValueError(f"'{name}' must be a floating-point tensor (got "
                         f"{x.dtype})")
    if in_channels is not None and in_channels > 0 and x.size(
            1) != in_channels:
        raise ValueError(f"'{name}' has {x.size(1)} features per node but "
                         f"the layer expects {in_channels}")
    if num_nodes is not None and x.size(0) != num_nodes:
        raise ValueError(f"'{name}' has {x.size(0)} rows but the graph has "
                         f"{num_nodes} nodes on that side (from 'size')")
    if finite:
        check_finite(x, name)


def all_finite(x: Tensor) -> bool:
    """Whether ``x`` holds no NaN and no infinity (the test of
    :func:`check_finite`, without raising)."""
    return _non_finite_ends(x) is None


def _non_finite_ends(x: Tensor) -> Optional[list]:
    # (min, max) when one of them is not finite, else None.
    if x.is_sparse:
        x = x._values()  # duplicates are summed later: check them all
    elif x.layout != torch.strided:
        x = x.values()  # compressed sparse layouts
    if x.numel() == 0 or x.is_meta:
        return None
    x = _plain(x)
    if math.isfinite(x.sum(dtype=torch.float64 if x.dtype == torch.float64
                           else torch.float32).item()):
        return None
    low, high = torch.aminmax(x.reshape(-1))
    ends = torch.stack([low, high]).tolist()
    if math.isfinite(ends[0]) and math.isfinite(ends[1]):
        return None  # the sum overflowed; every value is finite
    return ends


def check_finite(x: Tensor, name: str = 'x') -> None:
    """Raise :class:`ValueError` if ``x`` holds a NaN or an infinity.

    A NaN fed to an attention layer would otherwise spread through the
    softmax of every neighbourhood it reaches. The test is one sum over
    ``x`` (a single read, nothing of ``x``'s size allocated; 3 ms for
    ogbn-arxiv's features on one core): any NaN or infinity makes it
    non-finite. Only then is :func:`torch.aminmax` asked, which tells
    them apart from a sum that merely overflowed (finite values near the
    dtype's maximum).
    """
    ends = _non_finite_ends(x)
    if ends is not None:
        kind = 'NaN' if any(map(math.isnan, ends)) else 'infinite'
        raise ValueError(f"'{name}' contains {kind} values; gat_zoo layers "
                         f"need finite inputs (find where they came from, "
                         f"or mask them, before the layer)")


def check_adjacency(edge_index: Tensor, num_src: Optional[int],
                    num_dst: Optional[int],
                    device: Optional[torch.device] = None) -> Tensor:
    """Check a ``[2, E]`` edge index against the node counts of both sides.

    Returns the index as ``int64`` (``int32`` input is widened, because the
    scatter kernels index with 64-bit integers).
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"'edge_index' must be a torch.Tensor, a "
                        f"SparseTensor or an EdgeIndex (got "
                        f"{type(edge_index).__name__})")
    if edge_index.is_floating_point() or edge_index.is_complex() or (
            edge_index.dtype == torch.bool):
        raise ValueError(f"'edge_index' must hold integers (got "
                         f"{edge_index.dtype})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{tuple(edge_index.shape)})")
    if device is not None and edge_index.device != device:
        raise ValueError(f"'edge_index' is on {edge_index.device} but the "
                         f"node features are on {device}")
    if edge_index.dtype != torch.int64:
        edge_index = edge_index.long()
    plain = _plain(edge_index)
    if plain.size(1) > 0:
        low, high = torch.aminmax(plain, dim=1)
        (low_src, low_dst), (high_src, high_dst) = low.tolist(), high.tolist()
        if min(low_src, low_dst) < 0:
            raise ValueError(f"'edge_index' contains negative node indices "
                             f"(smallest: {min(low_src, low_dst)})")
        if num_src is not None and high_src >= num_src:
            raise ValueError(
                f"'edge_index' is out of range: source index {high_src} "
                f"but only {num_src} source nodes (x has {num_src} rows)")
        if num_dst is not None and high_dst >= num_dst:
            raise ValueError(
                f"'edge_index' is out of range: target index {high_dst} "
                f"but only {num_dst} target nodes")
    return edge_index


def check_edge_attr(edge_attr: Optional[Tensor], num_edges: int,
                    edge_dim: Optional[int]) -> None:
    """Check edge features against the edge count and the layer's
    ``edge_dim``."""
    if edge_attr is None:
        return
    if edge_dim is None:
        raise ValueError("'edge_attr' was given but the layer was built "
                         "without 'edge_dim'")
    if edge_attr.dim() not in (1, 2):
        raise ValueError(f"'edge_attr' must have shape [num_edges] or "
                         f"[num_edges, edge_dim] (got "
                         f"{tuple(edge_attr.shape)})")
    if edge_attr.size(0) != num_edges:
        raise ValueError(f"'edge_attr' has {edge_attr.size(0)} rows but "
                         f"'edge_index' has {num_edges} edges")
    width = 1 if edge_attr.dim() == 1 else edge_attr.size(1)
    if width != edge_dim:
        raise ValueError(f"'edge_attr' has {width} features per edge but "
                         f"the layer expects edge_dim={edge_dim}")
    if not edge_attr.is_floating_point():
        raise ValueError(f"'edge_attr' must be a floating-point tensor (got "
                         f"{edge_attr.dtype})")
    check_finite(edge_attr, 'edge_attr')


def check_edge_type(edge_type: Optional[Tensor], num_edges: int,
                    num_relations: int,
                    device: Optional[torch.device] = None) -> Tensor:
    """Relation ids ``[num_edges]`` in ``[0, num_relations)``, returned as
    ``int64``; :obj:`None` means a single relation (all zeros)."""
    if edge_type is None:
        return torch.zeros(num_edges, dtype=torch.long, device=device)
    if not isinstance(edge_type, Tensor):
        raise TypeError(f"'edge_type' must be a torch.Tensor (got "
                        f"{type(edge_type).__name__})")
    edge_type = _plain(edge_type)
    if validation_enabled():
        if (edge_type.is_floating_point() or edge_type.is_complex()
                or edge_type.dtype == torch.bool):
            raise ValueError(f"'edge_type' must hold integers (got "
                             f"{edge_type.dtype})")
        if edge_type.dim() != 1 or edge_type.numel() != num_edges:
            raise ValueError(f"'edge_type' must have shape [num_edges] = "
                             f"[{num_edges}] (got {tuple(edge_type.shape)})")
        if device is not None and edge_type.device != device:
            raise ValueError(f"'edge_type' is on {edge_type.device} but the "
                             f"graph is on {device}")
        if num_edges:
            lo, hi = torch.aminmax(edge_type)
            low, high = int(lo), int(hi)
            if low < 0 or high >= num_relations:
                raise ValueError(
                    f"'edge_type' must lie in [0, num_relations) = "
                    f"[0, {num_relations}) (got range [{low}, {high}])")
    return edge_type.long()


def check_node_ids(x: Tensor, num_nodes: int, name: str = 'x') -> Tensor:
    """Integer node ids ``[N]`` in ``[0, num_nodes)`` (featureless input:
    one learned embedding per id); returns them as ``int64``."""
    if (x.is_floating_point() or x.is_complex() or x.dtype == torch.bool):
        raise ValueError(f"Node ids '{name}' must hold integers (got "
                         f"{x.dtype})")
    if x.dim() != 1:
        raise ValueError(f"Node ids '{name}' must be one-dimensional "
                         f"[num_nodes] (got shape {tuple(x.shape)})")
    if x.numel():
        low, high = (int(v) for v in torch.aminmax(_plain(x)))
        if low < 0 or high >= num_nodes:
            raise ValueError(f"Node ids '{name}' must lie in [0, "
                             f"{num_nodes}) (got range [{low}, {high}])")
    return x.long()


def node_counts(x_src: Tensor, x_dst: Optional[Tensor],
                size: Optional[Tuple[int, int]]) -> Tuple[int, Optional[int]]:
    """Node counts of both sides from the features and ``size``."""
    if size is not None:
        if len(size) != 2:
            raise ValueError(f"'size' must be a pair (num_src, num_dst) (got "
                             f"{size})")
        return int(size[0]), int(size[1])
    if x_dst is not None:
        return x_src.size(0), x_dst.size(0)
    return x_src.size(0), None
