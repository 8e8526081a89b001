"""Time one training step (forward + backward) and peak memory of MedNeXt: ours with PyTorch's
depthwise convs, ours with our Triton kernels, ours with ``dwconv="auto"`` (Triton, or PyTorch
where its kernel measured faster: mednext/kernels/choices.py), and MONAI's MedNeXt.

Each (variant, kernel, dtype, checkpointing mode) runs in a fresh subprocess that measures the
implementations one after the other, freeing each before the next, so peak memory (CUDA: max
allocated during the timed steps; CPU: max resident set size of the process, meaningful with one
implementation only) belongs to one implementation. MONAI's MedNeXt has no checkpointing: it runs
with the first mode only. Prints a table, time ratios (triton / torch, auto / torch, torch / MONAI
without checkpointing, k5 / k3, each mode / none), and the device, versions and seed.

    python benchmarks/bench_mednext.py --device cuda --variants S B L --kernels 3 5 \
        --dtypes fp32 bf16 --impls torch auto monai --markdown benchmarks/out/run.md
    python benchmarks/bench_mednext.py --device cpu --variants S --kernels 3 --patch 64 --batch 1 --iters 2 --impls torch

MONAI's S variant matches the official architecture; its B, M and L differ from the official
ones (other expansion ratios in the down/up blocks), so compare those with that in mind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SEED = 0


IMPLS = ("torch", "triton", "auto", "monai")  # ours with that dwconv backend, MONAI's


def _build(impl: str, variant: str, kernel: int, in_channels: int, num_classes: int, ds: bool, ckpt: str):
    if impl in ("torch", "triton", "auto"):
        from mednext import create_mednext

        return create_mednext(variant, in_channels, num_classes, kernel, deep_supervision=ds, checkpointing=ckpt,
                              dwconv=impl)
    from monai.networks.nets.mednext import create_mednext as monai_create

    return monai_create(variant, spatial_dims=3, in_channels=in_channels, out_channels=num_classes,
                        kernel_size=kernel, deep_supervision=ds)


def _child(cfg: dict) -> list[dict]:
    """Run one configuration for each of ``cfg["impls"]`` (called in a subprocess)."""
    import gc

    import torch

    results = []
    for impl in cfg["impls"]:
        try:
            results.append(_measure({**cfg, "impl": impl}))
        except Exception as err:  # one implementation's failure is a row, not the end of the run
            results.append({"status": f"error: {type(err).__name__}: {str(err).splitlines()[0][:200]}"})
        gc.collect()
        if cfg["device"] == "cuda":
            torch.cuda.empty_cache()
    return results


def _measure(cfg: dict) -> dict:
    """One implementation of one configuration: median step time and peak memory."""
    import torch

    torch.manual_seed(SEED)
    torch.backends.cudnn.benchmark = cfg.get("cudnn_benchmark", False)
    device = torch.device(cfg["device"])
    model = _build(cfg["impl"], cfg["variant"], cfg["kernel"], cfg["in_channels"], cfg["num_classes"],
                   cfg["deep_supervision"], cfg["checkpointing"]).to(device).train()
    memory_format = torch.channels_last_3d if cfg["channels_last"] else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    if cfg["compile"]:
        model = torch.compile(model)
    shape = (cfg["batch"], cfg["in_channels"], *(cfg["patch"],) * 3)
    x = torch.randn(shape, device=device).to(memory_format=memory_format)
    target = torch.randint(0, cfg["num_classes"], (cfg["batch"], *(cfg["patch"],) * 3), device=device)
    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg["dtype"]]

    def step():
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            out = model(x)
            out = out[0] if isinstance(out, (list, tuple)) else out
            loss = torch.nn.functional.cross_entropy(out.float(), target)
        loss.backward()
        model.zero_grad(set_to_none=True)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    try:
        for _ in range(cfg["warmup"]):
            step()
        sync()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(cfg["iters"]):
            start = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - start)
    except torch.OutOfMemoryError:
        return {"status": "OOM"}
    finally:
        model.zero_grad(set_to_none=True)
    times.sort()
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"status": "ok", "median_ms": 1000 * times[len(times) // 2], "min_ms": 1000 * times[0],
            "peak_gib": peak / 2**30, "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def _monai_version() -> str | None:
    """MONAI's version, or None where it is not installed (only ``--impls monai`` needs it)."""
    try:
        import monai
    except ImportError:
        return None
    return monai.__version__


