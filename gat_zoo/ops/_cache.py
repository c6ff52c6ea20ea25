"""A small in-process cache for values derived from graph tensors (PPR
matrices, shortest-path sets): keyed by the identity of the objects they were
computed from, dropped when the first of them is garbage-collected, and
invalidated when any of them is edited in place (its version counter moves).
"""
from __future__ import annotations

import functools
import os
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Hashable, Literal, Optional, Sequence, Tuple, Union

__all__ = ['ObjectCache', 'disk_cache_dir', 'tensor_version']


def tensor_version(obj: Any) -> int:
    """The in-place edit counter of a tensor (0 for other objects)."""
    return getattr(obj, '_version', 0)


class ObjectCache:
    """Least-recently-used cache of at most ``size`` values, each computed
    from a tuple of objects (``None`` allowed after the first) and a key.

    Only weak references are kept, so a cached value never keeps its graph
    alive; a hit needs every object to be the very same one, at the same
    version, as when the value was stored.
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._entries: OrderedDict[Tuple[int, Hashable], Tuple[
            Tuple[Any, ...], Tuple[int, ...], Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, objs: Sequence[Any], key: Hashable) -> Optional[Any]:
        slot = (id(objs[0]), key)
        entry = self._entries.get(slot)
        if entry is None:
            return None
        refs, versions, value = entry
        alive = len(refs) == len(objs) and all(
            (ref is None and obj is None)
            or (ref is not None and ref() is obj)
            for ref, obj in zip(refs, objs))
        if alive and versions == tuple(tensor_version(o) for o in objs):
            self._entries.move_to_end(slot)
            return value
        del self._entries[slot]
        return None

    def put(self, objs: Sequence[Any], key: Hashable, value: Any) -> None:
        slot = (id(objs[0]), key)
        try:
            refs = (weakref.ref(objs[0], functools.partial(self._forget,
                                                           slot)),) + tuple(
                None if obj is None else weakref.ref(obj)
                for obj in objs[1:])
        except TypeError:  # not weak-referenceable: do not cache
            return
        versions = tuple(tensor_version(o) for o in objs)
        self._entries[slot] = (refs, versions, value)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def _forget(self, slot: Tuple[int, Hashable], ref: weakref.ref) -> None:
        entry = self._entries.get(slot)
        if entry is not None and entry[0][0] is ref:
            del self._entries[slot]

    def clear(self) -> None:
        self._entries.clear()

    # A cache is not state: a pickled or copied module (``torch.save(model)``,
    # ``copy.deepcopy``) gets an empty one, since weak references cannot be
    # pickled and would point at the original's tensors anyway.
    def __getstate__(self):
        return {'size': self.size}

    def __setstate__(self, state):
        self.__init__(state['size'])

    def __deepcopy__(self, memo):
        return ObjectCache(self.size)


def disk_cache_dir(disk_cache: Union[Literal[True], str, os.PathLike],
                   name: str) -> Path:
    """The folder of an on-disk cache: ``<gat_zoo cache>/<name>`` for
    :obj:`True`, else the given path."""
    if disk_cache is True:
        from gat_zoo.datasets._root import cache_dir
        return cache_dir() / name
    return Path(disk_cache).expanduser()
