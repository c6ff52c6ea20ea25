"""Benchmarking of :mod:`gat_zoo` models: the training loop, the
``python -m gat_zoo.bench`` sweep (see ``--help``), its results file and the
layer speed comparison with PyG."""
from gat_zoo.bench.memory import peak_memory_mb, reset_peak_memory
from gat_zoo.bench.results import (
    FIELDS,
    ResultsFile,
    ResultsFileError,
    append_result,
    append_row,
    environment_info,
    finished_keys,
    read_results,
    read_rows,
)
from gat_zoo.bench.runner import (
    DatasetSpec,
    ModelSelectionError,
    load_data,
    ogb_metric,
    parse_dataset_spec,
    resolve_models,
    run_config,
    train_one,
)
from gat_zoo.bench.speed import GraphSpec, compare_layers, time_callable
from gat_zoo.bench.summary import format_table, mean_std, summarize
from gat_zoo.bench.train import (
    RunResult,
    seed_everything,
    split_masks,
    train_node_classifier,
)

__all__ = [
    'DatasetSpec',
    'FIELDS',
    'GraphSpec',
    'ModelSelectionError',
    'ResultsFile',
    'ResultsFileError',
    'RunResult',
    'append_result',
    'append_row',
    'compare_layers',
    'environment_info',
    'finished_keys',
    'format_table',
    'load_data',
    'main',
    'mean_std',
    'ogb_metric',
    'parse_dataset_spec',
    'peak_memory_mb',
    'read_results',
    'read_rows',
    'reset_peak_memory',
    'resolve_models',
    'run_config',
    'seed_everything',
    'split_masks',
    'summarize',
    'time_callable',
    'train_node_classifier',
    'train_one',
]


def main(argv=None) -> int:
    """``python -m gat_zoo.bench`` in-process; returns the exit status."""
    from gat_zoo.bench.cli import main as cli_main
    return cli_main(argv)
