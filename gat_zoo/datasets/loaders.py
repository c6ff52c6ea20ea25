"""Loading benchmark node-classification datasets by name."""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from torch_geometric.data import Data

from ._cache import FileSet, locate, materialize
from ._errors import DatasetNotFoundError
from ._root import DATA_ENV, _env_path, resolve_data_root
from .csbm import csbm

PathLike = Union[str, os.PathLike]

_PLANETOID = {'cora': 'Cora', 'citeseer': 'CiteSeer', 'pubmed': 'PubMed'}
_WEBKB = {'cornell': 'Cornell', 'texas': 'Texas', 'wisconsin': 'Wisconsin'}
_WIKI = {'chameleon': 'Chameleon', 'squirrel': 'Squirrel'}
_ALIASES = {'actor': 'film'}
_NUM_GEOM_GCN_SPLITS = 10


def list_datasets() -> List[str]:
    r"""Returns the names accepted by :func:`load_dataset` (case-insensitive;
    :obj:`'actor'` is accepted as an alias of :obj:`'film'`)."""
    return (list(_PLANETOID) + list(_WEBKB) + ['film'] + list(_WIKI) +
            _ogbn_names() + ['csbm'])


def load_dataset(name: str, root: Optional[PathLike] = None, *,
                 seed: int = 0) -> Data:
    r"""Loads a node-classification dataset as a single
    :class:`~torch_geometric.data.Data` object.

    Supported names (case-insensitive): :obj:`cora`, :obj:`citeseer`,
    :obj:`pubmed` (:class:`~torch_geometric.datasets.Planetoid`, public
    split), :obj:`cornell`, :obj:`texas`, :obj:`wisconsin`
    (:class:`~torch_geometric.datasets.WebKB`), :obj:`film` / :obj:`actor`
    (:class:`~torch_geometric.datasets.Actor`), :obj:`chameleon`,
    :obj:`squirrel` (:class:`~torch_geometric.datasets.WikipediaNetwork` with
    :obj:`geom_gcn_preprocess=True` if its raw files are in the data root,
    otherwise the NumPy copy of Platonov et al. (2023)), homogeneous
    :obj:`ogbn-*` datasets such as :obj:`ogbn-arxiv` and :obj:`ogbn-products`
    (:class:`ogb.nodeproppred.PygNodePropPredDataset`) and :obj:`csbm`
    (:func:`~gat_zoo.datasets.csbm` with default arguments).

    The data root is :obj:`root`, else :obj:`$GAT_ZOO_DATA`, else the
    per-user default (see :func:`resolve_data_root`). Its layout is::

        <root>/Planetoid/{Cora,CiteSeer,PubMed}/raw/ind.<name>.*
        <root>/heterophily/{cornell,texas,wisconsin,film}/raw/out1_*.txt, *.npz
        <root>/heterophily/{chameleon,squirrel}/raw/out1_*.txt, *.npz
        <root>/heterophily/yandex/{chameleon,squirrel}.npz
        <root>/ogb/ogbn_arxiv/{raw,split/time}/*.csv.gz, RELEASE_v1.txt

    Nothing is ever written into a data root other than the per-user
    default one: the files are copied into :func:`cache_dir` and processed
    there, and later calls re-use that processed copy.

    Args:
        name (str): Dataset name, see :func:`list_datasets`.
        root (str or os.PathLike, optional): Data root.
            (default: :obj:`None`)
        seed (int, optional): Seed for synthetic datasets (:obj:`csbm`);
            ignored by real datasets, whose splits are fixed.
            (default: :obj:`0`)

    Returns:
        torch_geometric.data.Data: With :obj:`x` (float32 :obj:`[N, F]`;
        :obj:`None` for :obj:`ogbn-proteins`, which has no node features),
        :obj:`edge_index` (long :obj:`[2, E]`, as the upstream loader gives
        it: e.g. directed for :obj:`ogbn-arxiv` and geom-gcn
        :obj:`chameleon`), :obj:`y` (long :obj:`[N]`), boolean
        :obj:`train_mask`, :obj:`val_mask` and :obj:`test_mask` of shape
        :obj:`[N]` for single-split datasets or :obj:`[N, 10]` for the
        10-split heterophily datasets, and plain attributes :obj:`name`
        (canonical name, e.g. :obj:`'Cora'`) and :obj:`num_classes`.

    Raises:
        ValueError: If :obj:`name` is unknown.
        DatasetNotFoundError: If the files are missing and cannot be
            downloaded; the message names the files and their directory.
    """
    if not isinstance(name, str):
        raise TypeError(f"Dataset name must be a string (got {name!r})")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)

    if key == 'csbm':
        return csbm(seed=seed)

    loader: Optional[Callable[[str, Path, str], Data]] = None
    if key in _PLANETOID:
        loader = _load_planetoid
    elif key in _WEBKB:
        loader = _load_webkb
    elif key == 'film':
        loader = _load_actor
    elif key in _WIKI:
        loader = _load_wiki
    elif key.startswith('ogbn-'):
        canonical = _ogbn_canonical(key)
        if canonical is not None:
            loader, key = _load_ogbn, canonical
    if loader is None:
        raise ValueError(
            f"Unknown dataset '{name}'. Valid names (case-insensitive): "
            f"{', '.join(list_datasets())} (and the alias 'actor' for "
            f"'film').")

    data_root = resolve_data_root(root)
    return loader(key, data_root, _root_origin(root))


