"""Tests of ``python -m gat_zoo.bench``: model/dataset selection, the default
run, error rows, resume after a killed sweep (and torn lines), the CSV,
JSON-array and JSON Lines outputs, plots, ``--speed`` and the ogbn path
with ogb's Evaluator.

Everything runs on small csbm graphs with a few epochs; the cache and the
data root are per-test temporary directories and downloads are disabled.
"""
from __future__ import annotations

import csv
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import gat_zoo
from gat_zoo.bench import (
    FIELDS,
    ResultsFile,
    ResultsFileError,
    main,
    mean_std,
    read_results,
)
from gat_zoo.bench.cli import parse_args
from gat_zoo.bench.runner import ModelSelectionError, resolve_models

try:
    from ogb_fixture import write_tiny_ogbn
except ImportError:  # `tests` imported as a package
    from tests.ogb_fixture import write_tiny_ogbn

REPO = Path(__file__).resolve().parents[1]
# A small csbm graph: 300 nodes, 100 train / 100 val / 100 test.
SMALL = 'csbm:num_nodes=300:num_val=100'


pytestmark = pytest.mark.usefixtures('isolated_env')


def node_models():
    return [n for n in gat_zoo.list_models()
            if gat_zoo.model_entry(n).task == 'node']


# Selection ###################################################################


def test_model_selection():
    models = node_models()
    assert resolve_models('gat') == ['gat']
    assert resolve_models('GCN, gat,gcn') == ['gcn', 'gat']
    assert resolve_models('gat*') == fnmatch.filter(models, 'gat*')
    assert 'gatv2' in resolve_models('gat*')
    neighbor = resolve_models('family:neighbor')
    assert {'gat', 'gatv2'} <= set(neighbor)
    assert all(gat_zoo.model_entry(n).family == 'neighbor' for n in neighbor)
    assert resolve_models('all') == models
    assert resolve_models(None) == models
    with pytest.raises(ModelSelectionError, match='gatv2'):
        resolve_models('gta')


@pytest.mark.parametrize('argv, message', [
    (['--model', 'no_such_model'], 'valid models: '),
    (['--model', 'zz*'], 'matches no registered'),
    (['--model', 'family:nope'], 'valid families: '),
    (['--dataset', 'no_such_set'], 'valid datasets: '),
    (['--dataset', 'cora:num_nodes=3'], "takes only 'split=train/val'"),
    (['--dataset', 'csbm:bogus=1'], 'Bad csbm parameter'),
    (['--resume'], '--resume needs --results-file'),
    (['--results-file', 'out.txt'], 'must end in .csv'),
    (['--seeds', '1-x'], "--seeds '1-x': expected seeds"),
    (['--seeds', ','], '--seeds is empty'),
    (['--report'], '--report needs --results-file'),
    (['--report', '--speed', '--results-file', 'r.csv'],
     'does not take --speed'),
])
def test_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    if argv[:2] == ['--model', 'no_such_model']:
        assert all(name in err for name in gat_zoo.list_models())


def test_defaults():
    args = parse_args([])
    assert args.embedded_default and args.datasets == ['csbm']
    assert args.models == node_models()
    assert (args.runs, args.max_epochs, args.epochs) == (3, 200, None)
    args = parse_args(['--dataset', 'Cora,actor'])
    assert not args.embedded_default and args.datasets == ['cora', 'film']
    assert (args.runs, args.max_epochs) == (10, None)
    args = parse_args(['--quick'])
    assert (args.runs, args.epochs) == (2, 5)
    assert parse_args(['--quick', '--runs', '3']).runs == 3
    assert parse_args(['--dataset', SMALL]).datasets == [SMALL]
    assert parse_args(['--runs', '4']).seeds == [0, 1, 2, 3]
    assert parse_args(['--seeds', '5,2-3,5']).seeds == [5, 2, 3]


# Training sweeps #############################################################


