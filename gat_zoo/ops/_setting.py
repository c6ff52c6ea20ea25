"""A process-wide setting with validation and a scoped override, shared by
the kernel-backend and fused-path switches."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar('T')


class ProcessSetting(Generic[T]):
    """``value``, changed only through ``check(raw, origin)``, which
    validates and normalises (``origin`` names the caller in errors)."""

    def __init__(self, check: Callable[[Any, str], T], raw: Any,
                 origin: str):
        self._check = check
        self.value: T = check(raw, origin)

    def set(self, raw: Any, origin: str) -> None:
        self.value = self._check(raw, origin)

    @contextlib.contextmanager
    def scoped(self, raw: Any, origin: str) -> Iterator[None]:
        """Set inside the block, restore the previous value after it."""
        previous = self.value
        self.set(raw, origin)
        try:
            yield
        finally:
            self.value = previous
