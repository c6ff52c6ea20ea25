"""Dense float64 reference outputs ("oracles") for the layer cases of
:mod:`reliability.zoo`.

:data:`ORACLES` maps the name of every case of
:func:`reliability.zoo._conv_cases` to a function ``(layer, graph) -> out``
that gives the dense reference for exactly what ``case.call(layer, graph)``
returns, for a float64 layer in eval mode and a float64 graph.  The
references are the independent implementations of :mod:`reference` (written
from the papers); this module only adapts them: it reads the parameters off
the layer and rebuilds the inputs the case builds (the reversed feature
graph of AM-GCN, the metapaths of HAN, the motif graphs of SiGAT, the hop
stack of HopAttention, the time steps of TemporalSelfAttention, ...).

:data:`NO_ORACLE` lists the cases without an oracle, with the reason.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from reference import (
    dense_gat,
    dense_gatv2,
    gat_params_from_module,
    gatv2_params_from_module,
    neighbourhood_counts,
)
from reference.dense_acm import _layer_norm, dense_acm
from reference.dense_amgcn import dense_amgcn
from reference.dense_dagnn import dense_dagnn
from reference.dense_dysat import dense_dysat_structural, dense_temporal
from reference.dense_fagcn import dense_fagcn
from reference.dense_gamlp import (
    dense_hop_attention,
    dense_hops,
    dense_operator,
    dense_stationary,
)
from reference.dense_graphham import dense_graphham, graphham_params_from_module
from reference.dense_han import dense_han, han_params_from_module
from reference.dense_magna import dense_magna, magna_params_from_module
from reference.dense_pagnn import dense_pagnn_conv, pagnn_conv_params
from reference.dense_pprgat import (
    dense_pprgat,
    dense_pprgatv2,
    pprgat_params_from_module,
    pprgatv2_params_from_module,
)
from reference.dense_rgat import dense_rgat, rgat_params_from_module
from reference.dense_rghat import dense_rghat, rghat_params_from_module
from reference.dense_sigat import dense_sigat, sigat_params_from_module
from reference.dense_spagan import dense_spagan, spagan_params_from_module
from reference.dense_supergat import dense_supergat, supergat_params_from_module
from reference.dense_tdgnn import dense_tdgnn
from reference.dense_uag import dense_uag
from reliability.zoo import Graph
from torch import Tensor
from torch.nn import Module

__all__ = ['ORACLES', 'NO_ORACLE']

Oracle = Callable[[Module, Graph], Tensor]


def _acm(m: Module, g: Graph) -> Tensor:
    # The layer stacks W_L, W_H, W_I as one [3C, F] Linear; the paper's
    # matrices are [F, C] and right-multiplied.
    C, W = m.out_channels, m.lin.weight
    norms = None if m.norms is None else [
        (n.weight, n.bias, n.eps) for n in m.norms]
    return dense_acm(g.x, g.edge_index, W[:C].t(), W[C:2 * C].t(),
                     W[2 * C:].t(), list(m.att), m.mix, variant=m.variant,
                     normalization=m.normalization,
                     temperature=m.temperature, scale=m.scale,
                     add_self_loops=m.add_self_loops, layer_norms=norms)[0]


def _amgcn(m: Module, g: Graph) -> Tensor:
    # The exponent r of D^{r-1} (A + I) D^{-r}: 'sym' is the paper's
    # D^{-1/2} (A + I) D^{-1/2}, 'row' the official code's D^{-1} (A + I).
    r = {'sym': 0.5, 'row': 0.0}[m.normalization]
    ei = g.edge_index
    return dense_amgcn(g.x, ei, ei.flip(0), dict(m.weights.items()),
                       m.att_lin.weight, m.att_lin.bias, m.att_q.weight,
                       r=r)[0]


def _hop_attention(att: Module, hops: List[Tensor],
                   stationary: Optional[Tensor] = None) -> Tensor:
    jk = None
    if att.attention == 'jk':
        # The JK reference is the module's own small MLP over the
        # concatenated hops (its weights and activations are parameters).
        jk = torch.cat(hops, dim=1)
        for lin, act in zip(att.jk, att.jk_act):
            jk = act(jk @ lin.weight.t() + lin.bias)
    return dense_hop_attention(hops, att.att_self, att.att_ref,
                               att.att_bias, att.act, att.attention,
                               jk_reference=jk, stationary=stationary)[0]


def _gamlp(m: Module, g: Graph) -> Tensor:
    T = dense_operator(g.edge_index, g.num_nodes, m.r, m.add_self_loops)
    hops = dense_hops(g.x, T, m.num_hops)
    stationary = (dense_stationary(g.x, T)
                  if m.hop_attention.attention == 'smoothing' else None)
    return _hop_attention(m.hop_attention, hops, stationary)


def _hop_stack(m: Module, g: Graph) -> Tensor:
    return _hop_attention(m, [g.x, g.x.flip(-1), g.x])


def _dagnn(m: Module, g: Graph) -> Tensor:
    return dense_dagnn(g.x, g.edge_index, m.proj.weight, m.proj.bias, m.K,
                       add_self_loops=m.add_self_loops)[0]


def _fagcn(m: Module, g: Graph) -> Tensor:
    # The case passes x as its own initial representation x0.
    return dense_fagcn(g.x, g.x, g.edge_index, m.att_l.weight,
                       m.att_r.weight, m.att_bias, m.eps,
                       add_self_loops=m.add_self_loops,
                       normalize=m.normalize)[0]


def _gat(m: Module, g: Graph) -> Tensor:
    return dense_gat(g.x, g.x, g.edge_index, **gat_params_from_module(m))[0]


def _gatv2(m: Module, g: Graph) -> Tensor:
    return dense_gatv2(g.x, g.x, g.edge_index,
                       **gatv2_params_from_module(m))[0]


def _graphham(m: Module, g: Graph) -> Tensor:
    # Eval mode: the memberships are the probabilities, no Gumbel noise.
    return dense_graphham(g.x, g.edge_index,
                          **graphham_params_from_module(m))[0]


def _han(m: Module, g: Graph) -> Tensor:
    ei = g.edge_index
    return dense_han(g.x, [ei, ei.flip(0)], self_loops=m.add_self_loops,
                     **han_params_from_module(m))[0]


def _magna(m: Module, g: Graph) -> Tensor:
    return dense_magna(g.x, g.edge_index, **magna_params_from_module(m))[0]


def _magna_block(m: Module, g: Graph) -> Tensor:
    # The block's equations (pre-norm, diffusion, residual, then ELU or a
    # pre-norm feed-forward with its own residual) around the conv oracle.
    x = g.x
    h = x if m.norm is None else _layer_norm(x, m.norm.weight, m.norm.bias,
                                             m.norm.eps)
    h = dense_magna(h, g.edge_index, **magna_params_from_module(m.conv))[0]
    res = x if isinstance(m.res, torch.nn.Identity) else x @ m.res.weight.t()
    out = h + res
    if m.ffn_in is None:
        return F.elu(out)
    ff = out if m.ffn_norm is None else _layer_norm(
        out, m.ffn_norm.weight, m.ffn_norm.bias, m.ffn_norm.eps)
    ff = torch.relu(ff @ m.ffn_in.weight.t() + m.ffn_in.bias)
    return out + ff @ m.ffn_out.weight.t() + m.ffn_out.bias


def _pagnn(m: Module, g: Graph) -> Tensor:
    return dense_pagnn_conv(g.x, g.x, g.edge_index,
                            **pagnn_conv_params(m))[0]


def _layer_ppr(m: Module, g: Graph) -> Tensor:
    # The layer attends with its own top-k push approximation of PPR
    # (eps = 1e-4), which differs from the exact PPR of
    # reference.dense_pprgat.exact_ppr by far more than the tolerance; its
    # accuracy is tested against exact_ppr in tests/test_ppr.py, so here the
    # oracle checks the attention given that PPR.
    return m.compute_ppr(g.edge_index, g.num_nodes).to_dense()


def _pprgat(m: Module, g: Graph) -> Tensor:
    return dense_pprgat(g.x, g.x, g.edge_index, _layer_ppr(m, g),
                        **pprgat_params_from_module(m))[0]


def _pprgatv2(m: Module, g: Graph) -> Tensor:
    return dense_pprgatv2(g.x, g.x, g.edge_index, _layer_ppr(m, g),
                          **pprgatv2_params_from_module(m))[0]


def _rgat(m: Module, g: Graph) -> Tensor:
    ei, et, n = g.edge_index, g.edge_type, g.num_nodes
    if m.self_relation:
        # The self relation is one more relation id, on one loop per node.
        loops = torch.arange(n)
        ei = torch.cat([ei, loops.expand(2, n)], dim=1)
        et = torch.cat([et, torch.full((n, ), m.num_relations)])
    return dense_rgat(g.x, ei, et, num_nodes=n,
                      **rgat_params_from_module(m))[0]


def _rghat(m: Module, g: Graph) -> Tensor:
    return dense_rghat(g.x, g.edge_index, g.edge_type,
                       **rghat_params_from_module(m))[0]


def _sigat(m: Module, g: Graph) -> Tensor:
    # Every motif graph is the edge index itself; dense_sigat reads
    # neighbourhoods (row = centre = edge target) from a 0/1 motif adjacency.
    n = g.num_nodes
    adj = neighbourhood_counts(g.edge_index, n, n, add_self_loops=False)
    adj = (adj > 0).to(adj.dtype).repeat(m.num_motifs, 1, 1)
    return dense_sigat(g.x, adj, **sigat_params_from_module(m))[0]


def _spagan(m: Module, g: Graph) -> Tensor:
    # Given only an edge index, the layer attends to its one-hop paths
    # (centre i, neighbour j) of the edges j -> i that are not self-loops.
    src, dst = g.edge_index
    keep = src != dst
    paths = torch.stack([dst[keep], src[keep]], dim=1)
    return dense_spagan(g.x, [paths], **spagan_params_from_module(m))[0]


def _supergat(m: Module, g: Graph) -> Tensor:
    return dense_supergat(g.x, g.x, g.edge_index,
                          **supergat_params_from_module(m))[0]


def _dysat(m: Module, g: Graph) -> Tensor:
    return dense_dysat_structural(
        g.x, g.edge_index, m.lin.weight, m.att_src, m.att_dst,
        add_self_loops=m.add_self_loops, normalize=m.normalize,
        negative_slope=m.negative_slope,
        res_weight=None if m.res is None else m.res.weight, act=m.act)[0]


def _temporal(m: Module, g: Graph) -> Tensor:
    x = torch.stack([g.x, g.x.flip(-1)], dim=1)
    ffn = m.ffn
    return dense_temporal(x, m.position, m.lin_q.weight, m.lin_k.weight,
                          m.lin_v.weight, m.heads,
                          None if ffn is None else ffn.weight,
                          None if ffn is None else ffn.bias,
                          residual=m.residual)[0]


def _tdgnn(m: Module, g: Graph) -> Tensor:
    return dense_tdgnn(g.x, g.edge_index, m.num_hops, m.layers,
                       gamma=m.gamma, include_self=m.include_self,
                       reverse_dependency=m.reverse_dependency)


def _uag(m: Module, g: Graph) -> Tensor:
    return dense_uag(g.x, g.edge_index, m.lin.weight, m.att_src, m.att_dst,
                     m.bias, p=m.mc_dropout, alpha_tau=m.alpha_tau,
                     beta_tau=m.beta_tau, negative_slope=m.negative_slope,
                     add_self_loops=m.add_self_loops,
                     uncertainty_aware=m.uncertainty_aware, eps=m.eps)[0]


#: Dense reference of ``case.call(layer, graph)`` per conv case name.
ORACLES: Dict[str, Oracle] = {
    'ACMConv': _acm,
    'AMGCNConv': _amgcn,
    'GAMLPConv': _gamlp,
    'HopAttention': _hop_stack,
    'DAGNNConv': _dagnn,
    'FAGCNConv': _fagcn,
    'GATConv': _gat,
    'GATv2Conv': _gatv2,
    'GraphHAMConv': _graphham,
    'HANConv': _han,
    'MAGNABlock': _magna_block,
    'MAGNAConv': _magna,
    'PaGNNConv': _pagnn,
    'PPRGATConv': _pprgat,
    'PPRGATv2Conv': _pprgatv2,
    'RGATConv': _rgat,
    'RGHATConv': _rghat,
    'SiGATConv': _sigat,
    'SPAGANConv': _spagan,
    'SuperGATConv': _supergat,
    'DySATStructuralConv': _dysat,
    'TemporalSelfAttention': _temporal,
    'TDGNNConv': _tdgnn,
    'UAGConv': _uag,
}

#: Conv cases without an oracle, with the reason.
NO_ORACLE: Dict[str, str] = {}
