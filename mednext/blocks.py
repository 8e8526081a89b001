"""The MedNeXt building blocks (Roy et al., MICCAI 2023, Sec. 2.1, Fig. 1).

Every block shares one ConvNeXt branch::

    depthwise k^3 conv -> GroupNorm(groups = channels) -> 1x1x1 conv (C -> R*C) -> GELU
    -> 1x1x1 conv (R*C -> C_out)

and differs only in what the depthwise conv does to the grid and what is added back:

* :class:`MedNeXtBlock` keeps the grid and adds its input (a residual block).
* :class:`MedNeXtDownBlock` halves the grid with a stride-2 depthwise conv, doubles the
  channels, and (``residual=True``) adds a stride-2 1x1x1 conv of its input.
* :class:`MedNeXtUpBlock` doubles the grid with a stride-2 depthwise transposed conv, halves
  the channels, and (``residual=True``) adds a stride-2 1x1x1 transposed conv of its input.
  Both paths give ``2n - 1`` voxels per axis and are zero-padded by one voxel at the front
  of each axis to reach ``2n``.

All convolutions carry a bias, as in the official code (MIC-DKFZ/MedNeXt v1). The depthwise
convs are :mod:`mednext.kernels` layers (``nn.Conv3d`` / ``nn.ConvTranspose3d`` with the same
parameters) whose ``dwconv`` backend runs them through PyTorch or our Triton kernels.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from mednext.kernels import DepthwiseConv3d, DepthwiseConvTranspose3d

__all__ = ["ConvNeXtBranch", "MedNeXtBlock", "MedNeXtDownBlock", "MedNeXtUpBlock", "OutputHead"]


def _check_kernel(kernel_size: int) -> int:
    """``kernel_size`` as an ``int``: a positive odd integer (NumPy's too), not a bool."""
    if (isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral)
            or kernel_size < 1 or kernel_size % 2 == 0):
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    return int(kernel_size)


