r"""The motif-specific neighbourhoods of SiGAT (Huang et al., ICANN 2019,
`arXiv:1906.10958 <https://arxiv.org/abs/1906.10958>`_), built sparsely from
a signed, directed edge list.

SiGAT reads a signed directed network through 38 motifs, each of which gives
every node :math:`i` its own neighbourhood :math:`\mathcal{N}_m(i)`:

* **6 first-order motifs** (one edge between :math:`i` and :math:`j`):

  ============  ==========================================================
  ``'pos'``     :math:`j` is linked to :math:`i` by a positive edge, either
                direction
  ``'pos_out'`` :math:`i \xrightarrow{+} j`
  ``'pos_in'``  :math:`j \xrightarrow{+} i`
  ``'neg'``     :math:`j` is linked to :math:`i` by a negative edge, either
                direction
  ``'neg_out'`` :math:`i \xrightarrow{-} j`
  ``'neg_in'``  :math:`j \xrightarrow{-} i`
  ============  ==========================================================

* **32 triad motifs** (balance and status theory): :math:`j \in
  \mathcal{N}_m(i)` when there is an edge :math:`i \xrightarrow{e} j` of sign
  :math:`e` *and* a third node :math:`w \notin \{i, j\}` closes a triangle
  with it in a given way. The way is fixed by how :math:`i` relates to
  :math:`w` (``out``: :math:`i \to w`, ``in``: :math:`w \to i`) with sign
  :math:`s_1`, and how :math:`j` relates to :math:`w` (``in``: :math:`w \to
  j`, ``out``: :math:`j \to w`) with sign :math:`s_2`; 2 edge signs
  :math:`\times` 4 direction pairs :math:`\times` 4 sign pairs = 32. A triad
  motif is named ``'{e}|i-{d1}{s1}|j-{d2}{s2}'``, e.g. ``'pos|i-out+|j-in-'``
  is :math:`i \xrightarrow{+} j` with :math:`i \xrightarrow{+} w
  \xrightarrow{-} j`.

The order of :data:`MOTIF_NAMES` is the order of the official code
(``huangjunjie-cs/SiGAT``, ``sigat.py`` and ``fea_extra.py``): the 6
first-order motifs, then the 16 triad motifs of positive edges, then the 16 of
negative edges; within a sign, the direction pairs ``(out, in)``, ``(out,
out)``, ``(in, out)``, ``(in, in)``, each with the sign pairs ``++``, ``+-``,
``-+``, ``--``. (The paper's Fig. 2 draws the same 38; the survey's one-line
summary "an MLP over signed neighbours" leaves them out.)

Conventions:

* Input edges are ``[2, E]`` (row 0 the source :math:`u`, row 1 the target
  :math:`v` of :math:`u \to v`) with one sign per edge: :math:`\pm 1` (any
  integer or floating dtype) or a bool (``True`` = positive). ``sign=None``
  means every edge is positive.
* Neighbourhoods are *sets*: duplicate edges count once, self-loops are
  dropped (a node is not its own relation), and a pair joined by edges of
  both signs belongs to the positive and to the negative motifs.
* Each output is an ``edge_index`` in PyG's ``source_to_target`` flow: row 0
  holds the neighbour :math:`j` (the message source), row 1 the centre
  :math:`i`, sorted by centre, then neighbour. Self-loops are *not* added
  (the attention layer adds :math:`i` to its own neighbourhood).

Everything is computed with :mod:`scipy.sparse` on the CPU: first-order
motifs are index manipulations, and a triad count
:math:`|N_{d_1}^{s_1}(i) \cap N_{d_2}^{s_2}(j)|` is evaluated only on the
edges :math:`i \to j` that carry it (a masked sparse product: rows of two
sparse adjacency matrices, gathered per edge and multiplied elementwise), so
no :math:`N \times N` product or dense matrix is ever formed. Results are
cached per graph object (see :func:`clear_motif_cache`).
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from gat_zoo.ops._cache import ObjectCache

__all__ = [
    'FIRST_ORDER_MOTIFS',
    'MOTIF_NAMES',
    'NUM_MOTIFS',
    'TRIAD_MOTIFS',
    'check_sign',
    'clear_motif_cache',
    'signed_motif_graphs',
]

FIRST_ORDER_MOTIFS: Tuple[str, ...] = ('pos', 'pos_out', 'pos_in', 'neg',
                                       'neg_out', 'neg_in')

#: Direction pairs (how i reaches w, how j reaches w) in the official order.
_DIRECTIONS: Tuple[Tuple[str, str], ...] = (('out', 'in'), ('out', 'out'),
                                            ('in', 'out'), ('in', 'in'))
_SIGN_PAIRS: Tuple[Tuple[str, str], ...] = (('+', '+'), ('+', '-'),
                                            ('-', '+'), ('-', '-'))

TRIAD_MOTIFS: Tuple[str, ...] = tuple(
    f'{edge}|i-{d1}{s1}|j-{d2}{s2}'
    for edge in ('pos', 'neg')
    for d1, d2 in _DIRECTIONS
    for s1, s2 in _SIGN_PAIRS)

#: The 38 motifs, in the order of :func:`signed_motif_graphs`' output.
MOTIF_NAMES: Tuple[str, ...] = FIRST_ORDER_MOTIFS + TRIAD_MOTIFS
NUM_MOTIFS = len(MOTIF_NAMES)

_cache = ObjectCache(size=8)


def clear_motif_cache() -> None:
    """Forget every motif set cached in this process."""
    _cache.clear()


def check_sign(sign: Any, num_edges: int) -> Optional[Tensor]:
    """Validate per-edge signs; returns a bool tensor (``True`` = positive)
    or :obj:`None` for ``sign=None``. Raises :class:`ValueError` naming the
    problem."""
    if sign is None:
        return None
    if not isinstance(sign, Tensor):
        raise ValueError(f"'sign' must be a tensor of +1/-1 per edge (got "
                         f"{type(sign).__name__})")
    if sign.is_complex():
        raise ValueError(f"'sign' must be real (got {sign.dtype})")
    if sign.dim() != 1 or sign.numel() != num_edges:
        raise ValueError(f"'sign' must have shape [num_edges] = "
                         f"[{num_edges}] (got {tuple(sign.shape)})")
    if sign.dtype == torch.bool:
        return sign
    bad = (sign != 1) & (sign != -1)
    if bool(bad.any()):
        value = sign[bad][0].item()
        raise ValueError(f"'sign' must hold +1 or -1 (or bools); found "
                         f"{value!r}")
    return sign > 0


def _check_edge_index(edge_index: Any, num_nodes: int) -> Tensor:
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"'edge_index' must be a [2, E] integer tensor "
                         f"(got {type(edge_index).__name__})")
    if edge_index.is_floating_point() or edge_index.is_complex() or \
            edge_index.dtype == torch.bool:
        raise ValueError(f"'edge_index' must hold integers (got "
                         f"{edge_index.dtype})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] (got "
                         f"{tuple(edge_index.shape)})")
    if not isinstance(num_nodes, int) or isinstance(num_nodes, bool) or \
            num_nodes < 0:
        raise ValueError(f"'num_nodes' must be a non-negative int (got "
                         f"{num_nodes!r})")
    edge_index = edge_index.as_subclass(Tensor).long()
    if edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0:
            raise ValueError(f"'edge_index' contains negative node indices "
                             f"(smallest: {low})")
        if high >= num_nodes:
            raise ValueError(f"'edge_index' is out of range: index {high} "
                             f"but only {num_nodes} nodes")
    return edge_index


def _binary(src: np.ndarray, dst: np.ndarray, n: int) -> sp.csr_matrix:
    """The 0/1 CSR matrix with ones at ``(src, dst)`` (duplicates merged)."""
    mat = sp.csr_matrix((np.ones(src.size, dtype=np.int64), (src, dst)),
                        shape=(n, n))
    mat.sum_duplicates()
    mat.data[:] = 1
    return mat


def _to_edge_index(mat: sp.spmatrix, device) -> Tensor:
    """``[2, nnz]`` message-passing index of a centre-major 0/1 matrix
    ``M[i, j]`` (row 0 the neighbour ``j``, row 1 the centre ``i``)."""
    coo = sp.coo_matrix(mat)
    centre, nbr = coo.row.astype(np.int64), coo.col.astype(np.int64)
    order = np.lexsort((nbr, centre))
    out = np.stack([nbr[order], centre[order]])
    return torch.from_numpy(np.ascontiguousarray(out)).to(device)


def _triad_counts(u: np.ndarray, v: np.ndarray, left: sp.csr_matrix,
                  right: sp.csr_matrix) -> np.ndarray:
    """``|N_left(u) ∩ N_right(v)|`` for each pair (a masked sparse product:
    only the rows of the queried pairs are multiplied)."""
    if u.size == 0:
        return np.zeros(0, dtype=np.int64)
    prod = left[u].multiply(right[v])
    return np.asarray(prod.sum(axis=1)).ravel()


def _build(edge_index: Tensor, positive: Optional[Tensor],
           num_nodes: int) -> List[Tensor]:
    device = edge_index.device
    n = num_nodes
    ei = edge_index.cpu().numpy()
    pos_mask = (np.ones(ei.shape[1], dtype=bool) if positive is None else
                positive.cpu().numpy().astype(bool))
    keep = ei[0] != ei[1]  # a node is not its own relation
    src, dst, pos_mask = ei[0][keep], ei[1][keep], pos_mask[keep]

    # Out-neighbour matrices A_s[u, w] = 1 iff u -s-> w; in-neighbours are
    # the transposes.
    adj = {'+': _binary(src[pos_mask], dst[pos_mask], n),
           '-': _binary(src[~pos_mask], dst[~pos_mask], n)}
    nbrs = {('out', s): adj[s] for s in '+-'}
    nbrs.update({('in', s): adj[s].T.tocsr() for s in '+-'})

    graphs: List[Tensor] = []
    for s in '+-':
        a = adj[s]
        undirected = ((a + a.T) > 0).astype(np.int64)
        graphs += [_to_edge_index(undirected, device),
                   _to_edge_index(a, device),            # i -s-> j
                   _to_edge_index(a.T.tocsr(), device)]  # j -s-> i
    for s in '+-':
        a = sp.coo_matrix(adj[s])
        u, v = a.row.astype(np.int64), a.col.astype(np.int64)
        for d1, d2 in _DIRECTIONS:
            for s1, s2 in _SIGN_PAIRS:
                # w = u or w = v cannot occur: the graph has no self-loops.
                count = _triad_counts(u, v, nbrs[(d1, s1)], nbrs[(d2, s2)])
                hit = count > 0
                mat = sp.csr_matrix(
                    (np.ones(int(hit.sum()), dtype=np.int64),
                     (u[hit], v[hit])), shape=(n, n))
                graphs.append(_to_edge_index(mat, device))
    assert len(graphs) == NUM_MOTIFS
    return graphs


def signed_motif_graphs(edge_index: Tensor, sign: Optional[Tensor],
                        num_nodes: int, cache: bool = True) -> List[Tensor]:
    r"""The 38 motif neighbourhoods of a signed directed graph, as one
    ``edge_index`` per motif (order and names: :data:`MOTIF_NAMES`).

    Args:
        edge_index (torch.Tensor): Signed directed edges ``[2, E]``, row 0
            the source :math:`u` and row 1 the target :math:`v` of :math:`u
            \to v`. Duplicates and self-loops are allowed (duplicates count
            once, self-loops are ignored).
        sign (torch.Tensor, optional): The sign of each edge, ``[E]``:
            :math:`\pm 1` or bool. :obj:`None` makes every edge positive.
        num_nodes (int): Number of nodes :math:`N`.
        cache (bool, optional): Remember the result for these very tensor
            objects (until they are edited in place or freed).
            (default: :obj:`True`)

    Returns:
        A list of 38 ``[2, E_m]`` int64 tensors on ``edge_index``'s device:
        for motif :math:`m`, the edges :math:`j \to i` with :math:`j \in
        \mathcal{N}_m(i)` (row 0 the neighbour :math:`j`, row 1 the centre
        :math:`i`), sorted by centre, without self-loops.
    """
    plain = _check_edge_index(edge_index, num_nodes)
    positive = check_sign(sign, plain.size(1))
    use_cache = cache and not torch.compiler.is_compiling()
    objs = (edge_index, sign)  # the caller's objects are the cache key
    key = ('signed_motif_graphs', num_nodes)
    if use_cache:
        hit = _cache.get(objs, key)
        if hit is not None:
            return list(hit)
    graphs = _build(plain, positive, num_nodes)
    if use_cache:
        _cache.put(objs, key, tuple(graphs))
    return graphs
