"""Depthwise 3D convolutions with a choice of backend: PyTorch's own, or our Triton kernels.

PyTorch sends a contiguous 5-D depthwise convolution to ATen's ``DepthwiseConv3d.cu`` (not to
cuDNN), whose weight gradient re-reads the whole input ``k^3`` times; our Triton kernels
(:mod:`mednext.kernels.triton_dwconv`) compute the same function tile by tile.

Backends (``dwconv=`` of :func:`mednext.create_mednext`):

* ``"torch"``: ``F.conv3d`` / ``F.conv_transpose3d``.
* ``"triton"``: our kernels; needs a CUDA tensor (or ``TRITON_INTERPRET=1``, which runs them on
  the CPU, slowly: for tests) and an fp32, bf16 or fp16 input. They compute on the contiguous (N, C, D, H, W)
  layout: a non-contiguous or channels-last input is copied to it, and the output is contiguous (where
  ``F.conv3d`` would keep channels-last); the values are the same.
* ``"auto"`` (default): Triton for CUDA tensors of those dtypes when Triton imports, else PyTorch;
  on layer shapes where PyTorch's kernel measured faster (:mod:`mednext.kernels.choices`), PyTorch.
  On ROCm (``torch.version.hip`` set) PyTorch: Triton's AMD backend refuses the TF32 precisions
  of the band kernels (``"triton"`` by name still tries them).

The modules :class:`DepthwiseConv3d` and :class:`DepthwiseConvTranspose3d` are ``nn.Conv3d`` /
``nn.ConvTranspose3d`` with the backend switch: same parameters, same state dict.
"""

from __future__ import annotations

import os
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

from mednext.kernels import choices

__all__ = [
    "BACKENDS",
    "DepthwiseConv3d",
    "DepthwiseConvTranspose3d",
    "depthwise_conv3d",
    "depthwise_conv_transpose3d",
    "resolve_backend",
    "triton_available",
]

BACKENDS = ("auto", "torch", "triton")
DTYPES = (torch.float32, torch.bfloat16, torch.float16)  # what the kernels take, and what autocast casts (not fp64)


_TRITON: list[ModuleType | None] = []  # filled on first use: the kernel module, or None without Triton


def _triton_module() -> ModuleType | None:
    if not _TRITON:  # a plain cache (torch.compile warns about functools.cache while tracing)
        try:
            from mednext.kernels import triton_dwconv
        except ImportError:
            triton_dwconv = None
        _TRITON.append(triton_dwconv)
    return _TRITON[0]


def triton_available() -> bool:
    """Whether the Triton kernels import (Triton installed and usable with this torch)."""
    return _triton_module() is not None


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"dwconv backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def resolve_backend(backend: str, device: torch.device | str, dtype: torch.dtype = torch.float32) -> str:
    """The backend that runs for a tensor on ``device`` of ``dtype``: ``"torch"`` or ``"triton"``.

    ``"auto"`` picks Triton only where it runs natively: CUDA, a supported dtype, Triton importable,
    not ROCm (``torch.version.hip`` set; its Triton backend refuses the band kernels' TF32 precisions).
    """
    check_backend(backend)
    if backend != "auto":
        return backend
    device = torch.device(device)
    if (device.type == "cuda" and torch.version.hip is None and dtype in DTYPES
            and triton_available()):
        return "triton"
    return "torch"


