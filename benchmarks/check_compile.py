"""The trainers' GPU path under ``torch.compile``: does it run, does it compute the eager step, how fast.

nnU-Net compiles the network on CUDA by default (``torch.compile(network)``, Inductor; our MedNeXt
trainers only with ``nnUNet_compile=t``) and trains it under fp16 autocast with deep supervision;
our MedNeXt trainers build it with ``dwconv="auto"`` and their default checkpointing
(:func:`mednext.scaling.training_checkpointing`: pointwise for M and L). This script runs that
path on one configuration, in one process:

1. eager: one step (forward, deep-supervision cross-entropy with the trainers' weights 1 .. 1/16
   on nearest-downsampled targets, backward under a fixed loss scale of 2^12, the gradients
   unscaled), the same step in fp32 (how far autocast alone moves the gradients), then the median
   of ``--iters`` timed steps;
2. compiled: ``torch.compile`` of the same network (same weights, same batch): the first step
   (compilation included), its loss and gradients against the eager ones and dynamo's graph
   breaks, then timed steps;
3. as nnU-Net's final validation: the compiled network in eval mode, deep supervision off, on one
   case (batch 1: a recompile with another batch size), against the eager output.

It prints one JSON line per phase and writes all of them to ``--json`` as they come, so a time
limit keeps what was measured. No optimizer step (the same for every backend), no Dice term.

    python benchmarks/check_compile.py --variant L --kernel 5 --impl auto --json out/compile-L5-auto.json
    python benchmarks/check_compile.py --device cpu --backend aot_eager --variant S --patch 16 --batch 1 \
        --impl torch --iters 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mednext import create_mednext
from mednext.kernels import choices, resolve_backend
from mednext.network import DEEP_SUPERVISION_WEIGHTS
from mednext.scaling import training_checkpointing

SEED = 0
LOSS_SCALE = 2.0**12
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _loss(outputs, target: torch.Tensor) -> torch.Tensor:
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    total = 0.0
    for i, (out, weight) in enumerate(zip(outputs, DEEP_SUPERVISION_WEIGHTS)):
        s = 2**i
        total = total + weight * F.cross_entropy(out.float(), target[:, ::s, ::s, ::s])
    return total


def _step(model, x, target, dtype, device) -> tuple[float, torch.Tensor]:
    """One forward + backward; the loss and all parameter gradients (unscaled, flattened, fp32)."""
    model.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=DTYPES[dtype], enabled=DTYPES[dtype] is not None):
        loss = _loss(model(x), target)
    (loss * LOSS_SCALE).backward()
    grads = torch.cat([(p.grad.float() / LOSS_SCALE).flatten() if p.grad is not None
                       else torch.zeros(p.numel(), device=device) for p in model.parameters()])
    return loss.item(), grads


def _time(model, x, target, dtype, device, iters: int) -> float:
    times = []
    for _ in range(iters):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        _step(model, x, target, dtype, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--variant", default="L")
    p.add_argument("--kernel", type=int, default=5)
    p.add_argument("--impl", default="auto", choices=["auto", "torch", "triton"])
    p.add_argument("--checkpointing", default="trainer", choices=["trainer", "none", "pointwise", "block"],
                   help="trainer = the MedNeXt trainers' default for the variant (pointwise for M and L, none for "
                        "S and B)")
    p.add_argument("--dtype", default="fp16", choices=sorted(DTYPES), help="autocast dtype (nnU-Net's: fp16)")
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--num-classes", type=int, default=14)
    p.add_argument("--iters", type=int, default=3, help="timed steps, eager and compiled, after one warm-up each")
    p.add_argument("--backend", default="inductor", help="torch.compile backend (nnU-Net: the default, inductor)")
    p.add_argument("--no-compile", action="store_true", help="the eager phase only")
    p.add_argument("--json", help="write the phases measured so far here, after each one")
    args = p.parse_args(argv)

    device = torch.device(args.device)
    ckpt = training_checkpointing(args.variant) if args.checkpointing == "trainer" else args.checkpointing
    config = {"variant": args.variant.upper(), "kernel": args.kernel, "impl": args.impl, "checkpointing": ckpt,
              "dtype": args.dtype, "patch": args.patch, "batch": args.batch, "num_classes": args.num_classes,
              "backend": args.backend, "torch": torch.__version__, "loss_scale": LOSS_SCALE}
    if device.type == "cuda":
        config["device"] = torch.cuda.get_device_name(0)
    phases: list[dict] = []

    def report(phase: dict) -> None:
        phases.append(phase)
        print(json.dumps(phase), flush=True)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps({"config": config, "phases": phases}, indent=2))

    torch.manual_seed(SEED)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as nnU-Net's trainer
    model = create_mednext(args.variant, 1, args.num_classes, args.kernel, deep_supervision=True,
                           checkpointing=ckpt, dwconv=args.impl).to(device).train()
    config["backend_runs"] = resolve_backend(model.dwconv, device)
    config["choices"] = choices.table_source() if config["backend_runs"] == "triton" else None
    x = torch.randn(args.batch, 1, *(args.patch,) * 3, device=device)
    target = torch.randint(0, args.num_classes, (args.batch, *(args.patch,) * 3), device=device)

    start = time.perf_counter()
    loss, grads = _step(model, x, target, args.dtype, device)
    first = 1000 * (time.perf_counter() - start)
    _, grads32 = _step(model, x, target, "fp32", device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    eager_ms = _time(model, x, target, args.dtype, device, args.iters)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    report({"phase": "eager", "loss": loss, "first_step_ms": first, "median_ms": eager_ms, "peak_gib": peak,
            "fp32_vs_autocast_grad_rel": _relative(grads32, grads)})
    if args.no_compile:
        return 0
    del grads32

    from torch._dynamo.utils import counters

    compiled = torch.compile(model, backend=args.backend)
    start = time.perf_counter()
    loss_c, grads_c = _step(compiled, x, target, args.dtype, device)
    compile_s = time.perf_counter() - start
    breaks = dict(counters["graph_break"])
    report({"phase": "compiled_first_step", "compile_and_step_s": compile_s, "loss": loss_c,
            "loss_rel": abs(loss_c - loss) / abs(loss), "grad_rel": _relative(grads_c, grads),
            "graph_breaks": sum(breaks.values()), "graph_break_reasons": [r[:300] for r in list(breaks)[:3]]})
    _step(compiled, x, target, args.dtype, device)  # a second call may still compile (e.g. recompiles)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    compiled_ms = _time(compiled, x, target, args.dtype, device, args.iters)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    report({"phase": "compiled", "median_ms": compiled_ms, "peak_gib": peak, "compiled_over_eager": compiled_ms / eager_ms})

    # nnU-Net's final validation: the same compiled module, eval mode, deep supervision off, batch 1, no grad
    model.eval()
    model.deep_supervision = False
    with torch.no_grad(), torch.autocast(device.type, dtype=DTYPES[args.dtype], enabled=DTYPES[args.dtype] is not None):
        start = time.perf_counter()
        y_c = compiled(x[:1]).float()
        infer_s = time.perf_counter() - start
        y_e = model(x[:1]).float()
    report({"phase": "compiled_inference_batch1", "compile_and_forward_s": infer_s, "output_rel": _relative(y_c, y_e),
            "graph_breaks": sum(counters["graph_break"].values())})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
