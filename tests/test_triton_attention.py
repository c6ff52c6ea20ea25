"""The Triton attention kernels against the composed fused path.

Without a GPU the kernels run in Triton's interpreter on CPU tensors
(``TRITON_INTERPRET=1``, set by ``conftest.py`` before anything imports
Triton, which reads it once, at import); with one they run on CUDA. Either
way they must compute exactly what ``gat_edge_softmax`` (or
``gatv2_logits``) + ``head_spmm`` compute. A separate process also
compiles every kernel variant for a Hopper GPU (sm_90), which needs no GPU
and catches what the interpreter lets through (it is far more permissive
than the compiler).
"""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

CUDA = torch.cuda.is_available()
pytest.importorskip('triton')

from gat_zoo.nn import GATConv, GATv2Conv, HANConv, PPRGATConv  # noqa: E402
from gat_zoo.ops import (  # noqa: E402
    CSRGraph,
    gat_edge_softmax,
    gatv2_logits,
    head_spmm,
    segment_softmax,
    triton_attention,
    triton_attention_available,
    triton_gatv2_attention,
    use_fused,
)

DEVICE = torch.device('cuda' if CUDA else 'cpu')
pytestmark = pytest.mark.skipif(
    not triton_attention_available(DEVICE),
    reason='Triton cannot run here (no GPU, and TRITON_INTERPRET was 0 '
           'when Triton was imported)')


