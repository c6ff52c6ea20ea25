"""Segment kernels: every backend against a plain-loop reference and against
each other, in values and gradients."""
import math
import os
import subprocess
import sys

import pytest
import torch

from gat_zoo import ops
from gat_zoo.ops import (
    available_backends,
    index_to_ptr,
    segment_aggregate,
    segment_softmax,
    use_backend,
)

BACKENDS = available_backends()


def _graph(num_edges=60, num_segments=12, heads=3, seed=0, sort=False):
    gen = torch.Generator().manual_seed(seed)
    index = torch.randint(0, num_segments - 2, (num_edges, ), generator=gen)
    index[index == 3] = 4  # segment 3 and the last two stay empty
    if sort:
        index = index.sort().values
    src = torch.randn(num_edges, heads, generator=gen, dtype=torch.float64)
    # Exact ties (duplicate edges carry identical messages).
    src[1] = src[0]
    index[1] = index[0]
    return src, index


def _reference_softmax(src, index, num):
    out = torch.zeros_like(src)
    for i in range(num):
        mask = index == i
        if mask.any():
            out[mask] = torch.softmax(src[mask], dim=0)
    return out


def _reference_aggregate(src, index, num, reduce):
    out = src.new_zeros((num, ) + src.shape[1:])
    for i in range(num):
        mask = index == i
        if mask.any():
            rows = src[mask]
            out[i] = {'sum': rows.sum(0), 'mean': rows.mean(0),
                      'max': rows.max(0).values}[reduce]
    return out


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('sort', [False, True])
def test_softmax_matches_reference(backend, sort):
    src, index = _graph(sort=sort)
    ptr = index_to_ptr(index, 12) if sort else None
    with use_backend(backend):
        out = segment_softmax(src, index, ptr=ptr, num_segments=12)
    expected = _reference_softmax(src, index, 12)
    assert torch.allclose(out, expected, atol=1e-12, rtol=0)
    # Each non-empty segment sums to one per head.
    sums = torch.zeros(12, 3, dtype=src.dtype).index_add_(0, index, out)
    present = torch.bincount(index, minlength=12) > 0
    assert torch.allclose(sums[present], torch.ones_like(sums[present]))


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max'])
@pytest.mark.parametrize('backend', BACKENDS)
def test_aggregate_matches_reference(backend, reduce):
    src, index = _graph(seed=1)
    with use_backend(backend):
        out = segment_aggregate(src, index, num_segments=12, reduce=reduce)
    expected = _reference_aggregate(src, index, 12, reduce)
    assert torch.allclose(out, expected, atol=1e-12, rtol=0)
    assert (out[3] == 0).all() and (out[-2:] == 0).all()  # empty segments


def _grads(fn, backend, src, index, ptr=None):
    src = src.clone().requires_grad_()
    weight = torch.randn(src.shape, generator=torch.Generator().manual_seed(7),
                         dtype=src.dtype)
    with use_backend(backend):
        out = fn(src, index, ptr)
    (out * weight[:out.size(0)] if out.shape == src.shape else
     out * torch.arange(out.numel(), dtype=src.dtype).view_as(out)).sum(
     ).backward()
    return out.detach(), src.grad


@pytest.mark.parametrize('sort', [False, True])
@pytest.mark.parametrize('op', ['softmax', 'sum', 'mean', 'max'])
def test_backends_agree_in_values_and_gradients(op, sort):
    src, index = _graph(seed=2, sort=sort)
    ptr = index_to_ptr(index, 12) if sort else None
    if op == 'softmax':
        def fn(s, i, p):
            return segment_softmax(s, i, ptr=p, num_segments=12)
    else:
        def fn(s, i, p):
            return segment_aggregate(s, i, ptr=p, num_segments=12,
                                     reduce=op)
    results = {b: _grads(fn, b, src, index, ptr) for b in BACKENDS}
    ref_out, ref_grad = results['torch']
    for backend, (out, grad) in results.items():
        assert torch.allclose(out, ref_out, atol=1e-12, rtol=0), backend
        assert torch.allclose(grad, ref_grad, atol=1e-12, rtol=0), backend


def test_softmax_gradient_matches_autograd_of_the_formula():
    src, index = _graph(seed=3)
    src = src.requires_grad_()
    weight = torch.randn_like(src)
    (segment_softmax(src, index, num_segments=12) * weight).sum().backward()
    ours = src.grad.clone()
    src.grad = None
    (_reference_softmax(src, index, 12) * weight).sum().backward()
    assert torch.allclose(ours, src.grad, atol=1e-12, rtol=0)


@pytest.mark.parametrize('backend', BACKENDS)
def test_softmax_gradcheck(backend):
    src, index = _graph(num_edges=20, num_segments=6, heads=2, seed=4)
    src = src.requires_grad_()
    with use_backend(backend):
        assert torch.autograd.gradcheck(
            lambda s: segment_softmax(s, index, num_segments=6), (src, ))


def test_max_gradient_is_split_between_ties():
    src = torch.tensor([[2.0], [2.0], [1.0]], dtype=torch.float64,
                       requires_grad=True)
    index = torch.tensor([0, 0, 0])
    for backend in BACKENDS:
        src.grad = None
        with use_backend(backend):
            segment_aggregate(src, index, num_segments=1,
                              reduce='max').sum().backward()
        assert src.grad.view(-1).tolist() == [0.5, 0.5, 0.0], backend


