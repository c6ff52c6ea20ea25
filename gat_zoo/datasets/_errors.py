"""Exceptions raised by :mod:`gat_zoo.datasets`."""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    r"""Raised when a dataset's files are neither in the data root nor
    downloadable (e.g. offline).

    The message names the dataset, the exact file names and the exact
    directory they must be placed in. The same facts are available as
    attributes for programmatic use.

    Attributes:
        dataset (str): Canonical dataset name.
        directory (pathlib.Path): Directory the files must be placed in.
        files (list[str]): Expected file names, relative to
            :obj:`directory`.
    """
    def __init__(self, message: str, *, dataset: str = '',
                 directory=None, files=()) -> None:
        super().__init__(message)
        self.dataset = dataset
        self.directory = directory
        self.files = list(files)

    def __str__(self) -> str:
        # FileNotFoundError would otherwise format as "[Errno None] ..."
        # when given extra arguments; keep the message verbatim.
        return self.args[0] if self.args else ''
