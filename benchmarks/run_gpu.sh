#!/usr/bin/env bash
# The GPU benchmark recorded in benchmarks/RESULTS.md, as one script for a lent GPU machine
# (at most ~8 minutes on one H100/H200). Needs MONAI there: carry its wheel in .whl/ or have it installed.
# Writes into ${OUT:-benchmarks/out}: log.txt (everything printed), dwconv.json (every depthwise conv of
# MedNeXt at 128^3, batch 2: Triton vs PyTorch, errors and times), steps.json (training step, S/B/L x k3/k5
# x fp32/bf16, torch vs triton backend), monai.json (S, torch backend vs MONAI), compile.json (S k5 with
# torch.compile). The step runs are skipped if any correctness check fails.
set -o pipefail
out=${OUT:-benchmarks/out}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
exec > >(tee "$out/log.txt") 2>&1
date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__)"
step=(python3 benchmarks/bench_mednext.py --device cuda --patch 128 --batch 2 --warmup 2 --iters 5 --cudnn-benchmark)
timeout 140 python3 benchmarks/bench_dwconv.py --json "$out/dwconv.json" || { echo "correctness or dwconv bench failed"; exit 1; }
timeout 210 "${step[@]}" --variants S L B --kernels 3 5 --dtypes fp32 bf16 --impls torch triton --json "$out/steps.json"
timeout 45 "${step[@]}" --variants S --kernels 3 5 --dtypes fp32 --impls torch monai --json "$out/monai.json"
timeout 90 "${step[@]}" --variants S --kernels 5 --dtypes fp32 bf16 --impls torch triton --compile --json "$out/compile.json"
date -u
