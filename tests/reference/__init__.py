"""Independent dense reference implementations ("test oracles") for GAT layers.

The code in :mod:`.dense_gat` is written directly from the equations of

* GAT   -- Velickovic et al., "Graph Attention Networks", ICLR 2018
  (arXiv:1710.10903), and
* GATv2 -- Brody et al., "How Attentive are Graph Attention Networks?",
  ICLR 2022 (arXiv:2105.14491),

using only dense ``O(N^2)`` float64 tensor algebra (a dense adjacency /
multiplicity matrix, logits for all ``(i, j)`` pairs, a masked softmax over
``j`` and ``alpha @ Wh``).  It deliberately does not use any
``torch_geometric`` machinery (no ``MessagePassing``, ``softmax``, ``scatter``
or sparse ops), so it can serve as an independent check of sparse
implementations.  The conventions (parameter names, self-loop handling,
multi-edges, ``fill_value``) follow PyG's ``GATConv`` / ``GATv2Conv`` so that
the oracle can be used to test PyG drop-in replacements.
"""

from .dense_gat import (  # noqa: F401
    dense_gat,
    dense_gatv2,
    edge_attention,
    gat_params_from_module,
    gatv2_params_from_module,
    neighbourhood_counts,
    random_graph,
)

__all__ = [
    'dense_gat',
    'dense_gatv2',
    'edge_attention',
    'gat_params_from_module',
    'gatv2_params_from_module',
    'neighbourhood_counts',
    'random_graph',
]
