"""The Triton kernels behind :func:`gat_zoo.ops.triton_attention` (see its
module for the maths). Imported only on first use: it needs Triton.

Layouts: features ``[N, H, C]`` and scores ``[N, H]`` contiguous, edges in
the CSR graph's target-major order. Each program handles one node with all
its heads and walks that node's segment ``BLOCK_E`` edges at a time, so an
edge's index is read once for every head and its feature row
(``H x C`` values) is read whole. Tiles are ``[BLOCK_E, BLOCK_H, BLOCK_C]``
(powers of two, masked to ``H`` and ``C``). GAT's and GATv2's kernels
differ only in their logits; the online softmax, the statistics it leaves
for backward and the dropout hash are shared. Program ids are widened to
int64, so offsets past 2**31 (``N * H * C`` of a large graph) stay exact;
the dropout hash counts (edge, head) pairs in int32 and repeats its draws
past 2**31 of them. The float parameters (LeakyReLU
slope, dropout probability, the smallest normaliser) arrive in a small
tensor of the accumulator's dtype, so float64 runs keep them exact (a
Python float argument would be passed as float32).
"""
import torch
import triton
import triton.language as tl

NEG_INF = tl.constexpr(float('-inf'))


def accumulator(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other dtype accumulates in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def parameters(dtype: torch.dtype, device: torch.device, slope: float,
               dropout: float) -> torch.Tensor:
    acc = accumulator(dtype)
    return torch.tensor([slope, dropout, torch.finfo(acc).tiny], dtype=acc,
                        device=device)


@triton.jit
def _layout(H: tl.constexpr, C: tl.constexpr, BLOCK_H: tl.constexpr,
            BLOCK_C: tl.constexpr):
    """``(heads, h_mask, row, row_mask)``: the head range and the offsets
    ``[BLOCK_H, BLOCK_C]`` of one node's row, with their masks."""
    heads = tl.arange(0, BLOCK_H)
    channels = tl.arange(0, BLOCK_C)
    h_mask = heads < H
    row = heads[:, None] * C + channels[None, :]
    row_mask = h_mask[:, None] & (channels < C)[None, :]
    return heads, h_mask, row, row_mask


@triton.jit
def _program(ptr, params, H: tl.constexpr, C: tl.constexpr,
             BLOCK_H: tl.constexpr, BLOCK_C: tl.constexpr):
    """A program's node (int64), the LeakyReLU slope, the node's segment
    ``[start, end)`` in ``ptr`` and its row layout (see :func:`_layout`)."""
    node = tl.program_id(0).to(tl.int64)
    start = tl.load(ptr + node)
    end = tl.load(ptr + node + 1)
    heads, h_mask, row, row_mask = _layout(H, C, BLOCK_H, BLOCK_C)
    return node, tl.load(params), start, end, heads, h_mask, row, row_mask


@triton.jit
def _rows(base, node, row, H: tl.constexpr, C: tl.constexpr):
    """Pointers ``[BLOCK_E, BLOCK_H, BLOCK_C]`` to the rows of the nodes
    ``node`` (``[BLOCK_E]``) in an ``[N, H, C]`` tensor."""
    return base + node[:, None, None] * (H * C) + row[None, :, :]


@triton.jit
def _source_block(off, end, col, x, row, h_mask, row_mask, like,
                  H: tl.constexpr, C: tl.constexpr, BLOCK_E: tl.constexpr):
    """The next ``BLOCK_E`` edges of a target's segment: ``(e, mask, j,
    feats)``, their CSR positions, validity per (edge, head), sources and
    source rows ``[BLOCK_E, BLOCK_H, BLOCK_C]`` in the dtype of ``like``."""
    e = off + tl.arange(0, BLOCK_E)
    e_mask = e < end
    mask = e_mask[:, None] & h_mask[None, :]
    j = tl.load(col + e, mask=e_mask, other=0)
    feats = tl.load(_rows(x, j, row, H, C),
                    mask=e_mask[:, None, None] & row_mask[None], other=0.0)
    return e, mask, j, feats.to(like.dtype)


@triton.jit
def _dropout(seed, e, heads, params, H: tl.constexpr, DROPOUT: tl.constexpr):
    """Dropout factor ``[BLOCK_E, BLOCK_H]`` (1 without dropout): 0 or
    1 / (1 - p), from a hash of (seed, edge, head), the same in the forward
    and both backward kernels."""
    if DROPOUT:
        p_drop = tl.load(params + 1)
        draw = tl.rand(seed, (e[:, None] * H + heads[None, :]).to(tl.int32))
        return tl.where(draw >= p_drop, 1.0 / (1.0 - p_drop), 0.0)
    else:
        return 1.0


@triton.jit
def _softmax_step(run_max, run_sum, acc, logit, values, kappa):
    """One block of the online softmax: per head, the running maximum and
    normaliser of the logits ``[BLOCK_E, BLOCK_H]`` (masked ones -inf) and
    the accumulator of ``kappa * weight * values``, rescaled to the new
    maximum."""
    new_max = tl.maximum(run_max, tl.max(logit, axis=0))
    # All logits -inf so far: shift by 0, so that exp gives 0, not NaN.
    shift = tl.where(new_max == NEG_INF, 0.0, new_max)
    rescale = tl.exp(run_max - shift)
    weight = tl.exp(logit - shift[None, :])
    run_sum = run_sum * rescale + tl.sum(weight, axis=0)
    acc = acc * rescale[:, None] + tl.sum(
        (weight * kappa)[:, :, None] * values, axis=0)
    return new_max, run_sum, acc


@triton.jit
def _softmax_finish(out, peak, norm, node, run_max, run_sum, acc, params,
                    heads, h_mask, row, row_mask, H: tl.constexpr,
                    C: tl.constexpr):
    """Writes the normalised output row and the statistics the backward
    kernels recompute the coefficients from (shift and normaliser)."""
    shift = tl.where(run_max == NEG_INF, 0.0, run_max)
    total = tl.maximum(run_sum, tl.load(params + 2))
    tl.store(out + node * (H * C) + row, acc / total[:, None], mask=row_mask)
    tl.store(peak + node * H + heads, shift, mask=h_mask)
    tl.store(norm + node * H + heads, total, mask=h_mask)


@triton.jit
def _statistics(peak, norm, node, heads, mask, H: tl.constexpr):
    """The forward pass's shift and normaliser at ``node * H + heads``
    (either a scalar node with ``[BLOCK_H]`` heads or a block of nodes)."""
    at = node * H + heads
    return (tl.load(peak + at, mask=mask, other=0.0),
            tl.load(norm + at, mask=mask, other=1.0))


@triton.jit
def _correction(grad_out, out, node, row, row_mask, like,
                H: tl.constexpr, C: tl.constexpr):
    """``(g, D)``: the output gradient row of ``node`` and, per head,
    ``D = <g, out> = sum_e kappa_e alpha_e <g, x_j>``, the softmax's
    correction term."""
    at = node * (H * C) + row
    g = tl.load(grad_out + at, mask=row_mask, other=0.0).to(like.dtype)
    o = tl.load(out + at, mask=row_mask, other=0.0).to(like.dtype)
    return g, tl.sum(g * o, axis=1)


# GAT: the logit of e = (j -> i) is LeakyReLU(s_j + t_i + u_e) from
# per-node scores.


@triton.jit
def _logits(s_src, s_dst, s_edge, src, dst, e, heads, mask, like,
            H: tl.constexpr, HAS_DST: tl.constexpr, HAS_EDGE: tl.constexpr):
    """LeakyReLU input ``[BLOCK_E, BLOCK_H]`` of a block of edges
    ``src -> dst`` (``e``: their CSR positions), in the dtype of ``like``
    (the accumulator's). One of ``src``, ``dst`` is the program's node, a
    scalar, widened to the block so that every load is a block load."""
    src = (src + tl.zeros_like(e))[:, None] * H + heads[None, :]
    dst = (dst + tl.zeros_like(e))[:, None] * H + heads[None, :]
    pre = tl.load(s_src + src, mask=mask, other=0.0).to(like.dtype)
    if HAS_DST:
        pre += tl.load(s_dst + dst, mask=mask, other=0.0).to(pre.dtype)
    if HAS_EDGE:
        pre += tl.load(s_edge + e[:, None] * H + heads[None, :], mask=mask,
                       other=0.0).to(pre.dtype)
    return pre


@triton.jit
def forward_kernel(ptr, col, x, s_src, s_dst, s_edge, out, peak, norm,
                   params, seed,
                   H: tl.constexpr, C: tl.constexpr, BLOCK_E: tl.constexpr,
                   BLOCK_H: tl.constexpr, BLOCK_C: tl.constexpr,
                   HAS_DST: tl.constexpr, HAS_EDGE: tl.constexpr,
                   DROPOUT: tl.constexpr):
    i, slope, start, end, heads, h_mask, row, row_mask = _program(
        ptr, params, H, C, BLOCK_H, BLOCK_C)
    run_max = tl.full([BLOCK_H], NEG_INF, slope.dtype)
    run_sum = tl.zeros([BLOCK_H], slope.dtype)
    acc = tl.zeros([BLOCK_H, BLOCK_C], slope.dtype)
    for off in range(start, end, BLOCK_E):
        e, mask, j, feats = _source_block(off, end, col, x, row, h_mask,
                                          row_mask, slope, H, C, BLOCK_E)
        pre = _logits(s_src, s_dst, s_edge, j, i, e, heads, mask, slope, H,
                      HAS_DST, HAS_EDGE)
        logit = tl.where(mask, tl.where(pre > 0, pre, pre * slope), NEG_INF)
        run_max, run_sum, acc = _softmax_step(
            run_max, run_sum, acc, logit, feats,
            _dropout(seed, e, heads, params, H, DROPOUT))
    _softmax_finish(out, peak, norm, i, run_max, run_sum, acc, params, heads,
                    h_mask, row, row_mask, H, C)


@triton.jit
def backward_target_kernel(ptr, col, x, s_src, s_dst, s_edge, out, grad_out,
                           peak, norm, grad_logit, grad_dst, params, seed,
                           H: tl.constexpr, C: tl.constexpr,
                           BLOCK_E: tl.constexpr, BLOCK_H: tl.constexpr,
                           BLOCK_C: tl.constexpr, HAS_DST: tl.constexpr,
                           HAS_EDGE: tl.constexpr, DROPOUT: tl.constexpr):
    """Per target: the gradient of every edge's LeakyReLU input (written to
    ``grad_logit``) and its sum, the target score's gradient."""
    i, slope, start, end, heads, h_mask, row, row_mask = _program(
        ptr, params, H, C, BLOCK_H, BLOCK_C)
    g, correction = _correction(grad_out, out, i, row, row_mask, slope, H, C)
    shift, total = _statistics(peak, norm, i, heads, h_mask, H)
    target_sum = tl.zeros([BLOCK_H], slope.dtype)
    for off in range(start, end, BLOCK_E):
        e, mask, j, feats = _source_block(off, end, col, x, row, h_mask,
                                          row_mask, slope, H, C, BLOCK_E)
        pre = _logits(s_src, s_dst, s_edge, j, i, e, heads, mask, slope, H,
                      HAS_DST, HAS_EDGE)
        alpha = tl.exp(tl.where(pre > 0, pre, pre * slope) - shift[None, :]) \
            / total[None, :]
        inner = tl.sum(feats * g[None, :, :], axis=2)
        inner = inner * _dropout(seed, e, heads, params, H, DROPOUT)
        grad = alpha * (inner - correction[None, :])
        grad = tl.where(mask, tl.where(pre > 0, grad, grad * slope), 0.0)
        tl.store(grad_logit + e[:, None] * H + heads[None, :], grad,
                 mask=mask)
        target_sum += tl.sum(grad, axis=0)
    tl.store(grad_dst + i * H + heads, target_sum, mask=h_mask)


@triton.jit
def backward_source_kernel(ptr_t, row_t, csr_position, s_src, s_dst, s_edge,
                           grad_out, peak, norm, grad_logit, grad_x,
                           grad_src, params, seed,
                           H: tl.constexpr, C: tl.constexpr,
                           BLOCK_E: tl.constexpr, BLOCK_H: tl.constexpr,
                           BLOCK_C: tl.constexpr, HAS_DST: tl.constexpr,
                           HAS_EDGE: tl.constexpr, DROPOUT: tl.constexpr):
    """Per source: its features' gradient (kappa * alpha * d out_i over its
    edges) and its score's gradient (the sum of its edges' logit
    gradients)."""
    j, slope, start, end, heads, h_mask, row, row_mask = _program(
        ptr_t, params, H, C, BLOCK_H, BLOCK_C)
    acc = tl.zeros([BLOCK_H, BLOCK_C], slope.dtype)
    source_sum = tl.zeros([BLOCK_H], slope.dtype)
    for off in range(start, end, BLOCK_E):
        q = off + tl.arange(0, BLOCK_E)
        q_mask = q < end
        mask = q_mask[:, None] & h_mask[None, :]
        e = tl.load(csr_position + q, mask=q_mask, other=0)
        i = tl.load(row_t + q, mask=q_mask, other=0)
        pre = _logits(s_src, s_dst, s_edge, j, i, e, heads, mask, slope, H,
                      HAS_DST, HAS_EDGE)
        shift, total = _statistics(peak, norm, i[:, None], heads[None, :],
                                   mask, H)
        alpha = tl.exp(tl.where(pre > 0, pre, pre * slope) - shift) / total
        alpha = tl.where(mask, alpha, 0.0)
        alpha = alpha * _dropout(seed, e, heads, params, H, DROPOUT)
        g = tl.load(_rows(grad_out, i, row, H, C),
                    mask=q_mask[:, None, None] & row_mask[None], other=0.0)
        acc += tl.sum(alpha[:, :, None] * g.to(acc.dtype), axis=0)
        source_sum += tl.sum(
            tl.load(grad_logit + e[:, None] * H + heads[None, :], mask=mask,
                    other=0.0).to(acc.dtype), axis=0)
    tl.store(grad_x + j * (H * C) + row, acc, mask=row_mask)
    tl.store(grad_src + j * H + heads, source_sum, mask=h_mask)


# GATv2: the logit of e = (j -> i) is a_h . LeakyReLU(x_j + t_i) over the
# channels, computed from the source row the aggregation reads anyway.


@triton.jit
def _v2_logits(sources, targets, att, s_edge, e, heads, mask, slope,
               H: tl.constexpr, HAS_EDGE: tl.constexpr):
    """``(hidden, logit)``: the LeakyReLU input ``[BLOCK_E, BLOCK_H,
    BLOCK_C]`` (source rows + target rows, either may be one row
    broadcast) and the logits ``[BLOCK_E, BLOCK_H]``, plus the per-edge
    additive term when there is one."""
    hidden = sources + targets
    logit = tl.sum(tl.where(hidden > 0, hidden, hidden * slope) * att[None],
                   axis=2)
    if HAS_EDGE:
        logit += tl.load(s_edge + e[:, None] * H + heads[None, :], mask=mask,
                         other=0.0).to(logit.dtype)
    return hidden, logit


@triton.jit
def v2_forward_kernel(ptr, col, x, x_dst, att, s_edge, out, peak, norm,
                      params, seed,
                      H: tl.constexpr, C: tl.constexpr,
                      BLOCK_E: tl.constexpr, BLOCK_H: tl.constexpr,
                      BLOCK_C: tl.constexpr, HAS_EDGE: tl.constexpr,
                      DROPOUT: tl.constexpr):
    i, slope, start, end, heads, h_mask, row, row_mask = _program(
        ptr, params, H, C, BLOCK_H, BLOCK_C)
    a = tl.load(att + row, mask=row_mask, other=0.0).to(slope.dtype)
    target = tl.load(x_dst + i * (H * C) + row, mask=row_mask,
                     other=0.0).to(slope.dtype)[None, :, :]
    run_max = tl.full([BLOCK_H], NEG_INF, slope.dtype)
    run_sum = tl.zeros([BLOCK_H], slope.dtype)
    acc = tl.zeros([BLOCK_H, BLOCK_C], slope.dtype)
    for off in range(start, end, BLOCK_E):
        e, mask, j, feats = _source_block(off, end, col, x, row, h_mask,
                                          row_mask, slope, H, C, BLOCK_E)
        logit = _v2_logits(feats, target, a, s_edge, e, heads, mask, slope,
                           H, HAS_EDGE)[1]
        logit = tl.where(mask, logit, NEG_INF)
        run_max, run_sum, acc = _softmax_step(
            run_max, run_sum, acc, logit, feats,
            _dropout(seed, e, heads, params, H, DROPOUT))
    _softmax_finish(out, peak, norm, i, run_max, run_sum, acc, params, heads,
                    h_mask, row, row_mask, H, C)


@triton.jit
def v2_backward_target_kernel(ptr, col, x, x_dst, att, s_edge, out,
                              grad_out, peak, norm, grad_logit, grad_x_dst,
                              grad_att_part, params, seed,
                              H: tl.constexpr, C: tl.constexpr,
                              BLOCK_E: tl.constexpr, BLOCK_H: tl.constexpr,
                              BLOCK_C: tl.constexpr, HAS_EDGE: tl.constexpr,
                              DROPOUT: tl.constexpr):
    """Per target: the logit gradients (written to ``grad_logit``), the
    target features' gradient and this target's share of the attention
    vectors' gradient (``grad_att_part[i]``, summed over targets after)."""
    i, slope, start, end, heads, h_mask, row, row_mask = _program(
        ptr, params, H, C, BLOCK_H, BLOCK_C)
    a = tl.load(att + row, mask=row_mask, other=0.0).to(slope.dtype)
    target = tl.load(x_dst + i * (H * C) + row, mask=row_mask,
                     other=0.0).to(slope.dtype)[None, :, :]
    g, correction = _correction(grad_out, out, i, row, row_mask, slope, H, C)
    shift, total = _statistics(peak, norm, i, heads, h_mask, H)
    grad_target = tl.zeros([BLOCK_H, BLOCK_C], slope.dtype)
    grad_att = tl.zeros([BLOCK_H, BLOCK_C], slope.dtype)
    for off in range(start, end, BLOCK_E):
        e, mask, j, feats = _source_block(off, end, col, x, row, h_mask,
                                          row_mask, slope, H, C, BLOCK_E)
        hidden, logit = _v2_logits(feats, target, a, s_edge, e, heads, mask,
                                   slope, H, HAS_EDGE)
        alpha = tl.exp(logit - shift[None, :]) / total[None, :]
        inner = tl.sum(feats * g[None, :, :], axis=2)
        inner = inner * _dropout(seed, e, heads, params, H, DROPOUT)
        grad = tl.where(mask, alpha * (inner - correction[None, :]), 0.0)
        tl.store(grad_logit + e[:, None] * H + heads[None, :], grad,
                 mask=mask)
        # d hidden = d logit * a * LeakyReLU'(hidden)
        scale = tl.where(hidden > 0, 1.0, slope)
        grad_target += tl.sum(grad[:, :, None] * a[None] * scale, axis=0)
        grad_att += tl.sum(grad[:, :, None] * hidden * scale, axis=0)
    tl.store(grad_x_dst + i * (H * C) + row, grad_target, mask=row_mask)
    tl.store(grad_att_part + i * (H * C) + row, grad_att, mask=row_mask)


@triton.jit
def v2_backward_source_kernel(ptr_t, row_t, csr_position, x, x_dst, att,
                              s_edge, grad_out, peak, norm, grad_logit,
                              grad_x, params, seed,
                              H: tl.constexpr, C: tl.constexpr,
                              BLOCK_E: tl.constexpr, BLOCK_H: tl.constexpr,
                              BLOCK_C: tl.constexpr, HAS_EDGE: tl.constexpr,
                              DROPOUT: tl.constexpr):
    """Per source: the gradient of its features through the aggregation
    (kappa * alpha * d out_i) and through the logits (d logit * a *
    LeakyReLU'(hidden))."""
    j, slope, start, end, heads, h_mask, row, row_mask = _program(
        ptr_t, params, H, C, BLOCK_H, BLOCK_C)
    a = tl.load(att + row, mask=row_mask, other=0.0).to(slope.dtype)
    source = tl.load(x + j * (H * C) + row, mask=row_mask,
                     other=0.0).to(slope.dtype)[None, :, :]
    acc = tl.zeros([BLOCK_H, BLOCK_C], slope.dtype)
    for off in range(start, end, BLOCK_E):
        q = off + tl.arange(0, BLOCK_E)
        q_mask = q < end
        mask = q_mask[:, None] & h_mask[None, :]
        e = tl.load(csr_position + q, mask=q_mask, other=0)
        i = tl.load(row_t + q, mask=q_mask, other=0)
        targets = tl.load(_rows(x_dst, i, row, H, C),
                          mask=q_mask[:, None, None] & row_mask[None],
                          other=0.0).to(slope.dtype)
        hidden, logit = _v2_logits(source, targets, a, s_edge, e, heads,
                                   mask, slope, H, HAS_EDGE)
        shift, total = _statistics(peak, norm, i[:, None], heads[None, :],
                                   mask, H)
        alpha = tl.where(mask, tl.exp(logit - shift) / total, 0.0)
        alpha = alpha * _dropout(seed, e, heads, params, H, DROPOUT)
        g = tl.load(_rows(grad_out, i, row, H, C),
                    mask=q_mask[:, None, None] & row_mask[None], other=0.0)
        grad = tl.load(grad_logit + e[:, None] * H + heads[None, :],
                       mask=mask, other=0.0).to(acc.dtype)
        scale = tl.where(hidden > 0, 1.0, slope)
        acc += tl.sum(alpha[:, :, None] * g.to(acc.dtype)
                      + grad[:, :, None] * a[None] * scale, axis=0)
    tl.store(grad_x + j * (H * C) + row, acc, mask=row_mask)