def random_graph(num_src, num_dst, num_edges, seed):
    """A multigraph with duplicate edges, self-loops (when square) and
    targets without incoming edges."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_src, (num_edges,), generator=gen)
    # Targets drawn from the first 3/4 only: the rest have no edges.
    dst = torch.randint(0, max(1, 3 * num_dst // 4), (num_edges,),
                        generator=gen)
    edge_index = torch.stack([src, dst])
    edge_index = torch.cat([edge_index, edge_index[:, :5]], dim=1)
    if num_src == num_dst:
        loops = torch.arange(0, num_dst, 3).repeat(2, 1)
        edge_index = torch.cat([edge_index, loops], dim=1)
    return CSRGraph.from_edge_index(edge_index.to(DEVICE), num_src, num_dst)


def inputs(graph, heads, channels, dtype, with_dst, with_edge, seed):
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(
            DEVICE, dtype).requires_grad_()

    return (draw(graph.num_src, heads, channels),
            draw(graph.num_src, heads),
            draw(graph.num_dst, heads) if with_dst else None,
            draw(graph.num_edges, heads) if with_edge else None)


def composed(graph, x, s_src, s_dst, s_edge, slope, keep=None):
    alpha = gat_edge_softmax(graph, s_src, s_dst, s_edge, slope)
    if keep is not None:
        alpha = alpha * keep
    return head_spmm(graph, alpha, x)


def grads(out, tensors, grad_out):
    present = [t for t in tensors if t is not None]
    return torch.autograd.grad(out, present, grad_out)


@pytest.mark.parametrize('with_dst,with_edge', [(True, True), (True, False),
                                                (False, True)])
@pytest.mark.parametrize('shape', [(23, 23, 90), (17, 11, 60)],
                         ids=['square', 'bipartite'])
@pytest.mark.parametrize('heads,channels', [(3, 5), (1, 8)])
def test_matches_composed_path_float64(shape, with_dst, with_edge, heads,
                                       channels):
    graph = random_graph(*shape, seed=shape[0])
    tensors = inputs(graph, heads, channels, torch.float64, with_dst,
                     with_edge, 1)
    out = triton_attention(graph, *tensors, negative_slope=0.3)
    ref = composed(graph, *tensors, 0.3)
    assert out.shape == (graph.num_dst, heads, channels)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    # Targets without edges get exact zeros.
    empty = graph.ptr.diff() == 0
    assert bool(empty.any()) and bool((out[empty] == 0).all())
    grad_out = torch.randn_like(out)
    for got, want in zip(grads(out, tensors, grad_out),
                         grads(ref, tensors, grad_out)):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-12)


def test_segments_longer_than_a_block():
    # One target with 3 blocks' worth of edges exercises the rescaling of
    # the online softmax when a later block holds a larger logit.
    from gat_zoo.ops.triton_attention import tile_shape
    n = 3 * tile_shape(2, 4)['BLOCK_E'] + 5
    edge_index = torch.stack([torch.arange(n),
                              torch.zeros(n, dtype=torch.long)])
    graph = CSRGraph.from_edge_index(edge_index.to(DEVICE), n, 2)
    x, s_src, s_dst, _ = inputs(graph, 2, 4, torch.float64, True, False, 2)
    with torch.no_grad():
        s_src[-1] += 40.0  # the largest logit, in the last block
    out = triton_attention(graph, x, s_src, s_dst)
    torch.testing.assert_close(out, composed(graph, x, s_src, s_dst, None,
                                             0.2), rtol=1e-12, atol=1e-12)


def test_tile_size_changes_blocking_not_results(monkeypatch):
    from gat_zoo.ops.triton_attention import tile_shape
    graph = random_graph(23, 23, 90, seed=21)
    tensors = inputs(graph, 2, 4, torch.float64, True, True, 22)
    ref = composed(graph, *tensors, 0.2)
    grad_out = torch.randn_like(ref)
    want = grads(ref, tensors, grad_out)
    for tile in ('16', '64', '8192'):
        monkeypatch.setenv('GAT_ZOO_TRITON_TILE', tile)
        assert tile_shape(2, 4)['BLOCK_E'] == min(64, max(2, int(tile) // 8))
        out = triton_attention(graph, *tensors, dropout=0.0)
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
        for got, expected in zip(grads(out, tensors, grad_out), want):
            torch.testing.assert_close(got, expected, rtol=1e-11,
                                       atol=1e-12)
    monkeypatch.setenv('GAT_ZOO_TRITON_TILE', '100')
    with pytest.raises(ValueError, match='power of two'):
        triton_attention(graph, *tensors)


def test_low_precision_accumulates_in_float32():
    graph = random_graph(40, 40, 200, seed=3)
    x, s_src, s_dst, s_edge = inputs(graph, 2, 8, torch.float64, True, True,
                                     4)
    ref = composed(graph, x, s_src, s_dst, s_edge, 0.2)
    for dtype, tol in ((torch.float32, 1e-5), (torch.float16, 5e-3),
                       (torch.bfloat16, 4e-2)):
        cast = [t.detach().to(dtype).requires_grad_()
                for t in (x, s_src, s_dst, s_edge)]
        out = triton_attention(graph, *cast)
        assert out.dtype == dtype
        torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)
        out.float().square().sum().backward()
        assert all(bool(torch.isfinite(t.grad).all()) for t in cast)


def test_dropout_mask_is_a_function_of_the_seed():
    graph = random_graph(30, 30, 150, seed=5)
    x, s_src, s_dst, _ = inputs(graph, 2, 4, torch.float64, True, False, 6)
    first = triton_attention(graph, x, s_src, s_dst, dropout=0.4, seed=7)
    again = triton_attention(graph, x, s_src, s_dst, dropout=0.4, seed=7)
    other = triton_attention(graph, x, s_src, s_dst, dropout=0.4, seed=8)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    # Without dropout the seed plays no part.
    torch.testing.assert_close(
        triton_attention(graph, x, s_src, s_dst, seed=7),
        triton_attention(graph, x, s_src, s_dst, seed=8), rtol=0, atol=0)


def test_corner_cases_give_zeros_not_nan():
    graph = random_graph(12, 12, 30, seed=12)
    x, s_src, s_dst, _ = inputs(graph, 2, 3, torch.float64, True, False, 13)
    # Every logit of one target is -inf: that target gets zeros.
    with torch.no_grad():
        s_dst[graph.row[0]] = float('-inf')
    out = triton_attention(graph, x, s_src, s_dst)
    assert bool(torch.isfinite(out).all())
    assert bool((out[graph.row[0]] == 0).all())
    # No edges at all.
    empty = CSRGraph.from_edge_index(
        torch.empty(2, 0, dtype=torch.long, device=DEVICE), 4, 3)
    x0 = torch.randn(4, 2, 3, dtype=torch.float64, device=DEVICE,
                     requires_grad=True)
    s0 = torch.randn(4, 2, dtype=torch.float64, device=DEVICE,
                     requires_grad=True)
    out0 = triton_attention(empty, x0, s0)
    assert out0.shape == (3, 2, 3) and bool((out0 == 0).all())
    out0.sum().backward()
    assert bool((x0.grad == 0).all()) and bool((s0.grad == 0).all())


def test_bad_input_is_refused():
    graph = random_graph(10, 10, 30, seed=14)
    x, s_src, s_dst, _ = inputs(graph, 2, 3, torch.float64, True, False, 15)
    with pytest.raises(ValueError, match='x must be'):
        triton_attention(graph, x[:5], s_src)
    with pytest.raises(ValueError, match='score_dst must have shape'):
        triton_attention(graph, x, s_src, s_dst[:, :1])
    with pytest.raises(ValueError, match='dropout'):
        triton_attention(graph, x, s_src, dropout=1.0)
    assert not triton_attention_available(torch.device('meta'))
    index = torch.zeros(1, dtype=torch.long, device='meta')
    meta = CSRGraph(torch.zeros(2, dtype=torch.long, device='meta'), index,
                    1, row=index)
    with pytest.raises(RuntimeError, match='needs Triton'):
        triton_attention(meta, torch.empty(1, 1, 1, device='meta'),
                         torch.empty(1, 1, device='meta'))


def assert_modes_agree(module, *args):
    """``module(*args)`` under ``'on'`` (the composed path) and
    ``'triton'``: the same output and parameter gradients. Returns the
    composed path's output."""
    results = {}
    for mode in ('on', 'triton'):
        module.zero_grad()
        with use_fused(mode):
            out = module(*args)
        out.square().sum().backward()
        results[mode] = (out.detach(), [p.grad.clone()
                                        for p in module.parameters()
                                        if p.grad is not None])
    (want, want_grads), (got, got_grads) = results['on'], results['triton']
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert len(got_grads) == len(want_grads) > 0
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-11)
    return want


