"""Parameters and FLOPs, counted the way the MedNeXt paper did.

FLOPs are fvcore's count (one multiply-add = one FLOP; GELU and additions are not counted) at a
``1 x in_channels x 128^3`` input by default. MedNeXt's count at a large input is derived exactly
from four small ones (``count_flops_multiaffine``): all eight variants in well under a minute on
two cores instead of minutes. nnU-Net's own network is counted in ``mednext.nnunet.complexity``.
``training_memory`` counts the memory of a training step without running it (meta tensors).
Usage::

    python -m mednext.complexity                       # all of S/B/M/L x k3/k5 at 128^3
    python -m mednext.complexity -v L -k 5 --size 128 --deep-supervision --format csv
"""

from __future__ import annotations

import argparse
import copy
import csv
import itertools
import logging
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction

import torch
from torch import nn

from mednext.scaling import PUBLISHED_COMPLEXITY, VARIANTS, create_mednext

__all__ = ["Complexity", "count_flops", "count_flops_multiaffine", "count_parameters", "main", "mednext_complexity",
           "training_memory"]


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


def training_memory(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Peak bytes of one fp32 training step of ``model`` at ``input_shape`` (batch included), counted.

    The step: forward, the sum of the cross-entropy of every output against integer labels of its
    grid (with one output, the step ``benchmarks/bench_mednext.py`` times), backward into fresh
    gradients. A copy of ``model`` runs it on the ``meta`` device, where tensors have sizes but no
    storage, under PyTorch's ``MemTracker``, which adds up every tensor alive at each moment:
    parameters, gradients, activations kept for backward, temporaries. Nothing is computed, and the
    copy's parameters are meta tensors from the start, so a 128^3 MedNeXt-L counts on a laptop in
    seconds, and a network on a GPU is not copied there. A MedNeXt copy uses PyTorch's depthwise convs
    (our Triton ops keep the same tensors for backward). Not counted: an optimizer's state (AdamW:
    twice the parameters), the CUDA caching allocator's rounding and cuDNN workspaces, and mixed
    precision (the meta device has no autocast).
    """
    try:
        from torch.distributed._tools.mem_tracker import MemTracker
    except ImportError as err:  # a private module of PyTorch; torch 2.14 has it
        raise RuntimeError(f"training_memory needs torch.distributed._tools.mem_tracker, which torch "
                           f"{torch.__version__} lacks; upgrade torch") from err

    memo = {id(t): (nn.Parameter(torch.empty_like(t, device="meta"), t.requires_grad) if isinstance(t, nn.Parameter)
                    else torch.empty_like(t, device="meta"))
            for t in itertools.chain(model.parameters(), model.buffers())}
    model = copy.deepcopy(model, memo).train()
    if hasattr(model, "dwconv"):  # MedNeXt: the Triton backend refuses meta tensors
        model.dwconv = "torch"
    x = torch.zeros(tuple(input_shape), device="meta")
    tracker = MemTracker()
    tracker.track_external(model, x)
    with tracker:
        outputs = model(x)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        loss = sum(nn.functional.cross_entropy(o, torch.zeros((o.shape[0], *o.shape[2:]), dtype=torch.long,
                                                               device="meta")) for o in outputs)
        loss.backward()
    return int(tracker.get_tracker_snapshot("peak")[torch.device("meta")]["Total"])


def count_flops_multiaffine(model: nn.Module, input_shape: Sequence[int]) -> int:
    """``count_flops`` at ``input_shape``, derived exactly from four direct counts at small inputs (MedNeXt).

    Every operation fvcore counts in MedNeXt (convolutions, GroupNorm) costs a constant times the
    voxels it reads or writes, a product of one affine function per axis (``n / 2^l``, or
    ``n / 2^l - 1`` for an up-sampled grid before padding), and the network treats the three axes
    alike. The count is therefore affine in each of D, H, W and symmetric in them: its values at
    the corners of ``{16, 32}^3`` give it at any size that divides by 16 (multilinear
    interpolation), and by symmetry those are four counts. The corner ``16^3``, which the network
    refuses (a one-voxel bottleneck), follows along one axis: ``f(16,16,16) = 2 f(16,16,32) -
    f(16,16,48)``. ``tests/test_complexity.py`` checks the result against direct counts.
    Not for attention networks (UNETR, SwinUNETR), whose cost grows faster than linearly. An input
    that does not divide by 16, or fits in ``32^3``, is counted directly.
    """
    *lead, depth, height, width = input_shape
    spatial = (depth, height, width)
    if max(spatial) <= 32 or any(n % 16 for n in spatial):
        return count_flops(model, input_shape)
    counts: dict[tuple[int, ...], int] = {}

    def at(sizes: Sequence[int]) -> int:
        key = tuple(sorted(sizes))
        if key == (16, 16, 16):
            return 2 * at((16, 16, 32)) - at((16, 16, 48))
        if key not in counts:
            counts[key] = count_flops(model, (*lead, *key))
        return counts[key]

    total = Fraction(0)
    for corner in itertools.product((16, 32), repeat=3):
        weight = Fraction(1)
        for size, goal in zip(corner, spatial):
            other = 48 - size  # the corner's other size on this axis
            weight *= Fraction(goal - other, size - other)
        total += weight * at(corner)
    return round(total)


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
    # published figures are for the paper's network (residual resampling, no deep-supervision heads); the README
    # states no input, and ours match them at in_channels=1 and 128^3 (our convention); elsewhere (the
    # ablation included) there is nothing to compare with
    comparable = size == 128 and in_channels == 1 and residual_resampling and not deep_supervision
    published = PUBLISHED_COMPLEXITY.get((variant.upper(), kernel_size), (None, None)) if comparable else (None, None)
    return Complexity(
        variant=variant.upper(),
        kernel_size=kernel_size,
        deep_supervision=deep_supervision,
        residual_resampling=residual_resampling,
        input_size=size,
        params_m=count_parameters(model) / 1e6,
        gflops=count_flops_multiaffine(model, (1, in_channels, size, size, size)) / 1e9,
        published_params_m=published[0],
        published_gflops=published[1],
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mednext-complexity", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--variants", nargs="+", default=list(VARIANTS), help="S, B, M and/or L (default all)")
    parser.add_argument("-k", "--kernels", nargs="+", type=int, default=[3, 5], help="kernel sizes (default 3 5)")
    parser.add_argument("--size", type=int, default=128, help="cubic input edge in voxels (default 128)")
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--num-classes", type=int, default=2)
    parser.add_argument("--deep-supervision", action="store_true", help="count the four extra heads too")
    parser.add_argument("--plain-resampling", action="store_true", help="the ablation without residual up/down")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: counting computes little, and more threads only wait on a "
                             "busy machine)")
    parser.add_argument("--format", choices=["table", "csv"], default="table")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    return parser


def _rows(args: argparse.Namespace) -> list[Complexity]:
    return [
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
    for variant in args.variants:
        if variant.upper() not in VARIANTS:
            print(f"error: unknown variant {variant!r}; choose from {', '.join(VARIANTS)}", file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    try:
        rows = _rows(args)
    except ValueError as err:  # a size, kernel or channel count MedNeXt refuses: the network says which
        parser.error(str(err))
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
