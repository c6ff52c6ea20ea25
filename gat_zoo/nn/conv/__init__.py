"""Attention convolutions, one operator per file (``<name>_conv.py``)."""
from gat_zoo.nn.conv.gat_conv import GATConv
from gat_zoo.nn.conv.gatv2_conv import GATv2Conv

__all__ = [
    'GATConv',
    'GATv2Conv',
]

classes = __all__
