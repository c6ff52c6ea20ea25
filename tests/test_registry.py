"""The registry: lookup, paper configs and data, and one sweep that builds,
runs and backpropagates every registered model."""
import json
from importlib import resources

import pytest
import torch

import gat_zoo
from gat_zoo import (
    FAMILIES,
    create_model,
    list_models,
    model_entry,
    paper_config,
    paper_result,
    register_model,
)


def _tiny_graph():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 6, generator=gen)
    # Node 8 is isolated; node 0 has a self-loop; (1, 2) is duplicated.
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 6, 7, 0],
                               [1, 2, 2, 3, 4, 5, 6, 7, 0, 0]])
    return x, edge_index


@pytest.mark.parametrize('name', list_models())
def test_every_registered_model_trains(name):
    """Forward + backward on a tiny graph: finite output of the right shape
    and a gradient on every parameter. Node classifiers give one row of
    class logits per node; link predictors one logit per queried pair;
    knowledge-graph models one row of scores over all entities per
    (head, relation) query."""
    entry = model_entry(name)
    assert entry.family in FAMILIES
    assert entry.task in ('node', 'link', 'kg'), entry.task
    assert entry.url.startswith('https://')
    torch.manual_seed(0)
    x, edge_index = _tiny_graph()
    if entry.task == 'link':
        model = create_model(name, 6, 4,
                             **paper_config(name, 'Cora')['model'])
        model.train()
        # An edge, a non-edge, a pair touching the isolated node, a loop.
        pairs = torch.tensor([[0, 2, 8, 3], [1, 6, 4, 3]])
        out = model(x, edge_index, pairs)
        assert out.shape == (4,)
        assert torch.isfinite(out).all()
        out.sum().backward()
    elif entry.task == 'kg':
        model = create_model(name, 6, 4,
                             **paper_config(name, 'Cora')['model'])
        model.train()
        # (head, relation) queries scored against all 9 nodes: a node with
        # edges, the isolated node 8, the node with a self-loop.
        queries = torch.tensor([[1, 8, 0], [0, 0, 0]])
        out = model(x, edge_index, queries)
        assert out.shape == (3, 9)
        assert torch.isfinite(out).all()
        out.sum().backward()
    else:
        model = create_model(name, 6, 3,
                             **paper_config(name, 'Cora')['model'])
        model.train()
        out = model(x, edge_index)
        assert out.shape == (9, 3)
        assert torch.isfinite(out).all()
        out.log_softmax(-1)[:, 0].sum().backward()
    for pname, param in model.named_parameters():
        assert param.grad is not None, f'{name}: no gradient for {pname}'
        assert torch.isfinite(param.grad).all(), pname
    # The model's conv class (if any) is the one the registry advertises.
    if entry.conv is not None:
        assert any(isinstance(m, entry.conv) for m in model.modules())


def test_list_models_filters():
    names = list_models()
    assert names == sorted(names) and {'gat', 'gatv2', 'gcn'} <= set(names)
    assert list_models('gat*') == [n for n in names if n.startswith('gat')]
    assert set(list_models(family='neighbor')) >= {'gat', 'gatv2'}
    assert 'gcn' not in list_models(family='neighbor')
    assert list_models('nothing-matches-*') == []
    with pytest.raises(ValueError, match='family'):
        list_models(family='no-such-family')


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match='gatv2'):
        create_model('gta', 4, 2)
    with pytest.raises(ValueError, match='gat'):
        paper_config('gta', 'Cora')


def test_create_model_overrides_and_none():
    model = create_model('gat', 5, 2, heads=2, hidden_channels=None)
    first = model.convs[0]
    assert first.heads == 2 and first.out_channels == 8  # None keeps default
    assert model.convs[-1].heads == 1 and not model.convs[-1].concat


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match='already registered'):
        register_model('gat', family='neighbor', paper='x',
                       url='https://x')(lambda i, o: None)
    with pytest.raises(ValueError, match='family'):
        register_model('new-model', family='nope', paper='x', url='https://x')


def test_paper_config_of_gat_follows_the_paper():
    cora = paper_config('gat', 'Cora')
    assert cora['model'] == dict(hidden_channels=8, heads=8, out_heads=1,
                                 dropout=0.6, negative_slope=0.2)
    assert cora['train']['lr'] == 0.005
    assert cora['train']['weight_decay'] == 5e-4
    assert cora['train']['patience'] == 100
    assert 'Sec. 3.3' in cora['source'] and cora['from_paper']
    pubmed = paper_config('GAT', 'pubmed')
    assert pubmed['model']['out_heads'] == 8
    assert pubmed['train']['lr'] == 0.01
    assert pubmed['train']['weight_decay'] == 1e-3
    # No paper setting for this dataset: the default, flagged as such.
    assert not paper_config('gat', 'chameleon')['from_paper']


def test_paper_results_have_sources():
    assert paper_result('gat', 'cora')['mean'] == 83.0
    assert paper_result('gat', 'Texas') is None
    data = json.loads(resources.files('gat_zoo').joinpath(
        'paper_data.json').read_text())
    assert set(data) <= set(list_models())
    for name, record in data.items():
        assert record['url'].startswith('https://'), name
        for config in record['configs'].values():
            assert config['source'], name
        for dataset, result in record.get('results', {}).items():
            assert result['source'] and result['metric'], (name, dataset)


def test_version_and_public_api():
    assert isinstance(gat_zoo.__version__, str)
    for symbol in ('create_model', 'list_models', 'paper_config'):
        assert symbol in gat_zoo.__all__