def _output_extents(x: torch.Tensor, k: int, stride: int, padding: int, transposed: bool) -> list[int]:
    """The output's D, H, W extents: of ``F.conv_transpose3d`` if ``transposed``, else of ``F.conv3d``."""
    if transposed:
        return [(s - 1) * stride - 2 * padding + k for s in x.shape[2:]]
    return [(s + 2 * padding - k) // stride + 1 for s in x.shape[2:]]


def _check_extents(x: torch.Tensor, k: int, stride: int, padding: int, transposed: bool) -> None:
    """Refuse an empty spatial axis or an empty (or negative) output extent, as ``F.conv3d`` does."""
    out = _output_extents(x, k, stride, padding, transposed)
    if min(*x.shape[2:], *out) < 1:
        name, fix = ("conv_transpose3d", "a smaller padding") if transposed else ("conv3d", "more padding")
        raise ValueError(
            f"depthwise {name} of input shape {tuple(x.shape)} with kernel {k}, stride {stride}, padding {padding} "
            f"gives output extents {tuple(out)}: every spatial extent of the input and the output must be at "
            f"least 1; use a larger input or {fix}"
        )


def _check(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int,
           transposed: bool = False) -> None:
    """Refuse what the kernels do not compute, naming the problem (never a silent wrong result)."""
    if x.ndim != 5:
        raise ValueError(f"depthwise conv3d expects a 5-D input (N, C, D, H, W), got shape {tuple(x.shape)}")
    channels, k = x.shape[1], weight.shape[-1]
    if weight.ndim != 5 or weight.shape[1] != 1 or weight.shape[0] != channels:
        raise ValueError(
            f"depthwise weight must have shape (C, 1, k, k, k) with C = {channels} input channels (groups = C), "
            f"got {tuple(weight.shape)}"
        )
    if weight.shape[2:] != (k, k, k) or k % 2 == 0:
        raise ValueError(f"the Triton depthwise kernels take a cubic odd kernel, got {tuple(weight.shape[2:])}")
    mod = _triton_module()
    if mod is None:
        raise ValueError("dwconv='triton' needs Triton, which does not import here; use dwconv='torch' or 'auto'")
    if x.dtype not in mod.SUPPORTED_DTYPES:
        raise ValueError(f"the Triton depthwise kernels take fp32, bf16 or fp16 inputs, got {x.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise ValueError(f"{name} dtype {t.dtype} does not match the input's {x.dtype}; cast both to one dtype")
        if t is not None and t.device != x.device:
            raise ValueError(f"{name} is on {t.device}, the input on {x.device}")
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f"bias must have shape ({channels},), got {tuple(bias.shape)}")
    if not (isinstance(stride, int) and stride >= 1 and isinstance(padding, int) and padding >= 0):
        raise ValueError(f"stride must be a positive int and padding a non-negative int, got {stride!r}, {padding!r}")
    _check_extents(x, k, stride, padding, transposed)
    if x.device.type != "cuda" and not _interpreting():
        raise ValueError(
            f"dwconv='triton' runs on CUDA tensors (got {x.device}); set TRITON_INTERPRET=1 before importing "
            "mednext to run the kernels on the CPU (slow, for tests), or use dwconv='auto'"
        )


def _autocasting(x: torch.Tensor) -> bool:
    """Whether an autocast region is active for ``x``'s device: CUDA, or the CPU of the interpreted
    kernels; other devices (``meta`` has no autocast) run PyTorch's convolution, which autocasts itself.
    Only for fp32, bf16 and fp16 inputs: autocast leaves fp64 ones alone, as it does for ``F.conv3d``.
    (Not ``torch.amp.is_autocast_available``: torch.compile of torch 2.11 breaks the graph there.)"""
    device = x.device.type
    return device in ("cuda", "cpu") and x.dtype in DTYPES and torch.is_autocast_enabled(device)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a convolution of ``x`` computes in: the autocast dtype inside an autocast region."""
    return torch.get_autocast_dtype(x.device.type) if _autocasting(x) else x.dtype


def _autocast(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    """What autocast would do to a convolution's operands (custom ops are not autocast by torch)."""
    if not _autocasting(x):
        return x, weight, bias
    dtype = torch.get_autocast_dtype(x.device.type)
    return x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype)


def _triton_choice(kind: str, backend: str, x: torch.Tensor, stride: int, k: int) -> str | None:
    """The Triton kernel family (``"band"`` or ``"direct"``) that computes this convolution, or None
    where PyTorch computes it: the backend resolved, then the measured choice for this layer shape
    (:func:`mednext.kernels.choices.choose`, read once per call), which under ``auto`` may be PyTorch."""
    dtype = _compute_dtype(x)
    if resolve_backend(backend, x.device, dtype) == "torch":
        return None
    kernel, auto = choices.choose(kind, stride, k, dtype, x.shape[2], x.shape[1])
    return None if backend == "auto" and auto == "torch" else kernel


