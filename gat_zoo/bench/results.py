r"""The benchmark's results file: one flat row per run, appended atomically.

Two formats, chosen by the file's extension:

* ``.csv``: a header line (written once, when the file is new or empty)
  followed by one line per row. Newlines inside text fields (error
  messages) are replaced by ``' | '`` so that every row is one line.
* ``.json``: one JSON array of row objects (``json.load`` /
  ``pandas.read_json(path)`` read it). Each append reads the array, adds the
  row and rewrites the whole file atomically: a temporary file in the same
  directory is written and fsynced, then :func:`os.replace`\ d over the
  results file (appends are serialised by an :func:`fcntl.flock` on the
  directory). A killed process leaves either the old or the new array,
  never a partial one (at worst a stray ``.<name>.*.tmp`` file).
* ``.jsonl``, ``.ndjson``: `JSON Lines <https://jsonlines.org>`_, one JSON
  object per line (``pandas.read_json(path, lines=True)``).

CSV and JSON Lines rows are written with a single :func:`os.write` on a
file opened with ``O_APPEND``, then flushed to disk with :func:`os.fsync`,
while holding an exclusive :func:`fcntl.flock` (where available). A process
killed at any moment therefore leaves a file whose only possible damage is
a torn final line: :func:`read_results` drops it, and the next append
truncates it away before writing.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import re
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Union,
)

try:  # POSIX only; without it appends are still single O_APPEND writes.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PathLike = Union[str, os.PathLike]

__all__ = [
    'FIELDS',
    'ResultsFile',
    'ResultsFileError',
    'append_result',
    'append_row',
    'environment_info',
    'parse_seeds',
    'finished_keys',
    'finished_runs',
    'parse_names',
    'read_csv_rows',
    'read_results',
    'read_rows',
    'results_format',
]

#: Columns shared by every row (``kind`` is ``'train'`` or ``'speed'``).
COMMON_FIELDS = ('kind', 'model', 'family', 'dataset', 'status', 'error')
#: Columns of a training row (one per model, dataset and seed).
TRAIN_FIELDS = (
    'seed', 'split', 'metric', 'val', 'test', 'best_epoch', 'epochs_run',
    'time_per_epoch_s', 'train_time_s', 'num_params', 'peak_mem_mb',
    'mem_kind', 'paper_mean', 'paper_std', 'paper_source', 'from_paper',
    'config')
#: Columns of a ``--speed`` row (one per model, graph and operation).
SPEED_FIELDS = ('layer', 'pyg_layer', 'graph', 'op', 'ours_s', 'pyg_s',
                'ratio', 'ours_peak_mem_mb', 'pyg_peak_mem_mb', 'mem_ratio')
#: Columns added after the first release of the file format; a CSV written
#: before them keeps its header, and its new rows leave these out.
LATER_FIELDS = ('num_nodes', 'num_edges', 'dense_layer', 'dense_s',
                'dense_peak_mem_mb', 'skipped', 'fused')
#: Columns describing the environment the row was produced in.
ENV_FIELDS = ('gat_zoo_version', 'torch_version', 'pyg_version',
              'python_version', 'platform', 'device', 'device_name',
              'num_threads', 'backend', 'forced_backend', 'torch_scatter',
              'torch_sparse', 'timestamp_utc')
#: Every column, in file order.
FIELDS = (COMMON_FIELDS + TRAIN_FIELDS + SPEED_FIELDS + ENV_FIELDS +
          LATER_FIELDS)

_INT_FIELDS = {'seed', 'split', 'best_epoch', 'epochs_run', 'num_params',
               'num_threads', 'num_nodes', 'num_edges'}
_FLOAT_FIELDS = {'val', 'test', 'time_per_epoch_s', 'train_time_s',
                 'peak_mem_mb', 'paper_mean', 'paper_std', 'ours_s', 'pyg_s',
                 'ratio', 'ours_peak_mem_mb', 'pyg_peak_mem_mb', 'mem_ratio',
                 'dense_s', 'dense_peak_mem_mb'}
_BOOL_FIELDS = {'from_paper', 'torch_scatter', 'torch_sparse'}
_JSONL_SUFFIXES = ('.jsonl', '.ndjson')


class ResultsFileError(ValueError):
    """The results file cannot be used (unknown extension, foreign
    header)."""


def results_format(path: PathLike) -> str:
    """``'csv'``, ``'json'`` (one array) or ``'jsonl'`` (JSON Lines) from
    the extension of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix == '.csv':
        return 'csv'
    if suffix == '.json':
        return 'json'
    if suffix in _JSONL_SUFFIXES:
        return 'jsonl'
    raise ResultsFileError(
        f"Results file {str(path)!r} must end in .csv (CSV), .json (a JSON "
        f"array) or {', '.join(_JSONL_SUFFIXES)} (JSON Lines)")


