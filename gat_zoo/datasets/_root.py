"""Resolution of the data root and of the writable cache directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, os.PathLike]

#: Environment variable naming the data root (read-only raw files).
DATA_ENV = 'GAT_ZOO_DATA'
#: Environment variable naming the writable cache directory.
CACHE_ENV = 'GAT_ZOO_CACHE'
#: Environment variable that, when truthy, disables every download attempt.
OFFLINE_ENV = 'GAT_ZOO_OFFLINE'


def _env_path(var: str) -> Optional[Path]:
    # An empty variable is treated as unset, so `GAT_ZOO_DATA= cmd` behaves
    # like not exporting it at all instead of resolving to the CWD.
    value = os.environ.get(var, '').strip()
    return Path(value).expanduser() if value else None


def _xdg_cache_home() -> Path:
    xdg = _env_path('XDG_CACHE_HOME')
    # The XDG spec says relative paths must be ignored.
    if xdg is not None and xdg.is_absolute():
        return xdg
    return Path.home() / '.cache'


def cache_dir() -> Path:
    r"""Returns the writable cache directory of :obj:`gat_zoo`.

    The environment variable :obj:`GAT_ZOO_CACHE` takes precedence; otherwise
    :obj:`$XDG_CACHE_HOME/gat_zoo` (default :obj:`~/.cache/gat_zoo`) is used.
    The directory is not created by this function.
    """
    return (_env_path(CACHE_ENV) or _xdg_cache_home() / 'gat_zoo').absolute()


def default_data_root() -> Path:
    r"""Returns the per-user default data root
    :obj:`$XDG_CACHE_HOME/gat_zoo/data` (default
    :obj:`~/.cache/gat_zoo/data`).

    This is the only data root that :obj:`gat_zoo` ever writes into
    (downloads and processed files). It deliberately does not follow
    :obj:`GAT_ZOO_CACHE`, so that pointing the cache at a scratch directory
    does not make previously downloaded datasets disappear.
    """
    return (_xdg_cache_home() / 'gat_zoo' / 'data').absolute()


def resolve_data_root(root: Optional[PathLike] = None) -> Path:
    r"""Resolves the data root directory.

    Order of precedence: the explicit :obj:`root` argument, then the
    environment variable :obj:`GAT_ZOO_DATA`, then
    :meth:`default_data_root`.

    Args:
        root (str or os.PathLike, optional): Explicit data root.
            (default: :obj:`None`)

    Returns:
        pathlib.Path: An absolute path (which need not exist).
    """
    if root is not None and str(root) != '':
        return Path(root).expanduser().absolute()
    env = _env_path(DATA_ENV)
    if env is not None:
        return env.absolute()
    return default_data_root()


def is_default_data_root(root: Path) -> bool:
    r"""Whether :obj:`root` is the per-user default data root (and hence may
    be written to)."""
    return _canonical(root) == _canonical(default_data_root())


def root_key(root: Path) -> str:
    r"""A short stable hash identifying a data root inside the cache."""
    return hashlib.sha256(str(_canonical(root)).encode()).hexdigest()[:16]


def offline() -> bool:
    r"""Whether downloads are disabled via :obj:`GAT_ZOO_OFFLINE`."""
    value = os.environ.get(OFFLINE_ENV, '').strip().lower()
    return value not in ('', '0', 'false', 'no', 'off')


def _canonical(path: Path) -> Path:
    # `realpath` follows symlinks so that two spellings of the same root
    # share one cache entry, and tolerates directories that do not exist.
    return Path(os.path.realpath(path))
