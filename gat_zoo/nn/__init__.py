"""Layers (:mod:`gat_zoo.nn.conv`) and paper-configured networks
(:mod:`gat_zoo.nn.models`)."""
from gat_zoo.nn.conv import *  # noqa: F401,F403
from gat_zoo.nn.conv import __all__ as _conv_names

__all__ = list(_conv_names)