def _triton_operands(x, weight, bias, stride: int, padding: int, kernel: str, transposed: bool = False):
    """The operands as the Triton ops take them (autocast applied, checked, contiguous), and whether
    the band kernels run (``kernel`` unless a test or benchmark forces a family:
    :func:`triton_dwconv.use_band`)."""
    x, weight, bias = _autocast(x, weight, bias)
    _check(x, weight, bias, stride, padding, transposed)
    bias = None if bias is None else bias.contiguous()  # the kernels read b_ptr + c
    return x.contiguous(), weight.contiguous(), bias, _triton_module().use_band(kernel)


def depthwise_conv3d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1, padding: int = 0,
    backend: str = "auto",
) -> torch.Tensor:
    """``F.conv3d(x, weight, bias, stride, padding, groups=C)`` through the chosen backend."""
    kernel = _triton_choice("conv", backend, x, stride, weight.shape[-1])
    if kernel is None:
        return F.conv3d(x, weight, bias, stride, padding, groups=x.shape[1])
    x, weight, bias, band = _triton_operands(x, weight, bias, stride, padding, kernel)
    return _triton_module().dwconv3d(x, weight, bias, stride, padding, band)


def depthwise_conv_transpose3d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1, padding: int = 0,
    backend: str = "auto",
) -> torch.Tensor:
    """``F.conv_transpose3d(x, weight, bias, stride, padding, groups=C)`` through the chosen backend."""
    kernel = _triton_choice("transpose", backend, x, stride, weight.shape[-1])
    if kernel is None:
        return F.conv_transpose3d(x, weight, bias, stride, padding, groups=x.shape[1])
    x, weight, bias, band = _triton_operands(x, weight, bias, stride, padding, kernel, transposed=True)
    size = _output_extents(x, weight.shape[-1], stride, padding, transposed=True)
    return _triton_module().dwconv3d_transpose(x, weight, bias, stride, padding, size, band)


def _cubic_int(value, name: str) -> int:
    values = set(value) if isinstance(value, tuple) else {value}
    if len(values) != 1:
        raise ValueError(f"the depthwise layers take the same {name} along every axis, got {value}")
    return int(values.pop())


class DepthwiseConv3d(nn.Conv3d):
    """Depthwise ``nn.Conv3d`` (groups = channels) whose forward runs on the chosen backend.

    Args:
        channels: C, input and output channels.
        kernel_size: k (odd), the same along each axis.
        stride: 1 or the down blocks' 2.
        padding: usually ``kernel_size // 2``.
        backend: ``"auto"``, ``"torch"`` or ``"triton"`` (see :mod:`mednext.kernels`); an attribute
            that may be changed after construction.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, padding: int = 0, backend: str = "auto"):
        super().__init__(channels, channels, kernel_size, stride=stride, padding=padding, groups=channels)
        self.backend = check_backend(backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv3d(x, self.weight, self.bias, _cubic_int(self.stride, "stride"),
                                _cubic_int(self.padding, "padding"), self.backend)


class DepthwiseConvTranspose3d(nn.ConvTranspose3d):
    """Depthwise ``nn.ConvTranspose3d`` (groups = channels) whose forward runs on the chosen backend.

    Output size ``(n - 1) * stride - 2 * padding + kernel_size`` per axis (no output padding).
    Arguments as for :class:`DepthwiseConv3d`.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, padding: int = 0, backend: str = "auto"):
        super().__init__(channels, channels, kernel_size, stride=stride, padding=padding, groups=channels)
        self.backend = check_backend(backend)

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if output_size is not None:
            raise ValueError("DepthwiseConvTranspose3d has a fixed output size; output_size is not supported")
        return depthwise_conv_transpose3d(x, self.weight, self.bias, _cubic_int(self.stride, "stride"),
                                          _cubic_int(self.padding, "padding"), self.backend)
