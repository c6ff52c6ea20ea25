"""GAMLP's reliable label utilisation (RLU): multi-stage training with the
label-propagation input and confidence-weighted distillation (Zhang et al.,
"Graph Attention Multi-Layer Perceptron", KDD 2022, Sec. 3.2.5).

The trainer of :mod:`gat_zoo.bench.train` sees only ``model(x,
edge_index)``, never the labels, so the stages are driven from here: every
stage is a fresh :class:`~gat_zoo.nn.models.gamlp.GAMLP` (``use_labels``)
trained by :func:`~gat_zoo.bench.train.train_node_classifier` with the same
settings, splits and best-validation selection; the label input and the
distillation term are handed to the model (:meth:`GAMLP.set_label_input`,
:meth:`GAMLP.set_distillation`, read by the trainer through
``auxiliary_loss()``).

* Stage 1: label input :math:`\\hat{\\mathbf{Y}}^{(0)}` = one-hot training
  labels, zeros elsewhere, propagated :math:`K_y` times (Eq. 8).
* Stage :math:`m > 1`: :math:`P^{(m-1)} = \\mathrm{softmax}(\\mathbf{Z}/T)`
  from the previous stage's selected (best-validation) model; the reliable
  set :math:`\\mathcal{V}_r` = non-training nodes with :math:`\\max_j
  P^{(m-1)}_{ij} > \\epsilon`; label input = training one-hots plus
  :math:`P^{(m-1)}` on :math:`\\mathcal{V}_r` (Eq. 13); loss = CE +
  :math:`\\gamma` · :func:`~gat_zoo.nn.models.gamlp.rlu_distillation_loss`
  on :math:`\\mathcal{V}_r` (Eqs. 14-15).

Only training labels ever enter the label input; validation and test nodes
contribute only the previous stage's *predictions*. The reported result is
the last stage's (its best-validation epoch's test score).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from gat_zoo.nn.models.gamlp import GAMLP

__all__ = ['label_input', 'reliable_nodes', 'rlu_config',
           'stage_predictions', 'train_gamlp_rlu']


def label_input(y: Tensor, train_mask: Tensor, num_classes: int,
                teacher: Optional[Tensor] = None,
                reliable: Optional[Tensor] = None) -> Tensor:
    """:math:`\\hat{\\mathbf{Y}}^{(0)}` ``[N, C]``: one-hot labels of the
    training nodes, the teacher's soft labels on the reliable nodes, zeros
    elsewhere. Reads ``y`` only where ``train_mask`` is set."""
    out = torch.zeros(y.size(0), num_classes, dtype=torch.float32,
                      device=y.device)
    if teacher is not None:
        if reliable is None:
            raise ValueError("'reliable' is needed with a teacher")
        out[reliable] = teacher[reliable].to(out.dtype)
    train_idx = train_mask.nonzero().view(-1)
    out[train_idx] = F.one_hot(y[train_idx].long(),
                               num_classes).to(out.dtype)
    return out


def stage_predictions(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """:math:`P = \\mathrm{softmax}(\\mathbf{Z} / T)` (Eq. 12)."""
    if not temperature > 0:
        raise ValueError(f"'temperature' must be positive (got "
                         f"{temperature!r})")
    return torch.softmax(logits / temperature, dim=-1)


def reliable_nodes(probs: Tensor, threshold: float,
                   train_mask: Tensor) -> Tensor:
    """Boolean mask of :math:`\\mathcal{V}_r`: nodes outside the training
    set whose top class probability exceeds ``threshold`` (strictly, as the
    paper and the official code)."""
    return (probs.max(dim=-1).values > threshold) & ~train_mask.bool()


def train_gamlp_rlu(data, *, model_kwargs: Dict[str, Any],
                    train_kwargs: Dict[str, Any], num_stages: int = 4,
                    threshold: float = 0.85, temperature: float = 1.0,
                    gamma: float = 0.1, label_num_hops: int = 9,
                    split: int = 0, device: Optional[torch.device] = None,
                    name: str = 'gamlp_recursive'
                    ) -> List[Dict[str, Any]]:
    """Train GAMLP+RLU; returns one record per stage (``stage``,
    ``val``/``test`` in %, ``best_epoch``, ``epochs_run``,
    ``train_time_s``, ``reliable`` = :math:`|\\mathcal{V}_r|`). The caller
    seeds the run."""
    from gat_zoo import create_model
    from gat_zoo.bench.train import split_masks, train_node_classifier
    device = device or torch.device('cpu')
    train_mask, _, _ = (m.to(device) for m in split_masks(data, split))
    y = data.y.to(device)
    x = data.x.to(device)
    if train_kwargs.get('normalize_features'):
        x = x / x.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    edge_index = data.edge_index.to(device)
    teacher = reliable = None
    records = []
    for stage in range(num_stages):
        model = cast('GAMLP', create_model(
            name, data.num_features, data.num_classes,
            **{**model_kwargs, 'use_labels': True}).to(device))
        y0 = label_input(y, train_mask, data.num_classes, teacher, reliable)
        with torch.no_grad():
            model.set_label_input(model.propagate_labels(
                y0.to(x.dtype), edge_index, label_num_hops))
        if teacher is not None:
            model.set_distillation(teacher, reliable, gamma)
        result = train_node_classifier(model, data, split=split,
                                       device=device, keep_history=False,
                                       restore_best=True, **train_kwargs)
        records.append({
            'stage': stage + 1, 'val': 100 * result.val_score,
            'test': 100 * result.test_score,
            'best_epoch': result.best_epoch,
            'epochs_run': result.epochs_run,
            'train_time_s': result.train_time_s,
            'reliable': 0 if reliable is None else int(reliable.sum()),
        })
        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index)
        teacher = stage_predictions(logits, temperature)
        reliable = reliable_nodes(teacher, threshold, train_mask)
    return records


# ---------------------------------------------------------------------------
# Command line: python -m gat_zoo.bench.rlu
# ---------------------------------------------------------------------------
def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='python -m gat_zoo.bench.rlu',
        description='GAMLP+RLU (multi-stage label reuse and distillation) '
                    'on node-classification datasets; one JSON line per '
                    '(dataset, seed) appended to --results-file, the mean '
                    '± std table of every stage written beside it (.txt).')
    parser.add_argument('--dataset', default='Cora')
    parser.add_argument('--model', default='gamlp_recursive',
                        help='registered GAMLP builder whose paper config '
                             'is used (gamlp_recursive or gamlp_jk)')
    parser.add_argument('--root', default=None)
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--stages', type=int, default=None)
    parser.add_argument('--threshold', type=float, default=None)
    parser.add_argument('--temperature', type=float, default=None)
    parser.add_argument('--gamma', type=float, default=None)
    parser.add_argument('--label-num-hops', type=int, default=None)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--results-file', default=None)
    parser.add_argument('--resume', action='store_true')
    return parser.parse_args(argv)


def _table(rows: List[Dict[str, Any]]) -> str:
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for row in rows:
        for rec in row['stages']:
            groups.setdefault((row['dataset'], row['model'], rec['stage']),
                              []).append(rec)
    lines = ['GAMLP+RLU, fixed public split, test accuracy (%) at the '
             'best-validation epoch of each stage; mean ± std over seeds',
             '', f"{'dataset':9} {'model':16} {'stage':>5} {'n':>3} "
             f"{'test':>7} {'std':>6} {'val':>7} {'|V_r|':>6}"]
    for (dataset, model, stage), recs in groups.items():
        tests = [r['test'] for r in recs]
        vals = [r['val'] for r in recs]
        std = statistics.stdev(tests) if len(tests) > 1 else 0.0
        rel = statistics.mean(r['reliable'] for r in recs)
        lines.append(f"{dataset:9} {model:16} {stage:>5} {len(recs):>3} "
                     f"{statistics.mean(tests):7.2f} {std:6.2f} "
                     f"{statistics.mean(vals):7.2f} {rel:6.0f}")
    return '\n'.join(lines) + '\n'


def rlu_config(model: str, dataset: str) -> Dict[str, Any]:
    """The RLU settings recorded for ``model`` in ``paper_data.json``
    (the record's ``'rlu'`` entry: ``'default'`` updated by the dataset's
    entry; ``source`` keys dropped)."""
    from importlib import resources
    record = json.loads(resources.files('gat_zoo').joinpath(
        'paper_data.json').read_text()).get(model, {})
    table = record.get('rlu', {})
    out = dict(table.get('default', {}))
    for key, value in table.items():
        if key.lower() == dataset.lower():
            out.update(value)
    out.pop('source', None)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    from gat_zoo.bench.runner import run_config
    from gat_zoo.bench.train import seed_everything
    from gat_zoo.datasets import load_dataset
    args = _parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.results_file) if args.results_file else None
    done: List[Dict[str, Any]] = []
    if out is not None and out.exists():
        done = [json.loads(line) for line in out.read_text().splitlines()
                if line.strip()]
    for dataset in [d.strip() for d in args.dataset.split(',') if d]:
        data = load_dataset(dataset, root=args.root)
        config = run_config(args.model, dataset)
        rlu = rlu_config(args.model, dataset)
        for key in ('stages', 'threshold', 'temperature', 'gamma',
                    'label_num_hops'):
            value = getattr(args, key)
            if value is not None:
                rlu[key] = value
        for seed in range(args.runs):
            if args.resume and any(r['dataset'] == dataset and
                                   r['seed'] == seed and
                                   r['model'] == args.model for r in done):
                continue
            seed_everything(seed)
            start = time.perf_counter()
            model_kwargs = dict(config['model'])
            for key, value in rlu.items():  # label branch settings
                if key.startswith('label_') and key != 'label_num_hops':
                    model_kwargs[key] = value
            stages = train_gamlp_rlu(
                data, model_kwargs=model_kwargs,
                train_kwargs=config['train'],
                num_stages=int(rlu.get('stages', 4)),
                threshold=float(rlu.get('threshold', 0.85)),
                temperature=float(rlu.get('temperature', 1.0)),
                gamma=float(rlu.get('gamma', 0.1)),
                label_num_hops=int(rlu.get('label_num_hops', 9)),
                name=args.model)
            row = {'model': args.model, 'dataset': dataset, 'seed': seed,
                   'rlu': rlu, 'config': config['model'],
                   'train': config['train'], 'stages': stages,
                   'time_s': time.perf_counter() - start}
            done.append(row)
            last = stages[-1]
            print(f"{dataset} seed {seed}: " + ', '.join(
                f"stage {s['stage']} test {s['test']:.2f}" for s in stages),
                flush=True)
            if out is not None:
                with open(out, 'a') as f:
                    f.write(json.dumps(row) + '\n')
                out.with_suffix('.txt').write_text(_table(done))
            del last
    print(_table(done))
    return 0


if __name__ == '__main__':
    sys.exit(main())
