"""gat_zoo: the attention-based GNN survey's models as PyG layers."""
from gat_zoo.registry import (
    FAMILIES,
    create_model,
    list_families,
    list_models,
    model_entry,
    paper_config,
    paper_result,
    register_model,
)

__version__ = '0.1.0'

__all__ = [
    'FAMILIES',
    '__version__',
    'create_model',
    'list_families',
    'list_models',
    'model_entry',
    'paper_config',
    'paper_result',
    'register_model',
]
