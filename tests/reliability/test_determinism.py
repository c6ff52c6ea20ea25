"""Determinism: with a seed and ``torch.use_deterministic_algorithms(True)``
a training step (dropout on, forward and backward) of every layer and model
gives bit-identical outputs and gradients on CPU when run twice."""
import pytest
import torch
from reliability.zoo import all_cases, random_graph

CASES = all_cases()


@pytest.fixture
def deterministic():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def _fresh_graph():
    # New tensor objects every time, so no per-graph cache (PPR, paths,
    # propagation operators) carries anything from one run to the next.
    return random_graph(25, 90, seed=6)


def _training_step(case):
    torch.manual_seed(0)
    module = case.build().train()
    torch.manual_seed(1)  # dropout masks, Gumbel noise, sampled negatives
    graph = _fresh_graph()
    graph.x.requires_grad_()
    out = case.call(module, graph)
    out.double().square().mean().backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters()
             if p.grad is not None}
    grads['x'] = graph.x.grad.clone()
    return out.detach(), grads


@pytest.mark.parametrize('case', CASES, ids=str)
def test_two_seeded_runs_are_identical(case, deterministic):
    out_a, grads_a = _training_step(case)
    out_b, grads_b = _training_step(case)
    assert torch.equal(out_a, out_b)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        assert torch.equal(grads_a[name], grads_b[name]), name


def test_the_check_can_fail(deterministic):
    """Unseeded dropout differs between runs: the comparison above is able
    to see a difference."""
    case = next(c for c in CASES if c.name == 'model:gat')
    torch.manual_seed(0)
    module = case.build().train()
    graph = _fresh_graph()
    assert not torch.equal(case.call(module, graph), case.call(module, graph))


def test_gpu_aggregation_routes_to_fixed_order_segments(deterministic):
    """On a GPU the scatter kernels add with atomics (run-to-run order
    changes the float sum); with deterministic algorithms on, the segment
    reductions take the sorted-CSR path instead. Only the routing can be
    checked without a GPU."""
    from gat_zoo import ops
    cuda = torch.device('cuda')
    assert ops.resolve_backend(False, cuda) == 'csr'
    assert ops.resolve_backend(False, torch.device('cpu')) in ('scatter',
                                                               'torch')
    torch.use_deterministic_algorithms(False)
    assert ops.resolve_backend(False, cuda) in ('scatter', 'torch')
    with ops.use_backend('torch'):  # an explicit choice still wins
        torch.use_deterministic_algorithms(True)
        assert ops.resolve_backend(False, cuda) == 'torch'
