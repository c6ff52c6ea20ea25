"""Choice of the segment-kernel backend behind :mod:`gat_zoo.ops`.

Three backends compute the same segment reductions:

* ``'scatter'``: :mod:`torch_scatter` kernels on an unsorted index (used
  automatically when the package is installed),
* ``'torch'``: PyTorch's native ``index_add_`` / ``scatter_reduce_``, always
  available,
* ``'csr'``: a sorted-CSR segment path (``torch_scatter.segment_csr`` when
  installed, else :func:`torch.segment_reduce`); chosen automatically when
  the caller supplies a CSR pointer ``ptr``, e.g. for
  :class:`torch_sparse.SparseTensor` or column-sorted ``EdgeIndex`` input.

The automatic choice can be overridden globally with the environment
variable ``GAT_ZOO_BACKEND`` (read at import), :func:`set_backend`, or
locally with the :func:`use_backend` context manager.
"""
from __future__ import annotations

import os
from typing import ContextManager, Optional

import torch

from gat_zoo.ops._setting import ProcessSetting

__all__ = [
    'BACKENDS',
    'WITH_TORCH_SCATTER',
    'WITH_TORCH_SPARSE',
    'available_backends',
    'get_backend',
    'resolve_backend',
    'set_backend',
    'use_backend',
]

BACKENDS = ('scatter', 'torch', 'csr')

try:  # pragma: no cover - depends on the environment
    import torch_scatter  # noqa: F401
    WITH_TORCH_SCATTER = True
except Exception:  # ImportError, or a binary built against another torch
    WITH_TORCH_SCATTER = False

try:  # pragma: no cover - depends on the environment
    import torch_sparse  # noqa: F401
    WITH_TORCH_SPARSE = True
except Exception:
    WITH_TORCH_SPARSE = False


def _check_name(name: Optional[str], origin: str) -> Optional[str]:
    if name is None or name == '' or name == 'auto':
        return None
    if name not in BACKENDS:
        raise ValueError(f"Unknown gat_zoo kernel backend {name!r} (from "
                         f"{origin}); expected one of {BACKENDS} or 'auto'")
    if name == 'scatter' and not WITH_TORCH_SCATTER:
        raise ValueError("Kernel backend 'scatter' was requested (from "
                         f"{origin}) but 'torch_scatter' is not importable; "
                         "install it or choose 'torch' or 'csr'")
    return name


_forced: ProcessSetting[Optional[str]] = ProcessSetting(
    _check_name, os.environ.get('GAT_ZOO_BACKEND'),
    'the GAT_ZOO_BACKEND environment variable')


def available_backends() -> tuple:
    """The backends usable in this environment."""
    return tuple(b for b in BACKENDS if b != 'scatter' or WITH_TORCH_SCATTER)


def get_backend() -> Optional[str]:
    """The forced backend, or :obj:`None` when chosen automatically."""
    return _forced.value


def set_backend(name: Optional[str]) -> None:
    """Force a backend for the whole process (:obj:`None`/``'auto'`` resets
    to the automatic choice)."""
    _forced.set(name, 'set_backend()')


def use_backend(name: Optional[str]) -> ContextManager[None]:
    """Context manager that forces a backend inside its block.

    .. code-block:: python

        with gat_zoo.ops.use_backend('csr'):
            out = conv(x, edge_index)
    """
    return _forced.scoped(name, 'use_backend()')


def resolve_backend(has_ptr: bool,
                    device: Optional[torch.device] = None) -> str:
    """The backend one call runs on.

    A forced backend always wins. Otherwise a caller that already holds a CSR
    pointer gets the segment path (no atomics, no index expansion), and the
    rest go to torch_scatter when it is installed, else to native torch.
    While :func:`torch.compile` traces, native torch (the only traceable
    one). On a GPU with :func:`torch.use_deterministic_algorithms` on, the
    segment path too: the scatter kernels add with atomics, in an order that
    changes from run to run, while a sorted segment is reduced in a fixed
    order.
    """
    if _forced.value is not None:
        return _forced.value
    if torch.compiler.is_compiling():
        # torch_scatter's kernels are not traceable (no fake-tensor
        # implementations); torch's own scatter and index ops are.
        return 'torch'
    if has_ptr:
        return 'csr'
    if (device is not None and torch.device(device).type != 'cpu'
            and torch.are_deterministic_algorithms_enabled()):
        return 'csr'
    return 'scatter' if WITH_TORCH_SCATTER else 'torch'
