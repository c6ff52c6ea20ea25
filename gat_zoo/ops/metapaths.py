r"""Meta-path adjacencies of a heterogeneous graph as sparse products.

A meta-path :math:`\Phi = T_0 \xrightarrow{R_1} T_1 \cdots
\xrightarrow{R_L} T_L` connects :math:`u \in T_0` to :math:`v \in T_L`
whenever a path of those relation types joins them; its adjacency is the
product :math:`A_{R_1} A_{R_2} \cdots A_{R_L}` of the relations' (binary)
adjacency matrices, whose nonzeros are the meta-path's edges and whose
values count the path instances. HAN (Wang et al., WWW 2019) runs its
node-level attention on exactly these graphs (PAP, PSP, MAM, APCPA, ...).

The product is computed sparse-sparse (``torch_sparse``'s SpSpMM when it is
installed, :func:`torch.sparse.mm` otherwise) and never densified, so the
cost is the number of path instances rather than :math:`N^2`.
"""
from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple, Union, cast

import torch
from torch import Tensor

from gat_zoo.ops._backend import WITH_TORCH_SPARSE

__all__ = ['metapath_adjacency', 'metapath_edge_index']

EdgeType = Tuple[str, str, str]


def _as_edge_index(adj, name: str) -> Tensor:
    from torch_geometric.typing import SparseTensor
    if isinstance(adj, SparseTensor):
        row, col, _ = adj.coo()
        return torch.stack([row, col])
    if not isinstance(adj, Tensor):
        raise TypeError(f"Relation {name} must be an edge_index tensor or a "
                        f"SparseTensor (got {type(adj).__name__})")
    if adj.dim() != 2 or adj.size(0) != 2:
        raise ValueError(f"Relation {name} must have shape [2, E] (got "
                         f"{tuple(adj.shape)})")
    if adj.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"Relation {name} must hold integer node indices "
                        f"(got {adj.dtype})")
    return adj.as_subclass(Tensor).long()


def _relation_matrix(edge_index: Tensor, num_src: int, num_dst: int,
                     name: str):
    if edge_index.numel():
        lo, hi = int(edge_index.min()), int(edge_index[0].max())
        hi_dst = int(edge_index[1].max())
        if lo < 0 or hi >= num_src or hi_dst >= num_dst:
            raise ValueError(
                f"Relation {name} indexes nodes outside its types' ranges "
                f"(source ids in [{int(edge_index[0].min())}, {hi}] for "
                f"{num_src} nodes, target ids up to {hi_dst} for {num_dst} "
                f"nodes)")
    # Binary: a multi-edge is one relation fact, not two paths.
    keys = torch.unique(edge_index[0] * num_dst + edge_index[1])
    row, col = keys // num_dst, keys % num_dst
    value = torch.ones(row.numel(), dtype=torch.float64,
                       device=edge_index.device)
    if WITH_TORCH_SPARSE:
        from torch_sparse import SparseTensor
        return SparseTensor(row=row, col=col, value=value,
                            sparse_sizes=(num_src, num_dst), is_sorted=True)
    return torch.sparse_coo_tensor(torch.stack([row, col]), value,
                                   (num_src, num_dst)).coalesce()


def metapath_adjacency(
    edge_index_dict: Mapping[EdgeType, Union[Tensor, object]],
    metapath: Sequence[EdgeType],
    num_nodes_dict: Mapping[str, int],
    *,
    drop_self_loops: bool = False,
) -> Tuple[Tensor, Tensor]:
    r"""The adjacency of ``metapath`` as ``(edge_index, path_counts)``.

    Args:
        edge_index_dict (dict): ``{(src_type, rel, dst_type): edge_index}``
            as in :class:`~torch_geometric.data.HeteroData`
            (``edge_index_dict``); a value may also be a ``SparseTensor``.
            Duplicate relation edges count once.
        metapath (list of edge types): The relations along the path; each
            one's target type must be the next one's source type.
        num_nodes_dict (dict): Number of nodes of every node type.
        drop_self_loops (bool, optional): Drop :math:`u \to u` pairs (HAN
            adds each node to its own neighbourhood separately).
            (default: :obj:`False`)

    Returns:
        ``edge_index`` ``[2, E]`` from the path's first type to its last,
        sorted by target then source, each pair once, and ``path_counts``
        ``[E]``, the number of path instances joining the pair.
    """
    if len(metapath) == 0:
        raise ValueError("A meta-path needs at least one relation")
    product = None
    for step, edge_type in enumerate(metapath):
        edge_type = cast(EdgeType, tuple(edge_type))  # length checked next
        if len(edge_type) != 3:
            raise ValueError(f"Meta-path step {step} must be a (src_type, "
                             f"relation, dst_type) triple (got "
                             f"{edge_type!r})")
        if edge_type not in edge_index_dict:
            raise KeyError(f"Meta-path step {step}: relation {edge_type} is "
                           f"not in the graph (it has "
                           f"{sorted(edge_index_dict)})")
        if step and tuple(metapath[step - 1])[2] != edge_type[0]:
            raise ValueError(f"Meta-path steps {step - 1} and {step} do not "
                             f"chain: {tuple(metapath[step - 1])} ends at "
                             f"{tuple(metapath[step - 1])[2]!r} but "
                             f"{edge_type} starts at {edge_type[0]!r}")
        src, _, dst = edge_type
        for t in (src, dst):
            if t not in num_nodes_dict:
                raise KeyError(f"No node count for node type {t!r}")
        matrix = _relation_matrix(
            _as_edge_index(edge_index_dict[edge_type], str(edge_type)),
            int(num_nodes_dict[src]), int(num_nodes_dict[dst]),
            str(edge_type))
        if product is None:
            product = matrix
        elif WITH_TORCH_SPARSE:
            product = product @ matrix
        else:
            product = torch.sparse.mm(product, matrix).coalesce()
    assert product is not None  # the meta-path is not empty
    if WITH_TORCH_SPARSE:
        row, col, value = product.coo()
        if value is None:
            value = torch.ones(row.numel(), dtype=torch.float64,
                               device=row.device)
    else:
        (row, col), value = product.indices(), product.values()
    keep = value != 0
    if drop_self_loops:
        keep &= row != col
    edge_index = torch.stack([row[keep], col[keep]])
    # Target-major order: the CSR attention kernels then need no sort.
    order = torch.argsort(edge_index[1] * int(
        num_nodes_dict[tuple(metapath[0])[0]]) + edge_index[0])
    counts = value[keep].round().long()
    return edge_index[:, order], counts[order]


def metapath_edge_index(
    edge_index_dict: Mapping[EdgeType, Union[Tensor, object]],
    metapaths: Sequence[Sequence[EdgeType]],
    num_nodes_dict: Mapping[str, int],
    *,
    drop_self_loops: bool = False,
) -> Dict[EdgeType, Tensor]:
    r"""Every meta-path's ``edge_index`` (see :func:`metapath_adjacency`),
    keyed ``(first_type, 'metapath_<k>', last_type)`` like PyG's
    :class:`~torch_geometric.transforms.AddMetaPaths`, so the result can be
    passed as the ``edge_index_dict`` of :class:`~gat_zoo.nn.conv.HANConv`.
    """
    out: Dict[EdgeType, Tensor] = {}
    for k, metapath in enumerate(metapaths):
        edge_index, _ = metapath_adjacency(edge_index_dict, metapath,
                                           num_nodes_dict,
                                           drop_self_loops=drop_self_loops)
        key = (tuple(metapath[0])[0], f'metapath_{k}',
               tuple(metapath[-1])[2])
        out[key] = edge_index
    return out

