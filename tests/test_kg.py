"""Knowledge graph completion: the filtered ranking metrics against a
brute-force reference, the tie rules, filtering, 1-N training plumbing and
the FB15k-237/WN18RR loaders (on the real files when present)."""
import os
from pathlib import Path

import pytest
import torch

from gat_zoo.bench.kg import (
    KGFilter,
    evaluate_kg,
    filtered_ranks,
    ranking_metrics,
    train_kg,
    training_queries,
)
from gat_zoo.datasets import DatasetNotFoundError
from gat_zoo.datasets.kg import kg_graph, load_kg
from gat_zoo.nn.models.rghat import RGHAT, DistMult

DATA = Path(os.environ.get('GAT_ZOO_DATA', '/work/shared/data'))


def _brute_rank(scores, target, known, tie):
    """Rank by looping over every entity: the others that are not known
    answers, strictly better or tied."""
    s = float(scores[target])
    better = tied = 0
    for e, v in enumerate(scores.tolist()):
        if e == target or e in known:
            continue
        better += v > s
        tied += v == s
    return 1 + better + (tied / 2 if tie == 'mean' else tied)


@pytest.mark.parametrize('tie', ['mean', 'pessimistic'])
def test_filtered_ranks_match_brute_force(tie):
    gen = torch.Generator().manual_seed(0)
    B, N = 30, 17
    # few distinct values: many ties
    scores = torch.randint(0, 5, (B, N), generator=gen).double()
    targets = torch.randint(0, N, (B, ), generator=gen)
    known = [set(torch.randint(0, N, (4, ), generator=gen).tolist())
             for _ in range(B)]
    for b in range(0, B, 3):
        known[b].add(int(targets[b]))  # a filter entry on the target
    rows = torch.tensor([b for b in range(B) for _ in known[b]])
    cols = torch.tensor([e for b in range(B) for e in known[b]])
    ranks = filtered_ranks(scores, targets, rows, cols, tie=tie)
    for b in range(B):
        expected = _brute_rank(scores[b], int(targets[b]), known[b], tie)
        assert ranks[b].item() == expected


def test_all_equal_scores_do_not_get_rank_one():
    N = 11
    scores = torch.zeros(4, N)
    targets = torch.tensor([0, 3, 5, 10])
    mean = filtered_ranks(scores, targets, tie='mean')
    pess = filtered_ranks(scores, targets, tie='pessimistic')
    assert torch.equal(mean, torch.full((4, ), 1 + (N - 1) / 2,
                                        dtype=torch.float64))
    assert torch.equal(pess, torch.full((4, ), float(N),
                                        dtype=torch.float64))
    metrics = ranking_metrics(mean)
    assert metrics['hits@1'] == 0 and metrics['mrr'] < 0.2
    with pytest.raises(ValueError, match='optimistic'):
        filtered_ranks(scores, targets, tie='optimistic')
    with pytest.raises(ValueError, match='finite'):
        filtered_ranks(torch.full((1, N), float('nan')), targets[:1])


def test_filtering_removes_other_answers_only():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    target = torch.tensor([3])
    assert filtered_ranks(scores, target).item() == 4
    # entities 0 and 1 are other true answers: filtered out
    rows, cols = torch.tensor([0, 0, 0]), torch.tensor([0, 1, 3])
    assert filtered_ranks(scores, target, rows, cols).item() == 2


def test_ranking_metrics():
    m = ranking_metrics(torch.tensor([1.0, 2.0, 4.0, 20.0]))
    assert m['mrr'] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 20) / 4)
    assert m['mr'] == pytest.approx(27 / 4)
    assert (m['hits@1'], m['hits@3'], m['hits@10']) == (0.25, 0.5, 0.75)


def _toy_kg(seed=0, N=15, R=3, T=60):
    gen = torch.Generator().manual_seed(seed)
    triples = torch.stack([torch.randint(0, N, (T, ), generator=gen),
                           torch.randint(0, R, (T, ), generator=gen),
                           torch.randint(0, N, (T, ), generator=gen)], 1)
    triples = torch.unique(triples, dim=0)
    perm = torch.randperm(triples.size(0), generator=gen)
    triples = triples[perm]
    train, valid, test = triples[:40], triples[40:48], triples[48:]
    edge_index, edge_type = kg_graph(train, R)

    class Data:
        pass

    data = Data()
    data.train, data.valid, data.test = train, valid, test
    data.num_nodes, data.num_relations = N, R
    data.edge_index, data.edge_type, data.name = edge_index, edge_type, 'toy'
    return data


def test_kg_filter_answers_brute_force():
    data = _toy_kg()
    N, R = data.num_nodes, data.num_relations
    flt = KGFilter([data.train, data.valid, data.test], N, R)
    everything = torch.cat([data.train, data.valid, data.test]).tolist()
    truth = {}
    for h, r, t in everything:
        truth.setdefault((h, r), set()).add(t)
        truth.setdefault((t, r + R), set()).add(h)
    queries = torch.tensor([[h, r] for h in range(N)
                            for r in range(2 * R)]).t()
    rows, cols = flt.answers(queries)
    got = {}
    for row, col in zip(rows.tolist(), cols.tolist()):
        key = tuple(queries[:, row].tolist())
        assert col not in got.setdefault(key, set())  # no duplicates
        got[key].add(col)
    assert got == truth


