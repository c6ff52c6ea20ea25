"""Peak-memory measurement shared by the training sweep and ``--speed``.

* CUDA: :func:`torch.cuda.max_memory_allocated` after
  :func:`torch.cuda.reset_peak_memory_stats` (kind ``'cuda_max_allocated'``:
  tensors only, not the caching allocator's reserve).
* CPU on Linux: the process's peak resident set ``VmHWM``, reset before the
  measurement by writing ``5`` to ``/proc/self/clear_refs`` (kind
  ``'rss_peak'``: the whole process's peak RSS during the measurement,
  including the dataset and the Python interpreter).
* Elsewhere: :func:`resource.getrusage` ``ru_maxrss`` (kind
  ``'ru_maxrss'``: the process's lifetime peak, which cannot be reset, so it
  only grows over a sweep).
"""
from __future__ import annotations

import re
import sys
from typing import Optional, Tuple

import torch

__all__ = ['MEM_KINDS', 'peak_memory_mb', 'reset_peak_memory']

#: What each ``mem_kind`` value means (for footnotes).
MEM_KINDS = {
    'cuda_max_allocated': 'CUDA max_memory_allocated (tensors on the GPU)',
    'rss_peak': 'peak resident set size of the whole process on CPU '
    '(VmHWM reset before each run)',
    'ru_maxrss': 'lifetime peak resident set size of the process on CPU '
    '(getrusage ru_maxrss; cannot be reset, grows over the sweep)',
}


def _read_hwm_kb() -> Optional[int]:
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            match = re.search(r'^VmHWM:\s+(\d+)\s+kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_hwm() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w', encoding='ascii') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _ru_maxrss_mb() -> float:
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return rss / 2**20 if sys.platform == 'darwin' else rss / 1024


def reset_peak_memory(device: torch.device) -> str:
    """Starts a peak-memory measurement on ``device``; returns its kind
    (a key of :data:`MEM_KINDS`)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return 'cuda_max_allocated'
    if _read_hwm_kb() is not None and _reset_hwm():
        return 'rss_peak'
    return 'ru_maxrss'


def peak_memory_mb(device: torch.device,
                   kind: Optional[str] = None) -> Tuple[float, str]:
    """``(megabytes, kind)``: the peak since :func:`reset_peak_memory`."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / 2**20, \
            'cuda_max_allocated'
    if kind != 'ru_maxrss':
        hwm = _read_hwm_kb()
        if hwm is not None:
            return hwm / 1024, 'rss_peak'
    return _ru_maxrss_mb(), 'ru_maxrss'


def current_memory_mb(device: torch.device) -> float:
    """Memory in use now (allocated tensors on CUDA, RSS on CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            match = re.search(r'^VmRSS:\s+(\d+)\s+kB', f.read(), re.M)
        if match:
            return int(match.group(1)) / 1024
    except OSError:
        pass
    return _ru_maxrss_mb()
