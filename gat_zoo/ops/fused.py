r"""When the attention layers take the fused path.

The fused path (target-major CSR, :func:`~gat_zoo.ops.head_spmm`,
:func:`~gat_zoo.ops.gatv2_logits`) computes the same function as the
message-passing path with a fraction of its memory. The message-passing
path stays as the reference it is tested against and as the fallback for
what the fused path does not cover (see each layer's docstring).

Modes, set by ``GAT_ZOO_FUSED`` (read at import), :func:`set_fused` or
:func:`use_fused`:

* ``'auto'`` (default): fused on CPU tensors; CUDA tensors take the
  reference path until the fused one has been benchmarked on a GPU
  (``benchmarks/README.md`` says where each figure was measured),
* ``'on'``: fused on every device where the layer supports it,
* ``'triton'``: as ``'on'``, and where Triton can run (CUDA tensors, or
  CPU tensors under ``TRITON_INTERPRET=1``) :class:`~gat_zoo.nn.GATConv`
  and :class:`~gat_zoo.nn.GATv2Conv` compute their softmax and aggregation
  in one Triton kernel (:func:`~gat_zoo.ops.triton_attention`,
  :func:`~gat_zoo.ops.triton_gatv2_attention`); opt-in until measured
  against the composed path on a GPU,
* ``'off'``: always the message-passing path.

Nothing is fused while :func:`torch.compile` traces: the message-passing
path compiles without graph breaks, the sparse-tensor products do not.
"""
from __future__ import annotations

import os
from typing import ContextManager, Optional

import torch

from gat_zoo.ops._setting import ProcessSetting

__all__ = ['FUSED_MODES', 'fused_allowed', 'get_fused', 'set_fused',
           'triton_selected', 'use_fused']

FUSED_MODES = ('auto', 'on', 'triton', 'off')
_ALIASES = {'1': 'on', 'true': 'on', 'yes': 'on', '0': 'off',
            'false': 'off', 'no': 'off', '': 'auto'}


def _check_mode(mode: Optional[str], origin: str) -> str:
    if mode is None:
        return 'auto'
    if isinstance(mode, bool):
        return 'on' if mode else 'off'
    name = _ALIASES.get(str(mode).lower(), str(mode).lower())
    if name not in FUSED_MODES:
        raise ValueError(f"Unknown fused-attention mode {mode!r} (from "
                         f"{origin}); expected one of {FUSED_MODES}")
    return name


_mode: ProcessSetting[str] = ProcessSetting(
    _check_mode, os.environ.get('GAT_ZOO_FUSED'),
    'the GAT_ZOO_FUSED environment variable')


def get_fused() -> str:
    """The current mode: ``'auto'``, ``'on'`` or ``'off'``."""
    return _mode.value


def set_fused(mode) -> None:
    """Set the mode for the whole process (``True``/``False`` are accepted
    for ``'on'``/``'off'``, :obj:`None` for ``'auto'``)."""
    _mode.set(mode, 'set_fused()')


def use_fused(mode) -> ContextManager[None]:
    """Context manager setting the mode inside its block.

    .. code-block:: python

        with gat_zoo.ops.use_fused('off'):  # the message-passing reference
            out = conv(x, edge_index)
    """
    return _mode.scoped(mode, 'use_fused()')


def fused_allowed(device: torch.device) -> bool:
    """Whether the mode lets a layer fuse on ``device`` right now."""
    if _mode.value == 'off' or torch.compiler.is_compiling():
        return False
    if _mode.value in ('on', 'triton'):
        return True
    return torch.device(device).type == 'cpu'


def triton_selected(device: torch.device) -> bool:
    """Whether the mode asks for the Triton kernel and it can run on
    ``device`` (see :func:`~gat_zoo.ops.triton_attention_available`)."""
    if _mode.value != 'triton' or torch.compiler.is_compiling():
        return False
    from gat_zoo.ops.triton_attention import triton_attention_available
    return triton_attention_available(device)
