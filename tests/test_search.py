"""python -m gat_zoo.bench.search: grid expansion, listed points, selection
on validation only, reuse of search runs in the final stage, resume, and
bad grid keys."""
import statistics

from gat_zoo.bench.results import read_csv_rows
from gat_zoo.bench.search import (
    apply_point,
    expand_grid,
    main,
    parse_grid,
    parse_point,
    select,
)

SMALL = 'csbm:num_nodes=200:num_val=60'


def test_grid_parsing_and_expansion():
    grid = parse_grid(['eps=0.1,0.3', 'num_layers=2,3', 'act=relu'])
    assert grid == {'eps': [0.1, 0.3], 'num_layers': [2, 3],
                    'act': ['relu']}
    points = expand_grid(grid)
    assert len(points) == 4 and points[1] == {'eps': 0.1, 'num_layers': 3,
                                              'act': 'relu'}
    config = apply_point({'model': {'eps': 0.5}, 'train': {'lr': 0.1}},
                         {'eps': 0.2, 'lr': 0.01})
    assert config == {'model': {'eps': 0.2}, 'train': {'lr': 0.01}}


def test_selection_uses_validation_only():
    rows = [dict(stage='search', point='a', status='ok', val='80', test='99'),
            dict(stage='search', point='b', status='ok', val='85', test='1'),
            dict(stage='search', point='b', status='error', val='', test='')]
    assert select(rows, ['a', 'b']) == 'b'
    assert select([], ['a']) is None


def test_search_then_final_and_resume(tmp_path, capsys):
    out = tmp_path / 's.csv'
    argv = ['--model', 'fagcn', '--dataset', SMALL, '--grid',
            'eps=0.2,0.6', 'epochs=4', '--search-seeds', '0-1',
            '--final-seeds', '0-2', '--results-file', str(out), '--resume']
    assert main(argv) == 0
    rows = read_csv_rows(out)
    search = [r for r in rows if r['stage'] == 'search']
    final = [r for r in rows if r['stage'] == 'final']
    assert len(search) == 4 and len(final) == 1  # seeds 0-1 reused
    means = {p: statistics.mean(float(r['val']) for r in search
                                if r['point'] == p)
             for p in ('eps=0.2,epochs=4', 'eps=0.6,epochs=4')}
    assert final[0]['point'] == max(means, key=means.get)
    assert final[0]['seed'] == '2'
    assert 'chosen on validation' in capsys.readouterr().out
    assert main(argv) == 0  # nothing left to run
    assert len(read_csv_rows(out)) == 5


def test_unknown_grid_key_is_an_error(tmp_path, capsys):
    assert main(['--model', 'fagcn', '--dataset', SMALL, '--grid',
                 'no_such_arg=1', '--results-file',
                 str(tmp_path / 's.csv')]) == 2
    assert 'no_such_arg' in capsys.readouterr().err


def test_points_are_listed_settings(tmp_path, capsys):
    assert parse_point('eps=0.2,num_layers=5,act=relu') == {
        'eps': 0.2, 'num_layers': 5, 'act': 'relu'}
    for bad in ('eps', 'eps=', 'eps=0.1,eps=0.2', 'eps=0.1,,k=1'):
        try:
            parse_point(bad)
        except ValueError:
            continue
        raise AssertionError(f'{bad!r} was accepted')
    out = tmp_path / 'p.csv'
    argv = ['--model', 'fagcn', '--dataset', SMALL, '--point',
            'eps=0.2,num_layers=1,epochs=3', 'eps=0.6,num_layers=2,epochs=3',
            '--search-seeds', '0-1', '--final-seeds', '0-1',
            '--results-file', str(out)]
    assert main(argv) == 0
    rows = read_csv_rows(out)
    # Two settings, not the four of their Cartesian product.
    assert sorted({r['point'] for r in rows}) == [
        'eps=0.2,num_layers=1,epochs=3', 'eps=0.6,num_layers=2,epochs=3']
    assert len(rows) == 4 and all(r['stage'] == 'search' for r in rows)
    assert out.with_suffix('.txt').read_text().startswith(
        'fagcn on csbm')
    capsys.readouterr()
    assert main(argv[:5] + ['eps=0.2', 'eps=0.2', '--results-file',
                            str(tmp_path / 'q.csv')]) == 2
    assert 'twice' in capsys.readouterr().err
