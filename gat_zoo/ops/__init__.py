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
from gat_zoo.ops.segment import (
    index_to_ptr,
    ptr_to_index,
    segment_aggregate,
    segment_count,
    segment_softmax,
    segment_sum,
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
    'set_backend',
    'use_backend',
]
