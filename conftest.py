"""Settings for every test run, including the notebooks nbmake executes.

The notebooks train in a quick mode under the test suite (a handful of
epochs): executed by hand they run their full version. Their kernels are
child processes and inherit this environment.
"""
import os

os.environ.setdefault('SMOKE_TEST', '1')
