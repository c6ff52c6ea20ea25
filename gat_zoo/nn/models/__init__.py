"""Paper-configured networks; importing this package registers them."""
from gat_zoo.nn.models.gat import GAT, GCN
from gat_zoo.nn.models.pprgat import PPRGAT
from gat_zoo.nn.models.supergat import SuperGAT

__all__ = ['GAT', 'GCN', 'PPRGAT', 'SuperGAT']
