#!/usr/bin/env bash
# The GPU benchmark recorded in benchmarks/RESULTS.md, as one script for a lent GPU machine
# (at most ~9.5 minutes on one H100/H200). Needs MONAI there: carry its wheel in .whl/ or have it installed.
# Writes into ${OUT:-benchmarks/out}:
#   log.txt      everything printed
#   dwconv.json  every depthwise conv of MedNeXt at 128^3, batch 2: PyTorch and each Triton kernel, errors and
#   dwconv.md    times (the same as a Markdown table)
#   choices.json the fastest correct kernel per shape (commit it as mednext/kernels/choices.json)
#   steps.json   training step, S/L x k3/k5 x fp32/bf16: dwconv torch vs auto (Triton, or PyTorch where
#                choices.json says it is faster), timed with the choices just measured
#   monai.json   S k5 fp32: ours (torch backend, auto) vs MONAI's MedNeXt
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
timeout 220 python3 benchmarks/bench_dwconv.py --json "$out/dwconv.json" --markdown "$out/dwconv.md" \
  --choices "$out/choices.json" || echo "bench_dwconv: not every shape has a correct Triton kernel, or it timed out"
[ -s "$out/choices.json" ] || { echo "no choices measured"; exit 1; }
export MEDNEXT_DWCONV_CHOICES=$out/choices.json
step=(python3 benchmarks/bench_mednext.py --device cuda --patch 128 --batch 2 --warmup 2 --iters 5 --cudnn-benchmark)
timeout 300 "${step[@]}" --variants S L --kernels 3 5 --dtypes fp32 bf16 --impls torch auto --json "$out/steps.json"
timeout 40 "${step[@]}" --variants S --kernels 5 --dtypes fp32 --impls torch auto monai --json "$out/monai.json"
date -u
