"""Shared test setup: make the test helpers (``reference``, ``ogb_fixture``)
importable from every test directory."""
import pathlib
import sys

TESTS = pathlib.Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
