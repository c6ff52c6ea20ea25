"""The adjacency layouts every layer accepts, for tests that check they
agree (kept apart from the dense oracles, which import no PyG)."""
from typing import Iterator, Tuple

import torch
from torch import Tensor
from torch_geometric import EdgeIndex

try:
    from torch_sparse import SparseTensor
except ImportError:  # pragma: no cover - torch_sparse is optional
    SparseTensor = None


def adjacency_layouts(edge_index: Tensor, n: int) -> Iterator[Tuple[str,
                                                                    object]]:
    """``(name, adjacency)`` for the same square graph of ``n`` nodes as a
    plain ``edge_index``, an ``EdgeIndex``, a torch sparse matrix and (if
    torch_sparse is installed) a ``SparseTensor``; the sparse matrices are
    target-major (row = target), as PyG's."""
    yield 'edge_index', edge_index
    yield 'EdgeIndex', EdgeIndex(edge_index, sparse_size=(n, n))
    yield 'torch.sparse', torch.sparse_coo_tensor(
        edge_index.flip(0), torch.ones(edge_index.size(1)), (n, n))
    if SparseTensor is not None:
        yield 'SparseTensor', SparseTensor.from_edge_index(
            edge_index.flip(0), sparse_sizes=(n, n))
