"""Copy-to-cache and atomic publishing of datasets whose loaders write.

PyG's and ogb's loaders write a ``processed/`` folder next to ``raw/``. Data
roots may be read-only or shared, so (unless the root is the per-user
default one) the raw files are copied into
``cache_dir()/processed/<hash-of-root>/`` and the loader runs there.

Every build happens in a fresh temporary directory inside the same cache
(so the final ``os.rename`` stays on one filesystem and is atomic) and is
only then published under its final name, together with a marker recording
a fingerprint of the source files. A killed or concurrent process can
therefore never leave a half-copied or half-processed entry that a later
call would trust, and changed source files invalidate the entry.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, TypeVar, Union

from ._errors import DatasetNotFoundError
from ._root import cache_dir, is_default_data_root, offline, root_key

T = TypeVar('T')

#: Name of the marker file written into each published cache entry.
MARKER = '.gat_zoo_entry.json'
#: Folder (inside a work root) holding in-progress builds.
TMP_DIRNAME = '.gat_zoo_tmp'
_MARKER_VERSION = 1
# In-progress builds older than this are assumed dead and swept away.
_STALE_TMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class FileSet:
    r"""Where a dataset's files live and where its loader expects them.

    Args:
        name (str): Canonical dataset name (for messages).
        src_dirs (tuple[str]): Candidate directories, relative to the data
            root, that may hold the files; the first is the documented one.
        work_dir (str): Directory, relative to a work root, in which the
            loader expects the files.
        entry (str): Dataset folder, relative to a work root, that contains
            :obj:`work_dir` and everything the loader writes; it is the
            unit that is published atomically.
        required (tuple): File paths relative to the source/work directory.
            A tuple entry lists alternatives of which one must exist.
        optional (tuple[str]): Glob patterns, relative to the source
            directory, of files copied along when present.
        hint (str): Extra sentence for the not-found message.
    """
    name: str
    src_dirs: Tuple[str, ...]
    work_dir: str
    entry: str
    required: Tuple[Union[str, Tuple[str, ...]], ...]
    optional: Tuple[str, ...] = ()
    hint: str = field(default='')

    def required_names(self) -> List[str]:
        return [r if isinstance(r, str) else ' or '.join(r)
                for r in self.required]


def locate(fs: FileSet, data_root: Path) -> Optional[Tuple[Path, List[str]]]:
    r"""Finds the first source directory holding all required files.

    Returns:
        The directory and the relative paths of all files to copy
        (required and optional), or :obj:`None`.
    """
    for rel in fs.src_dirs:
        src = data_root / rel
        if not src.is_dir():
            continue
        files: List[str] = []
        for req in fs.required:
            alternatives = (req, ) if isinstance(req, str) else req
            hit = next((a for a in alternatives if (src / a).is_file()), None)
            if hit is None:
                break
            files.append(hit)
        else:
            for pattern in fs.optional:
                files += sorted(
                    p.relative_to(src).as_posix() for p in src.glob(pattern)
                    if p.is_file() and p.relative_to(src).as_posix() not in
                    files)
            return src, files
    return None


def work_root_for(data_root: Path) -> Path:
    r"""The cache directory in which datasets of :obj:`data_root` are
    processed."""
    return cache_dir() / 'processed' / root_key(data_root)


def materialize(
    fs: FileSet,
    data_root: Path,
    build: Callable[[Path], T],
    *,
    download: Optional[Callable[[Path], None]] = None,
    root_origin: str = '',
) -> T:
    r"""Makes the dataset available in a writable work root and builds it.

    Args:
        fs (FileSet): File layout of the dataset.
        data_root (pathlib.Path): The resolved data root.
        build (callable): Called with a work root; constructs the loader on
            it (which may process, or download when files are missing) and
            returns the finished result. It must load everything into
            memory, as temporary work roots are deleted afterwards.
        download (callable, optional): Called with a temporary work root to
            fetch the files into :obj:`<work root>/<fs.work_dir>` when the
            loader cannot download by itself without prompting.
        root_origin (str, optional): How the data root was chosen, for
            messages.

    Raises:
        DatasetNotFoundError: If the files are missing and cannot be
            downloaded.
    """
    found = locate(fs, data_root)
    in_place = is_default_data_root(data_root)

    if found is not None:
        src, files = found
        if in_place and src == data_root / fs.work_dir:
            # Our own per-user data dir: let the loader behave as usual.
            return build(data_root)
        work_root = work_root_for(data_root)
        stamp = {'source': str(src), 'files': _fingerprint(src, files)}
        hit = _try_cached(fs, work_root, stamp, build)
        if hit is not None:
            return hit[0]
        _note_root(work_root, data_root)
        return _build_and_publish(
            fs, work_root, stamp, build, merge=False,
            populate=lambda tmp: _copy_files(src, files, tmp / fs.work_dir))

    # Files are missing from the data root.
    if in_place:
        work_root, stamp = data_root, {'source': 'download'}
    else:
        work_root = work_root_for(data_root)
        stamp = {'source': 'download'}
        hit = _try_cached(fs, work_root, stamp, build)
        if hit is not None:
            return hit[0]
    if offline():
        raise not_found(fs, data_root, 'Downloads are disabled because '
                        'GAT_ZOO_OFFLINE is set.', root_origin)
    try:
        if not in_place:
            _note_root(work_root, data_root)
        return _build_and_publish(fs, work_root, stamp, build,
                                  merge=in_place,
                                  populate=download or (lambda tmp: None))
    except DatasetNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        raise not_found(
            fs, data_root,
            f'The automatic download failed ({type(exc).__name__}: {exc}).',
            root_origin) from exc


def not_found(fs: FileSet, data_root: Path, reason: str,
              root_origin: str = '') -> DatasetNotFoundError:
    r"""Builds the :class:`DatasetNotFoundError` for :obj:`fs`."""
    directory = data_root / fs.src_dirs[0]
    names = fs.required_names()
    origin = f' ({root_origin})' if root_origin else ''
    lines = [
        f"Dataset '{fs.name}' was not found in the data root "
        f"'{data_root}'{origin}.",
        f"Expected {len(names)} file(s): {', '.join(names)}",
        f"in the directory: {directory}",
    ]
    if fs.hint:
        lines.append(fs.hint)
    lines += [
        reason,
        "Place the files there, or pass `root=` to load_dataset() / set the "
        "GAT_ZOO_DATA environment variable to a data root that contains "
        f"'{fs.src_dirs[0]}/'.",
    ]
    return DatasetNotFoundError('\n'.join(lines), dataset=fs.name,
                                directory=directory, files=names)


# Internals ###################################################################


def _try_cached(fs: FileSet, work_root: Path, stamp: dict,
                build: Callable[[Path], T]) -> Optional[Tuple[T]]:
    entry = work_root / fs.entry
    if not _marker_matches(entry, stamp):
        return None
    try:
        return (build(work_root), )
    except Exception as exc:  # noqa: BLE001
        # E.g. a processed file written by an incompatible torch/PyG
        # version: rebuilding is cheaper than making the user clean up.
        warnings.warn(f"Cached copy of '{fs.name}' at '{entry}' could not "
                      f"be loaded ({type(exc).__name__}: {exc}); rebuilding "
                      f"it.", stacklevel=2)
        return None


def _build_and_publish(fs: FileSet, work_root: Path, stamp: dict,
                       build: Callable[[Path], T], *, merge: bool,
                       populate: Callable[[Path], None]) -> T:
    tmp_parent = work_root / TMP_DIRNAME
    tmp_parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(tmp_parent)
    tmp_root = tmp_parent / uuid.uuid4().hex
    tmp_root.mkdir()
    try:
        populate(tmp_root)
        result = build(tmp_root)
        tmp_entry = tmp_root / fs.entry
        tmp_entry.mkdir(parents=True, exist_ok=True)
        marker = {'version': _MARKER_VERSION, 'created': time.time(), **stamp}
        (tmp_entry / MARKER).write_text(json.dumps(marker, indent=1))
        if merge:
            _merge_tree(tmp_entry, work_root / fs.entry)
        else:
            _publish(tmp_entry, work_root / fs.entry, tmp_parent)
        return result
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def _publish(tmp_entry: Path, entry: Path, tmp_parent: Path) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp_entry, entry)
        return
    except OSError:
        if not entry.exists():
            raise
    # `entry` exists: it is stale (we decided to rebuild) or a concurrent
    # process just published an equally fresh one. Move it aside first so
    # readers never see a half-deleted entry under the final name.
    trash = tmp_parent / f'stale-{uuid.uuid4().hex}'
    try:
        os.rename(entry, trash)
    except OSError:
        pass
    shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(tmp_entry, entry)
    except OSError:
        # Lost a race against another publisher; its entry is as good.
        if not entry.exists():
            raise


def _merge_tree(src: Path, dst: Path) -> None:
    # Used for the per-user default root, where users may already have put
    # some files: replace file by file (each `os.replace` is atomic).
    for dirpath, _, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for fn in filenames:
            os.replace(Path(dirpath) / fn, dst / rel / fn)


def _copy_files(src: Path, files: List[str], dst: Path) -> None:
    for rel in files:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # `copyfile` rather than `copy2`: read-only permission bits of a
        # shared root must not make the cache read-only.
        shutil.copyfile(src / rel, target)


def _fingerprint(src: Path, files: List[str]) -> Dict[str, List[int]]:
    out = {}
    for rel in files:
        st = (src / rel).stat()
        out[rel] = [st.st_size, st.st_mtime_ns]
    return out


def _marker_matches(entry: Path, stamp: dict) -> bool:
    try:
        marker = json.loads((entry / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return (marker.get('version') == _MARKER_VERSION
            and all(marker.get(k) == v for k, v in stamp.items()))


def _note_root(work_root: Path, data_root: Path) -> None:
    # Human-readable pointer from the hashed folder back to its root.
    try:
        work_root.mkdir(parents=True, exist_ok=True)
        note = work_root / 'DATA_ROOT.txt'
        if not note.exists():
            note.write_text(f'{data_root}\n')
    except OSError:
        pass


def _sweep_stale(tmp_parent: Path) -> None:
    now = time.time()
    for child in tmp_parent.iterdir():
        try:
            if now - child.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(child, ignore_errors=True)
        except OSError:
            pass
