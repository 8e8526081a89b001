"""Count the memory of one MedNeXt training step for each checkpointing mode, without a GPU.

``mednext.complexity.training_memory`` runs the step of ``bench_mednext.py`` (forward, cross-entropy
on the full-resolution output, backward; fp32) on the meta device under PyTorch's MemTracker, so
MedNeXt-L at 128^3 counts in seconds on a laptop. Prints a Markdown table (GiB) with the peak of
each mode and its share of ``none``:

    python benchmarks/bench_memory.py                         # S/B/M/L x k3/k5 at 128^3, batch 2
    python benchmarks/bench_memory.py --variants L --kernels 5 --patch 160 --batch 1 --json out.json

A count, not a measurement: it leaves out the optimizer's state (AdamW: twice the parameters), cuDNN
workspaces, the caching allocator's rounding, and mixed precision (no autocast on the meta device);
``bench_mednext.py`` measures the peak on a GPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
from pathlib import Path

import torch

from mednext import create_mednext
from mednext.complexity import training_memory
from mednext.network import CHECKPOINTING


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=["S", "B", "M", "L"])
    p.add_argument("--kernels", nargs="+", type=int, default=[3, 5])
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--in-channels", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=14)
    p.add_argument("--deep-supervision", action="store_true",
                   help="the loss on all five outputs, as the trainers' (bench_mednext's --deep-supervision "
                        "builds the heads, but its loss takes the full-resolution output only)")
    p.add_argument("--json", help="also write the counts as JSON here")
    args = p.parse_args(argv)
    shape = (args.batch, args.in_channels, *(args.patch,) * 3)
    env = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "torch": torch.__version__,
           "python": platform.python_version(), "input": list(shape), "num_classes": args.num_classes,
           "deep_supervision": args.deep_supervision, "dtype": "fp32", "what": "counted peak bytes (meta device)"}
    print(f"counted peak of one fp32 training step, input {'x'.join(map(str, shape))}, {args.num_classes} classes, "
          f"deep supervision {'on' if args.deep_supervision else 'off'}; torch {torch.__version__}, {env['date']}\n")
    print("| variant | kernel | " + " | ".join(f"{m} GiB" for m in CHECKPOINTING) + " | pointwise / none | block / none |")
    print("|---|---|" + "---|" * (len(CHECKPOINTING) + 2))
    rows = []
    for variant in args.variants:
        for kernel in args.kernels:
            gib = {}
            for mode in CHECKPOINTING:
                with torch.device("meta"):  # nothing is allocated, not even the parameters
                    model = create_mednext(variant, args.in_channels, args.num_classes, kernel,
                                           deep_supervision=args.deep_supervision, checkpointing=mode, dwconv="torch")
                gib[mode] = training_memory(model, shape) / 2**30
            rows.append({"variant": variant.upper(), "kernel": kernel, "peak_gib": gib})
            print(f"| {variant.upper()} | {kernel} | " + " | ".join(f"{gib[m]:.2f}" for m in CHECKPOINTING)
                  + f" | {gib['pointwise'] / gib['none']:.2f} | {gib['block'] / gib['none']:.2f} |", flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"environment": env, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
