"""Paper-configured networks; importing this package registers them."""
from gat_zoo.nn.models.gat import GAT, GCN

__all__ = ['GAT', 'GCN']
