"""Shared test setup: make the test helpers (``reference``, ``ogb_fixture``)
importable from every test directory."""
import pathlib
import sys

TESTS = pathlib.Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# Test tensors are tiny: one intra-op thread avoids oversubscribing a shared
# 2-core machine, where two OpenMP threads were measured ~20x slower.
import torch  # noqa: E402

torch.set_num_threads(1)