def test_gatconv_takes_the_kernel_under_triton_mode():
    torch.manual_seed(0)
    x = torch.randn(30, 12, dtype=torch.float64, device=DEVICE)
    edge_index = torch.randint(0, 30, (2, 100), device=DEVICE)
    edge_attr = torch.randn(100, 3, dtype=torch.float64, device=DEVICE)
    conv = GATConv(12, 4, heads=3, edge_dim=3, dropout=0.5,
                   residual=True).double().to(DEVICE).eval()
    reference = assert_modes_agree(conv, x, edge_index, edge_attr)
    # Training: the kernel's dropout draws from torch's seed.
    conv.train()
    with use_fused('triton'):
        torch.manual_seed(3)
        first = conv(x, edge_index, edge_attr)
        torch.manual_seed(3)
        assert torch.equal(first, conv(x, edge_index, edge_attr))
        assert not torch.allclose(first, reference)
    # Asking for the weights takes the composed path (the kernel never
    # writes them); the output is the same.
    conv.eval()
    with use_fused('triton'):
        out, (_, alpha) = conv(x, edge_index, edge_attr,
                               return_attention_weights=True)
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    # The graph's own self-loops are replaced by one per node.
    loops = int((edge_index[0] == edge_index[1]).sum())
    assert alpha.shape == (100 - loops + 30, 3)


