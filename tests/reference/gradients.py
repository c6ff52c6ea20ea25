"""One gradient check for every oracle test: a layer's output and its
oracle's, backpropagated from the same random weighting, must give the same
gradients for the inputs and every parameter of the layer."""
from __future__ import annotations

from typing import List

import torch
from torch import Tensor

__all__ = ['assert_same_gradients']


def assert_same_gradients(layer: torch.nn.Module, ours: Tensor,
                          theirs: Tensor, inputs: List[Tensor],
                          atol: float = 1e-10) -> None:
    """A parameter neither side uses must be unused by both."""
    weight = torch.randn(ours.shape, dtype=ours.dtype,
                         generator=torch.Generator().manual_seed(11))
    params = list(layer.parameters())
    a = torch.autograd.grad((ours * weight).sum(), inputs + params,
                            allow_unused=True)
    b = torch.autograd.grad((theirs * weight).sum(), inputs + params,
                            allow_unused=True)
    for ga, gb in zip(a, b):
        if ga is None or gb is None:
            assert ga is None and gb is None
        else:
            assert torch.allclose(ga, gb, atol=atol, rtol=0)