def test_quick_default_run_prints_table_and_writes_rows(tmp_path, capsys):
    results = tmp_path / 'r.csv'
    assert main(['--quick', '--no-progress', '--results-file',
                 str(results)]) == 0
    out = capsys.readouterr().out
    models = node_models()
    for model in models:
        assert any(line.startswith(f'| {model}') for line in
                   out.splitlines()), out
    assert 'test %' in out and 'paper %' in out and 'peak MB' in out
    rows = read_results(results)
    assert len(rows) == 2 * len(models)
    assert {r['status'] for r in rows} == {'ok'}
    assert sorted((r['model'], r['seed']) for r in rows) == sorted(
        (m, s) for m in models for s in range(2))
    for row in rows:
        assert row['kind'] == 'train' and row['dataset'] == 'csbm'
        assert 0 <= row['test'] <= 100 and 0 <= row['val'] <= 100
        assert row['epochs_run'] == 5 and 1 <= row['best_epoch'] <= 5
        assert row['num_params'] > 0 and row['peak_mem_mb'] > 0
        assert row['family'] == gat_zoo.model_entry(row['model']).family
        assert json.loads(row['config'])['train']['epochs'] == 5
        assert row['torch_version'] == torch.__version__
        assert row['gat_zoo_version'] == gat_zoo.__version__
        assert row['backend'] and row['timestamp_utc'] and row['platform']
        assert isinstance(row['torch_scatter'], bool)
    # Plain CSV readers see the same rows.
    with open(results, newline='') as f:
        assert len(list(csv.DictReader(f))) == len(rows)


def test_missing_dataset_gives_error_rows_and_sweep_goes_on(tmp_path,
                                                            capsys):
    results = tmp_path / 'r.json'
    code = main(['--quick', '--no-progress', '--model', 'gcn', '--dataset',
                 f'pubmed,{SMALL}', '--root', str(tmp_path / 'empty'),
                 '--results-file', str(results)])
    assert code == 1
    rows = read_results(results)
    errors = [r for r in rows if r['status'] == 'error']
    assert [(r['dataset'], r['seed']) for r in errors] == [('pubmed', 0),
                                                          ('pubmed', 1)]
    assert all(r['error'].startswith('DatasetNotFoundError') and
               'ind.pubmed' in r['error'] for r in errors)
    assert [r['status'] for r in rows if r['dataset'] == SMALL] == ['ok'] * 2
    captured = capsys.readouterr()
    assert captured.err.count("dataset 'pubmed'") == 1
    assert 'error' in captured.out and 'failed' in captured.out


def test_model_error_rows(tmp_path, monkeypatch, capsys):
    real = gat_zoo.create_model

    def create(name, *args, **kwargs):
        if name == 'gat':
            raise RuntimeError('boom')
        return real(name, *args, **kwargs)

    monkeypatch.setattr(gat_zoo, 'create_model', create)
    results = tmp_path / 'r.csv'
    assert main(['--quick', '--no-progress', '--model', 'gat,gcn',
                 '--dataset', SMALL, '--results-file', str(results)]) == 1
    rows = read_results(results)
    assert {(r['model'], r['status'], r['error']) for r in rows} == {
        ('gat', 'error', 'RuntimeError: boom'), ('gcn', 'ok', None)}
    assert len(rows) == 4


def test_multi_split_dataset_cycles_splits(tmp_path, monkeypatch):
    import gat_zoo.bench.cli as cli
    from gat_zoo.datasets import csbm

    def load(spec, root=None):
        data = csbm(num_nodes=200, num_val=50)
        for name in ('train_mask', 'val_mask', 'test_mask'):
            mask = getattr(data, name)
            setattr(data, name, torch.stack([mask] * 3, dim=1))
        return data

    monkeypatch.setattr(cli, 'load_data', load)
    results = tmp_path / 'r.csv'
    assert main(['--no-progress', '--model', 'gcn', '--dataset', 'csbm',
                 '--runs', '4', '--epochs', '2', '--results-file',
                 str(results)]) == 0
    assert [(r['seed'], r['split']) for r in read_results(results)] == [
        (0, 0), (1, 1), (2, 2), (3, 0)]


