"""Shared test setup: make the test helpers (``reference``, ``ogb_fixture``)
importable from every test directory."""
import os
import pathlib
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# Test tensors are tiny: one intra-op thread avoids oversubscribing a shared
# 2-core machine, where two OpenMP threads were measured ~20x slower.
import torch  # noqa: E402

torch.set_num_threads(1)

# Without a GPU the Triton kernels run in Triton's interpreter. Triton reads
# TRITON_INTERPRET when it is first imported (its own library functions are
# defined then), and torch_geometric imports it, so it is set here, before
# any test module imports PyG (torch alone does not import Triton).
if not torch.cuda.is_available():
    os.environ.setdefault('TRITON_INTERPRET', '1')


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A private cache, no data root and no downloads: a test must not read
    the user's cache nor write anywhere but ``tmp_path``."""
    monkeypatch.setenv('GAT_ZOO_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    monkeypatch.delenv('GAT_ZOO_DATA', raising=False)
    monkeypatch.setenv('GAT_ZOO_OFFLINE', '1')
