"""Every depthwise conv of MedNeXt at its real shape: Triton vs PyTorch, correctness and time.

At a 128^3 patch, batch 2, MedNeXt (every variant: C = 32) has per level l = 0..4 a stride-1
conv on ``32 * 2^l`` channels at ``128 / 2^l`` voxels per axis, per level 0..3 a stride-2 down
conv from that grid, and a stride-2 transposed up conv from level l + 1 into level l. For each,
kernel 3 and 5, fp32 and bf16, this script

* compares output, input gradient and weight gradient of each Triton kernel family (``direct``,
  ``band``) and of PyTorch in the same dtype with PyTorch in fp64 on the same
  (upcast) inputs (relative error ||a - ref|| / ||ref||),
* times forward + backward (input and weight gradient) of each with CUDA events (median of
  ``--iters`` after ``--warmup``; ``cudnn.benchmark`` on, as in nnU-Net's training), and
* writes the choices (``--choices``, the format of ``mednext/kernels/choices.json``): per shape the
  fastest correct Triton kernel, and whether ``dwconv="auto"`` runs it or PyTorch's kernel.

    python benchmarks/bench_dwconv.py --json out.json --markdown out.md --choices choices.json

A Triton kernel whose relative error is above its bound (fp32 1e-4, bf16 2e-2) or that fails is
never chosen; exits non-zero when a shape is left without a correct Triton kernel. PyTorch's own
errors are reported beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mednext.kernels import _triton_module, depthwise_conv3d, depthwise_conv_transpose3d

BOUND = {"fp32": 1e-4, "bf16": 2e-2, "fp16": 2e-2}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


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


DEVICE = "cuda"  # --device cpu: a dry run of this script under TRITON_INTERPRET=1 (times meaningless)


def _time(fn, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if DEVICE != "cuda":
            start = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - start))
            continue
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


def _variants(kind: str, grid: int, stride: int) -> list[str]:
    """torch, then our Triton kernels; band only where its tile of 16 outputs along D fits the
    coarse grid (a conv's output, a transposed conv's input)."""
    coarse = grid // stride if kind == "conv" else grid
    return ["torch", "direct", "band"] if coarse >= 16 else ["torch", "direct"]


def run_one(name, kind, channels, grid, stride, k, dtype_name, batch, warmup, iters) -> dict:
    dtype = DTYPES[dtype_name]
    x32 = torch.randn(batch, channels, grid, grid, grid, device=DEVICE)
    w32 = torch.randn(channels, 1, k, k, k, device=DEVICE) / k**1.5
    b32 = torch.randn(channels, device=DEVICE)
    inputs = [t.to(dtype) for t in (x32, w32, b32)]  # what both backends see
    ref_in = [t.double().requires_grad_() for t in inputs]
    y_ref = _op(kind, "torch")(*ref_in, stride, k // 2)
    g = torch.randn_like(y_ref)
    ref = (y_ref.detach(), *torch.autograd.grad(y_ref, ref_in[:2], g))
    g = g.float()
    row = {"conv": name, "kind": kind, "channels": channels, "grid": grid, "stride": stride, "k": k, "dtype": dtype_name}
    kernels = _triton_module()
    for variant in _variants(kind, grid, stride):
        kernels.KERNEL = None if variant == "torch" else variant
        backend = "torch" if variant == "torch" else "triton"
        try:
            row[f"{variant}_err"] = _errors(kind, backend, inputs, stride, k, g, ref)
            if variant != "torch":
                row[f"{variant}_ok"] = all(e <= BOUND[dtype_name] for e in row[f"{variant}_err"])  # NaN fails
        except Exception as err:  # a kernel that fails is a row entry, never chosen
            row[f"{variant}_err"], row[f"{variant}_ok"] = [float("nan")] * 3, False
            row[f"{variant}_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    del y_ref, ref, ref_in, inputs
    for variant in _variants(kind, grid, stride):
        if not row.get(f"{variant}_ok", True):
            continue
        kernels.KERNEL = None if variant == "torch" else variant
        op = _op(kind, "torch" if variant == "torch" else "triton")

        def step():
            with torch.autocast(DEVICE, dtype=dtype, enabled=dtype != torch.float32):
                out = op(x32.requires_grad_(), w32.requires_grad_(), b32.requires_grad_(), stride, k // 2)
            out.backward(g.to(out.dtype))
            x32.grad = w32.grad = b32.grad = None

        row[f"{variant}_ms"] = _time(step, warmup, iters)
    kernels.KERNEL = None
    timed = {v: row[f"{v}_ms"] for v in _variants(kind, grid, stride)[1:] if f"{v}_ms" in row}
    row["ok"] = bool(timed)
    if timed:
        row["kernel"] = min(timed, key=timed.get)
        row["triton_ms"] = timed[row["kernel"]]
        torch_ms = row.get("torch_ms", float("inf"))  # (PyTorch failing: Triton)
        row["auto"] = "torch" if torch_ms < row["triton_ms"] else "triton"
        row["speedup"] = torch_ms / row["triton_ms"]
    return row


def choices(rows: list[dict], measured: str, complete: bool) -> dict:
    """The choices file (mednext/kernels/choices.json): one entry per shape with a correct kernel;
    ``complete`` is false until every shape of the run has been measured (a run cut short)."""
    keys = ("kind", "stride", "k", "dtype", "grid", "channels", "kernel", "auto", "torch_ms", "triton_ms")
    rows = [{k: r.get(k) for k in keys} for r in rows if r["ok"]]
    return {"measured": measured, "complete": complete, "rows": rows}


def _errs(errors: list[float]) -> str:
    return " / ".join(f"{e:.1e}" for e in errors)


def _verdict(r: dict) -> str:
    return f"auto runs {r['auto']}, triton runs {r['kernel']}, x{r['speedup']:.2f}" if r["ok"] else "FAIL"


def _ms(row: dict, variant: str) -> str:
    if f"{variant}_ms" in row:
        return f"{row[f'{variant}_ms']:.2f}"
    return "fails" if f"{variant}_ok" in row else "-"


def markdown(rows: list[dict]) -> str:
    lines = ["| conv | C | grid | stride | k | dtype | direct err y / dx / dw | band err y / dx / dw | "
             "torch err y / dx / dw | torch ms | direct ms | band ms | auto runs | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        band = _errs(r["band_err"]) if "band_err" in r else "-"
        chosen = f"{r['auto']}{' (' + r['kernel'] + ')' if r['auto'] == 'triton' else ''}" if r["ok"] else "FAIL"
        speedup = f"{r['speedup']:.2f}" if r["ok"] else "-"
        lines.append(f"| {r['conv']} | {r['channels']} | {r['grid']}^3 | {r['stride']} | {r['k']} | {r['dtype']} | "
                     f"{_errs(r['direct_err'])} | {band} | {_errs(r['torch_err'])} | {_ms(r, 'torch')} | "
                     f"{_ms(r, 'direct')} | {_ms(r, 'band')} | {chosen} | {speedup} |")
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
    p.add_argument("--choices", help="write the fastest correct kernel per shape here (format of choices.json)")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                   help="cpu: a dry run of the script (set TRITON_INTERPRET=1; tiny --patch)")
    args = p.parse_args(argv)
    import triton

    global DEVICE
    DEVICE = args.device
    gpu = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "CPU (Triton interpreter, a dry run)"
    measured = (f"bench_dwconv.py on {gpu}, torch {torch.__version__}, "
                f"triton {triton.__version__}, CUDA {torch.version.cuda}, "
                f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
                f"patch {args.patch}, batch {args.batch}, cudnn.benchmark on")
    print(measured, flush=True)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True  # as nnU-Net's trainer and the step benchmark run PyTorch's convs
    rows = []
    total = len(args.kernels) * len(args.dtypes) * len(list(shapes(args.patch, args.batch)))
    for k in args.kernels:
        for dtype in args.dtypes:
            for shape in shapes(args.patch, args.batch):
                r = run_one(*shape, k, dtype, args.batch, args.warmup, args.iters)
                rows.append(r)
                times = "  ".join(f"{v} {_ms(r, v)}" for v in _variants(r["kind"], r["grid"], r["stride"]))
                print(f"{r['conv']:<9} C={r['channels']:<4} {r['grid']:>3}^3 s{r['stride']} k{k} {dtype}  "
                      f"err direct {_errs(r['direct_err'])} band {_errs(r.get('band_err', []))} "
                      f"torch {_errs(r['torch_err'])}  ms: {times}  -> {_verdict(r)}"
                      + "".join(f"  [{v}: {r[v + '_error']}]" for v in ("direct", "band") if v + "_error" in r),
                      flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1))
                if args.markdown:
                    Path(args.markdown).write_text(markdown(rows))
                if args.choices:
                    table = choices(rows, measured, complete=len(rows) == total)
                    Path(args.choices).write_text(json.dumps(table, indent=1) + "\n")
    ok = [r for r in rows if r["ok"] and "torch_ms" in r]
    sums = {v: sum(r[f"{v}_ms"] for r in ok) for v in ("torch", "triton")}
    print(f"sum over all rows: torch {sums['torch']:.1f} ms, triton (fastest kernel) {sums['triton']:.1f} ms, "
          f"auto {sum(min(r['torch_ms'], r['triton_ms']) for r in ok):.1f} ms")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