# Planetoid, WebKB, Actor #####################################################


def _load_planetoid(key: str, data_root: Path, origin: str) -> Data:
    from torch_geometric.datasets import Planetoid
    canonical = _PLANETOID[key]
    files = tuple(f'ind.{key}.{suffix}' for suffix in
                  ('x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph',
                   'test.index'))
    fs = FileSet(canonical, (f'Planetoid/{canonical}/raw', ),
                 f'Planetoid/{canonical}/raw', f'Planetoid/{canonical}',
                 files)

    def build(work_root: Path) -> Data:
        dataset = Planetoid(str(work_root / 'Planetoid'), canonical,
                            split='public')
        return _finish(dataset[0], canonical, dataset.num_classes)

    return materialize(fs, data_root, build, root_origin=origin)


def _geom_gcn_files(key: str) -> Tuple[str, ...]:
    return ('out1_node_feature_label.txt', 'out1_graph_edges.txt') + tuple(
        f'{key}_split_0.6_0.2_{i}.npz' for i in range(_NUM_GEOM_GCN_SPLITS))


def _load_webkb(key: str, data_root: Path, origin: str) -> Data:
    from torch_geometric.datasets import WebKB
    canonical = _WEBKB[key]
    fs = FileSet(canonical, (f'heterophily/{key}/raw', ),
                 f'heterophily/{key}/raw', f'heterophily/{key}',
                 _geom_gcn_files(key))

    def build(work_root: Path) -> Data:
        dataset = WebKB(str(work_root / 'heterophily'), key)
        return _finish(dataset[0], canonical, dataset.num_classes)

    return materialize(fs, data_root, build, root_origin=origin)


def _load_actor(key: str, data_root: Path, origin: str) -> Data:
    from torch_geometric.datasets import Actor
    fs = FileSet('Actor', ('heterophily/film/raw', ), 'heterophily/film/raw',
                 'heterophily/film', _geom_gcn_files('film'))

    def build(work_root: Path) -> Data:
        dataset = Actor(str(work_root / 'heterophily' / 'film'))
        return _finish(dataset[0], 'Actor', dataset.num_classes)

    return materialize(fs, data_root, build, root_origin=origin)


# Chameleon, Squirrel #########################################################


def _load_wiki(key: str, data_root: Path, origin: str) -> Data:
    from torch_geometric.datasets import WikipediaNetwork
    canonical = _WIKI[key]
    npz = data_root / 'heterophily' / 'yandex' / f'{key}.npz'
    fs = FileSet(
        canonical,
        # The first entry mirrors WebKB's layout; the second is the layout
        # WikipediaNetwork itself uses, accepted for roots built by PyG.
        (f'heterophily/{key}/raw', f'heterophily/{key}/geom_gcn/raw'),
        f'heterophily/{key}/geom_gcn/raw', f'heterophily/{key}',
        _geom_gcn_files(key),
        hint=f"Alternatively, place the NumPy copy '{npz.name}' of "
        f"Platonov et al. (2023) in: {npz.parent}")

    def build(work_root: Path) -> Data:
        dataset = WikipediaNetwork(str(work_root / 'heterophily'), key,
                                   geom_gcn_preprocess=True)
        return _finish(dataset[0], canonical, dataset.num_classes)

    # Precedence: geom-gcn files in the root, then the NumPy copy, and only
    # then a (cached) download of the geom-gcn files.
    if locate(fs, data_root) is None and npz.is_file():
        return _load_yandex_npz(npz, canonical)
    return materialize(fs, data_root, build, root_origin=origin)