# Environment #################################################################


def _cpu_name() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'cpu'


def environment_info(device: Any = 'cpu') -> Dict[str, Any]:
    """The environment columns of a row (no host name: ``platform`` is
    :func:`platform.platform`, which names OS, kernel and architecture)."""
    import torch
    import torch_geometric

    import gat_zoo
    from gat_zoo import ops

    device = torch.device(device)
    if device.type == 'cuda':
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = _cpu_name()
    return {
        'gat_zoo_version': gat_zoo.__version__,
        'torch_version': torch.__version__,
        'pyg_version': torch_geometric.__version__,
        'python_version': platform.python_version(),
        'platform': platform.platform(),
        'device': str(device),
        'device_name': device_name,
        'num_threads': torch.get_num_threads(),
        'backend': ops.resolve_backend(False),
        'forced_backend': ops.get_backend() or '',
        'fused': ops.get_fused(),
        'torch_scatter': bool(ops.WITH_TORCH_SCATTER),
        'torch_sparse': bool(ops.WITH_TORCH_SPARSE),
        'timestamp_utc': utc_now(),
    }


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec='seconds')


# Writing #####################################################################


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/inf are not JSON; an empty cell in CSV
    return value


def _csv_line(values: Iterable[Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    out = []
    for v in values:
        v = _clean(v)
        if v is None:
            v = ''
        elif isinstance(v, str):
            v = v.replace('\r\n', ' | ').replace('\n', ' | ').replace(
                '\r', ' | ')
        out.append(v)
    writer.writerow(out)
    return buf.getvalue()


def _encode(row: Dict[str, Any], fmt: str, fields: tuple,
            later_fields: tuple = ()) -> str:
    # A file with an earlier header keeps it: later columns are left out.
    unknown = set(row) - set(fields) - set(later_fields)
    if unknown:
        raise ResultsFileError(f"Unknown result columns {sorted(unknown)}")
    if fmt == 'csv':
        return _csv_line(row.get(k) for k in fields)
    return json.dumps(_json_object(row, fields), ensure_ascii=False,
                      sort_keys=False) + '\n'


def _json_object(row: Dict[str, Any], fields: tuple) -> Dict[str, Any]:
    return {k: _clean(row.get(k)) for k in fields if k in row}


def _json_array_text(objs: List[Dict[str, Any]]) -> str:
    # One row per line: diff- and grep-friendly, still a single array.
    body = ',\n'.join(json.dumps(o, ensure_ascii=False) for o in objs)
    return '[\n' + body + '\n]\n' if objs else '[]\n'


def _load_json_rows(path: Path) -> List[Dict[str, Any]]:
    """The raw objects of a ``.json`` results file (an array; JSON Lines
    written by older versions are accepted too)."""
    if not path.is_file():
        return []
    text = path.read_text(encoding='utf-8').strip()
    if not text:
        return []
    if text.startswith('['):
        try:
            objs = json.loads(text)
        except json.JSONDecodeError as err:
            raise ResultsFileError(f"{path} is not a valid JSON array: "
                                   f"{err}") from err
        if not isinstance(objs, list):
            raise ResultsFileError(f"{path} is not a JSON array")
        return [o for o in objs if isinstance(o, dict)]
    return _parse_json_lines(path, _complete_text(path))


def _replace_atomically(path: Path, text: str) -> None:
    """Writes ``text`` to a temporary file next to ``path``, fsyncs it and
    renames it over ``path`` (then fsyncs the directory)."""
    import tempfile
    directory = path.parent if str(path.parent) else Path('.')
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f'.{path.name}.',
                               suffix='.tmp')
    try:
        _write_all(fd, text.encode('utf-8'))
        os.fchmod(fd, 0o644)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every OS can fsync a directory
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _drop_torn_tail(fd: int) -> int:
    """Truncates a final line without its newline (a write cut short by a
    killed process); returns the new size. Call with the lock held."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b'\n':
        return size
    end, chunk = size, 1 << 16
    while end > 0:
        start = max(0, end - chunk)
        block = os.pread(fd, end - start, start)
        pos = block.rfind(b'\n')
        if pos >= 0:
            keep = start + pos + 1
            break
        end = start
    else:
        keep = 0
    os.ftruncate(fd, keep)
    warnings.warn(f"Dropped a torn final line ({size - keep} bytes) from the "
                  f"results file", RuntimeWarning, stacklevel=3)
    return keep


def _write_all(fd: int, data: bytes) -> None:
    # One write() for a regular file; loop only in case of a short write.
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class ResultsFile:
    """An append-only results file (see the module docstring).

    Args:
        path: A ``.csv`` or JSON Lines path; created on the first append.
        fields: The columns, for files of other rows than the bench's
            (default: :data:`FIELDS`).
        later_fields: The last columns of :obj:`fields` that were added
            after files were first written: an existing CSV whose header
            lacks just them keeps its header, and the rows appended to it
            leave them out (default: :data:`LATER_FIELDS` for the bench's
            columns, none for others).

    Raises:
        ResultsFileError: If the extension is unknown or an existing CSV's
            header is not these columns.
    """

    def __init__(self, path: PathLike,
                 fields: Optional[Iterable[str]] = None,
                 later_fields: Optional[Iterable[str]] = None):
        self.path = Path(path)
        self.format = results_format(self.path)
        # Scripts with rows of their own kind (link prediction, link-sign
        # prediction, entity classification) pass their columns.
        custom = fields is not None
        self.fields = tuple(fields) if fields is not None else FIELDS
        self.later_fields = (tuple(later_fields) if later_fields is not None
                             else () if custom else LATER_FIELDS)
        n_later = len(self.later_fields)
        if n_later and self.fields[-n_later:] != self.later_fields:
            raise ValueError("'later_fields' must be the last of 'fields'")
        if self.format == 'csv' and self.path.is_file():
            header = _read_header(self.path)
            if (n_later and header is not None
                    and tuple(header) == self.fields[:-n_later]):
                self.fields = self.fields[:-n_later]
            elif header is not None and tuple(header) != self.fields:
                raise ResultsFileError(
                    f"{self.path} has a different CSV header than this "
                    f"version of gat_zoo.bench writes; use a new results "
                    f"file (found {len(header)} columns, expected "
                    f"{len(self.fields)})")

    def append(self, row: Dict[str, Any]) -> None:
        """Appends one row atomically (single write + fsync)."""
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.format == 'json':
            self._append_to_array(row)
            return
        line = _encode(row, self.format, self.fields, self.later_fields)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT,
                     0o644)
        try:
            with _locked(fd):
                size = _drop_torn_tail(fd)
                if size == 0 and self.format == 'csv':
                    line = _csv_line(self.fields) + line
                _write_all(fd, line.encode('utf-8'))
                os.fsync(fd)
        finally:
            os.close(fd)

    def _append_to_array(self, row: Dict[str, Any]) -> None:
        unknown = set(row) - set(self.fields)
        if unknown:
            raise ResultsFileError(f"Unknown result columns "
                                   f"{sorted(unknown)}")
        # The file itself is replaced, so the lock is on its directory.
        dfd = os.open(self.path.parent if str(self.path.parent) else '.',
                      os.O_RDONLY)
        try:
            with _locked(dfd):
                objs = _load_json_rows(self.path)
                objs.append(_json_object(row, self.fields))
                _replace_atomically(self.path, _json_array_text(objs))
        finally:
            os.close(dfd)

    def read(self) -> List[Dict[str, Any]]:
        """All complete rows (see :func:`read_results`)."""
        return read_results(self.path)


def append_result(path: PathLike, row: Dict[str, Any]) -> None:
    """Appends ``row`` to the results file ``path`` (see
    :class:`ResultsFile`)."""
    ResultsFile(path).append(row)


# Reading #####################################################################


def _complete_text(path: Path) -> str:
    data = path.read_bytes()
    if data and not data.endswith(b'\n'):
        data = data[:data.rfind(b'\n') + 1]  # drop the torn final line
    return data.decode('utf-8', errors='replace')


def _read_header(path: Path) -> Optional[List[str]]:
    text = _complete_text(path)
    if not text:
        return None
    return next(csv.reader(io.StringIO(text.split('\n', 1)[0] + '\n')))


def _typed(key: str, value: Any) -> Any:
    if value is None or value == '':
        return None
    if isinstance(value, str):
        try:
            if key in _INT_FIELDS:
                return int(float(value))
            if key in _FLOAT_FIELDS:
                return float(value)
        except ValueError:
            return value
        if key in _BOOL_FIELDS:
            return value.strip().lower() in ('true', '1', 'yes')
    return value


def read_results(path: PathLike) -> List[Dict[str, Any]]:
    """Reads a results file written by :class:`ResultsFile`.

    Returns one dict per complete row with every column of :data:`FIELDS`
    (missing values are :obj:`None`; numbers and booleans typed). A torn
    final line (a killed writer) is dropped silently; a malformed line
    elsewhere is skipped with a warning. A missing file gives ``[]``.
    """
    path = Path(path)
    fmt = results_format(path)
    if not path.is_file():
        return []
    text = _complete_text(path)
    rows: List[Dict[str, Any]] = []
    if fmt == 'csv':
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None:
            return []
        for lineno, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) != len(header):
                warnings.warn(f"{path}:{lineno}: skipping a malformed row "
                              f"({len(values)} of {len(header)} columns)",
                              RuntimeWarning, stacklevel=2)
                continue
            raw = dict(zip(header, values))
            rows.append({k: _typed(k, raw.get(k)) for k in
                         _merge_keys(FIELDS, header)})
    else:
        objs = (_load_json_rows(path) if fmt == 'json' else
                _parse_json_lines(path, text))
        rows = [{k: _typed(k, obj.get(k)) for k in _merge_keys(FIELDS, obj)}
                for obj in objs]
    return rows


def _parse_json_lines(path: Path, text: str) -> List[Dict[str, Any]]:
    objs = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            warnings.warn(f"{path}:{lineno}: skipping a malformed line",
                          RuntimeWarning, stacklevel=3)
            continue
        objs.append(obj)
    return objs


def _merge_keys(first: Iterable[str], second: Iterable[str]) -> List[str]:
    keys = list(first)
    seen = set(keys)
    keys += [k for k in second if k not in seen]
    return keys


def sanitize_filename(text: str) -> str:
    """``text`` reduced to characters safe in a file name."""
    return re.sub(r'[^A-Za-z0-9_.+-]+', '_', text).strip('_') or 'x'


def finished_keys(path: PathLike) -> set:
    """``(model, dataset, str(seed))`` of the training rows with status
    ``'ok'`` in the results file ``path`` (what ``--resume`` skips)."""
    return {(r['model'], r['dataset'], str(r['seed']))
            for r in read_results(path)
            if r.get('kind', 'train') in (None, 'train')
            and r.get('status') == 'ok'}


#: Short aliases.
append_row = append_result
read_rows = read_results


def parse_seeds(text: str) -> List[int]:
    """Seeds from a command line: ``'0-9'``, ``'0,3,5-7'``."""
    seeds: List[int] = []
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition('-')
        if sep:
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    return seeds


def read_csv_rows(path: PathLike) -> List[Dict[str, str]]:
    """The rows of a benchmark script's CSV file as strings (``[]`` while
    the file does not exist). A torn last line, which a killed writer can
    leave and which is short of fields, is dropped."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline='', encoding='utf-8') as f:
        return [row for row in csv.DictReader(f)
                if None not in row.values() and None not in row]


def finished_runs(rows: Iterable[Dict[str, Any]],
                  fields: Sequence[str]) -> set:
    """``{(row[f] for f in fields)}`` of the rows with status ``ok``, as
    strings: the runs ``--resume`` skips."""
    return {tuple(str(row[f]) for f in fields) for row in rows
            if row.get('status') == 'ok'}


def parse_names(text: str) -> List[str]:
    """Names from a comma-separated command-line list."""
    return [t.strip() for t in (text or '').split(',') if t.strip()]
