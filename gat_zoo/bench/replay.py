"""Per-epoch training histories, and the selection and stopping rules
replayed on them.

``python -m gat_zoo.bench --history-dir DIR`` writes every run's history
(one CSV per model, dataset and seed). A run's trajectory does not depend on
how the reported epoch is chosen, nor on when it would stop, until it
stops. So one recorded run gives what every rule would have reported, as
long as the rule stops no later than the recorded run did. This compares
the rules of official codes (e.g. MAGNA's "latest epoch reaching the best
validation accuracy", FAGCN's joint patience) on the same trajectories,
without training again::

    python -m gat_zoo.bench.replay --history-dir DIR \\
        --rule selection=score \\
        --rule selection=score_latest,patience=300,patience_rule=selected

prints, per (model, dataset) and rule, the mean ± std of the validation and
test scores over the recorded seeds. A replay that the recorded history
cannot decide (the rule would have run longer than the recorded run) is
counted as ``incomplete`` and left out of the means (``--epochs`` gives
the runs' epoch budget, which a history of that length ran out).
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from gat_zoo.bench.results import (
    PathLike,
    _replace_atomically,
    parse_names,
    sanitize_filename,
)
from gat_zoo.bench.summary import format_mean_std
from gat_zoo.bench.train import (
    PATIENCE_RULES,
    SELECTION_RULES,
    select_epoch,
)

__all__ = ['HISTORY_FIELDS', 'history_path', 'parse_rule', 'read_history',
           'replay', 'write_history']

#: The columns of a history file, one row per epoch.
HISTORY_FIELDS = ('epoch', 'train_loss', 'val_loss', 'val_score',
                  'test_score')
_NAME = re.compile(r'^(?P<model>.+)__(?P<dataset>.+)__seed(?P<seed>\d+)'
                   r'\.csv$')


def history_path(directory: PathLike, model: str, dataset: str,
                 seed: int) -> Path:
    """``DIR/<model>__<dataset>__seed<S>.csv``, names made file-safe."""
    return Path(directory) / (f'{sanitize_filename(model)}__'
                              f'{sanitize_filename(dataset)}__seed{seed}.csv')


def _exact_text(value: float) -> str:
    # Nine significant digits give a float32 value back exactly (scores
    # and losses come from float32 tensors), so ties replay as they were.
    value = float(value)
    text = f'{value:.9g}'
    return text if float(text) == value else repr(value)


def write_history(directory: PathLike, model: str, dataset: str, seed: int,
                  history: Sequence[Dict[str, float]]) -> Path:
    """Writes one run's per-epoch history (replacing an earlier file of the
    same run atomically); returns its path."""
    path = history_path(directory, model, dataset, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(HISTORY_FIELDS)
    for record in history:
        writer.writerow([_exact_text(record[f]) if f != 'epoch'
                         else int(record[f]) for f in HISTORY_FIELDS])
    _replace_atomically(path, buffer.getvalue())
    return path


def read_history(path: PathLike) -> List[Dict[str, float]]:
    """The records :func:`write_history` wrote, in epoch order."""
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        missing = set(HISTORY_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f'{path}: not a history file (missing columns '
                             f'{sorted(missing)})')
        records = [{k: (int(v) if k == 'epoch' else float(v))
                    for k, v in row.items() if k in HISTORY_FIELDS}
                   for row in reader]
    return sorted(records, key=lambda r: r['epoch'])


def parse_rule(text: str) -> Dict[str, Any]:
    """``'selection=score_latest,patience=300,patience_rule=selected'`` as
    keyword arguments of :func:`gat_zoo.bench.train.select_epoch`
    (``patience=none`` for no early stopping)."""
    rule: Dict[str, Any] = {'selection': 'score', 'patience': None,
                            'patience_rule': 'either', 'min_epochs': 0}
    for part in parse_names(text):
        key, sep, value = part.partition('=')
        key, value = key.strip(), value.strip()
        if not sep or key not in rule:
            raise argparse.ArgumentTypeError(
                f'expected KEY=VALUE with KEY one of {sorted(rule)} '
                f'(got {part!r})')
        if key == 'selection' and value not in SELECTION_RULES:
            raise argparse.ArgumentTypeError(
                f'selection must be one of {SELECTION_RULES} (got {value!r})')
        if key == 'patience_rule' and value not in PATIENCE_RULES:
            raise argparse.ArgumentTypeError(
                f'patience_rule must be one of {PATIENCE_RULES} '
                f'(got {value!r})')
        if key in ('patience', 'min_epochs'):
            rule[key] = (None if value.lower() == 'none' and key == 'patience'
                         else int(value))
        else:
            rule[key] = value
    return rule


def _rule_label(rule: Dict[str, Any]) -> str:
    label = f"selection={rule['selection']}"
    if rule['patience'] is not None:
        label += (f",patience={rule['patience']},"
                  f"patience_rule={rule['patience_rule']}")
    if rule['min_epochs']:
        label += f",min_epochs={rule['min_epochs']}"
    return label


def replay(directory: PathLike, rules: Sequence[Dict[str, Any]],
           models: Optional[Sequence[str]] = None,
           datasets: Optional[Sequence[str]] = None,
           epochs: Optional[int] = None) -> List[Dict[str, Any]]:
    """One row per (history file, rule): ``model``, ``dataset``, ``seed``,
    ``rule``, the selected ``epoch``, ``val`` and ``test`` (%),
    ``epochs_run``, ``recorded_epochs`` and ``complete``.

    ``epochs`` is the runs' epoch budget: a history that long ran out its
    budget, so a rule that had not stopped by its end is decided too.
    Without it a replay is complete only where the rule stops within the
    history."""
    rows = []
    for path in sorted(Path(directory).glob('*__*__seed*.csv')):
        match = _NAME.match(path.name)
        if match is None:
            continue
        model, dataset = match['model'], match['dataset']
        if models and model not in models:
            continue
        if datasets and dataset.lower() not in {d.lower() for d in datasets}:
            continue
        history = read_history(path)
        for rule in rules:
            chosen = select_epoch(history, **rule)
            complete = chosen['complete'] or (
                epochs is not None and len(history) >= epochs)
            rows.append({'model': model, 'dataset': dataset,
                         'seed': int(match['seed']),
                         'rule': _rule_label(rule),
                         'epoch': chosen['epoch'],
                         'val': 100 * chosen['val_score'],
                         'test': 100 * chosen['test_score'],
                         'epochs_run': chosen['epochs_run'],
                         'recorded_epochs': len(history),
                         'complete': complete})
    return rows


def format_replay(rows: Sequence[Dict[str, Any]]) -> str:
    """The per-(model, dataset, rule) table of :func:`replay`'s rows."""
    groups: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row['model'], row['dataset'], row['rule']),
                          []).append(row)
    lines = [f"{'model':<10} {'dataset':<12} {'rule':<58} {'seeds':>5} "
             f"{'incomplete':>10} {'val':>14} {'test':>14} {'epoch':>7}"]
    for (model, dataset, rule), group in groups.items():
        done = [r for r in group if r['complete']]
        epochs = (f"{statistics.mean(r['epoch'] for r in done):.0f}"
                  if done else '—')
        lines.append(
            f'{model:<10} {dataset:<12} {rule:<58} {len(done):>5} '
            f'{len(group) - len(done):>10} '
            f"{format_mean_std([r['val'] for r in done]):>14} "
            f"{format_mean_std([r['test'] for r in done]):>14} {epochs:>7}")
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m gat_zoo.bench.replay',
        description=__doc__.split('\n\n')[0] + ' Reads the history files '
        'of `python -m gat_zoo.bench --history-dir DIR`.',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--history-dir', required=True, metavar='DIR')
    p.add_argument('--rule', action='append', type=parse_rule, metavar='SPEC',
                   help="a rule, e.g. 'selection=score_latest,patience=300,"
                   "patience_rule=selected' (keys: selection "
                   f"{SELECTION_RULES}, patience (epochs or none), "
                   f"patience_rule {PATIENCE_RULES}, min_epochs); repeat for "
                   "several; default: selection=score without a stop")
    p.add_argument('--model', type=parse_names, default=None,
                   help='only these models (comma list)')
    p.add_argument('--dataset', type=parse_names, default=None,
                   help='only these datasets (comma list)')
    p.add_argument('--epochs', type=int, default=None,
                   help="the runs' epoch budget: a history this long is "
                   'complete for every rule (default: a replay counts only '
                   'where its rule stops within the history)')
    p.add_argument('--per-seed', action='store_true',
                   help='also print one line per seed and rule')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    rules = args.rule or [parse_rule('selection=score')]
    if not Path(args.history_dir).is_dir():
        print(f'error: no history directory {args.history_dir}',
              file=sys.stderr)
        return 2
    rows = replay(args.history_dir, rules, args.model, args.dataset,
                  args.epochs)
    if not rows:
        print(f'error: no history files in {args.history_dir}',
              file=sys.stderr)
        return 1
    if args.per_seed:
        for r in rows:
            print(f"{r['model']} {r['dataset']} seed {r['seed']} {r['rule']}:"
                  f" epoch {r['epoch']} val {r['val']:.2f} test "
                  f"{r['test']:.2f} (ran {r['epochs_run']} of "
                  f"{r['recorded_epochs']} recorded"
                  f"{'' if r['complete'] else ', incomplete'})")
    print(format_replay(rows))
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