def _load_yandex_npz(path: Path, canonical: str) -> Data:
    r"""Reads the ``.npz`` files of Platonov et al. (2023).

    Keys: ``node_features`` [N, F], ``node_labels`` [N], ``edges`` [E, 2] and
    ``{train,val,test}_masks`` [10, N]. Nothing is written, so no cache is
    needed. The stored edges hold one direction per pair; like the authors'
    own loader (and PyG's ``HeterophilousGraphDataset``) we symmetrize.
    """
    from torch_geometric.utils import to_undirected
    with np.load(path) as raw:
        x = torch.from_numpy(np.asarray(raw['node_features'],
                                        dtype=np.float32))
        y = torch.from_numpy(np.asarray(raw['node_labels'], dtype=np.int64))
        edges = torch.from_numpy(np.asarray(raw['edges'], dtype=np.int64))
        # [10, N] -> [N, 10], the layout of PyG's geom-gcn datasets.
        masks = {
            f'{split}_mask':
            torch.from_numpy(np.asarray(raw[f'{split}_masks'],
                                        dtype=bool)).t().contiguous()
            for split in ('train', 'val', 'test')
        }
    edge_index = to_undirected(edges.t().contiguous(), num_nodes=x.size(0))
    data = Data(x=x, edge_index=edge_index, y=y, **masks)
    return _finish(data, canonical, int(y.max()) + 1)


# OGB #########################################################################


@functools.cache
def _ogb_master() -> Dict[str, Dict[str, str]]:
    # Dataset metadata (files, split, version, URL) as shipped with ogb.
    import ogb.nodeproppred
    import pandas as pd
    path = Path(ogb.nodeproppred.__file__).parent / 'master.csv'
    master = pd.read_csv(path, index_col=0, keep_default_na=False)
    return {col: {k: str(v)
                  for k, v in master[col].items()}
            for col in master.columns}


def _ogbn_names() -> List[str]:
    try:
        master = _ogb_master()
    except ImportError:  # ogb is optional for everything else
        return ['ogbn-arxiv', 'ogbn-products']
    return [n for n, meta in master.items() if meta['is hetero'] != 'True']


def _ogbn_canonical(key: str) -> Optional[str]:
    try:
        master = _ogb_master()
    except ImportError as exc:
        raise ImportError(f"Loading '{key}' requires the 'ogb' package "
                          f"(pip install ogb)") from exc
    for name, meta in master.items():
        if name.lower() == key:
            if meta['is hetero'] == 'True':
                raise ValueError(f"'{name}' is a heterogeneous graph, which "
                                 f"load_dataset() does not support")
            return name
    return None  # unknown: load_dataset raises the ValueError


def _ogbn_fileset(name: str, meta: Dict[str, str]) -> FileSet:
    dir_name = '_'.join(name.split('-'))  # ogb's own folder naming
    if meta['binary'] == 'True':
        raw: List[Union[str, Tuple[str, ...]]] = [
            'raw/data.npz', 'raw/node-label.npz'
        ]
    else:
        raw = ['raw/edge.csv.gz', 'raw/num-node-list.csv.gz',
               'raw/num-edge-list.csv.gz', 'raw/node-label.csv.gz']
        if meta['has_node_attr'] == 'True':
            raw.append('raw/node-feat.csv.gz')
        if meta['has_edge_attr'] == 'True':
            raw.append('raw/edge-feat.csv.gz')
        for group in ('additional node files', 'additional edge files'):
            for extra in filter(None, meta[group].replace('None',
                                                          '').split(',')):
                if extra == 'node_species':
                    # ogb renames `species.csv.gz` of ogbn-proteins on load.
                    raw.append(('raw/node_species.csv.gz',
                                'raw/species.csv.gz'))
                else:
                    raw.append(f'raw/{extra}.csv.gz')
    split: List[Union[str, Tuple[str, ...]]] = [
        f"split/{meta['split']}/{s}.csv.gz" for s in ('train', 'valid',
                                                      'test')]
    return FileSet(name, (f'ogb/{dir_name}', ), f'ogb/{dir_name}',
                   f'ogb/{dir_name}', tuple(raw + split),
                   optional=('RELEASE_v*.txt', 'mapping/*'))


