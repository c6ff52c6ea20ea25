"""Command line of ``python -m gat_zoo.bench``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

import gat_zoo
from gat_zoo.bench.replay import write_history
from gat_zoo.bench.results import (
    ResultsFile,
    ResultsFileError,
    environment_info,
    parse_seeds,
    utc_now,
)
from gat_zoo.bench.runner import (
    DatasetSpec,
    ModelSelectionError,
    config_json,
    default_models,
    error_text,
    load_data,
    metric_for,
    num_splits,
    parse_dataset_spec,
    resolve_models,
    run_config,
    train_one,
    warn,
)
from gat_zoo.bench.summary import format_speed_table, format_table, summarize

__all__ = ['build_parser', 'main', 'parse_args', 'resolve_models']

DEFAULT_DATASET = 'csbm'
#: The embedded default (neither --model nor --dataset given).
DEFAULT_RUNS, DEFAULT_EPOCH_CAP = 3, 200
RUNS = 10
QUICK_RUNS, QUICK_EPOCHS = 2, 5
SPEED_GRAPH = (10_000, 100_000, 128)
SPEED_SHAPE = (8, 32)

DESCRIPTION = """\
Train registered gat_zoo models on node-classification datasets under OGB's
protocol and compare them with the numbers their papers report.

Each run trains full-batch with the paper's hyperparameters
(gat_zoo.paper_config(model, dataset)), selects the epoch on the validation
split only and reports the test score at that epoch; the table gives mean
± std (unbiased) over the runs next to the paper's number
(gat_zoo/paper_data.json). Run r uses seed r and, on datasets with S fixed
splits (cornell, texas, wisconsin, film, chameleon, squirrel), split r % S;
'name:split=0.6/0.2' replaces a dataset's splits by 10 seeded class-stratified
random 60/20/20 splits (run r uses split r % 10); add ':rule=balanced' for
GPRGNN's class-balanced rule (ACM-GNN's protocol). For ogbn-* datasets the
metric is ogb's Evaluator.

With no arguments, every registered node model is trained on the embedded
synthetic dataset 'csbm' (no download) with the paper configs capped at
{cap} epochs and {runs} runs: about two minutes on two CPU cores.
"""

EPILOG = """\
results file:
  .csv   one header line, then one line per (model, dataset, seed);
         each row is appended with one write() + fsync on an O_APPEND
         file, so a killed sweep leaves a valid file (at most a torn last
         line, which readers drop and the next append truncates)
  .json  one JSON array of row objects, rewritten atomically after each
         run (temporary file + fsync + os.replace): always a valid array
  .jsonl/.ndjson   JSON Lines, appended like the CSV
  Columns: model, family, dataset, seed, split, status, error, val and
  test (%), best_epoch, epochs_run, time_per_epoch_s, train_time_s,
  num_params, peak_mem_mb (+ mem_kind), paper_mean/std/source, config
  (JSON of the hyperparameters used) and the environment (versions,
  device, kernel backend, torch_scatter/torch_sparse, UTC time). --resume
  skips the (model, dataset, seed) rows that have status 'ok'. --speed rows
  share the file (column kind='speed').

exit status:
  0 every run succeeded (or nothing was left to run), 1 at least one row
  has status 'error' (the others are still run and written), 2 usage error
  (unknown model, dataset, option).

examples:
  python -m gat_zoo.bench                                   # embedded default
  python -m gat_zoo.bench --model gat,gcn --dataset cora,citeseer --runs 10 \\
      --results-file results.csv --resume --root /data
  python -m gat_zoo.bench --model 'family:neighbor' \\
      --dataset csbm:homophily=0.2
  python -m gat_zoo.bench --speed --model gat,gatv2 --speed-graph 10000,100000