class ConvNeXtBranch(nn.Module):
    """Depthwise conv -> GroupNorm -> expand -> GELU -> project.

    Args:
        in_channels: channels C of the input.
        out_channels: channels of the output.
        expansion: expansion ratio R of the inverted bottleneck (hidden width R*C).
        depthwise: the depthwise (possibly strided or transposed) conv, C -> C.
        recompute: while training, keep only the depthwise conv's output (and what the depthwise
            conv itself keeps, its input) for backward, and recompute GroupNorm, expand, GELU and
            project from it (``torch.utils.checkpoint``): the hidden R*C-channel tensors are never
            held, at the cost of running those four again in backward. Outputs and gradients are
            the same. The attribute of the same name switches it after construction
            (:class:`mednext.network.MedNeXt` sets it for ``checkpointing="pointwise"``).

    Shapes: ``(N, C, *grid) -> (N, out_channels, *grid')`` where ``grid'`` is what
    ``depthwise`` makes of ``grid``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, expansion: int, depthwise: nn.Module, recompute: bool = False
    ) -> None:
        super().__init__()
        if expansion < 1:
            raise ValueError(f"expansion ratio must be >= 1, got {expansion}")
        self.dwconv = depthwise
        self.norm = nn.GroupNorm(num_groups=in_channels, num_channels=in_channels)
        self.expand = nn.Conv3d(in_channels, expansion * in_channels, kernel_size=1)
        self.act = nn.GELU()
        self.project = nn.Conv3d(expansion * in_channels, out_channels, kernel_size=1)
        self.recompute = recompute

    def pointwise(self, x: torch.Tensor) -> torch.Tensor:
        """GroupNorm -> expand -> GELU -> project: everything after the depthwise conv."""
        return self.project(self.act(self.expand(self.norm(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dwconv(x)
        if self.recompute and self.training and torch.is_grad_enabled():
            return checkpoint(self.pointwise, x, use_reentrant=False, preserve_rng_state=False)  # nothing random
        return self.pointwise(x)


class MedNeXtBlock(nn.Module):
    """Residual MedNeXt block: ``x + branch(x)``; shape ``(N, C, D, H, W)`` is kept.

    Args:
        channels: C, input and output channels.
        expansion: expansion ratio R.
        kernel_size: k of the depthwise k^3 conv (odd; padded by k // 2).
        dwconv: backend of the depthwise conv, ``"auto"``, ``"torch"`` or ``"triton"``.
    """

    def __init__(self, channels: int, expansion: int = 4, kernel_size: int = 3, dwconv: str = "auto") -> None:
        super().__init__()
        kernel_size = _check_kernel(kernel_size)
        depthwise = DepthwiseConv3d(channels, kernel_size, padding=kernel_size // 2, backend=dwconv)
        self.branch = ConvNeXtBranch(channels, channels, expansion, depthwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class MedNeXtDownBlock(nn.Module):
    """Residual downsampling block: ``(N, C, D, H, W) -> (N, 2C, D/2, H/2, W/2)``.

    Args:
        in_channels: C; the output has 2C channels.
        expansion: expansion ratio R.
        kernel_size: k of the stride-2 depthwise conv.
        residual: add the stride-2 1x1x1 conv (C -> 2C) of the input. ``False`` is the
            paper's ablation with plain (non-residual) resampling.
        dwconv: backend of the depthwise conv.
    """

    def __init__(
        self, in_channels: int, expansion: int = 4, kernel_size: int = 3, residual: bool = True, dwconv: str = "auto"
    ) -> None:
        super().__init__()
        kernel_size = _check_kernel(kernel_size)
        out_channels = 2 * in_channels
        depthwise = DepthwiseConv3d(in_channels, kernel_size, stride=2, padding=kernel_size // 2, backend=dwconv)
        self.branch = ConvNeXtBranch(in_channels, out_channels, expansion, depthwise)
        self.shortcut = nn.Conv3d(in_channels, out_channels, kernel_size=1, stride=2) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out


class MedNeXtUpBlock(nn.Module):
    """Residual upsampling block: ``(N, C, D, H, W) -> (N, C/2, 2D, 2H, 2W)``.

    Args:
        in_channels: C (even); the output has C/2 channels.
        expansion: expansion ratio R.
        kernel_size: k of the stride-2 depthwise transposed conv.
        residual: add the stride-2 1x1x1 transposed conv (C -> C/2) of the input.
        dwconv: backend of the depthwise transposed conv.
    """

    def __init__(
        self, in_channels: int, expansion: int = 4, kernel_size: int = 3, residual: bool = True, dwconv: str = "auto"
    ) -> None:
        super().__init__()
        kernel_size = _check_kernel(kernel_size)
        if in_channels % 2:
            raise ValueError(f"MedNeXtUpBlock halves the channels; in_channels must be even, got {in_channels}")
        out_channels = in_channels // 2
        depthwise = DepthwiseConvTranspose3d(
            in_channels, kernel_size, stride=2, padding=kernel_size // 2, backend=dwconv
        )
        self.branch = ConvNeXtBranch(in_channels, out_channels, expansion, depthwise)
        self.shortcut = nn.ConvTranspose3d(in_channels, out_channels, kernel_size=1, stride=2) if residual else None

    @staticmethod
    def _pad_front(x: torch.Tensor) -> torch.Tensor:
        """``2n - 1`` -> ``2n`` voxels per axis: one zero voxel before the first of each axis."""
        return F.pad(x, (1, 0, 1, 0, 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._pad_front(self.branch(x))
        if self.shortcut is not None:
            out = out + self._pad_front(self.shortcut(x))
        return out


class OutputHead(nn.Module):
    """Segmentation head: 1x1x1 transposed conv to class logits, ``(N, C, *grid) -> (N, K, *grid)``."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose3d(in_channels, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
