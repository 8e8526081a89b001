"""Parameters and FLOPs, counted the way the MedNeXt paper did.

FLOPs are fvcore's count (one multiply-add = one FLOP; GELU and additions are not counted) at a
``1 x in_channels x 128^3`` input by default. Usage::

    python -m mednext.complexity                       # all of S/B/M/L x k3/k5 at 128^3
    python -m mednext.complexity -v L -k 5 --size 128 --deep-supervision --format csv
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from mednext.scaling import PUBLISHED_COMPLEXITY, VARIANTS, create_mednext

__all__ = ["Complexity", "count_flops", "count_parameters", "main", "mednext_complexity", "nnunet_complexity"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """fvcore FLOP count (multiply-adds) of one forward pass at ``input_shape`` (batch included)."""
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(model, torch.zeros(tuple(input_shape)))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            return int(analysis.total())
    finally:
        model.train(was_training)


@dataclass
class Complexity:
    """One row of the complexity table."""

    variant: str
    kernel_size: int
    deep_supervision: bool
    residual_resampling: bool
    input_size: int
    params_m: float
    gflops: float
    published_params_m: float | None
    published_gflops: float | None


def mednext_complexity(
    variant: str,
    kernel_size: int,
    size: int = 128,
    in_channels: int = 1,
    num_classes: int = 2,
    deep_supervision: bool = False,
    residual_resampling: bool = True,
) -> Complexity:
    """Params (M) and GFLOPs of one MedNeXt configuration at a ``1 x in_channels x size^3`` input."""
    model = create_mednext(
        variant, in_channels, num_classes, kernel_size, deep_supervision, residual_resampling, checkpointing=False
    )
    # published figures are for in_channels=1 at 128^3; elsewhere there is nothing to compare with
    comparable = size == 128 and in_channels == 1
    published = PUBLISHED_COMPLEXITY.get((variant.upper(), kernel_size), (None, None)) if comparable else (None, None)
    return Complexity(
        variant=variant.upper(),
        kernel_size=kernel_size,
        deep_supervision=deep_supervision,
        residual_resampling=residual_resampling,
        input_size=size,
        params_m=count_parameters(model) / 1e6,
        gflops=count_flops(model, (1, in_channels, size, size, size)) / 1e9,
        published_params_m=published[0],
        published_gflops=published[1],
    )


def nnunet_complexity(plans_file: str, dataset_json_file: str, configuration: str = "3d_fullres",
                      size: int = 128) -> dict:
    """Params (M) and GFLOPs of the network nnU-Net planned for one dataset, at ``1 x C x size^3``.

    nnU-Net's architecture depends on the dataset (its plans: stages, features, kernel sizes),
    so unlike MedNeXt's it is counted per dataset. Deep-supervision heads are not counted.
    """
    import json

    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    with open(dataset_json_file) as f:
        dataset_json = json.load(f)
    plans = PlansManager(plans_file)
    cfg = plans.get_configuration(configuration)
    in_channels = len(dataset_json["channel_names"])
    network = get_network_from_plans(cfg.network_arch_class_name, cfg.network_arch_init_kwargs,
                                     cfg.network_arch_init_kwargs_req_import, in_channels,
                                     plans.get_label_manager(dataset_json).num_segmentation_heads,
                                     allow_init=False, deep_supervision=False)
    strides = cfg.network_arch_init_kwargs.get("strides", [])
    total = [math.prod(s[a] if isinstance(s, (list, tuple)) else s for s in strides) for a in range(3)]
    if any(size % t for t in total):
        raise ValueError(f"{plans_file}: nnU-Net's {configuration} network downsamples by {total}; an input of "
                         f"{size}^3 does not divide by it. Count at a size that does (complexity_input_size).")
    return {"params_m": count_parameters(network) / 1e6,
            "gflops": count_flops(network, (1, in_channels, size, size, size)) / 1e9,
            "input_size": size, "patch_size": "x".join(str(p) for p in cfg.patch_size)}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mednext-complexity", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--variants", nargs="+", default=list(VARIANTS), help="S, B, M and/or L (default all)")
    parser.add_argument("-k", "--kernels", nargs="+", type=int, default=[3, 5], help="kernel sizes (default 3 5)")
    parser.add_argument("--size", type=int, default=128, help="cubic input edge in voxels (default 128)")
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--num-classes", type=int, default=2)
    parser.add_argument("--deep-supervision", action="store_true", help="count the four extra heads too")
    parser.add_argument("--plain-resampling", action="store_true", help="the ablation without residual up/down")
    parser.add_argument("--format", choices=["table", "csv"], default="table")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
    for variant in args.variants:
        if variant.upper() not in VARIANTS:
            print(f"error: unknown variant {variant!r}; choose from {', '.join(VARIANTS)}", file=sys.stderr)
            return 2
    rows = [
        mednext_complexity(
            v,
            k,
            size=args.size,
            in_channels=args.in_channels,
            num_classes=args.num_classes,
            deep_supervision=args.deep_supervision,
            residual_resampling=not args.plain_resampling,
        )
        for v in args.variants
        for k in args.kernels
    ]
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        if args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        else:
            out.write(f"{'model':<12}{'params (M)':>12}{'GFLOPs':>10}{'published':>18}\n")
            for r in rows:
                pub = "-" if r.published_params_m is None else f"{r.published_params_m:.1f} / {r.published_gflops:.0f}"
                name = f"MedNeXt-{r.variant} k{r.kernel_size}"
                out.write(f"{name:<12}{r.params_m:>12.2f}{r.gflops:>10.1f}{pub:>18}\n")
            out.write(f"input 1x{args.in_channels}x{args.size}^3; fvcore FLOPs (multiply-adds)\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