def test_subclass_that_keeps_the_attention_keeps_the_composed_path():
    # PPRGAT's L1 penalty reads the coefficients; under 'triton' it must
    # still see them.
    torch.manual_seed(0)
    x = torch.randn(25, 6, dtype=torch.float64, device=DEVICE)
    edge_index = torch.randint(0, 25, (2, 80), device=DEVICE)
    conv = PPRGATConv(6, 4, heads=2).double().to(DEVICE)
    with use_fused('triton'):
        out = conv(x, edge_index)
        penalty = conv.attention_penalty()
    with use_fused('on'):
        ref = conv(x, edge_index)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    assert float(penalty.detach()) > 0


def test_hanconv_node_level_attention_takes_the_kernel():
    # HAN's node-level attention is GAT's per meta-path: under 'triton' it
    # runs the same kernel, unless the coefficients are asked for.
    torch.manual_seed(0)
    x = torch.randn(30, 10, dtype=torch.float64, device=DEVICE)
    graphs = [torch.randint(0, 30, (2, 80), device=DEVICE)
              for _ in range(2)]
    conv = HANConv(10, 4, num_metapaths=2, heads=2,
                   dropout=0.4).double().to(DEVICE).eval()
    reference = assert_modes_agree(conv, x, graphs)
    with use_fused('triton'):
        out, weights = conv(x, graphs, return_attention_weights=True)
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    assert len(weights['node']) == 2


def composed_v2(graph, x, x_dst, att, s_edge, slope, keep=None):
    logits = gatv2_logits(graph, x, x_dst, att, slope)
    if s_edge is not None:
        logits = logits + s_edge
    alpha = segment_softmax(logits, graph.row, graph.ptr, graph.num_dst)
    if keep is not None:
        alpha = alpha * keep
    return head_spmm(graph, alpha, x)


def v2_inputs(graph, heads, channels, with_edge, seed):
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(
            DEVICE).requires_grad_()

    return (draw(graph.num_src, heads, channels),
            draw(graph.num_dst, heads, channels), draw(1, heads, channels),
            draw(graph.num_edges, heads) if with_edge else None)


@pytest.mark.parametrize('with_edge', [False, True])
@pytest.mark.parametrize('shape', [(23, 23, 90), (17, 11, 60)],
                         ids=['square', 'bipartite'])
@pytest.mark.parametrize('heads,channels', [(3, 5), (1, 8)])
def test_gatv2_kernel_matches_composed_path_float64(shape, with_edge, heads,
                                                    channels):
    graph = random_graph(*shape, seed=shape[1])
    tensors = v2_inputs(graph, heads, channels, with_edge, 31)
    out = triton_gatv2_attention(graph, *tensors[:3], negative_slope=0.3,
                                 score_edge=tensors[3])
    ref = composed_v2(graph, *tensors, 0.3)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    grad_out = torch.randn_like(out)
    for got, want in zip(grads(out, tensors, grad_out),
                         grads(ref, tensors, grad_out)):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize('kernel', ['gat', 'gatv2'])
