"""gat_zoo ships ``py.typed``, so its annotations are part of the API: the
package must type-check (mypy, third-party stubs optional)."""
import pytest

mypy_api = pytest.importorskip('mypy.api')


def test_package_type_checks(tmp_path):
    stdout, stderr, status = mypy_api.run([
        '-p', 'gat_zoo', '--ignore-missing-imports',
        '--cache-dir', str(tmp_path / 'mypy_cache')])
    assert status == 0, stdout + stderr
