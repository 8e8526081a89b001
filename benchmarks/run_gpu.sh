#!/usr/bin/env bash
# The GPU benchmark recorded in benchmarks/RESULTS.md, for a lent GPU machine (one H100/H200), in calls
# that each fit one 10-minute command:
#   bash benchmarks/run_gpu.sh         (~9 min) every depthwise conv, then the training steps
#   bash benchmarks/run_gpu.sh extra   (~6 min) checkpointing modes and MONAI's MedNeXt, with the committed
#                                      choices
#   bash benchmarks/run_gpu.sh compile (<= 10 min) the trainers' path (fp16, deep supervision, torch.compile;
#                                      check_compile.py): does a compiled MedNeXt step run, match the eager
#                                      one and beat it: S k5 and L k5 (pointwise checkpointing), auto
# Needs MONAI there: carry its wheel in .whl/ or have it installed.
# Writes into ${OUT:-benchmarks/out}:
#   log.txt      everything printed
#   dwconv.json  every depthwise conv of MedNeXt at 128^3, batch 2: PyTorch and each Triton kernel, errors and
#   dwconv.md    times (the same as a Markdown table)
#   choices.json the fastest correct kernel per shape (commit it as mednext/kernels/choices.json)
#   steps.json   training step, S/L x k3/k5 x fp32/bf16: dwconv torch vs auto (Triton, or PyTorch where
#                choices.json says it is faster), timed with the choices just measured
#   extra: checkpointing.json (L k5 bf16, auto, checkpointing none / pointwise / block: time and peak),
#          monai-{torch,auto,monai}.json (S k5 fp32 and bf16, one implementation each)
#   compile: compile-S5-auto.json, compile-L5-auto-pointwise.json (check_compile.py's phases)
#   Commit choices.json only where its "complete" is true (a time limit can cut bench_dwconv short).
set -o pipefail
out=${OUT:-benchmarks/out}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
exec > >(tee -a "$out/log.txt") 2>&1
date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__)"
step=(python3 benchmarks/bench_mednext.py --device cuda --patch 128 --batch 2 --warmup 2 --iters 5 --cudnn-benchmark)
if [ "${1:-main}" = compile ]; then
  # The trainers' path: fp16 autocast, deep supervision, torch.compile (Inductor), each trainer's default
  # checkpointing. On an H200 (2026-11-28) compiling outlasted what earlier limits left it (roughly 40 s for
  # S k5, 130 s for L k5; benchmarks/RESULTS.md); these leave it about 220 s each.
  cc=(python3 benchmarks/check_compile.py --device cuda --patch 128 --batch 2 --dtype fp16 --iters 3)
  logged() { echo "$(date -u +%T) timeout $1: ${*:2}"; timeout "$@"; local rc=$?; echo "$(date -u +%T) exit $rc"; }
  logged 270 "${cc[@]}" --variant S --kernel 5 --impl auto --json "$out/compile-S5-auto.json"
  logged 290 "${cc[@]}" --variant L --kernel 5 --impl auto --checkpointing pointwise \
    --json "$out/compile-L5-auto-pointwise.json"
  date -u; exit
fi
if [ "${1:-main}" = extra ]; then
  # one process per implementation and configuration: a time limit loses one row, not all
  timeout 120 "${step[@]}" --variants L --kernels 5 --dtypes bf16 --impls auto --checkpointing none pointwise block \
    --json "$out/checkpointing.json"
  for impl in torch auto monai; do
    timeout 80 "${step[@]}" --variants S --kernels 5 --dtypes fp32 bf16 --impls $impl --json "$out/monai-$impl.json"
  done
  date -u; exit
fi
timeout 210 python3 benchmarks/bench_dwconv.py --json "$out/dwconv.json" --markdown "$out/dwconv.md" \
  --choices "$out/choices.json" || echo "bench_dwconv: not every shape has a correct Triton kernel, or it timed out"
[ -s "$out/choices.json" ] || { echo "no choices measured"; exit 1; }
export MEDNEXT_DWCONV_CHOICES=$out/choices.json
timeout 330 "${step[@]}" --variants S L --kernels 3 5 --dtypes fp32 bf16 --impls torch auto --json "$out/steps.json"
date -u
