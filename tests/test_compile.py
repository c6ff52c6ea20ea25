"""``torch.compile`` runs the layers (on the traceable native-torch kernels
when torch_scatter is installed) and gives the eager result."""
import pytest
import torch

from gat_zoo.nn.conv import DAGNNConv, GATConv
from gat_zoo.ops import resolve_backend


@pytest.mark.parametrize('make', [lambda: GATConv(4, 3, heads=2),
                                  lambda: DAGNNConv(4, K=3)],
                         ids=['GATConv', 'DAGNNConv'])
def test_compiled_layer_matches_eager(make):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(10, 4)
    edge_index = torch.randint(0, 10, (2, 30))
    expected = layer(x, edge_index)
    torch._dynamo.reset()
    out = torch.compile(layer)(x, edge_index)
    assert torch.allclose(out, expected, atol=1e-5)


def test_backend_while_compiling_is_native():
    seen = []

    def probe(x):
        seen.append(resolve_backend(has_ptr=True))
        return x + 1

    torch._dynamo.reset()
    torch.compile(probe)(torch.ones(2))
    assert seen and seen[0] == 'torch'
