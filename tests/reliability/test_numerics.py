"""Numerics across the zoo: half precision against float32, softmax logits
of +-1e4, and ``torch.autograd.gradcheck`` in float64 for every layer."""
import pytest
import torch
from reliability.zoo import all_cases, random_graph

from gat_zoo.ops import available_backends, segment_softmax, use_backend

CASES = all_cases()
LAYER_CASES = [c for c in CASES if not c.name.startswith('model:')]

#: Relative error (Frobenius) allowed against float32: a few units of the
#: format's epsilon (2^-11 for float16, 2^-8 for bfloat16) times the depth.
HALF_TOLERANCE = {torch.float16: 5e-3, torch.bfloat16: 4e-2}


def _relative_error(out, ref):
    return ((out.double() - ref.double()).norm() /
            ref.double().norm().clamp(min=1e-6)).item()


@pytest.mark.parametrize('dtype', list(HALF_TOLERANCE), ids=str)
@pytest.mark.parametrize('case', CASES, ids=str)
def test_half_precision_matches_float32(case, dtype):
    graph = random_graph(40, 150, seed=2)
    with torch.no_grad():
        ref = case.call(case.module(), graph)
    module = case.module(dtype)
    x = graph.x.to(dtype).requires_grad_()
    out = case.call(module, graph.__class__(**{**graph.__dict__, 'x': x}))
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    assert _relative_error(out, ref) < HALF_TOLERANCE[dtype]
    # And backward runs in that dtype without overflow.
    out.float().square().mean().backward()
    assert x.grad is not None and x.grad.dtype == dtype
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize('case', CASES, ids=str)
def test_huge_features_stay_finite(case):
    """Features of order 1e4 drive attention logits far past exp()'s range
    (e^88 overflows float32): a softmax that does not subtract the segment
    maximum returns NaN here."""
    graph = random_graph(20, 60, seed=4)
    graph.x = graph.x * 1e4
    with torch.no_grad():
        out = case.call(case.module(), graph)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('backend', available_backends())
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16,
                                   torch.float32, torch.float64], ids=str)
def test_segment_softmax_of_logits_1e4(backend, dtype):
    """Logits of +-1e4 (and spreads of 2e4 within one segment) give finite
    weights that sum to one per segment and match float64."""
    gen = torch.Generator().manual_seed(0)
    index = torch.tensor([0, 0, 0, 1, 1, 3, 3, 3, 3, 4])  # segment 2 empty
    logits = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    logits = torch.where(logits > 0, 1e4, -1e4) + logits
    with use_backend(backend):
        alpha = segment_softmax(logits.to(dtype), index, num_segments=5)
    assert alpha.dtype == dtype and torch.isfinite(alpha).all()
    sums = torch.zeros(5, 3, dtype=torch.float64).index_add_(
        0, index, alpha.double())
    present = torch.tensor([1, 1, 0, 1, 1], dtype=torch.bool)
    torch.testing.assert_close(sums[present], torch.ones(4, 3,
                               dtype=torch.float64), rtol=0, atol=1e-2)
    # The reference sees the logits as rounded to the dtype (float16 spaces
    # values near 1e4 by 8, so the small offsets are gone in its input).
    rounded = logits.to(dtype).double()
    expected = torch.zeros_like(logits)
    for s in range(5):
        mask = index == s
        if mask.any():
            expected[mask] = torch.softmax(rounded[mask], dim=0)
    torch.testing.assert_close(alpha.double(), expected, rtol=0,
                               atol=1e-2 if dtype in (torch.float16,
                                                      torch.bfloat16)
                               else 1e-6)


@pytest.mark.parametrize('case', LAYER_CASES, ids=str)
def test_gradcheck_float64(case):
    """Finite differences against autograd, for the features and every
    parameter at once, on a graph with a self-loop, a duplicate edge and an
    isolated node."""
    graph = random_graph(6, 12, seed=5).to(torch.float64)
    module = case.module(torch.float64)
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    params = [p.detach().clone().requires_grad_() for n, p in
              module.named_parameters() if p.requires_grad]
    x = graph.x.clone().requires_grad_()

    def fn(x, *values):
        state = dict(zip(names, values))
        g = graph.__class__(**{**graph.__dict__, 'x': x})
        with _swapped(module, state):
            return case.call(module, g)

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-5,
                                    rtol=1e-4, fast_mode=False)


class _swapped:
    """Within the block, the module's parameters are the given tensors
    (gradcheck perturbs its own inputs, not the module's)."""

    def __init__(self, module, state):
        self.module, self.state, self.saved = module, state, {}

    def __enter__(self):
        for name, value in self.state.items():
            owner, attr = self._owner(name)
            self.saved[name] = owner._parameters[attr]
            owner._parameters[attr] = value
        return self.module

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            owner, attr = self._owner(name)
            owner._parameters[attr] = value
        return False

    def _owner(self, name):
        *path, attr = name.split('.')
        owner = self.module
        for part in path:
            owner = getattr(owner, part)
        return owner, attr
