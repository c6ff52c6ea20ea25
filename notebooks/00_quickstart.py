# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # gat_zoo quick start: neighbour attention (GAT, GATv2)
#
# *Requirements:* `gat_zoo[bench]`. *Accelerator:* none needed.
#
# This notebook shows the three things every later family notebook builds
# on:
#
# 1. the layers are drop-in PyG `MessagePassing` operators,
# 2. every network in the zoo comes from the registry with its paper's
#    hyperparameters,
# 3. attention weights are first-class outputs you can inspect.
#
# GAT ([Veličković et al., 2018](https://arxiv.org/abs/1710.10903)) scores
# each edge $j \to i$ with
# $e_{ij} = \mathrm{LeakyReLU}\big(\mathbf a^\top[\mathbf W h_i \Vert
# \mathbf W h_j]\big)$ and normalises over the neighbourhood including $i$:
# $\alpha_{ij} = \mathrm{softmax}_{j \in \mathcal N(i)\cup\{i\}} e_{ij}$.
# GATv2 ([Brody et al., 2022](https://arxiv.org/abs/2105.14491)) moves the
# non-linearity inside, $e_{ij} = \mathbf a^\top \mathrm{LeakyReLU}(\mathbf
# W_t h_i + \mathbf W_s h_j)$, which makes the ranking of neighbours depend
# on the query node ("dynamic" attention).
#
# Set `SMOKE_TEST=1` (CI does) to train for a handful of epochs only.

# %%
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import torch

import gat_zoo
from gat_zoo.bench.train import seed_everything, train_node_classifier
from gat_zoo.datasets import DatasetNotFoundError, load_dataset

SMOKE = bool(os.environ.get('SMOKE_TEST') or os.environ.get('CI'))
print('registered models:', gat_zoo.list_models())

# %% [markdown]
# ## Data
# Cora from the data root (`GAT_ZOO_DATA`) when it is there; otherwise the
# embedded synthetic contextual SBM, which needs no download.

# %%
try:
    data = load_dataset('Cora')
except DatasetNotFoundError as err:
    print('Cora not found, using the synthetic csbm graph:', err.dataset)
    data = load_dataset('csbm')
print(data)

# %% [markdown]
# ## Train GAT and GATv2 with their paper configurations

# %%
rows = []
models = {}
for name in ('gat', 'gatv2'):
    config = gat_zoo.paper_config(name, data.name)
    seed_everything(0)
    model = gat_zoo.create_model(name, data.num_features, data.num_classes,
                                 **config['model'])
    train = dict(config['train'])
    if SMOKE:
        train.update(epochs=5, patience=None)
    result = train_node_classifier(model, data, **train)
    models[name] = model
    rows.append((name, 100 * result.val_score, 100 * result.test_score,
                 result.best_epoch))
print(f"{'model':8} {'val':>6} {'test':>6} {'epoch':>6}")
for name, val, test, epoch in rows:
    print(f'{name:8} {val:6.1f} {test:6.1f} {epoch:6d}')

# %% [markdown]
# ## Attention weights
# `return_attention_weights=True` returns each layer's `(edge_index, alpha)`
# with the added self-loops. Below: how concentrated each node's attention
# is (the entropy of $\alpha_{i\cdot}$) against its in-degree, for the first
# layer of both models. Uniform attention would lie on the $\log(d)$ curve.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    model.eval()
    with torch.no_grad():
        _, attentions = model(data.x, data.edge_index,
                              return_attention_weights=True)
    edge_index, alpha = attentions[0]
    alpha = alpha.mean(dim=1)  # average over heads
    target = edge_index[1]
    entropy = torch.zeros(data.num_nodes).index_add_(
        0, target, -alpha * alpha.clamp_min(1e-12).log())
    degree = torch.bincount(target, minlength=data.num_nodes).float()
    ax.scatter(degree, entropy, s=4, alpha=0.4, label='nodes')
    grid = torch.arange(1, int(degree.max()) + 1).float()
    ax.plot(grid, grid.log(), color='black', lw=1, label='uniform')
    ax.set_xscale('log')
    ax.set_title(f'{name}: layer-1 attention entropy')
    ax.set_xlabel('in-degree (with self-loop)')
    ax.legend()
axes[0].set_ylabel('entropy of attention')
fig.tight_layout()
plt.show()

# %% [markdown]
# The same numbers, under the OGB protocol over 10 seeds, come from the
# bench: `python -m gat_zoo.bench --model gat,gatv2 --dataset Cora`.
