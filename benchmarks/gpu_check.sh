#!/usr/bin/env bash
# The device check, as one command for a lent GPU machine (see the README's
# "Fused attention" section): the CUDA tests of the fused path and of the
# Triton kernels, then benchmarks/triton_attention.py (correctness on the
# device, then timing against the composed path and PyG). Everything lands
# under $OUT (default /tmp/gpu_check): env.txt, tests.log,
# triton_attention_gpu.csv and its log. Each stage has its own time limit so
# that the whole fits in one 10-minute command.
#
#   bash benchmarks/gpu_check.sh            # from the repository root
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}

# The machine's own torch, PyG and Triton; gat_zoo from this tree (an
# install would need hatchling, and the machine has no package index).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

$PY - <<'EOF' 2>&1 | tee "$OUT/env.txt"
import torch, torch_geometric, triton
print('torch', torch.__version__, '| PyG', torch_geometric.__version__,
      '| triton', triton.__version__)
print('device', torch.cuda.get_device_name() if torch.cuda.is_available()
      else 'NO CUDA DEVICE')
EOF

# The project's addopts execute the notebooks (nbmake); not here.
timeout 240 $PY -m pytest -q -o addopts='' -p no:cacheprovider \
    tests/test_triton_attention.py tests/test_fused.py tests/test_ops.py \
    tests/nn/conv/test_gat_conv.py \
    -k 'cuda or triton or kernel or compiles' 2>&1 | tail -n 40 \
    | tee "$OUT/tests.log"

timeout 330 $PY benchmarks/triton_attention.py --tiles 2048,4096,8192 \
    --repeat 5 --warmup 2 --out "$OUT/triton_attention_gpu.csv" 2>&1 \
    | tee "$OUT/triton_attention.log"
echo "gpu_check done; files in $OUT"
