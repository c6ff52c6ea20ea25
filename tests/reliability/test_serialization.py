"""Every layer and model survives the ways users keep it: a state dict
loaded into a fresh instance, the whole module pickled (``torch.save``),
and ``copy.deepcopy`` -- after it has run, with its per-graph caches
filled -- and the copy computes the same output."""
import copy
import io

import pytest
import torch
from reliability.zoo import all_cases, random_graph

CASES = all_cases()


def _output(case, module, graph):
    with torch.no_grad():
        return case.call(module, graph)


@pytest.mark.parametrize('case', CASES, ids=str)
def test_state_dict_pickle_and_deepcopy_round_trips(case):
    graph = random_graph(12, 40, seed=7)
    module = case.module()
    expected = _output(case, module, graph)  # caches are filled now

    fresh = case.build().eval()
    fresh.load_state_dict(module.state_dict())
    torch.testing.assert_close(_output(case, fresh, graph), expected)

    buffer = io.BytesIO()
    torch.save(module, buffer)  # the whole module, caches included
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    torch.testing.assert_close(_output(case, loaded, graph), expected)

    copied = copy.deepcopy(module)
    torch.testing.assert_close(_output(case, copied, graph), expected)
