"""A sweep of ``python -m gat_zoo.bench`` killed (SIGKILL) at random points
and resumed until it finishes: after every kill the results file is valid
and holds every row finished so far exactly once; at the end it holds each
(model, dataset, seed) exactly once. Also: every ``torch.load`` in the
package reads with ``weights_only=True``."""
import ast
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gat_zoo.bench.results import FIELDS, read_results

REPO = Path(__file__).resolve().parents[2]
SMALL = 'csbm:num_nodes=300:num_val=100'
MODELS = ('gcn', 'gat')
RUNS = 4
MAX_KILLS = 6


def _argv(results):
    return ['-m', 'gat_zoo.bench', '--model', ','.join(MODELS), '--dataset',
            SMALL, '--runs', str(RUNS), '--epochs', '300', '--patience',
            '1000', '--no-progress', '--results-file', str(results),
            '--resume']


def _start(results, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep +
               os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    return subprocess.Popen([sys.executable] + _argv(results), env=env,
                            cwd=str(cwd), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _keys(rows):
    return [(r['model'], r['seed']) for r in rows]


def _assert_valid(results, fmt):
    """The file parses as a whole, and no run appears twice."""
    if not results.exists():
        return []
    if fmt == 'json':
        text = results.read_text()
        assert text == '' or isinstance(json.loads(text), list)
    else:
        with open(results, newline='') as f:
            lines = list(csv.reader(f))
        complete = results.read_bytes().endswith(b'\n')
        body = lines[1:] if complete else lines[1:-1]  # a torn last line
        if lines:
            assert lines[0] == list(FIELDS)
        assert all(len(line) == len(FIELDS) for line in body)
    rows = read_results(results)
    assert len(set(_keys(rows))) == len(rows), 'a run was written twice'
    assert {r['status'] for r in rows} <= {'ok'}
    return rows


@pytest.mark.parametrize('fmt', ['csv', 'json'])
def test_random_kills_lose_and_duplicate_nothing(tmp_path, fmt):
    results = tmp_path / f'results.{fmt}'
    rng = random.Random(2024)  # random points, the same ones on every run
    seen, kills, finished = [], 0, False
    while not finished:
        assert kills <= MAX_KILLS, 'the sweep never got to finish'
        proc = _start(results, tmp_path)
        # Early kills land in the imports, later ones in training or in a
        # write; after MAX_KILLS the sweep is left to finish.
        # (Imports take ~2.5 s here, one run 0.5-1.5 s.)
        delay = rng.uniform(0.5, 7.0) if kills < MAX_KILLS else 600
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        finished = proc.returncode == 0
        rows = _assert_valid(results, fmt)
        assert rows[:len(seen)] == seen, 'a finished row was lost'
        seen = rows
    assert kills >= 3, 'too few kills landed to test anything'
    expected = sorted((m, s) for m in MODELS for s in range(RUNS))
    assert sorted(_keys(seen)) == expected


def _torch_load_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == 'load' and \
                isinstance(node.func.value, ast.Name) and \
                node.func.value.id == 'torch':
            yield node


def test_every_torch_load_is_weights_only():
    calls = 0
    for path in (REPO / 'gat_zoo').rglob('*.py'):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for call in _torch_load_calls(tree):
            calls += 1
            flags = {k.arg: k.value for k in call.keywords}
            value = flags.get('weights_only')
            assert isinstance(value, ast.Constant) and value.value is True, \
                f'{path.relative_to(REPO)}:{call.lineno}'
    assert calls >= 1  # the caches (PPR, paths, attacks) do load files
