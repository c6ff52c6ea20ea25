"""The published numbers trace back to files the bench wrote.

The README's model table quotes every result as ``mean ± std``; each such
pair must stand, to the precision printed, in a results file the row names
(or in the summary ``.txt`` the same invocation wrote beside it). And every
file under ``benchmarks/results/`` must have its provenance (the command
that wrote it) in ``benchmarks/README.md``. A number typed by hand, or one
left behind when a results file moved on, fails here.
"""
import re
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'

MEAN_STD = re.compile(r'(\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?)')
NUMBER = re.compile(r'\d+(?:\.\d+)?')
# A results file named in a row, with or without its folder; ``*`` allowed.
RESULTS_NAME = re.compile(
    r'`(?:benchmarks/results/)?([\w.*-]+\.(?:csv|jsonl|json|txt))`')


def model_table_rows() -> List[str]:
    lines = (ROOT / 'README.md').read_text(encoding='utf-8').splitlines()
    header = next(i for i, line in enumerate(lines)
                  if line.startswith('| family | model |'))
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith('|'):
            break
        rows.append(line)
    return rows


def _cells(row: str) -> List[str]:
    return [cell.strip() for cell in row.strip().strip('|').split('|')]


def _decimals(number: str) -> int:
    return len(number.partition('.')[2])


def _written_lines(row: str) -> List[str]:
    """Lines of the results files ``row`` names and of their summaries."""
    lines: List[str] = []
    for name in RESULTS_NAME.findall(row):
        paths = sorted(RESULTS.glob(name))
        assert paths, f'the README names {name}, which is not in {RESULTS}'
        for path in paths:
            for candidate in sorted({path, path.with_suffix('.txt')}):
                if candidate.is_file():
                    lines += candidate.read_text(
                        encoding='utf-8').splitlines()
    return lines


def found_in(pair: Tuple[str, str], lines: List[str]) -> bool:
    """Whether some line holds two adjacent numbers that print as ``pair``
    at its precision (a table's ``mean std`` columns, ``m ± s``, ``m±s``)."""
    mean, std = pair
    for line in lines:
        numbers = NUMBER.findall(line)
        for a, b in zip(numbers, numbers[1:]):
            if (f'{float(a):.{_decimals(mean)}f}' == mean
                    and f'{float(b):.{_decimals(std)}f}' == std):
                return True
    return False


ROWS = model_table_rows()


def test_model_table_is_found():
    assert len(ROWS) > 40
    assert all(len(_cells(row)) == 7 for row in ROWS)


@pytest.mark.parametrize(
    'row', ROWS, ids=[f'{_cells(r)[1][:24]}|{_cells(r)[3][:24]}'
                      for r in ROWS])
def test_every_quoted_result_stands_in_a_results_file(row):
    ours = _cells(row)[4]
    pairs = MEAN_STD.findall(ours)
    if not pairs:
        return
    lines = _written_lines(row)
    assert lines, 'a row quoting mean ± std names no results file'
    missing = [f'{m} ± {s}' for m, s in pairs if not found_in((m, s), lines)]
    assert not missing, (
        f'{missing} are not in the results files this row names')


def test_found_in_checks_precision_and_adjacency():
    lines = ['Cora  gat  10  82.94   0.91', 'uag 72.00±0.88 (10)',
             'AUC 0.8979 ± 0.0021  F1 0.7223 ± 0.0052']
    assert found_in(('82.94', '0.91'), lines)
    assert found_in(('72.00', '0.88'), lines)
    assert found_in(('0.722', '0.005'), lines)
    assert not found_in(('82.95', '0.91'), lines)
    # The README may print fewer digits than the file: rounding is a match.
    assert found_in(('82.9', '0.9'), lines)
    # Numbers that are not neighbours on one line do not make a pair.
    assert not found_in(('0.8979', '0.7223'), lines)
    assert not found_in(('10', '0.91'), lines)


def test_every_results_file_has_its_provenance():
    described = (ROOT / 'benchmarks' / 'README.md').read_text(
        encoding='utf-8')
    undocumented = []
    for path in sorted(RESULTS.iterdir()):
        names = {path.name}
        if path.suffix == '.txt':
            # A summary is covered by the results file it summarises.
            names |= {path.with_suffix(s).name for s in ('.csv', '.jsonl')}
        if not any(name in described for name in names):
            undocumented.append(path.name)
    assert not undocumented, (
        f'benchmarks/README.md says nothing of {undocumented}')