@pytest.mark.parametrize('backend', BACKENDS)
def test_softmax_with_inf_logits(backend):
    src = torch.tensor([[0.0], [-float('inf')], [-float('inf')],
                        [-float('inf')], [1.0]])
    index = torch.tensor([0, 0, 1, 1, 2])
    with use_backend(backend):
        out = segment_softmax(src, index, num_segments=4)
    assert torch.isfinite(out).all()
    assert out.view(-1).tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize('backend', BACKENDS)
def test_softmax_large_logits_stay_finite(backend):
    src = torch.tensor([[1e4], [-1e4], [1e4 - 1.0]])
    index = torch.tensor([0, 0, 0])
    with use_backend(backend):
        out = segment_softmax(src, index, num_segments=1)
    expected = torch.softmax(src.double(), dim=0).float()
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('backend', BACKENDS)
def test_low_precision_accumulates_in_float32(backend, dtype):
    # 4000 equal logits in one segment: a 16-bit running sum would stall
    # (float16 has 11 significant bits), the float32 accumulator does not.
    src = torch.zeros(4000, 2, dtype=dtype)
    index = torch.zeros(4000, dtype=torch.long)
    with use_backend(backend):
        out = segment_softmax(src, index, num_segments=1)
        total = segment_aggregate(torch.ones(4000, 2, dtype=dtype), index,
                                  num_segments=1)
    assert out.dtype == dtype and total.dtype == dtype
    assert torch.allclose(out.float(), torch.full((4000, 2), 1 / 4000),
                          rtol=1e-2)
    assert total.float().tolist() == [[4000.0, 4000.0]]


@pytest.mark.parametrize('backend', BACKENDS)
def test_empty_input(backend):
    src = torch.zeros(0, 2)
    index = torch.zeros(0, dtype=torch.long)
    with use_backend(backend):
        assert segment_softmax(src, index, num_segments=3).shape == (0, 2)
        out = segment_aggregate(src, index, num_segments=3, reduce='max')
    assert out.shape == (3, 2) and (out == 0).all()


def test_ptr_only_and_auto_choice():
    src, index = _graph(seed=5, sort=True)
    ptr = index_to_ptr(index, 12)
    assert ops.resolve_backend(has_ptr=True) in ('csr', ops.get_backend())
    out = segment_aggregate(src, ptr=ptr, reduce='sum')
    assert torch.allclose(out, _reference_aggregate(src, index, 12, 'sum'))


def test_bad_arguments():
    src = torch.randn(4, 2)
    with pytest.raises(ValueError, match='integers'):
        segment_softmax(src, torch.zeros(4), num_segments=1)
    with pytest.raises(ValueError, match='rows'):
        segment_softmax(src, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='reduction'):
        segment_aggregate(src, torch.zeros(4, dtype=torch.long), reduce='prod')
    with pytest.raises(ValueError, match='backend'):
        with use_backend('nope'):
            pass


def test_backend_env_var_is_honoured():
    code = ('import gat_zoo.ops as o; '
            'print(o.get_backend(), o.resolve_backend(False))')
    env = dict(os.environ, GAT_ZOO_BACKEND='csr')
    out = subprocess.run([sys.executable, '-c', code], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ['csr', 'csr']
    env['GAT_ZOO_BACKEND'] = 'bogus'
    proc = subprocess.run([sys.executable, '-c', code], env=env,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and 'GAT_ZOO_BACKEND' in proc.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('backend', BACKENDS)
def test_cuda_matches_cpu(backend):
    src, index = _graph(seed=6)
    with use_backend(backend):
        cpu = segment_softmax(src, index, num_segments=12)
        gpu = segment_softmax(src.cuda(), index.cuda(), num_segments=12)
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-12)


# segment_topk_mask ###########################################################


def _topk_mask_brute_force(values, index, k):
    # Each segment's k-th largest value (with repeats), row by row.
    mask = torch.zeros(values.shape, dtype=torch.bool)
    for e in range(values.size(0)):
        same = values[index == index[e]]
        for c in range(values.size(1)):
            column = sorted(same[:, c].tolist(), reverse=True)
            mask[e, c] = values[e, c] >= column[min(k, len(column)) - 1]
    return mask


@pytest.mark.parametrize('k', [1, 2, 3, 10])
def test_segment_topk_mask_matches_brute_force(k):
    from gat_zoo.ops import segment_topk_mask
    gen = torch.Generator().manual_seed(k)
    index = torch.randint(0, 6, (40, ), generator=gen)
    # Few distinct values, so ties at the threshold occur.
    values = torch.randint(0, 4, (40, 3), generator=gen).double()
    mask = segment_topk_mask(values, index, 8, k)  # segments 6, 7 empty
    assert torch.equal(mask, _topk_mask_brute_force(values, index, k))
    assert torch.equal(segment_topk_mask(values[:, 1], index, 8, k),
                       mask[:, 1])
    # Every non-empty segment keeps at least min(k, size) rows per column.
    for s in index.unique():
        rows = mask[index == s]
        assert bool((rows.sum(0) >= min(k, rows.size(0))).all())


def test_segment_topk_mask_corner_cases():
    from gat_zoo.ops import segment_topk_mask
    empty = segment_topk_mask(torch.empty(0, 2), torch.empty(0).long(), 3, 2)
    assert empty.shape == (0, 2) and empty.dtype == torch.bool
    values = torch.tensor([1.0, -math.inf, 0.5])
    assert segment_topk_mask(values, torch.tensor([0, 0, 1]), 2, 1).tolist() \
        == [True, False, True]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="'k'"):
            segment_topk_mask(values, torch.tensor([0, 0, 1]), 2, bad)
