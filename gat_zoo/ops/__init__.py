"""Kernels shared by every layer: segment softmax over incoming edges and
weighted neighbour aggregation, on interchangeable backends."""
from gat_zoo.ops._backend import (
    BACKENDS,
    WITH_TORCH_SCATTER,
    WITH_TORCH_SPARSE,
    available_backends,
    get_backend,
    resolve_backend,
    set_backend,
    use_backend,
)
from gat_zoo.ops.csr import CSRGraph, cached_csr, clear_csr_cache
from gat_zoo.ops.edge_logits import gatv2_logits
from gat_zoo.ops.edge_softmax import gat_edge_softmax
from gat_zoo.ops.fused import (
    FUSED_MODES,
    fused_allowed,
    get_fused,
    set_fused,
    triton_selected,
    use_fused,
)
from gat_zoo.ops.metapaths import metapath_adjacency, metapath_edge_index
from gat_zoo.ops.motifs import (
    MOTIF_NAMES,
    clear_motif_cache,
    signed_motif_graphs,
)
from gat_zoo.ops.paths import (
    PathSet,
    attention_costs,
    clear_shortest_path_cache,
    shortest_paths,
)
from gat_zoo.ops.ppr import (
    PPR_NORMALIZATIONS,
    PPRMatrix,
    approximate_ppr,
    as_ppr_matrix,
    clear_ppr_cache,
    ppr_edge_values,
)
from gat_zoo.ops.propagation import (
    SELF_LOOP_MODES,
    Propagation,
    normalized_propagation,
)
from gat_zoo.ops.segment import (
    index_to_ptr,
    ptr_to_index,
    segment_aggregate,
    segment_count,
    segment_softmax,
    segment_sum,
    segment_topk_mask,
)
from gat_zoo.ops.spmm import head_spmm
from gat_zoo.ops.tree_decomposition import (
    TreeDecomposition,
    clear_tree_decomposition_cache,
    tree_decomposition,
)
from gat_zoo.ops.triton_attention import (
    triton_attention,
    triton_attention_available,
    triton_gatv2_attention,
)

__all__ = [
    'BACKENDS',
    'WITH_TORCH_SCATTER',
    'WITH_TORCH_SPARSE',
    'available_backends',
    'get_backend',
    'index_to_ptr',
    'ptr_to_index',
    'resolve_backend',
    'segment_aggregate',
    'segment_count',
    'segment_softmax',
    'segment_sum',
    'segment_topk_mask',
    'CSRGraph',
    'FUSED_MODES',
    'cached_csr',
    'clear_csr_cache',
    'fused_allowed',
    'gat_edge_softmax',
    'gatv2_logits',
    'get_fused',
    'head_spmm',
    'set_fused',
    'triton_attention',
    'triton_attention_available',
    'triton_gatv2_attention',
    'triton_selected',
    'use_fused',
    'PPRMatrix',
    'PPR_NORMALIZATIONS',
    'approximate_ppr',
    'as_ppr_matrix',
    'clear_ppr_cache',
    'ppr_edge_values',
    'metapath_adjacency',
    'metapath_edge_index',
    'MOTIF_NAMES',
    'clear_motif_cache',
    'signed_motif_graphs',
    'PathSet',
    'attention_costs',
    'clear_shortest_path_cache',
    'shortest_paths',
    'Propagation',
    'SELF_LOOP_MODES',
    'normalized_propagation',
    'TreeDecomposition',
    'clear_tree_decomposition_cache',
    'tree_decomposition',
    'set_backend',
    'use_backend',
]
