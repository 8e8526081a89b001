"""Compound scaling of MedNeXt: the S/B/M/L table and the factory (Roy et al., Table 1).

A variant fixes width C = 32 and sets, per stage (enc0..enc3, bottleneck, dec3..dec0), the
expansion ratio R and the number of blocks B; the kernel size (3 or 5) is chosen on top.
Parameter counts and GFLOPs in the comments are the published ones from the official MedNeXt
README (MIC-DKFZ/MedNeXt), which states no input size, channels or counter; this project counts
at in_channels=1 with fvcore on a 1x1x128^3 input (its convention), where ``python -m
mednext.complexity`` reproduces them, checked in ``tests/test_complexity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mednext.network import MedNeXt

__all__ = ["Variant", "VARIANTS", "PUBLISHED_COMPLEXITY", "create_mednext", "training_checkpointing"]


@dataclass(frozen=True)
class Variant:
    """One row of the scaling table."""

    expansion: tuple[int, ...]  # R per stage: enc0..enc3, bottleneck, dec3..dec0
    blocks: tuple[int, ...]  # B per stage, same order
    checkpointing: str  # mednext.network.CHECKPOINTING; the official code checkpoints M and L per block
    channels: int = 32


VARIANTS: dict[str, Variant] = {
    # S k3: 5.6 M params, 130 GFLOPs; S k5: 5.9 M, 169 GFLOPs
    "S": Variant(expansion=(2,) * 9, blocks=(2,) * 9, checkpointing="none"),
    # B k3: 10.5 M, 170 GFLOPs; B k5: 11.0 M, 208 GFLOPs
    "B": Variant(expansion=(2, 3, 4, 4, 4, 4, 4, 3, 2), blocks=(2,) * 9, checkpointing="none"),
    # M k3: 17.6 M, 248 GFLOPs; M k5: 18.3 M, 308 GFLOPs
    "M": Variant(expansion=(2, 3, 4, 4, 4, 4, 4, 3, 2), blocks=(3, 4, 4, 4, 4, 4, 4, 4, 3), checkpointing="block"),
    # L k3: 61.8 M, 500 GFLOPs; L k5: 63.0 M, 564 GFLOPs
    "L": Variant(expansion=(3, 4, 8, 8, 8, 8, 8, 4, 3), blocks=(3, 4, 8, 8, 8, 8, 8, 4, 3), checkpointing="block"),
}

# (variant, kernel) -> (params in millions, GFLOPs at 1x1x128^3). Source: MIC-DKFZ/MedNeXt README.
PUBLISHED_COMPLEXITY: dict[tuple[str, int], tuple[float, float]] = {
    ("S", 3): (5.6, 130.0),
    ("S", 5): (5.9, 169.0),
    ("B", 3): (10.5, 170.0),
    ("B", 5): (11.0, 208.0),
    ("M", 3): (17.6, 248.0),
    ("M", 5): (18.3, 308.0),
    ("L", 3): (61.8, 500.0),
    ("L", 5): (63.0, 564.0),
}


def training_checkpointing(variant: str) -> str:
    """What backward recomputes in the MedNeXt trainers when ``MEDNEXT_CHECKPOINTING`` is unset. Where
    the official code checkpoints every block (M and L), only the pointwise part of each block: L k5
    in fp16 with deep supervision stepped in 0.85-0.86x the time of per-block checkpointing, at 13.2
    instead of 10.9 GiB (NVIDIA H200, 2026-11-28, benchmarks/RESULTS.md; M not measured). S and B:
    nothing, as the official code. (:func:`create_mednext` itself defaults to the official choice.)"""
    official = VARIANTS[str(variant).upper()].checkpointing
    return "pointwise" if official == "block" else official


def create_mednext(
    variant: str,
    in_channels: int,
    num_classes: int,
    kernel_size: int = 3,
    deep_supervision: bool = False,
    residual_resampling: bool = True,
    checkpointing: bool | str | None = None,
    dwconv: str = "auto",
) -> MedNeXt:
    """Build MedNeXt-``variant`` with kernel ``kernel_size``.

    Args:
        variant: one of ``"S"``, ``"B"``, ``"M"``, ``"L"`` (case-insensitive).
        in_channels: image channels.
        num_classes: output classes, background included.
        kernel_size: depthwise kernel size everywhere (3 or 5 in the paper; any odd size works).
        deep_supervision: return the five outputs 1 .. 1/16 (see :class:`MedNeXt`).
        residual_resampling: ``False`` for the ablation without residual down/up paths.
        checkpointing: what backward recomputes, ``"none"``, ``"pointwise"`` or ``"block"``
            (see :class:`MedNeXt`; ``True`` = ``"block"``); ``None`` = the official default for
            the variant (``"block"`` for M and L, ``"none"`` for S and B).
        dwconv: depthwise-conv backend, ``"auto"`` (Triton on CUDA when it imports, else
            PyTorch), ``"torch"`` or ``"triton"``; the state dict is the same for all three.
    """
    key = str(variant).upper()
    if key not in VARIANTS:
        raise ValueError(f"unknown MedNeXt variant {variant!r}; choose one of {sorted(VARIANTS)}")
    spec = VARIANTS[key]
    return MedNeXt(
        in_channels=in_channels,
        num_classes=num_classes,
        channels=spec.channels,
        expansion=spec.expansion,
        blocks=spec.blocks,
        kernel_size=kernel_size,
        deep_supervision=deep_supervision,
        residual_resampling=residual_resampling,
        checkpointing=spec.checkpointing if checkpointing is None else checkpointing,
        dwconv=dwconv,
    )