def _environment(device: str) -> dict:
    import torch

    env = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "python": platform.python_version(),
           "torch": torch.__version__, "monai": _monai_version(), "seed": SEED, "host": platform.node()}
    from mednext.kernels import choices

    env["dwconv_choices"] = choices.table_source()
    if device == "cuda" and torch.cuda.is_available():
        env["device"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    else:
        env["device"] = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return env


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--variants", nargs="+", default=["S", "B", "L"])
    p.add_argument("--kernels", nargs="+", type=int, default=[3, 5])
    p.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    p.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS,
                   help="torch / triton / auto: ours with that depthwise-conv backend; monai: MONAI's MedNeXt")
    p.add_argument("--dwconv", nargs="+", choices=["torch", "triton", "auto"],
                   help="ours only, with these depthwise-conv backends (same as --impls without monai)")
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=14)
    p.add_argument("--deep-supervision", action="store_true", help="build the DS heads (loss uses the full output)")
    p.add_argument("--checkpointing", nargs="+", default=["none"], choices=["none", "pointwise", "block", "official"],
                   help="ours only: what backward recomputes (mednext.network.MedNeXt; official = block for M and L, "
                        "none for S and B), one configuration each; MONAI has none")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--cudnn-benchmark", action="store_true",
                   help="let cuDNN pick the fastest algorithms during warm-up (nnU-Net's trainer does)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--json", help="also write the results as JSON here")
    p.add_argument("--markdown", help="also write a Markdown table here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.dwconv:
        args.impls = args.dwconv
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    from mednext import VARIANTS

    env = _environment(args.device)
    if "monai" in args.impls and env["monai"] is None:
        p.error("--impls monai needs MONAI, which does not import here: pip install monai (on a GPU machine "
                "without network, put its wheel in .whl/, which benchmarks/run_gpu.sh installs), or leave monai "
                "out of --impls")
    print("  ".join(f"{k}={v}" for k, v in env.items()), flush=True)
    rows = []
    for variant in args.variants:
        for kernel in args.kernels:
            for dtype, ckpt in ((d, c) for d in args.dtypes for c in args.checkpointing):
                first = ckpt == args.checkpointing[0]
                impls = [i for i in args.impls if first or i != "monai"]  # MONAI has no checkpointing
                if not impls:
                    continue
                if ckpt == "official":  # record the mode that runs
                    ckpt = VARIANTS[variant.upper()].checkpointing
                cfg = {"impls": impls, "variant": variant.upper(), "kernel": kernel, "dtype": dtype,
                       "device": args.device, "patch": args.patch, "batch": args.batch,
                       "in_channels": args.in_channels, "num_classes": args.num_classes,
                       "deep_supervision": args.deep_supervision, "checkpointing": ckpt,
                       "channels_last": args.channels_last, "compile": args.compile,
                       "cudnn_benchmark": args.cudnn_benchmark,
                       "warmup": args.warmup, "iters": args.iters}
                proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)],
                                      capture_output=True, text=True)
                if proc.returncode:
                    failed = {"status": "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}
                    results = [failed] * len(impls)
                else:
                    results = json.loads(proc.stdout.strip().splitlines()[-1])
                for impl, result in zip(impls, results):
                    rows.append({**{k: v for k, v in cfg.items() if k != "impls"}, "impl": impl, **result})
                    _print_row(rows[-1])
                _write(args, env, rows)  # after every configuration: a run cut short keeps what it measured
    _print_ratios(rows)
    return 0


def _write(args, env: dict, rows: list[dict]) -> None:
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"environment": env, "results": rows}, indent=2))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(_markdown(env, rows, args))


