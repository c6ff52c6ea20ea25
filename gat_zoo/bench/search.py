r"""Hyperparameter search on the validation split, then the test score of
the chosen setting over the final seeds: the tuning a paper describes
("we search ε in ... and the number of layers in ...") made reproducible.

Two stages, one results file:

1. ``search``: every point of the grid (the Cartesian product of the
   ``--grid`` values, or the settings listed one by one with ``--point``,
   e.g. the configurations different sources publish; either applied on
   top of the paper configuration of the model for the dataset) trained
   with each of the ``--search-seeds``.
2. ``final``: the point with the highest mean **validation** score (ties:
   the earlier point in grid order) trained with each of the
   ``--final-seeds``. A (point, seed) pair already trained in the search is
   reused, not retrained: the runs are deterministic.

Test scores are never used to choose. The summary prints the chosen point,
its mean ± std (unbiased) test score over the final seeds and the paper's
number, and writes the same table beside the results file (``.txt``).
Every run is one row, appended atomically; ``--resume`` skips the
(stage point, seed) pairs already in the file, so a killed search
continues where it stopped. Command line::

    python -m gat_zoo.bench.search --model fagcn --dataset CiteSeer \
        --grid eps=0.2,0.3,0.4,0.5 num_layers=2,3,4,5 \
        --search-seeds 0-4 --final-seeds 0-9 --threads 1 \
        --results-file benchmarks/results/fagcn_citeseer_search.csv --resume

Grid keys name arguments of the trainer (``lr``, ``weight_decay``, ...:
:func:`~gat_zoo.bench.train.train_node_classifier`) or else of the model
(``create_model``); every point is built once before anything trains, so
a key the model does not take is reported at once.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from gat_zoo.bench.results import (
    ResultsFile,
    environment_info,
    parse_seeds,
    read_csv_rows,
    utc_now,
)
from gat_zoo.bench.runner import (
    _TRAIN_PARAMS,
    _parse_value,
    load_data,
    metric_for,
    num_splits,
    parse_dataset_spec,
    run_config,
    train_one,
)
from gat_zoo.bench.summary import format_mean_std

__all__ = ['FIELDS', 'apply_point', 'expand_grid', 'main', 'parse_grid',
           'parse_point', 'select', 'summarize']

FIELDS = ('model', 'dataset', 'stage', 'point', 'seed', 'split', 'status',
          'error', 'val', 'test', 'best_epoch', 'epochs_run',
          'train_time_s', 'overrides', 'config', 'paper_mean', 'paper_std',
          'torch_version', 'device', 'num_threads', 'timestamp_utc')


def parse_grid(items: Sequence[str]) -> Dict[str, List[Any]]:
    """``['eps=0.1,0.2', 'num_layers=2,3']`` -> ``{'eps': [0.1, 0.2],
    'num_layers': [2, 3]}`` (numbers and booleans parsed, else strings)."""
    grid: Dict[str, List[Any]] = {}
    for item in items:
        key, values = _assignment(item, item, 'grid item', 'key=v1,v2,...')
        if key in grid:
            raise ValueError(f"Grid key {key!r} given twice")
        grid[key] = [_value(text) for text in values.split(',')]
    return grid


def _assignment(part: str, item: str, kind: str,
                expected: str) -> Tuple[str, str]:
    """``'key=text'`` -> ``('key', 'text')``, or an error naming
    ``item``."""
    key, sep, text = part.partition('=')
    key = key.strip()
    if not sep or not key or not text.strip():
        raise ValueError(f"Bad {kind} {item!r}; expected {expected}")
    return key, text


def _value(text: str) -> Any:
    """A number or boolean where the text is one, else the text."""
    try:
        return _parse_value(text)
    except ValueError:
        return text.strip()


def parse_point(item: str) -> Dict[str, Any]:
    """``'eps=0.2,num_layers=5'`` -> ``{'eps': 0.2, 'num_layers': 5}``:
    one setting, one value per key."""
    point: Dict[str, Any] = {}
    for part in item.split(','):
        key, text = _assignment(part, item, 'point',
                                'key=value,key=value,...')
        if key in point:
            raise ValueError(f"Point {item!r} sets {key!r} twice")
        point[key] = _value(text)
    return point


def expand_grid(grid: Dict[str, List[Any]]) -> List[Dict[str, Any]]:
    """Every combination, in the order the keys and values were given."""
    keys = list(grid)
    return [dict(zip(keys, values))
            for values in itertools.product(*(grid[k] for k in keys))]


def point_label(overrides: Dict[str, Any]) -> str:
    return ','.join(f'{k}={v}' for k, v in overrides.items())


def apply_point(config: Dict[str, Any], overrides: Dict[str, Any]
                ) -> Dict[str, Any]:
    """``config`` (``{'model': ..., 'train': ...}``) with the point's
    values: trainer arguments to ``train``, the rest to ``model``."""
    config = {'model': dict(config['model']),
              'train': dict(config['train'])}
    for key, value in overrides.items():
        config['train' if key in _TRAIN_PARAMS else 'model'][key] = value
    return config


def select(rows: Sequence[Dict[str, Any]], points: Sequence[str]
           ) -> Optional[str]:
    """The point with the highest mean validation score over its ``ok``
    search rows (ties: the earlier point); :obj:`None` before any."""
    best, best_val = None, None
    for point in points:
        vals = [float(r['val']) for r in rows if r['stage'] == 'search'
                and r['point'] == point and r['status'] == 'ok']
        if not vals:
            continue
        mean = statistics.mean(vals)
        if best_val is None or mean > best_val:
            best, best_val = point, mean
    return best


def summarize(rows: Sequence[Dict[str, Any]], points: Sequence[str],
              final_seeds: Sequence[int]) -> str:
    """A plain-text table: each point's search mean val/test, the chosen
    point and its final test mean ± std."""
    lines = [f"{'point':<40} {'seeds':>5} {'val':>14} {'test':>14}"]
    for point in points:
        got = [r for r in rows if r['stage'] == 'search'
               and r['point'] == point and r['status'] == 'ok']
        if got:
            val = format_mean_std([float(r['val']) for r in got])
            test = format_mean_std([float(r['test']) for r in got])
            lines.append(f'{point:<40} {len(got):>5} {val:>14} {test:>14}')
    chosen = select(rows, points)
    if chosen is None:
        return '\n'.join(lines)
    final = _final_rows(rows, chosen, final_seeds)
    paper = next((r for r in rows if r.get('paper_mean') not in (None, '')),
                 None)
    lines.append('')
    lines.append(f'chosen on validation: {chosen}')
    lines.append(f'final seeds: {len(final)} of {len(final_seeds)}; test '
                 f'{format_mean_std([float(r["test"]) for r in final])}, val '
                 f'{format_mean_std([float(r["val"]) for r in final])}')
    if paper is not None:
        std = paper.get('paper_std')
        lines.append(f"paper: {paper['paper_mean']}"
                     + (f' ± {std}' if std not in (None, '') else ''))
    return '\n'.join(lines)


def _final_rows(rows, point, seeds):
    by_seed = {}
    for r in rows:
        if r['point'] == point and r['status'] == 'ok':
            by_seed.setdefault(int(r['seed']), r)
    return [by_seed[s] for s in seeds if s in by_seed]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m gat_zoo.bench.search',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True)
    parser.add_argument('--dataset', required=True)
    space = parser.add_mutually_exclusive_group(required=True)
    space.add_argument('--grid', nargs='+', metavar='KEY=V1,V2',
                       help='the Cartesian product of these values')
    space.add_argument('--point', nargs='+', metavar='KEY=V,KEY=V',
                       help='these settings, one per argument')
    parser.add_argument('--search-seeds', default='0-4')
    parser.add_argument('--final-seeds', default='0-9')
    parser.add_argument('--root', default=None)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--results-file', required=True)
    parser.add_argument('--resume', action='store_true')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    import gat_zoo
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if args.grid:
            points = expand_grid(parse_grid(args.grid))
        else:
            points = [parse_point(item) for item in args.point]
        spec = parse_dataset_spec(args.dataset)
        search_seeds = parse_seeds(args.search_seeds)
        final_seeds = parse_seeds(args.final_seeds)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    model = args.model.lower()
    base = run_config(model, spec.name)
    labels = [point_label(p) for p in points]
    if len(set(labels)) != len(labels):
        print('error: a point is listed twice', file=sys.stderr)
        return 2
    configs = {label: apply_point(base, point)
               for label, point in zip(labels, points)}
    overrides = {label: point for label, point in zip(labels, points)}

    data = load_data(spec, args.root)
    for label, config in configs.items():
        try:  # a grid key the model does not take fails here, not later
            gat_zoo.create_model(model, data.num_features, data.num_classes,
                                 **config['model'])
        except TypeError as err:
            print(f'error: grid point {label!r}: {err}', file=sys.stderr)
            return 2
    metric, _ = metric_for(spec)
    splits = num_splits(data)
    device = torch.device('cpu')
    paper = gat_zoo.paper_result(model, spec.name) or {}
    out = ResultsFile(args.results_file, fields=FIELDS)
    rows = read_csv_rows(args.results_file) if args.resume else []
    env = environment_info(device)

    def done(stage_point: str, seed: int) -> bool:
        return any(r['point'] == stage_point and int(r['seed']) == seed
                   and r['status'] == 'ok' for r in rows)

    def run(stage: str, label: str, seed: int) -> None:
        config = configs[label]
        split = seed % splits
        row = {'model': model, 'dataset': spec.label, 'stage': stage,
               'point': label, 'seed': seed, 'split': split,
               'overrides': json.dumps(overrides[label]),
               'config': json.dumps(config, sort_keys=True),
               'paper_mean': paper.get('mean'),
               'paper_std': paper.get('std'),
               'torch_version': env['torch_version'],
               'device': env['device'],
               'num_threads': env['num_threads']}
        try:
            result, _ = train_one(model, data, config, seed=seed,
                                  split=split, device=device, metric=metric)
            row.update(status='ok', error='', **{
                k: result[k] for k in ('val', 'test', 'best_epoch',
                                       'epochs_run', 'train_time_s')})
        except Exception as err:  # an error row; the search goes on
            row.update(status='error', error=f'{type(err).__name__}: {err}')
        row['timestamp_utc'] = utc_now()
        out.append(row)
        rows.append({k: ('' if v is None else str(v))
                     for k, v in row.items()})
        print(f"{stage:6} {label:<40} seed {seed}: "
              f"{row.get('status')} val {row.get('val')} "
              f"test {row.get('test')}", flush=True)

    for label in labels:
        for seed in search_seeds:
            if not done(label, seed):
                run('search', label, seed)
    chosen = select(rows, labels)
    if chosen is not None:
        for seed in final_seeds:
            if not done(chosen, seed):
                run('final', chosen, seed)
    table = summarize(rows, labels, final_seeds)
    print()
    print(table)
    # The table beside the rows, as the other benchmark scripts keep it.
    Path(args.results_file).with_suffix('.txt').write_text(
        f'{model} on {spec.label}, '
        f'{"grid " + " ".join(args.grid) if args.grid else "points"}\n\n'
        f'{table}\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
