#!/usr/bin/env bash
# The GPU benchmark recorded in benchmarks/RESULTS.md, as one script for a lent GPU machine.
# Needs MONAI there: carry its wheel in .whl/ (see README of the device tool) or have it installed.
# Writes gpu.json, gpu.md, log.txt and nvidia-smi.txt into ${OUT:-benchmarks/out}.
set -o pipefail
out=${OUT:-benchmarks/out}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.txt"
python3 benchmarks/bench_mednext.py --device cuda --variants S B L --kernels 3 5 --dtypes fp32 bf16 \
  --patch 128 --batch 2 --warmup 2 --iters 5 --cudnn-benchmark \
  --json "$out/gpu.json" --markdown "$out/gpu.md" "$@" 2>&1 | tee "$out/log.txt"