def test_evaluate_kg_with_exact_scores():
    data = _toy_kg(1)
    N, R = data.num_nodes, data.num_relations
    flt = KGFilter([data.train, data.valid, data.test], N, R)
    allt = torch.cat([data.train, data.valid, data.test])
    truth = torch.zeros(N, 2 * R, N)
    truth[allt[:, 0], allt[:, 1], allt[:, 2]] = 1
    truth[allt[:, 2], allt[:, 1] + R, allt[:, 0]] = 1

    def perfect(q):
        return truth[q[0], q[1]]

    metrics = evaluate_kg(perfect, data.test, flt, batch_size=3)
    assert metrics['mrr'] == 1.0 and metrics['mr'] == 1.0
    assert metrics['num_queries'] == 2 * data.test.size(0)
    # constant scores: the middle rank among the non-filtered entities
    metrics = evaluate_kg(lambda q: torch.zeros(q.size(1), N), data.test,
                          flt)
    assert metrics['hits@1'] < 0.5 and metrics['mr'] > 2
    # filtering only the test triples leaves the train/valid answers,
    # which tie with the target: worse ranks, so the filter matters
    partial = KGFilter([data.test], N, R)
    assert evaluate_kg(perfect, data.test, partial)['mrr'] < 1.0


def test_training_queries_collect_answers():
    data = _toy_kg(2)
    R = data.num_relations
    queries, answer_of, answers = training_queries(data.train, R)
    assert queries.size(1) == torch.unique(
        torch.cat([data.train[:, 0] * 2 * R + data.train[:, 1],
                   data.train[:, 2] * 2 * R + data.train[:, 1] + R])).numel()
    for (h, r, t) in data.train.tolist():
        hit = (queries[0, answer_of] == h) & (queries[1, answer_of] == r) \
            & (answers == t)
        assert hit.any()


@pytest.mark.parametrize('model', ['distmult', 'rghat'])
def test_train_kg_runs_and_selects(model):
    torch.manual_seed(0)
    data = _toy_kg(3)
    N, R = data.num_nodes, data.num_relations
    if model == 'rghat':
        net = RGHAT(N, 4, num_relations=2 * R, hidden_channels=4, heads=2)
    else:
        net = DistMult(N, 8, num_relations=2 * R)
    lines = []
    res = train_kg(net, data, epochs=3, batch_size=16, lr=0.01,
                   encoder_weight_decay=5e-4, log=lines.append)
    assert res.epochs_run == 3 and len(res.history) == 3
    assert res.val['mrr'] == max(h['mrr'] for h in res.history)
    assert 1 <= res.best_epoch <= 3 and len(lines) == 3
    assert 0 < res.test['mrr'] <= 1


def test_kg_graph_adds_inverses():
    triples = torch.tensor([[0, 1, 2], [3, 0, 0]])
    edge_index, edge_type = kg_graph(triples, 2)
    # (h, r, t): edge t -> h of type r; inverse: edge h -> t of type r + R
    assert edge_index.tolist() == [[2, 0, 0, 3], [0, 3, 2, 0]]
    assert edge_type.tolist() == [1, 0, 3, 2]


def test_load_kg_errors(tmp_path):
    with pytest.raises(ValueError, match='FB15k-237'):
        load_kg('fb15k', root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match='train.txt'):
        load_kg('WN18RR', root=tmp_path)
    raw = tmp_path / 'kg' / 'WN18RR' / 'raw'
    raw.mkdir(parents=True)
    (raw / 'train.txt').write_text('b\tr2\ta\r\na\tr1\tc\n')
    (raw / 'valid.txt').write_text('c\tr1\tb\n')
    (raw / 'test.txt').write_text('')
    data = load_kg('wn18rr', root=tmp_path)
    assert data.entities == ['a', 'b', 'c'] and data.relations == ['r1',
                                                                   'r2']
    assert data.train.tolist() == [[1, 1, 0], [0, 0, 2]]
    assert data.valid.tolist() == [[2, 0, 1]] and data.test.shape == (0, 3)
    (raw / 'test.txt').write_text('a\tb\n')
    with pytest.raises(ValueError, match='test.txt:1'):
        load_kg('wn18rr', root=tmp_path)


@pytest.mark.parametrize('name,stats', [
    ('FB15k-237', (14541, 237, 272115, 17535, 20466)),
    ('WN18RR', (40943, 11, 86835, 3034, 3134)),
])
def test_load_kg_real_data(name, stats):
    if not (DATA / 'kg' / name / 'raw' / 'train.txt').is_file():
        pytest.skip(f'{name} not in {DATA}')
    data = load_kg(name, root=DATA)
    N, R, n_train, n_valid, n_test = stats
    assert (data.num_nodes, data.num_relations) == (N, R)
    assert (data.train.size(0), data.valid.size(0),
            data.test.size(0)) == (n_train, n_valid, n_test)
    assert data.edge_index.shape == (2, 2 * n_train)
    assert int(data.edge_type.max()) == 2 * R - 1
    assert data.entities == sorted(data.entities)
    for split in (data.train, data.valid, data.test):
        assert int(split[:, [0, 2]].max()) < N
        assert int(split[:, 1].max()) < R
    first = open(DATA / 'kg' / name / 'raw' / 'train.txt').readline()
    h, r, t = first.rstrip('\n').split('\t')
    assert data.train[0].tolist() == [data.entities.index(h),
                                      data.relations.index(r),
                                      data.entities.index(t)]