def _kill_after_first_row(argv, results, cwd):
    """Starts the sweep ``argv`` in a subprocess, SIGKILLs it as soon as
    ``results`` holds a row, and returns the rows it left."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-m', 'gat_zoo.bench'] + argv,
                            env=env, cwd=str(cwd),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and len(read_results(results)) >= 1:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    return read_results(results)


def _sweep_argv(results):
    return ['--model', 'gcn', '--dataset', SMALL, '--runs', '6', '--epochs',
            '150', '--patience', '1000', '--no-progress', '--results-file',
            str(results)]


def test_resume_after_kill(tmp_path):
    results = tmp_path / 'r.csv'
    argv = _sweep_argv(results)
    before = _kill_after_first_row(argv, results, tmp_path)
    assert 1 <= len(before) < 6, 'the sweep was not killed in the middle'

    # A writer killed in the middle of a row leaves a torn final line:
    # readers drop it, the next append truncates it before writing.
    with open(results, 'a') as f:
        f.write('train,gcn,baseline,' + SMALL + ',ok,,5,0,accur')
    assert read_results(results) == before

    with pytest.warns(RuntimeWarning, match='torn final line'):
        assert main(argv + ['--resume']) == 0
    rows = read_results(results)
    assert rows[:len(before)] == before  # untouched
    assert sorted(r['seed'] for r in rows) == list(range(6))  # no dup/loss
    assert {r['status'] for r in rows} == {'ok'}
    with open(results, newline='') as f:
        lines = list(csv.reader(f))
    assert lines[0] == list(FIELDS) and len(lines) == 1 + 6
    assert all(len(line) == len(FIELDS) for line in lines)

    # Nothing left: a second resume runs nothing and appends nothing.
    assert main(argv + ['--resume']) == 0
    assert len(read_results(results)) == 6


def test_disjoint_seeds_share_one_results_file(tmp_path):
    # Two sweeps over disjoint seeds (as two processes would run them) fill
    # one file; a resume over all seeds then finds nothing left to run and
    # reports every row.
    results = tmp_path / 'r.csv'
    argv = ['--model', 'gcn', '--dataset', SMALL, '--epochs', '3',
            '--no-progress', '--results-file', str(results), '--resume']
    assert main(argv + ['--seeds', '2,0']) == 0
    assert main(argv + ['--seeds', '1']) == 0
    rows = read_results(results)
    assert [r['seed'] for r in rows] == [2, 0, 1]
    assert main(argv + ['--runs', '3']) == 0
    assert len(read_results(results)) == 3


def test_report_prints_the_file_without_training(tmp_path, capsys):
    results = tmp_path / 'r.csv'
    assert main(['--report', '--results-file', str(results)]) == 1
    assert 'does not exist' in capsys.readouterr().err
    store = ResultsFile(results)
    base = {'kind': 'train', 'family': 'baseline', 'dataset': 'cora',
            'metric': 'accuracy', 'error': ''}
    # gcn seed 0 failed, then succeeded on resume: one run, not a failure.
    store.append({**base, 'model': 'gcn', 'seed': 0, 'status': 'error',
                  'error': 'killed'})
    for model, seed, test in [('gcn', 0, 80.0), ('gcn', 1, 82.0),
                              ('gat', 0, 90.0)]:
        store.append({**base, 'model': model, 'seed': seed, 'status': 'ok',
                      'val': test - 1, 'test': test})
    store.append({**base, 'model': 'gat', 'seed': 1, 'status': 'error',
                  'error': 'out of memory'})
    before = results.read_text()

    def table(*argv):
        assert main(['--report', '--results-file', str(results),
                     *argv]) == 0
        return capsys.readouterr().out

    out = table()
    lines = {line.split('|')[1].strip(): line for line in out.splitlines()
             if line.startswith('| g')}
    assert set(lines) == {'gcn', 'gat'}
    assert '81.00 ± 1.41' in lines['gcn'] and 'failed' not in lines['gcn']
    assert '90.00' in lines['gat'] and '1 (+1 failed)' in lines['gat']
    assert 'out of memory' in out and 'killed' not in out
    assert 'gat' not in table('--model', 'gcn')
    assert '80.00' in table('--model', 'gcn', '--seeds', '0')
    assert table('--dataset', 'citeseer').strip() == 'Nothing to report.'
    assert results.read_text() == before  # nothing trained or appended


def test_resume_after_kill_json_array(tmp_path):
    results = tmp_path / 'r.json'
    argv = _sweep_argv(results)
    before = _kill_after_first_row(argv, results, tmp_path)
    assert 1 <= len(before) < 6, 'the sweep was not killed in the middle'
    assert isinstance(json.loads(results.read_text()), list)  # still valid
    assert main(argv + ['--resume']) == 0
    rows = read_results(results)
    assert rows[:len(before)] == before
    assert sorted(r['seed'] for r in rows) == list(range(6))
    assert len(json.loads(results.read_text())) == 6


def test_json_array_and_json_lines_output_and_plots(tmp_path):
    results = tmp_path / 'r.json'
    plots = tmp_path / 'plots'
    assert main(['--quick', '--no-progress', '--model', 'gat,gcn',
                 '--dataset', SMALL, '--results-file', str(results),
                 '--plot', str(plots)]) == 0
    objs = json.loads(results.read_text(encoding='utf-8'))  # one array
    assert isinstance(objs, list)
    assert len(objs) == 4 and {o['status'] for o in objs} == {'ok'}
    assert set(objs[0]) <= set(FIELDS)
    assert not list(tmp_path.glob('.r.json.*'))  # no temporary left over
    import pandas as pd
    frame = pd.read_json(results)
    assert len(frame) == 4 and set(frame['model']) == {'gat', 'gcn'}
    assert [(r['model'], r['seed']) for r in read_results(results)] == [
        ('gat', 0), ('gat', 1), ('gcn', 0), ('gcn', 1)]
    names = sorted(p.name for p in plots.glob('*.png'))
    label = SMALL.replace(':', '_').replace('=', '_')
    assert names == sorted(['accuracy_vs_time.png', f'curve_gat_{label}.png',
                            f'curve_gcn_{label}.png'])
    for png in plots.glob('*.png'):
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

    lines_file = tmp_path / 'r.jsonl'
    assert main(['--quick', '--no-progress', '--model', 'gcn', '--dataset',
                 SMALL, '--results-file', str(lines_file)]) == 0
    lines = lines_file.read_text(encoding='utf-8').splitlines()
    assert [json.loads(line)['seed'] for line in lines] == [0, 1]
    assert len(pd.read_json(lines_file, lines=True)) == 2


def test_ogbn_uses_the_ogb_evaluator(tmp_path, monkeypatch):
    from ogb.nodeproppred import Evaluator
    calls = []
    real_eval = Evaluator.eval

    def counting(self, input_dict):
        calls.append(self.name)
        return real_eval(self, input_dict)

    monkeypatch.setattr(Evaluator, 'eval', counting)
    root = tmp_path / 'data'
    write_tiny_ogbn(root, 'ogbn-arxiv', num_nodes=60)
    results = tmp_path / 'r.csv'
    assert main(['--quick', '--no-progress', '--model', 'gcn', '--dataset',
                 'ogbn-arxiv', '--root', str(root), '--results-file',
                 str(results)]) == 0
    rows = read_results(results)
    assert [r['status'] for r in rows] == ['ok', 'ok']
    assert {r['metric'] for r in rows} == {'ogb:acc'}
    assert all(0 <= r['test'] <= 100 for r in rows)
    # val + test on each of the 5 epochs of both runs.
    assert set(calls) == {'ogbn-arxiv'} and len(calls) >= 2 * 5 * 2


# --speed #####################################################################


def test_speed_prints_ratios(tmp_path, capsys):
    results = tmp_path / 's.csv'
    assert main(['--speed', '--model', 'gat', '--speed-graph', '100,400,8',
                 '--speed-shape', '2,4', '--speed-repeat', '2',
                 '--speed-warmup', '1', '--no-progress', '--results-file',
                 str(results)]) == 0
    out = capsys.readouterr().out
    assert 'ratio ours/PyG' in out and 'forward_backward' in out
    rows = read_results(results)
    assert [r['op'] for r in rows] == ['forward', 'forward_backward']
    for row in rows:
        assert row['kind'] == 'speed' and row['status'] == 'ok'
        assert row['pyg_layer'] == 'torch_geometric.nn.conv.gat_conv.GATConv'
        assert row['ours_s'] > 0 and row['pyg_s'] > 0
        assert row['ratio'] == pytest.approx(row['ours_s'] / row['pyg_s'])
        assert row['ours_peak_mem_mb'] is not None
        assert f"{row['ratio']:.2f}x" in out


def test_speed_scaling_sweep_with_dense_baseline_and_plots(tmp_path, capsys,
                                                          monkeypatch):
    import gat_zoo.bench.speed as speed
    results = tmp_path / 'scaling.csv'
    plots = tmp_path / 'plots'
    # A tiny budget: the dense baseline fits on the smaller graph only.
    monkeypatch.setattr(speed, 'memory_budget_mb', lambda: 0.15)
    assert main(['--speed', '--model', 'gat', '--speed-sizes', '100,400',
                 '--speed-shape', '2,4', '--speed-repeat', '1',
                 '--speed-warmup', '0', '--speed-in-process', '--no-progress',
                 '--results-file', str(results), '--plot', str(plots)]) == 0
    out = capsys.readouterr().out
    assert 'dense ms' in out and 'not run: dense' in out
    rows = read_results(results)
    assert [(r['num_edges'], r['op']) for r in rows] == [
        (100, 'forward'), (100, 'forward_backward'), (400, 'forward'),
        (400, 'forward_backward')]
    assert rows[0]['num_nodes'] == round(100 * speed.ARXIV_SIZE[0] /
                                         speed.ARXIV_SIZE[1])
    assert rows[0]['dense_layer'].endswith('DenseMaskedGAT')
    assert rows[0]['dense_s'] > 0 and not rows[0]['skipped']
    assert rows[2]['dense_s'] is None and 'dense' in rows[2]['skipped']
    assert all(r['fused'] == 'auto' for r in rows)
    assert sorted(p.name for p in plots.iterdir()) == [
        'scaling_forward.png', 'scaling_forward_backward.png']


def test_dense_masked_gat_is_gat_on_simple_graphs():
    from gat_zoo.bench.dense import DenseMaskedGAT
    from gat_zoo.nn import GATConv
    torch.manual_seed(0)
    dense = DenseMaskedGAT(5, 3, heads=2).double()
    sparse = GATConv(5, 3, heads=2).double()
    with torch.no_grad():
        sparse.lin.weight.copy_(dense.lin.weight)
        sparse.att_src.copy_(dense.att_src.view(1, 2, 3))
        sparse.att_dst.copy_(dense.att_dst.view(1, 2, 3))
    x = torch.randn(7, 5, dtype=torch.float64)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2]])
    assert torch.allclose(dense(x, edge_index), sparse(x, edge_index),
                          atol=1e-12)


def test_old_csv_header_keeps_working(tmp_path):
    from gat_zoo.bench.results import FIELDS, LATER_FIELDS, _csv_line
    earlier = FIELDS[:-len(LATER_FIELDS)]
    path = tmp_path / 'old.csv'
    path.write_text(_csv_line(earlier))
    store = ResultsFile(path)
    store.append({'kind': 'train', 'model': 'm', 'dataset': 'd', 'seed': 0,
                  'status': 'ok', 'test': 80.0, 'fused': 'auto'})
    rows = read_results(path)
    assert rows[0]['test'] == 80.0 and rows[0].get('fused') is None
    assert path.read_text().splitlines()[0] == _csv_line(
        earlier).strip()


def test_speed_skips_models_without_conv(capsys):
    assert main(['--speed', '--model', 'gcn', '--no-progress']) == 0
    captured = capsys.readouterr()
    assert 'gcn has no registry conv layer' in captured.err


# Results file and summary ####################################################


def test_results_file_round_trip_and_torn_lines(tmp_path):
    for name in ('r.csv', 'r.jsonl', 'r.json'):
        path = tmp_path / name
        store = ResultsFile(path)
        message = 'ValueError: line one,\n"quoted", line two'
        store.append({'kind': 'train', 'model': 'm', 'dataset': 'd',
                      'seed': 0, 'status': 'error', 'error': message,
                      'test': float('nan')})
        store.append({'kind': 'train', 'model': 'm', 'dataset': 'd',
                      'seed': 1, 'status': 'ok', 'test': 81.5,
                      'from_paper': False})
        rows = read_results(path)
        assert [(r['seed'], r['status']) for r in rows] == [(0, 'error'),
                                                            (1, 'ok')]
        assert 'line one' in rows[0]['error'] and 'line two' in rows[0][
            'error']
        assert rows[0]['test'] is None and rows[1]['test'] == 81.5
        assert rows[1]['from_paper'] is False
        if name.endswith('.json'):  # rewritten whole: never torn
            assert [o['seed'] for o in json.loads(path.read_text())] == [0, 1]
            store.append({'kind': 'train', 'model': 'm', 'dataset': 'd',
                          'seed': 2, 'status': 'ok'})
        else:
            with open(path, 'ab') as f:
                f.write(b'train,m,d,ok')  # torn: no newline
            assert len(read_results(path)) == 2
            with pytest.warns(RuntimeWarning, match='torn'):
                store.append({'kind': 'train', 'model': 'm', 'dataset': 'd',
                              'seed': 2, 'status': 'ok'})
        assert [r['seed'] for r in read_results(path)] == [0, 1, 2]
        assert path.read_bytes().endswith(b'\n')
    with pytest.raises(ResultsFileError):
        ResultsFile(tmp_path / 'r.csv').append({'nonsense': 1})
    foreign = tmp_path / 'foreign.csv'
    foreign.write_text('a,b\n1,2\n')
    with pytest.raises(ResultsFileError, match='header'):
        ResultsFile(foreign)


def test_mean_std_is_unbiased():
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0) and std == pytest.approx(1.0)
    mean, std = mean_std([5.0])
    assert mean == 5.0 and std != std  # nan for a single run


def test_results_file_with_columns_of_its_own(tmp_path):
    """The benchmark scripts' own row kinds share the durable append."""
    from gat_zoo.bench.results import ResultsFile, ResultsFileError
    path = tmp_path / 'link.csv'
    fields = ('model', 'seed', 'test_auc')
    ResultsFile(path, fields=fields).append(
        {'model': 'pagnn', 'seed': 0, 'test_auc': 0.9})
    ResultsFile(path, fields=fields).append(
        {'model': 'pagnn', 'seed': 1, 'test_auc': float('nan')})
    assert path.read_text() == ('model,seed,test_auc\npagnn,0,0.9\n'
                                'pagnn,1,\n')
    with pytest.raises(ResultsFileError, match='Unknown result columns'):
        ResultsFile(path, fields=fields).append({'model': 'x', 'val': 1})
    with pytest.raises(ResultsFileError, match='different CSV header'):
        ResultsFile(path, fields=('model', 'seed'))

    # Columns added later: the file keeps its header, new rows leave them
    # out; a new file gets them all; they must be the last columns.
    grown = fields + ('val_auc', 'note')
    later = ('val_auc', 'note')
    store = ResultsFile(path, fields=grown, later_fields=later)
    assert store.fields == fields
    store.append({'model': 'pagnn', 'seed': 2, 'test_auc': 0.8,
                  'val_auc': 0.7, 'note': 'x'})
    assert path.read_text().splitlines()[-1] == 'pagnn,2,0.8'
    with pytest.raises(ResultsFileError, match='different CSV header'):
        ResultsFile(path, fields=grown, later_fields=('note', ))
    fresh = tmp_path / 'fresh.csv'
    ResultsFile(fresh, fields=grown, later_fields=later).append(
        {'model': 'pagnn', 'seed': 0, 'test_auc': 0.8, 'val_auc': 0.7})
    assert fresh.read_text().splitlines() == [
        'model,seed,test_auc,val_auc,note', 'pagnn,0,0.8,0.7,']
    with pytest.raises(ValueError, match='last of'):
        ResultsFile(fresh, fields=grown, later_fields=('seed', ))