def _load_ogbn(name: str, data_root: Path, origin: str) -> Data:
    meta = _ogb_master()[name]
    fs = _ogbn_fileset(name, meta)

    def build(work_root: Path) -> Data:
        from ogb.nodeproppred.dataset_pyg import PygNodePropPredDataset
        _ensure_release_marker(work_root / fs.work_dir, name, meta['version'])
        with _ogb_guard():
            dataset = PygNodePropPredDataset(name, root=str(work_root /
                                                            'ogb'))
            split = dataset.get_idx_split()
        data = dataset[0]
        if data.y is not None and data.y.dim() == 2 and data.y.size(1) == 1:
            data.y = data.y.view(-1)  # [N, 1] -> [N]
        n = data.num_nodes
        data.train_mask = _index_to_mask(split['train'], n)
        data.val_mask = _index_to_mask(split['valid'], n)
        data.test_mask = _index_to_mask(split['test'], n)
        return _finish(data, name, int(meta['num classes']))

    def download(tmp_root: Path) -> None:
        # ogb's own `download()` asks on stdin for files above 1 GB and
        # calls `exit()` on "no"; fetch the archive ourselves instead.
        from ogb.utils.url import download_url, extract_zip
        target = tmp_root / 'ogb'
        target.mkdir(parents=True, exist_ok=True)
        archive = download_url(meta['url'], str(target))
        extract_zip(archive, str(target))
        os.unlink(archive)
        os.rename(target / meta['download_name'], tmp_root / fs.work_dir)

    return materialize(fs, data_root, build, download=download,
                       root_origin=origin)


def _ensure_release_marker(dataset_dir: Path, name: str,
                           version: str) -> None:
    # ogb prompts on stdin ("Will you update the dataset now?") when the
    # dataset folder exists without `RELEASE_v<version>.txt`. Only ever
    # called on a writable work root (cache or the per-user default root).
    marker = dataset_dir / f'RELEASE_v{version}.txt'
    if dataset_dir.is_dir() and not marker.exists():
        others = sorted(p.name for p in dataset_dir.glob('RELEASE_v*.txt'))
        warnings.warn(
            f"'{name}': expected '{marker.name}' next to 'raw/' but found "
            f"{others or 'none'}; assuming the files are the current "
            f"version (ogb would otherwise ask on stdin).", stacklevel=2)
        marker.write_text(f'{name} (marker written by gat_zoo)\n')


def _refuse_prompt(prompt: str = '') -> str:
    raise RuntimeError(f"ogb attempted to prompt on stdin ({prompt.strip()!r})"
                       f"; gat_zoo never lets it prompt")


@contextlib.contextmanager
def _ogb_guard() -> Iterator[None]:
    r"""Lets ogb's loader run unattended on current torch.

    * Shadows the builtin :obj:`input` inside ogb's modules only (a module
      global wins over the builtin), so an unexpected prompt raises instead
      of blocking CI or crashing on a closed stdin.
    * ogb calls :obj:`torch.load` without :obj:`weights_only`; since torch
      2.6 that defaults to :obj:`True` and rejects PyG's storage classes,
      so allow-list exactly those.
    """
    import ogb.nodeproppred.dataset_pyg as dataset_pyg
    import ogb.utils.url as url
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    modules = (dataset_pyg, url)
    saved = [m.__dict__.get('input', _MISSING) for m in modules]
    for m in modules:
        m.input = _refuse_prompt
    safe = [Data, DataEdgeAttr, DataTensorAttr, GlobalStorage]
    try:
        with torch.serialization.safe_globals(safe):
            yield
    finally:
        for m, old in zip(modules, saved):
            if old is _MISSING:
                del m.input
            else:
                m.input = old


_MISSING = object()


# Helpers #####################################################################


def _index_to_mask(index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    mask = torch.zeros(num_nodes, dtype=torch.bool)
    mask[torch.as_tensor(index, dtype=torch.long)] = True
    return mask


def _finish(data: Data, name: str, num_classes: int) -> Data:
    r"""Normalizes dtypes and attaches :obj:`name` / :obj:`num_classes`."""
    if data.x is not None and data.x.dtype != torch.float32:
        data.x = data.x.to(torch.float32)
    data.edge_index = data.edge_index.to(torch.long)
    if data.y is not None and not data.y.is_floating_point():
        data.y = data.y.to(torch.long)
    for key in ('train_mask', 'val_mask', 'test_mask'):
        if key in data:
            data[key] = data[key].to(torch.bool)
    data.name = name
    data.num_classes = int(num_classes)
    return data


def _root_origin(root: Optional[PathLike]) -> str:
    if root is not None and str(root) != '':
        return 'from the `root` argument'
    if _env_path(DATA_ENV) is not None:
        return f'from ${DATA_ENV}'
    return f'the per-user default; set ${DATA_ENV} or pass `root=`'


__all__ = ['load_dataset', 'list_datasets', 'DatasetNotFoundError']