def _print_row(r: dict) -> None:
    name = f"{r['impl']:<6} {r['variant']} k{r['kernel']} {r['dtype']:<5} {r['checkpointing']:<9}"
    if r["status"] != "ok":
        print(f"{name}  {r['status']}", flush=True)
    else:
        print(f"{name}  {r['median_ms']:9.1f} ms/step (min {r['min_ms']:.1f})  peak {r['peak_gib']:6.2f} GiB"
              f"  params {r['params_m']:.2f} M", flush=True)


# A full paper fold: 1000 epochs x 250 iterations
FOLD_STEPS = 1000 * 250


def _ratios(rows: list[dict]) -> list[tuple[str, str, float]]:
    """(what, config, ratio): triton / torch, auto / torch and torch / MONAI per config, k5 / k3 per
    implementation, and each checkpointing mode against none."""
    ok = {(r["impl"], r["variant"], r["kernel"], r["dtype"], r["checkpointing"]): r["median_ms"]
          for r in rows if r["status"] == "ok"}
    out = []
    for (impl, variant, kernel, dtype, ckpt), ms in ok.items():
        name = f"{variant} k{kernel} {dtype}" + ("" if ckpt == "none" else f" {ckpt}")
        if impl in ("triton", "auto") and ("torch", variant, kernel, dtype, ckpt) in ok:
            out.append((f"{impl} / torch", name, ms / ok["torch", variant, kernel, dtype, ckpt]))
        if impl == "torch" and ckpt == "none" and ("monai", variant, kernel, dtype, "none") in ok:
            out.append(("torch / MONAI", name, ms / ok["monai", variant, kernel, dtype, "none"]))
        if kernel == 5 and (impl, variant, 3, dtype, ckpt) in ok:
            out.append((f"k5 / k3 ({impl})", f"{variant} {dtype}" + ("" if ckpt == "none" else f" {ckpt}"),
                        ms / ok[impl, variant, 3, dtype, ckpt]))
        if impl != "monai" and ckpt != "none" and (impl, variant, kernel, dtype, "none") in ok:
            out.append((f"{ckpt} / none ({impl})", f"{variant} k{kernel} {dtype}",
                        ms / ok[impl, variant, kernel, dtype, "none"]))
    return out


def _fold_hours(rows: list[dict]) -> list[str]:
    """Step time of a full fold (1000 x 250 steps) per measured configuration, in GPU-hours."""
    return [f"{r['impl']} {r['variant']} k{r['kernel']} {r['dtype']} checkpointing {r['checkpointing']}: "
            f"{r['median_ms']:.1f} ms x {FOLD_STEPS} steps = "
            f"{r['median_ms'] * FOLD_STEPS / 3.6e6:.1f} h" for r in rows if r["status"] == "ok"]


def _print_ratios(rows: list[dict]) -> None:
    for what, name, ratio in _ratios(rows):
        print(f"{what} {name}: {ratio:.2f}")


def _markdown(env: dict, rows: list[dict], args) -> str:
    lines = [f"- {k}: {v}" for k, v in env.items()]
    lines += [f"- patch {args.patch}^3, batch {args.batch}, {args.num_classes} classes, deep supervision "
              f"{'on' if args.deep_supervision else 'off'}, "
              f"channels-last {args.channels_last}, compile {args.compile}, cudnn.benchmark {args.cudnn_benchmark}, "
              f"{args.iters} timed steps after "
              f"{args.warmup} warm-up", "",
              "| impl | variant | kernel | dtype | checkpointing (ours) | median ms/step | peak GiB | params (M) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        config = f"| {r['impl']} | {r['variant']} | {r['kernel']} | {r['dtype']} | {r['checkpointing']} |"
        if r["status"] == "ok":
            lines.append(f"{config} {r['median_ms']:.1f} | {r['peak_gib']:.2f} | {r['params_m']:.2f} |")
        else:
            lines.append(f"{config} {r['status']} | | |")
    lines += ["", "| ratio | config | value |", "|---|---|---|"]
    lines += [f"| {w} | {n} | {v:.2f} |" for w, n, v in _ratios(rows)]
    lines += ["", "Step time of one fold (1000 epochs x 250 iterations), from the median step:", ""]
    lines += [f"- {line}" for line in _fold_hours(rows)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