def test_dropout_is_a_mask_on_the_normalised_coefficients(kernel):
    # With one-hot source features, out[i, h, j] = kappa_e * alpha_e for the
    # single edge j -> i: the mask can be read off and checked for being
    # dropout's (0 or 1 / (1 - p), the kept share near 1 - p), and the
    # composed path with that mask gives the same output and gradients.
    n, heads, p = 40, 2, 0.3
    gen = torch.Generator().manual_seed(9)
    pairs = torch.randperm(n * n, generator=gen)[:600]
    graph = CSRGraph.from_edge_index(
        torch.stack([pairs // n, pairs % n]).to(DEVICE), n, n)
    eye = torch.eye(n, dtype=torch.float64, device=DEVICE)
    x = eye.unsqueeze(1).expand(n, heads, n).contiguous().requires_grad_()
    if kernel == 'gat':
        _, s_src, s_dst, _ = inputs(graph, heads, 1, torch.float64, True,
                                    False, 10)
        tensors = (x, s_src, s_dst)
        out = triton_attention(graph, *tensors, dropout=p, seed=11)
        alpha = gat_edge_softmax(graph, s_src, s_dst, None, 0.2)

        def reference(keep):
            return composed(graph, *tensors, None, 0.2, keep)
    else:
        _, x_dst, att, _ = v2_inputs(graph, heads, n, False, 10)
        tensors = (x, x_dst, att)
        out = triton_gatv2_attention(graph, *tensors, dropout=p, seed=11)
        alpha = segment_softmax(gatv2_logits(graph, *tensors, 0.2),
                                graph.row, graph.ptr, graph.num_dst)

        def reference(keep):
            return composed_v2(graph, *tensors, None, 0.2, keep)
    kept = out.detach()[graph.row, :, graph.col] / alpha.detach()
    scale = torch.tensor(1 / (1 - p), dtype=torch.float64, device=DEVICE)
    is_zero = kept.abs() < 1e-12
    assert bool((is_zero | ((kept - scale).abs() < 1e-9)).all())
    # 1200 draws: the kept share's standard deviation is about 0.013.
    assert abs(float((~is_zero).double().mean()) - (1 - p)) < 0.05
    ref = reference(torch.where(is_zero, torch.zeros_like(kept), scale))
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    grad_out = torch.randn_like(out)
    for got, want in zip(grads(out, tensors, grad_out),
                         grads(ref, tensors, grad_out)):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-11)


def test_gatv2_kernel_refuses_bad_input():
    graph = random_graph(10, 10, 30, seed=35)
    x, x_dst, att, _ = v2_inputs(graph, 2, 3, False, 36)
    with pytest.raises(ValueError, match='x_dst must have shape'):
        triton_gatv2_attention(graph, x, x_dst[:, :1], att)
    with pytest.raises(ValueError, match='att must have'):
        triton_gatv2_attention(graph, x, x_dst, att[..., :2])
    with pytest.raises(ValueError, match='score_edge must have shape'):
        triton_gatv2_attention(graph, x, x_dst, att,
                               score_edge=torch.zeros(3, 2))


@pytest.mark.parametrize('options', [dict(), dict(share_weights=True),
                                     dict(residual=True, concat=False)],
                         ids=['separate', 'shared', 'residual-mean'])
def test_gatv2conv_takes_the_kernel_under_triton_mode(options):
    torch.manual_seed(0)
    x = torch.randn(30, 12, dtype=torch.float64, device=DEVICE)
    edge_index = torch.randint(0, 30, (2, 100), device=DEVICE)
    conv = GATv2Conv(12, 4, heads=3, dropout=0.5,
                     **options).double().to(DEVICE).eval()
    assert_modes_agree(conv, x, edge_index)
    conv.train()
    with use_fused('triton'):
        torch.manual_seed(3)
        first = conv(x, edge_index)
        torch.manual_seed(3)
        assert torch.equal(first, conv(x, edge_index))


def test_gatv2conv_edge_features_keep_the_composed_path():
    torch.manual_seed(0)
    x = torch.randn(30, 12, dtype=torch.float64, device=DEVICE)
    edge_index = torch.randint(0, 30, (2, 100), device=DEVICE)
    edge_attr = torch.randn(100, 3, dtype=torch.float64, device=DEVICE)
    conv = GATv2Conv(12, 4, heads=2, edge_dim=3).double().to(DEVICE)
    with use_fused('triton'):
        out, (_, alpha) = conv(x, edge_index, edge_attr,
                               return_attention_weights=True)
        plain = conv(x, edge_index, edge_attr)
    with use_fused('on'):
        ref = conv(x, edge_index, edge_attr)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(plain, ref, rtol=1e-12, atol=1e-12)
    assert alpha.size(1) == 2


_COMPILE_FOR_HOPPER = textwrap.dedent('''
    import itertools
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from gat_zoo.ops import _triton_kernels as k

    EDGE = ('ptr', 'col', 'ptr_t', 'row_t', 'csr_position')
    STATS = ('peak', 'norm', 'params', 'grad_att_part')
    SCALARS = ('seed',)
    FLAGS = ('HAS_DST', 'HAS_EDGE', 'DROPOUT')

    def signature(kernel, data, acc):
        sig = {}
        for name in kernel.arg_names:
            if name in EDGE:
                sig[name] = '*i64'
            elif name in STATS:
                sig[name] = '*' + acc
            elif name in SCALARS:
                sig[name] = 'i32'
            elif name.isupper() or name.startswith('BLOCK'):
                sig[name] = 'constexpr'
            else:
                sig[name] = '*' + data
        return sig

    def build(kernel, data, const):
        acc = 'fp64' if data == 'fp64' else 'fp32'
        names = kernel.arg_names
        src = ASTSource(
            fn=kernel, signature=signature(kernel, data, acc),
            constexprs={(names.index(n),): v for n, v in const.items()})
        compiled = triton.compile(src, target=GPUTarget('cuda', 90, 32))
        assert compiled.asm['cubin'], (kernel, data, const)

    count = 0
    for kernel in (k.forward_kernel, k.backward_target_kernel,
                   k.backward_source_kernel, k.v2_forward_kernel,
                   k.v2_backward_target_kernel, k.v2_backward_source_kernel):
        flags = [f for f in FLAGS if f in kernel.arg_names]
        # Every flag combination in float32; the other dtypes with all
        # flags on (they change loads and casts, not control flow).
        variants = [('fp32', dict(zip(flags, values))) for values in
                    itertools.product((True, False), repeat=len(flags))]
        variants += [(data, dict.fromkeys(flags, True))
                     for data in ('fp64', 'fp16', 'bf16')]
        for data, on in variants:
            build(kernel, data, dict(H=8, C=32, BLOCK_E=16, BLOCK_H=8,
                                     BLOCK_C=32, **on))
            count += 1
        # One head (BLOCK_H = 1) and odd widths: masks on every axis.
        for shape in (dict(H=1, C=64, BLOCK_E=64, BLOCK_H=1, BLOCK_C=64),
                      dict(H=3, C=5, BLOCK_E=64, BLOCK_H=4, BLOCK_C=8)):
            build(kernel, 'fp32', dict(shape, **dict.fromkeys(flags, True)))
            count += 1
    print('compiled', count)
''')


@pytest.mark.skipif(sys.platform != 'linux', reason='Triton ships ptxas '
                    'for Linux only')
def test_every_kernel_variant_compiles_for_hopper():
    env = {key: value for key, value in os.environ.items()
           if key != 'TRITON_INTERPRET'}
    env['TRITON_DEFAULT_FP_FUSION'] = '1'
    done = subprocess.run([sys.executable, '-c', _COMPILE_FOR_HOPPER],
                          env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'compiled 66' in done.stdout


def test_device_check_script_runs(tmp_path):
    # benchmarks/triton_attention.py is the GPU check of the kernel; here it
    # runs on a tiny graph (in the interpreter without a GPU) so that the
    # script itself cannot rot before a device is lent.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / 'benchmarks' / \
        'triton_attention.py'
    spec = importlib.util.spec_from_file_location('triton_check', path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / 'check.csv'
    code = script.main(['--device', str(DEVICE), '--sizes', '20:60',
                        '--heads', '2', '--channels', '4', '--repeat', '1',
                        '--warmup', '0', '--no-isolate', '--out', str(out)])
    assert code == 0
    import csv
    rows = list(csv.DictReader(out.open()))
    assert [(r['layer'], r['op']) for r in rows] == [
        ('GATConv', 'forward'), ('GATConv', 'forward_backward'),
        ('GATv2Conv', 'forward'), ('GATv2Conv', 'forward_backward')]
    for row in rows:
        assert float(row['out_rel_err']) < 1e-5
        assert float(row['grad_rel_err']) < 1e-5
        assert float(row['triton_s']) > 0 and float(row['pyg_s']) > 0
