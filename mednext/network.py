"""The MedNeXt encoder-decoder (Roy et al., MICCAI 2023, Fig. 1).

::

    stem 1x1x1 (in -> C)
    enc0 [C] --down--> enc1 [2C] --down--> enc2 [4C] --down--> enc3 [8C] --down--> bottleneck [16C]
      |                  |                   |                   |                     |
      +------(add)--- dec0 [C] <--up-- dec1 [2C] <--up-- dec2 [4C] <--up-- dec3 [8C] <--up--+
                         |                |                 |                 |        |
                       head            ds 1/2            ds 1/4            ds 1/8   ds 1/16

Skips are *added* to the upsampled features (not concatenated). Stage ``i`` of the
nine-entry ``expansion`` / ``blocks`` lists runs enc0..enc3, bottleneck, dec3..dec0; a down
block takes the expansion of the stage after it, an up block that of the decoder stage it feeds.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from mednext.blocks import ConvNeXtBranch, _check_kernel, MedNeXtBlock, MedNeXtDownBlock, MedNeXtUpBlock, OutputHead
from mednext.kernels import DepthwiseConv3d, DepthwiseConvTranspose3d, check_backend

__all__ = ["CHECKPOINTING", "DEEP_SUPERVISION_WEIGHTS", "MedNeXt", "NUM_STAGES", "DIVISOR", "check_checkpointing"]

NUM_STAGES = 9  # enc0..enc3, bottleneck, dec3..dec0
DIVISOR = 16  # four stride-2 downsamplings
# What backward recomputes instead of keeping: nothing; the pointwise part of every block (GroupNorm,
# expand, GELU, project); or every block (the official code's choice for M and L).
CHECKPOINTING = ("none", "pointwise", "block")
# Loss weights of the deep-supervision outputs at scales 1, 1/2, 1/4, 1/8, 1/16: 1, 1/2, 1/4, 1/8, 1/16
# normalised to sum 1 (the official MedNeXt recipe).
DEEP_SUPERVISION_WEIGHTS = tuple(2.0**-i / sum(2.0**-j for j in range(5)) for i in range(5))


def check_checkpointing(mode: bool | str | None) -> str:
    """One of :data:`CHECKPOINTING`; ``True`` means ``"block"``, ``False`` and ``None`` ``"none"``.
    (A string now, so ``"none"`` is truthy: compare with ``== "none"``, not ``if net.checkpointing``.)"""
    if mode is None or isinstance(mode, bool):
        return "block" if mode else "none"
    if mode not in CHECKPOINTING:
        raise ValueError(f"checkpointing must be one of {CHECKPOINTING} (or True/False), got {mode!r}")
    return mode


def _is_int(value: object) -> bool:
    """An integer, Python's or NumPy's, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_bool(value: object, name: str) -> bool:
    """Refuse anything but ``True`` / ``False``: ``"False"`` is truthy and would build the opposite."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _stage(channels: int, expansion: int, num_blocks: int, kernel_size: int, dwconv: str) -> nn.Sequential:
    return nn.Sequential(*[MedNeXtBlock(channels, expansion, kernel_size, dwconv) for _ in range(num_blocks)])


class MedNeXt(nn.Module):
    """Fully 3D ConvNeXt segmentation network.

    Args:
        in_channels: image channels (modalities).
        num_classes: output channels (class logits, background included; no softmax).
        channels: C, width of the first stage (32 in the paper); stage widths C, 2C, 4C, 8C, 16C.
        expansion: expansion ratio R per stage, nine entries (enc0..enc3, bottleneck, dec3..dec0).
        blocks: number of MedNeXt blocks per stage, nine entries, each >= 1.
        kernel_size: k of every depthwise conv (odd; 3 and 5 in the paper).
        deep_supervision: build the four extra heads (1/2 .. 1/16) and return all five outputs.
            Can be switched off (and on again) after construction through the attribute of
            the same name; switching it on needs the heads, i.e. ``deep_supervision=True`` here.
        residual_resampling: residual 1x1x1 paths in the down and up blocks (the paper's
            default); ``False`` is the ablation with plain resampling blocks.
        checkpointing: what backward recomputes instead of keeping, while training: ``"none"``;
            ``"pointwise"``, GroupNorm, expand, GELU and project of every block, so that only the
            input and the depthwise conv's output of a block are kept (costs those four ops once
            more, not the depthwise conv); ``"block"``, every block (the official code's choice
            for M and L; costs one more forward). ``True`` is ``"block"``, ``False`` ``"none"``.
            Outputs and gradients are the same in every mode; the attribute of the same name
            switches it after construction. ``python benchmarks/bench_memory.py`` counts each
            mode's memory.
        dwconv: backend of every depthwise conv: ``"auto"`` (our Triton kernels on CUDA when
            Triton imports, else PyTorch), ``"torch"`` or ``"triton"`` (see :mod:`mednext.kernels`).
            Parameters and state dict are the same for all three; the attribute of the same name
            switches every layer after construction.

    Shapes:
        input ``(N, in_channels, D, H, W)`` with D, H, W divisible by 16.
        output ``(N, num_classes, D, H, W)``; with deep supervision a list of five tensors at
        scales 1, 1/2, 1/4, 1/8, 1/16, in training and evaluation mode alike.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: int = 32,
        expansion: Sequence[int] = (2,) * NUM_STAGES,
        blocks: Sequence[int] = (2,) * NUM_STAGES,
        kernel_size: int = 3,
        deep_supervision: bool = False,
        residual_resampling: bool = True,
        checkpointing: bool | str = "none",
        dwconv: str = "auto",
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("channels", channels)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        in_channels, num_classes, channels = int(in_channels), int(num_classes), int(channels)
        # refused before the layers are built
        kernel_size = _check_kernel(kernel_size)
        deep_supervision = _check_bool(deep_supervision, "deep_supervision")
        residual_resampling = _check_bool(residual_resampling, "residual_resampling")
        checkpointing = check_checkpointing(checkpointing)
        expansion, blocks = tuple(expansion), tuple(blocks)
        for name, value in (("expansion", expansion), ("blocks", blocks)):
            if len(value) != NUM_STAGES or any(not _is_int(v) or v < 1 for v in value):
                raise ValueError(
                    f"{name} needs {NUM_STAGES} positive integers (enc0..enc3, bottleneck, dec3..dec0), got {value}"
                )
        expansion, blocks = tuple(int(v) for v in expansion), tuple(int(v) for v in blocks)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.kernel_size = kernel_size
        self.residual_resampling = residual_resampling
        widths = [channels * 2**level for level in range(5)]
        k, res, dw = kernel_size, residual_resampling, check_backend(dwconv)
        self._dwconv = dw

        self.stem = nn.Conv3d(in_channels, channels, kernel_size=1)
        self.encoder = nn.ModuleList(_stage(widths[i], expansion[i], blocks[i], k, dw) for i in range(4))
        self.down = nn.ModuleList(MedNeXtDownBlock(widths[i], expansion[i + 1], k, res, dw) for i in range(4))
        self.bottleneck = _stage(widths[4], expansion[4], blocks[4], k, dw)
        # up[level] brings level + 1 to level and feeds decoder[level] (stage index 8 - level).
        self.up = nn.ModuleList(MedNeXtUpBlock(widths[lv + 1], expansion[8 - lv], k, res, dw) for lv in range(4))
        self.decoder = nn.ModuleList(_stage(widths[lv], expansion[8 - lv], blocks[8 - lv], k, dw) for lv in range(4))
        self.head = OutputHead(widths[0], num_classes)
        # ds_heads[i] reads level i + 1: scales 1/2, 1/4, 1/8 and the bottleneck's 1/16.
        self.ds_heads = (
            nn.ModuleList(OutputHead(widths[lv], num_classes) for lv in range(1, 5)) if deep_supervision else None
        )
        self._deep_supervision = deep_supervision
        self.checkpointing = checkpointing

    @property
    def checkpointing(self) -> str:
        """What backward recomputes: ``"none"``, ``"pointwise"`` or ``"block"``."""
        return self._checkpointing

    @checkpointing.setter
    def checkpointing(self, mode: bool | str) -> None:
        self._checkpointing = check_checkpointing(mode)
        for module in self.modules():
            if isinstance(module, ConvNeXtBranch):
                module.recompute = self._checkpointing == "pointwise"

    @property
    def dwconv(self) -> str:
        """Backend of the depthwise convs (``"auto"``, ``"torch"`` or ``"triton"``)."""
        return self._dwconv

    @dwconv.setter
    def dwconv(self, backend: str) -> None:
        self._dwconv = check_backend(backend)
        for module in self.modules():
            if isinstance(module, (DepthwiseConv3d, DepthwiseConvTranspose3d)):
                module.backend = backend

    @property
    def deep_supervision(self) -> bool:
        """Whether ``forward`` returns the five deep-supervision outputs."""
        return self._deep_supervision

    @deep_supervision.setter
    def deep_supervision(self, enabled: bool) -> None:
        if _check_bool(enabled, "deep_supervision") and self.ds_heads is None:
            raise ValueError("this MedNeXt has no deep-supervision heads; build it with deep_supervision=True")
        self._deep_supervision = enabled

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 5:
            raise ValueError(f"MedNeXt expects a 5D input (N, C, D, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"MedNeXt was built for {self.in_channels} input channels, got {x.shape[1]}")
        spatial = tuple(int(s) for s in x.shape[2:])
        if any(s % DIVISOR for s in spatial):
            raise ValueError(
                f"MedNeXt downsamples four times: every spatial size must be divisible by {DIVISOR}, got {spatial}. "
                f"Pad or crop the input (with nnU-Net: choose a patch size divisible by {DIVISOR})."
            )
        if all(s == DIVISOR for s in spatial):
            raise ValueError(
                f"input {spatial} is too small: the 1/{DIVISOR} bottleneck would hold a single voxel, where "
                f"GroupNorm (one group per channel) is undefined; use at least {2 * DIVISOR} voxels along one axis"
            )

    def _run(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply a block or a stage, checkpointing each block when asked to and useful."""
        if not (self._checkpointing == "block" and self.training and torch.is_grad_enabled()):
            return module(x)
        for block in module if isinstance(module, nn.Sequential) else (module,):
            x = checkpoint(block, x, use_reentrant=False)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        self._check_input(x)
        x = self.stem(x)
        skips = []
        for stage, down in zip(self.encoder, self.down):
            x = self._run(stage, x)
            skips.append(x)
            x = self._run(down, x)
        features = [self._run(self.bottleneck, x)]  # deepest first
        for level in reversed(range(4)):
            x = skips[level] + self._run(self.up[level], features[-1])
            features.append(self._run(self.decoder[level], x))
        logits = self.head(features[-1])
        if not self._deep_supervision:
            return logits
        # features[-1 - level] is the decoder output at level `level` (level 4 = bottleneck).
        return [logits] + [head(features[-1 - level]) for level, head in enumerate(self.ds_heads, start=1)]
