"""Every depthwise conv of MedNeXt at its real shape: Triton vs PyTorch, correctness and time.

At a 128^3 patch, batch 2, MedNeXt (every variant: C = 32) has per level l = 0..4 a stride-1
conv on ``32 * 2^l`` channels at ``128 / 2^l`` voxels per axis, per level 0..3 a stride-2 down
conv from that grid, and a stride-2 transposed up conv from level l + 1 into level l. For each,
kernel 3 and 5, fp32 and bf16, this script

* compares output, input gradient and weight gradient of the Triton backend and of PyTorch in
  the same dtype with PyTorch in fp64 on the same (upcast) inputs (relative error
  ||a - ref|| / ||ref||), and
* times forward + backward (input and weight gradient) of each backend with CUDA events
  (median of ``--iters`` after ``--warmup``).

    python benchmarks/bench_dwconv.py --json out.json --markdown out.md

Exits non-zero when any relative error of the Triton backend is above its bound (fp32 1e-4,
bf16 2e-2); PyTorch's own errors are reported beside them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from mednext.kernels import depthwise_conv3d, depthwise_conv_transpose3d

BOUND = {"fp32": 1e-4, "bf16": 2e-2}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def shapes(patch: int, batch: int, width: int = 32):
    """(name, kind, channels, grid) of every depthwise conv MedNeXt runs at this patch size."""
    for level in range(5):
        yield f"L{level} block", "conv", width * 2**level, patch // 2**level, 1
    for level in range(4):
        yield f"L{level} down", "conv", width * 2**level, patch // 2**level, 2
        yield f"L{level} up", "transpose", width * 2 ** (level + 1), patch // 2 ** (level + 1), 2


def _op(kind: str, backend: str):
    fn = depthwise_conv3d if kind == "conv" else depthwise_conv_transpose3d
    return lambda x, w, b, s, p: fn(x, w, b, s, p, backend=backend)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def _time(fn, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _errors(kind, backend, inputs, stride, k, g, ref) -> list[float]:
    inputs = [t.detach().requires_grad_() for t in inputs]
    y = _op(kind, backend)(*inputs, stride, k // 2)
    grads = torch.autograd.grad(y, inputs[:2], g.to(y.dtype))
    errors = [_rel(a, b) for a, b in zip((y, *grads), ref)]
    return errors if bool(torch.isfinite(y).all()) else [float("nan")] * 3


def run_one(name, kind, channels, grid, stride, k, dtype_name, batch, warmup, iters) -> dict:
    dtype = DTYPES[dtype_name]
    x32 = torch.randn(batch, channels, grid, grid, grid, device="cuda")
    w32 = torch.randn(channels, 1, k, k, k, device="cuda") / k**1.5
    b32 = torch.randn(channels, device="cuda")
    inputs = [t.to(dtype) for t in (x32, w32, b32)]  # what both backends see
    ref_in = [t.double().requires_grad_() for t in inputs]
    y_ref = _op(kind, "torch")(*ref_in, stride, k // 2)
    g = torch.randn_like(y_ref)
    ref = (y_ref.detach(), *torch.autograd.grad(y_ref, ref_in[:2], g))
    g = g.float()
    row = {"conv": name, "kind": kind, "channels": channels, "grid": grid, "stride": stride, "k": k, "dtype": dtype_name}
    for backend in ("triton", "torch"):
        row[f"{backend}_err"] = _errors(kind, backend, inputs, stride, k, g, ref)
    row["ok"] = all(e <= BOUND[dtype_name] for e in row["triton_err"])  # NaN fails
    del y_ref, ref, ref_in, inputs
    for backend in ("torch", "triton"):
        op = _op(kind, backend)

        def step():
            with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
                out = op(x32.requires_grad_(), w32.requires_grad_(), b32.requires_grad_(), stride, k // 2)
            out.backward(g.to(out.dtype))
            x32.grad = w32.grad = b32.grad = None

        row[f"{backend}_ms"] = _time(step, warmup, iters)
    row["speedup"] = row["torch_ms"] / row["triton_ms"]
    return row


def _errs(errors: list[float]) -> str:
    return " / ".join(f"{e:.1e}" for e in errors)


def markdown(rows: list[dict]) -> str:
    lines = ["| conv | C | grid | stride | k | dtype | triton err y / dx / dw | torch err y / dx / dw | torch ms | "
             "triton ms | speed-up |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['conv']} | {r['channels']} | {r['grid']}^3 | {r['stride']} | {r['k']} | {r['dtype']} | "
                     f"{_errs(r['triton_err'])}{'' if r['ok'] else ' FAIL'} | {_errs(r['torch_err'])} | "
                     f"{r['torch_ms']:.2f} | {r['triton_ms']:.2f} | {r['speedup']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--kernels", type=int, nargs="+", default=[3, 5])
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--json")
    p.add_argument("--markdown")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    for k in args.kernels:
        for dtype in args.dtypes:
            for shape in shapes(args.patch, args.batch):
                r = run_one(*shape, k, dtype, args.batch, args.warmup, args.iters)
                rows.append(r)
                print(f"{r['conv']:<9} C={r['channels']:<4} {r['grid']:>3}^3 s{r['stride']} k{k} {dtype}  "
                      f"err triton {_errs(r['triton_err'])} {'ok' if r['ok'] else 'FAIL'} torch {_errs(r['torch_err'])}  "
                      f"torch {r['torch_ms']:8.2f} ms  triton {r['triton_ms']:8.2f} ms  x{r['speedup']:.2f}", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1))
                if args.markdown:
                    Path(args.markdown).write_text(markdown(rows))
    total = {b: sum(r[f"{b}_ms"] for r in rows) for b in ("torch", "triton")}
    print(f"sum over all rows: torch {total['torch']:.1f} ms, triton {total['triton']:.1f} ms")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
