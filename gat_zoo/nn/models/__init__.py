"""Paper-configured networks; importing this package registers them."""
from gat_zoo.nn.models.acm import ACMGCN
from gat_zoo.nn.models.amgcn import AMGCN
from gat_zoo.nn.models.dagnn import DAGNN
from gat_zoo.nn.models.dysat import DySAT
from gat_zoo.nn.models.fagcn import FAGCN
from gat_zoo.nn.models.gamlp import GAMLP
from gat_zoo.nn.models.gat import GAT, GCN
from gat_zoo.nn.models.graphham import GraphHAM
from gat_zoo.nn.models.han import HAN
from gat_zoo.nn.models.magna import MAGNA
from gat_zoo.nn.models.pagnn import GAEGAT, PaGNN
from gat_zoo.nn.models.pprgat import PPRGAT
from gat_zoo.nn.models.rgat import RGAT, RGCN
from gat_zoo.nn.models.rghat import RGHAT, ConvE, ConvEDecoder, DistMult
from gat_zoo.nn.models.sigat import SiGAT
from gat_zoo.nn.models.spagan import SPAGAN
from gat_zoo.nn.models.supergat import SuperGAT
from gat_zoo.nn.models.tdgnn import TDGNN
from gat_zoo.nn.models.uag import UAG

__all__ = ['ACMGCN', 'AMGCN', 'DAGNN', 'FAGCN', 'GAMLP', 'GAT', 'GCN', 'GAEGAT',
           'ConvE', 'ConvEDecoder', 'DistMult', 'GraphHAM', 'HAN', 'MAGNA',
           'PaGNN', 'PPRGAT', 'RGAT', 'RGCN', 'RGHAT', 'SiGAT', 'SPAGAN',
           'SuperGAT', 'TDGNN', 'UAG', 'DySAT']