"""


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1 (got {value})')
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0 (got {value})')
    return value


def _int_tuple(count: Sequence[int]):
    def parse(text: str) -> Tuple[int, ...]:
        try:
            values = tuple(int(float(v)) for v in text.split(',') if v)
        except ValueError:
            values = ()
        if len(values) not in count or min(values, default=0) < 1:
            counts = (f'{count[0]} to {count[-1]}' if len(count) > 2
                      else ' or '.join(map(str, count)))
            raise argparse.ArgumentTypeError(
                f'expected {counts} positive comma-separated integers '
                f'(got {text!r})')
        return values
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python -m gat_zoo.bench',
        description=DESCRIPTION.format(cap=DEFAULT_EPOCH_CAP,
                                       runs=DEFAULT_RUNS),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sel = p.add_argument_group('selection')
    sel.add_argument(
        '--model', metavar='SPEC', default=None,
        help="models: a registered name, a comma list ('gat,gcn'), a shell "
        "wildcard ('gat*', quote it), 'family:<family>' (e.g. "
        "'family:neighbor') or 'all'; only node-classification models "
        "(registry task 'node'). Default: all")
    sel.add_argument(
        '--dataset', metavar='NAMES', default=None,
        help="one dataset or a comma list: cora, citeseer, pubmed, cornell, "
        "texas, wisconsin, film, chameleon, squirrel, ogbn-arxiv, "
        "ogbn-products, ... (gat_zoo.datasets.list_datasets()) or csbm, "
        "optionally with generator arguments "
        "('csbm:num_nodes=500:homophily=0.3'; graph seed 0 unless "
        f"'seed=' is given); any of them with ':split=TRAIN/VAL' for 10 "
        "seeded class-stratified random splits of those fractions "
        "('cornell:split=0.6/0.2'). Default: " f"{DEFAULT_DATASET}")
    sel.add_argument(
        '--root', metavar='DIR', default=None,
        help='data root with the raw files (default: $GAT_ZOO_DATA, else '
        'the per-user cache ~/.cache/gat_zoo/data)')
    run = p.add_argument_group('protocol (overrides of the paper config)')
    run.add_argument(
        '--runs', type=_positive, default=None,
        help=f'runs per (model, dataset), seeds 0..RUNS-1 (default: {RUNS}; '
        f'{DEFAULT_RUNS} for the embedded default, {QUICK_RUNS} with '
        '--quick)')
    run.add_argument(
        '--seeds', default=None,
        help="the seeds to run instead of 0..RUNS-1, e.g. '2-4' or "
        "'0,3,5-9': several processes with disjoint --seeds can share one "
        "--results-file (each row is one atomic append)")
    run.add_argument('--epochs', type=_positive, default=None,
                     help="maximum epochs, replacing the paper's")
    run.add_argument(
        '--max-epochs', type=_positive, default=None,
        help="cap the paper's maximum epochs at this (default: none; "
        f"{DEFAULT_EPOCH_CAP} for the embedded default)")
    run.add_argument('--patience', type=_positive, default=None,
                     help="early-stopping patience in epochs, replacing the "
                     "paper's (by default: stop when neither validation "
                     "score nor loss improved for this long; a config's "
                     "patience_rule may count as its official code does)")
    run.add_argument('--lr', type=float, default=None,
                     help="Adam learning rate, replacing the paper's")
    run.add_argument('--weight-decay', type=float, default=None,
                     help="L2 coefficient, replacing the paper's")
    run.add_argument(
        '--quick', action='store_true',
        help=f'smoke test: {QUICK_EPOCHS} epochs and {QUICK_RUNS} runs '
        '(explicit --epochs/--runs still win)')
    env = p.add_argument_group('environment')
    env.add_argument(
        '--device', choices=('cpu', 'cuda', 'auto'), default='auto',
        help='where to train (auto: cuda when available, else cpu)')
    env.add_argument(
        '--threads', type=_non_negative, default=1,
        help="torch intra-op CPU threads (default: 1, as "
        "torch.utils.benchmark.Timer, for reproducible timings; on a busy "
        "shared machine more threads can be many times slower); 0 keeps "
        "torch's default")
    out = p.add_argument_group('output')
    out.add_argument(
        '--results-file', metavar='PATH', default=None,
        help='append one row per (model, dataset, seed) to this .csv, '
        '.json (JSON array) or .jsonl (JSON Lines) file, see below')
    out.add_argument(
        '--resume', action='store_true',
        help="skip the (model, dataset, seed) runs that already have an "
        "'ok' row in --results-file (their rows still enter the table)")
    out.add_argument(
        '--plot', metavar='DIR', default=None,
        help='write learning curves (validation score and training loss '
        'per epoch of the seed-0 run) per (model, dataset) and an '
        'accuracy-vs-time chart as PNG files into DIR')
    out.add_argument(
        '--history-dir', metavar='DIR', default=None,
        help='write each run\'s per-epoch history (training loss, '
        'validation loss and score, test score) to '
        'DIR/<model>__<dataset>__seed<S>.csv, for replaying other selection '
        'and stopping rules on the same runs (python -m '
        'gat_zoo.bench.replay)')
    out.add_argument('--no-progress', action='store_true',
                     help='no tqdm progress bars on stderr')
    out.add_argument(
        '--report', action='store_true',
        help="train nothing: print the table of the training rows already "
        "in --results-file (those of --model, --dataset and --seeds when "
        "given), e.g. of a sweep that several processes or sessions "
        "filled")
    spd = p.add_argument_group(
        'speed (--speed: layer timings instead of training)')
    spd.add_argument(
        '--speed', action='store_true',
        help="time each selected model's attention layer (its registry "
        "'conv') forward (no_grad) and forward+backward, and its peak "
        "memory, beside torch_geometric.nn's layer of the same name; prints "
        "ours/PyG ratios. Runs on each --dataset graph if given, else on "
        "a random graph")
    spd.add_argument(
        '--speed-graph', metavar='N,E[,F]', type=_int_tuple((2, 3)),
        default=SPEED_GRAPH,
        help='random graph: nodes, edges and input features (default: '
        f'{",".join(map(str, SPEED_GRAPH))})')
    spd.add_argument(
        '--speed-shape', metavar='HEADS,CHANNELS', type=_int_tuple((2, )),
        default=SPEED_SHAPE,
        help='layer output: heads x channels per head (default: '
        f'{",".join(map(str, SPEED_SHAPE))}, a paper-scale hidden layer); '
        'a layer without heads gets HEADS*CHANNELS outputs')
    spd.add_argument(
        '--speed-sizes', metavar='E1,E2,...', type=_int_tuple(range(1, 65)),
        default=None,
        help='scaling sweep instead of one graph: random graphs with these '
        "edge counts at ogbn-arxiv's average degree (1166243 gives "
        "ogbn-arxiv's size), each layer beside PyG's and the survey's "
        'dense O(N^2) GAT; a baseline whose estimated peak memory exceeds '
        '60%% of RAM is skipped and says so. With --plot, log-log charts '
        'of time and memory against edges')
    spd.add_argument('--speed-repeat', type=_positive, default=10,
                     help='timed calls per measurement; the median is '
                     'reported (default: 10)')
    spd.add_argument('--speed-warmup', type=_non_negative, default=3,
                     help='untimed calls first (default: 3)')
    spd.add_argument(
        '--speed-in-process', action='store_true',
        help='measure in this process instead of one spawned child per '
        'layer (faster to start; peak memory is then less meaningful)')
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses and validates ``argv``; usage errors exit with status 2.

    Adds ``models`` (names), ``dataset_specs`` (:class:`DatasetSpec`),
    ``datasets`` (their labels), ``embedded_default``, ``device``
    (:class:`torch.device`), ``results`` (:class:`ResultsFile` or None) and
    resolves ``runs`` / ``epochs`` / ``max_epochs`` defaults.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.models = (resolve_models(args.model) if args.model is not None
                       else default_models())
        args.dataset_specs = [
            parse_dataset_spec(item)
            for item in (args.dataset or DEFAULT_DATASET).split(',')
            if item.strip()]
    except ModelSelectionError as err:
        parser.error(str(err))
    if not args.models:
        parser.error('no node-classification model is registered')
    if not args.dataset_specs:
        parser.error('--dataset is empty')
    args.datasets = [s.label for s in args.dataset_specs]
    args.embedded_default = (args.model is None and args.dataset is None
                             and not args.speed)
    if args.runs is None:
        args.runs = (QUICK_RUNS if args.quick else
                     DEFAULT_RUNS if args.embedded_default else RUNS)
    # --report filters by the seeds only when they were named.
    args.seeds_named = args.seeds is not None
    if args.seeds is None:
        args.seeds = list(range(args.runs))
    else:
        try:
            # A seed named twice is run once.
            args.seeds = list(dict.fromkeys(parse_seeds(args.seeds)))
        except ValueError:
            parser.error(f'--seeds {args.seeds!r}: expected seeds such as '
                         "'0-4' or '0,3,5-9'")
        if not args.seeds:
            parser.error('--seeds is empty')
    if args.quick and args.epochs is None:
        args.epochs = QUICK_EPOCHS
    if args.embedded_default and args.max_epochs is None:
        args.max_epochs = DEFAULT_EPOCH_CAP
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available to torch')
    args.device = torch.device(
        'cuda' if args.device == 'cuda' or
        (args.device == 'auto' and torch.cuda.is_available()) else 'cpu')
    if args.resume and not args.results_file:
        parser.error('--resume needs --results-file')
    if args.report and not args.results_file:
        parser.error('--report needs --results-file')
    if args.report and args.speed:
        parser.error('--report prints training rows; it does not take '
                     '--speed')
    try:
        args.results = (ResultsFile(args.results_file)
                        if args.results_file else None)
    except ResultsFileError as err:
        parser.error(str(err))
    if len(args.speed_graph) == 2:
        args.speed_graph = args.speed_graph + (SPEED_GRAPH[2], )
    return args


# Training sweep ##############################################################


def _progress(args, **kwargs):
    from tqdm.auto import tqdm
    return tqdm(file=sys.stderr, disable=args.no_progress, dynamic_ncols=True,
                **kwargs)


def _paper(model: str, spec) -> Dict[str, Any]:
    # A run on random splits ('cornell:split=0.6/0.2') is compared only
    # with a number the paper reports for that protocol, never with the
    # dataset's fixed-split headline.
    params = dict(spec.params)
    protocol = params.get('split')
    key = spec.name if protocol is None else f'{spec.name}:split={protocol}'
    if protocol is not None and 'rule' in params:
        key += f":rule={params['rule']}"
    result = gat_zoo.paper_result(model, key) or {}
    return {'paper_mean': result.get('mean'),
            'paper_std': result.get('std'),
            'paper_source': result.get('source')}


def _run_training(args) -> int:
    models, specs = args.models, args.dataset_specs
    done: Dict[Tuple[str, str, int], Dict[str, Any]] = {}
    if args.resume:
        for row in args.results.read():
            if row.get('kind') in (None, 'train') and \
                    row.get('status') == 'ok' and row.get('seed') is not None:
                done[(row['model'], row['dataset'], int(row['seed']))] = row
    todo = sum((m, s.label, seed) not in done for s in specs for m in models
               for seed in args.seeds)
    env = environment_info(args.device)
    summary_rows: List[Dict[str, Any]] = []
    new_rows: List[Dict[str, Any]] = []
    curves: Dict[Tuple[str, str], Tuple[int, list]] = {}
    warned = set()

    def note(key, message):
        if key not in warned:
            warned.add(key)
            warn(message)

    if args.resume and done:
        warn(f'resume: {len(done)} finished run(s) in {args.results.path}; '
             f'{todo} left to run')
    bar = _progress(args, total=todo, desc='runs', unit='run')
    try:
        for spec in specs:
            label = spec.label
            pending = [(m, seed) for m in models for seed in args.seeds
                       if (m, label, seed) not in done]
            data, data_error, metric, metric_name = None, None, None, None
            if pending:
                try:
                    data = load_data(spec, args.root)
                    metric, metric_name = metric_for(spec)
                except Exception as err:  # every run of it becomes an error
                    data_error = error_text(err)
                    warn(f'error: dataset {label!r}: {data_error}')
            for model in models:
                entry = gat_zoo.model_entry(model)
                config, config_error, paper = None, None, {}
                try:
                    paper = _paper(model, spec)
                    config = run_config(
                        model, spec.label, epochs=args.epochs,
                        max_epochs=args.max_epochs, patience=args.patience,
                        lr=args.lr, weight_decay=args.weight_decay)
                    if config['ignored']:
                        note(('ignored', model, label),
                             f"note: {model}/{label}: paper train settings "
                             f"{config['ignored']} are not options of "
                             f"train_node_classifier and are ignored")
                except Exception as err:
                    config_error = error_text(err)
                for seed in args.seeds:
                    key = (model, label, seed)
                    if key in done:
                        old = done[key]
                        summary_rows.append(old)
                        if config is not None and old.get('config') and \
                                old['config'] != config_json(config):
                            note(('config', model, label),
                                 f'warning: resumed rows of {model}/{label} '
                                 f'were trained with a different config '
                                 f'({old["config"]})')
                        continue
                    row = _run_row(args, model, entry, spec, seed, data,
                                   data_error, config, config_error, paper,
                                   metric, metric_name, curves, note)
                    row.update(env)
                    row['timestamp_utc'] = utc_now()
                    if args.results is not None:
                        args.results.append(row)
                    summary_rows.append(row)
                    new_rows.append(row)
                    bar.update(1)
    finally:
        bar.close()

    summaries = summarize(summary_rows)
    if summaries:
        print(format_table(summaries))
    else:
        print('Nothing to report.')
    if args.results is not None:
        warn(f'{len(new_rows)} row(s) appended to {args.results.path}')
    if args.plot:
        from gat_zoo.bench.plot import write_plots
        paths = write_plots(args.plot, curves, summaries)
        warn(f'{len(paths)} plot(s) written to {args.plot}')
    return 1 if any(r['status'] != 'ok' for r in new_rows) else 0


def _run_row(args, model, entry, spec: DatasetSpec, seed, data, data_error,
             config, config_error, paper, metric, metric_name, curves,
             note) -> Dict[str, Any]:
    label = spec.label
    row: Dict[str, Any] = {
        'kind': 'train', 'model': model, 'family': entry.family,
        'dataset': label, 'seed': seed, 'status': 'error', 'error': '',
        'metric': metric_name, **paper,
        'from_paper': None if config is None else config['from_paper'],
        'config': None if config is None else config_json(config),
    }
    if data_error is not None:
        row['error'] = data_error
        return row
    if config_error is not None:
        row['error'] = config_error
        note(('config_error', model, label),
             f'error: {model}/{label}: {config_error}')
        return row
    split = seed % num_splits(data)
    row['split'] = split
    epochs = config['train'].get('epochs')
    ebar = _progress(args, total=epochs, desc=f'{model}/{label} seed {seed}',
                     unit='ep', leave=False)

    def on_epoch(epoch, record):
        ebar.update(1)
        if epoch % 10 == 0:
            ebar.set_postfix(val=f"{100 * record['val_score']:.1f}",
                             refresh=False)

    try:
        result, history = train_one(model, data, config, seed=seed,
                                    split=split, device=args.device,
                                    metric=metric, on_epoch=on_epoch)
    except Exception as err:  # one failing run must not end the sweep
        row['error'] = error_text(err)
        note(('run_error', model, label, row['error']),
             f'error: {model}/{label} seed {seed}: {row["error"]}')
        if args.device.type == 'cuda':
            torch.cuda.empty_cache()
        return row
    finally:
        ebar.close()
    row.update(result, status='ok')
    if args.history_dir is not None:
        try:
            write_history(args.history_dir, model, label, seed, history)
        except OSError as err:  # the run's row matters more than its curve
            note(('history_error', model, label),
                 f'warning: history of {model}/{label} seed {seed} not '
                 f'written: {err}')
    key = (model, label)
    if key not in curves or seed < curves[key][0]:
        curves[key] = (seed, history)
    return row


# Speed #######################################################################


def _run_speed(args) -> int:
    from gat_zoo.bench.speed import (
        GraphSpec,
        compare_layers,
        memory_budget_mb,
        pyg_equivalent,
        scaling_graphs,
    )
    dense = budget = None
    if args.speed_sizes is not None:
        from gat_zoo.bench.dense import DenseMaskedGAT
        graphs = scaling_graphs(args.speed_sizes, args.speed_graph[2])
        dense, budget = DenseMaskedGAT, memory_budget_mb()
    elif args.dataset is not None:
        graphs = [GraphSpec.from_dataset(label, args.root)
                  for label in args.datasets]
    else:
        n, e, f = args.speed_graph
        graphs = [GraphSpec.random(n, e, f)]
    heads, channels = args.speed_shape
    selected = []
    for model in args.models:
        conv = gat_zoo.model_entry(model).conv
        if conv is None:
            warn(f'note: {model} has no registry conv layer; skipped')
        else:
            selected.append((model, conv))
    env = environment_info(args.device)
    rows: List[Dict[str, Any]] = []
    cache: Dict[Tuple[type, GraphSpec], List[Dict[str, Any]]] = {}
    bar = _progress(args, total=len(selected) * len(graphs), desc='layers',
                    unit='layer')
    try:
        for model, conv in selected:
            for graph in graphs:
                bar.set_postfix(model=model, refresh=True)
                if (conv, graph) not in cache:
                    cache[(conv, graph)] = compare_layers(
                        conv, graph, pyg=pyg_equivalent(conv), dense=dense,
                        budget_mb=budget, isolate=not args.speed_in_process,
                        out_channels=channels, heads=heads,
                        warmup=args.speed_warmup, repeat=args.speed_repeat,
                        device=str(args.device),
                        threads=args.threads or None)
                failed = [m for m in cache[(conv, graph)]
                          if m['status'] != 'ok']
                if failed:
                    warn(f"error: {model} on {graph.label}: "
                         f"{failed[0]['error']}")
                for measured in cache[(conv, graph)]:
                    row = {'kind': 'speed', 'model': model,
                           'family': gat_zoo.model_entry(model).family,
                           'dataset': graph.label, **measured,
                           'num_nodes': (graph.num_nodes if graph.kind ==
                                         'random' else None),
                           'num_edges': (graph.num_edges if graph.kind ==
                                         'random' else None),
                           'config': json.dumps({
                               'heads': heads, 'out_channels': channels,
                               'warmup': args.speed_warmup,
                               'repeat': args.speed_repeat,
                               'isolated': not args.speed_in_process},
                               sort_keys=True)}
                    row.update(env)
                    row['timestamp_utc'] = utc_now()
                    if args.results is not None:
                        args.results.append(row)
                    rows.append(row)
                bar.update(1)
    finally:
        bar.close()
    if rows and args.plot is not None and args.speed_sizes is not None:
        from gat_zoo.bench.plot import plot_scaling
        for path in plot_scaling(args.plot, rows):
            warn(f'wrote {path}')
    if rows:
        print(format_speed_table(rows, isolated=not args.speed_in_process))
    else:
        print('No selected model has a conv layer to time.')
    return 1 if any(r['status'] != 'ok' for r in rows) else 0


def _report(args) -> int:
    """Prints the summary table of the training rows in the results file;
    of the rows of one (model, dataset, seed), the last ``ok`` one counts,
    else the last one (a run that failed and later succeeded on resume is
    one run)."""
    if not args.results.path.exists():
        warn(f'error: {args.results.path} does not exist')
        return 1
    latest: Dict[Tuple[Any, Any, Any], Dict[str, Any]] = {}
    for row in args.results.read():
        if row.get('kind') not in (None, 'train'):
            continue
        if args.model is not None and row.get('model') not in args.models:
            continue
        if args.dataset is not None and \
                row.get('dataset') not in args.datasets:
            continue
        if args.seeds_named and row.get('seed') not in args.seeds:
            continue
        key = (row.get('model'), row.get('dataset'), row.get('seed'))
        old = latest.get(key)
        if old is None or row.get('status') == 'ok' or \
                old.get('status') != 'ok':
            latest[key] = row
    summaries = summarize(latest.values())
    print(format_table(summaries) if summaries else 'Nothing to report.')
    return 0


# Entry point #################################################################


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the bench with ``argv`` (default: ``sys.argv[1:]``); returns the
    exit status (see ``--help``). Usage errors raise :class:`SystemExit`
    with code 2."""
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.report:
            return _report(args)
        return _run_speed(args) if args.speed else _run_training(args)
    finally:
        torch.set_num_threads(threads)
