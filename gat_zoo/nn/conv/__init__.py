"""Attention convolutions, one operator per file (``<name>_conv.py``)."""
from gat_zoo.nn.conv.acm_conv import ACMConv
from gat_zoo.nn.conv.amgcn_conv import AMGCNConv
from gat_zoo.nn.conv.dagnn_conv import DAGNNConv
from gat_zoo.nn.conv.dysat_conv import (
    DySATStructuralConv,
    TemporalSelfAttention,
)
from gat_zoo.nn.conv.fagcn_conv import FAGCNConv
from gat_zoo.nn.conv.gamlp_conv import GAMLPConv, HopAttention
from gat_zoo.nn.conv.gat_conv import GATConv
from gat_zoo.nn.conv.gatv2_conv import GATv2Conv
from gat_zoo.nn.conv.graphham_conv import GraphHAMAttention, GraphHAMConv
from gat_zoo.nn.conv.han_conv import HANConv
from gat_zoo.nn.conv.magna_conv import MAGNABlock, MAGNAConv
from gat_zoo.nn.conv.pagnn_conv import PaGNNConv
from gat_zoo.nn.conv.pprgat_conv import PPRGATConv, PPRGATv2Conv
from gat_zoo.nn.conv.rgat_conv import RGATConv
from gat_zoo.nn.conv.rghat_conv import RGHATAttention, RGHATConv
from gat_zoo.nn.conv.sigat_conv import SiGATConv
from gat_zoo.nn.conv.spagan_conv import SPAGANAttention, SPAGANConv
from gat_zoo.nn.conv.supergat_conv import SuperGATConv
from gat_zoo.nn.conv.tdgnn_conv import TDGNNConv
from gat_zoo.nn.conv.uag_conv import UAGConv

__all__ = [
    'ACMConv',
    'AMGCNConv',
    'GAMLPConv',
    'HopAttention',
    'DAGNNConv',
    'FAGCNConv',
    'GATConv',
    'GATv2Conv',
    'GraphHAMAttention',
    'GraphHAMConv',
    'HANConv',
    'MAGNABlock',
    'MAGNAConv',
    'PaGNNConv',
    'PPRGATConv',
    'PPRGATv2Conv',
    'RGATConv',
    'RGHATAttention',
    'RGHATConv',
    'SiGATConv',
    'SPAGANAttention',
    'SPAGANConv',
    'SuperGATConv',
    'DySATStructuralConv',
    'TemporalSelfAttention',
    'TDGNNConv',
    'UAGConv',
]

classes = __all__
