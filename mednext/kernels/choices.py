"""Which depthwise kernel runs each convolution on a GPU: fixed choices from a measurement.

``benchmarks/bench_dwconv.py`` times every depthwise convolution MedNeXt has at its real shape
(128^3 patch, batch 2; kernel 3 and 5; fp32 and bf16) with PyTorch's kernel and with each of our
Triton kernels, and writes the fastest choice per shape to ``choices.json``; the file beside this
module is that output of a run on a GPU, committed (its ``measured`` field names the GPU, versions
and date). Two choices per shape:

* ``kernel``: the Triton kernel of ``dwconv="triton"`` for a stride-1 conv, ``"band"`` or
  ``"direct"`` (see :mod:`mednext.kernels.triton_dwconv`);
* ``auto``: what ``dwconv="auto"`` runs on a CUDA tensor, ``"triton"`` or ``"torch"`` (PyTorch's own
  kernel is faster on some small grids).

Shapes not in the file (other patch sizes or widths) take the defaults: band from 16 voxels along
D up, Triton under ``auto``. ``MEDNEXT_DWCONV_CHOICES=path`` reads another file (benchmarks use it to
time the choices of the run they just measured).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

FILE = Path(__file__).with_name("choices.json")
# fp16 takes bf16's choices: the same kernels on 16-bit inputs (the measurement has fp32 and bf16)
DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "bf16"}

_LOADED: dict[str, dict] = {}  # path -> {key: row}


def key(kind: str, stride: int, k: int, dtype: torch.dtype | str, grid: int, channels: int) -> str:
    """One convolution shape: ``kind`` conv or transpose, ``grid`` the input's extent along D."""
    dtype = dtype if isinstance(dtype, str) else DTYPE_NAMES.get(dtype, str(dtype))
    return f"{kind} s{stride} k{k} {dtype} C{channels} D{grid}"


def _path() -> str:
    return os.environ.get("MEDNEXT_DWCONV_CHOICES") or str(FILE)


def table_source() -> str:
    """The file the choices come from and the measurement it records (for benchmark reports)."""
    path = _path()
    if not Path(path).is_file():
        return f"{path} (absent: defaults)"
    return f"{path}: {json.loads(Path(path).read_text()).get('measured', '?')}"


def table() -> dict[str, dict]:
    """The measured choices, by :func:`key` (empty when no file is there)."""
    path = _path()
    if path not in _LOADED:
        rows = json.loads(Path(path).read_text())["rows"] if Path(path).is_file() else []
        _LOADED[path] = {key(r["kind"], r["stride"], r["k"], r["dtype"], r["grid"], r["channels"]): r for r in rows}
    return _LOADED[path]


@torch.compiler.assume_constant_result  # torch.compile reads the file once, when it traces a layer
def lookup(kind: str, stride: int, k: int, dtype: torch.dtype | str, grid: int, channels: int) -> tuple[str, str] | None:
    """``(kernel, auto)`` measured for this shape, or None where it was not measured."""
    row = table().get(key(kind, stride, k, dtype, grid, channels))
    return (row["kernel"], row["auto"]) if row else None