def test_parse_seeds():
    from gat_zoo.bench.results import parse_seeds
    assert parse_seeds('0-2, 5,7-8') == [0, 1, 2, 5, 7, 8]
    assert parse_seeds('3') == [3] and parse_seeds('') == []
    with pytest.raises(ValueError):
        parse_seeds('a-b')


def test_benchmark_script_csv_helpers(tmp_path):
    from gat_zoo.bench.results import (
        ResultsFile,
        finished_runs,
        parse_names,
        read_csv_rows,
    )
    path = tmp_path / 'runs.csv'
    assert read_csv_rows(path) == []
    fields = ('model', 'dataset', 'seed', 'status', 'score')
    results = ResultsFile(path, fields=fields)
    results.append({'model': 'han', 'dataset': 'ACM', 'seed': 0,
                    'status': 'ok', 'score': 0.9})
    results.append({'model': 'han', 'dataset': 'ACM', 'seed': 1,
                    'status': 'error', 'score': None})
    with path.open('a') as f:  # a writer killed mid-line
        f.write('han,IMDB,2')
    rows = read_csv_rows(path)
    assert [r['seed'] for r in rows] == ['0', '1']
    assert finished_runs(rows, ('model', 'dataset', 'seed')) == {
        ('han', 'ACM', '0')}
    assert parse_names(' han, pyg_han,,') == ['han', 'pyg_han']
    assert parse_names('') == []


