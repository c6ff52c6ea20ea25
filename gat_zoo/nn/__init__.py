"""Layers (:mod:`gat_zoo.nn.conv`) and paper-configured networks
(:mod:`gat_zoo.nn.models`)."""
from gat_zoo.nn.conv import GATConv, GATv2Conv

__all__ = ['GATConv', 'GATv2Conv']