def test_speed_sizes_message_names_the_range(capsys):
    with pytest.raises(SystemExit):
        parse_args(['--speed', '--speed-sizes', '0'])
    err = capsys.readouterr().err
    assert '1 to 64 positive' in err and ' or 3 or ' not in err


# Histories and their replay ##################################################


def test_history_dir_and_replay(tmp_path, capsys):
    from gat_zoo.bench import replay as replay_cli
    from gat_zoo.bench.replay import (
        history_path,
        parse_rule,
        read_history,
        replay,
    )
    histories, results = tmp_path / 'hist', tmp_path / 'r.csv'
    assert main(['--model', 'gcn', '--dataset', SMALL, '--epochs', '12',
                 '--runs', '2', '--no-progress', '--results-file',
                 str(results), '--history-dir', str(histories)]) == 0
    capsys.readouterr()
    rows = {r['seed']: r for r in read_results(results)}
    for seed, row in rows.items():
        history = read_history(history_path(histories, 'gcn', SMALL, seed))
        assert [h['epoch'] for h in history] == list(range(1, 13))
        chosen = history[row['best_epoch'] - 1]
        assert abs(100 * chosen['test_score'] - row['test']) < 1e-9
        assert abs(100 * chosen['val_score'] - row['val']) < 1e-9
    # The paper rule of gcn replayed on its own runs gives its own rows;
    # a stopping rule is complete only once the budget is known.
    rule = parse_rule('selection=score')
    replayed = replay(histories, [rule])
    assert len(replayed) == 2 and not any(r['complete'] for r in replayed)
    replayed = replay(histories, [rule], epochs=12)
    assert all(r['complete'] for r in replayed)
    assert sorted(r['test'] for r in replayed) == \
        sorted(r['test'] for r in rows.values())
    assert replay(histories, [rule], models=['gat']) == []
    stopping = parse_rule('selection=loss,patience=1,patience_rule=joint')
    assert stopping == {'selection': 'loss', 'patience': 1,
                        'patience_rule': 'joint', 'min_epochs': 0}
    assert replay_cli.main(['--history-dir', str(histories), '--rule',
                            'selection=score_latest', '--epochs', '12',
                            '--per-seed']) == 0
    out = capsys.readouterr().out
    assert 'selection=score_latest' in out and 'seed 1' in out
    assert replay_cli.main(['--history-dir', str(tmp_path / 'none')]) == 2
    with pytest.raises(SystemExit):
        replay_cli.main(['--history-dir', str(histories), '--rule',
                         'selection=test'])
    (histories / 'notes__x__seed0.csv').write_text('a,b\n1,2\n')
    with pytest.raises(ValueError, match='not a history file'):
        replay(histories, [rule])


def test_unwritable_history_keeps_the_row(tmp_path, capsys):
    blocker = tmp_path / 'not_a_dir'
    blocker.write_text('a file where the history folder should be')
    results = tmp_path / 'r.csv'
    assert main(['--model', 'gcn', '--dataset', SMALL, '--epochs', '3',
                 '--runs', '1', '--no-progress', '--results-file',
                 str(results), '--history-dir', str(blocker)]) == 0
    assert 'history of gcn' in capsys.readouterr().err
    assert [r['status'] for r in read_results(results)] == ['ok']
