"""Which depthwise kernel runs each convolution on a GPU: fixed choices from a measurement.

``benchmarks/bench_dwconv.py`` times every depthwise convolution MedNeXt has at its real shape
(128^3 patch, batch 2; kernel 3 and 5; fp32 and bf16) with PyTorch's kernel and with each of our
Triton kernel families, and writes the fastest choice per shape to ``choices.json``. The file
beside this module is that output of a run on a GPU, committed: its rows as the run wrote them
(``bench_dwconv.choices`` of ``benchmarks/records/2026-11-27-h100-band-dwconv.json`` gives them
again); its ``measured`` field (GPU, versions, date) as the run wrote it plus a suffix added by
hand, ", cudnn.benchmark off (PyTorch's times; see benchmarks/RESULTS.md)", since the script of
that run did not record the cudnn.benchmark setting (it now turns it on and says so). Two
choices per layer shape:

* ``kernel``: the Triton kernel family that ``dwconv="triton"`` (and ``"auto"``, where it runs
  Triton) uses for the layer's forward, input and weight gradient, ``"band"`` or ``"direct"``
  (see :mod:`mednext.kernels.triton_dwconv`);
* ``auto``: what ``dwconv="auto"`` runs on a CUDA tensor, ``"triton"`` or ``"torch"`` (PyTorch's own
  kernel is faster on some small grids).

A layer shape is (conv or transpose, stride, k, dtype, channels, input extent along D): other H
and W extents, or another batch size, with the same D take the same row. Shapes not in the file
take the defaults of :func:`choose`. fp16 takes bf16's rows (the same kernels on 16-bit inputs).
``MEDNEXT_DWCONV_CHOICES=path`` reads another file (benchmarks use it to time the choices of the
run they just measured).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

FILE = Path(__file__).with_name("choices.json")
# fp16 takes bf16's choices: the same kernels on 16-bit inputs (the measurement has fp32 and bf16)
DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "bf16"}

_TABLES: dict[str, dict[tuple, tuple[str, str]]] = {}  # path -> {shape: (kernel, auto)}


def _path() -> str:
    return os.environ.get("MEDNEXT_DWCONV_CHOICES") or str(FILE)


def _key(kind: str, stride: int, k: int, dtype: str, channels: int, grid: int) -> tuple:
    return kind, stride, k, dtype, channels, grid


def _load(path: str) -> dict[tuple, tuple[str, str]]:
    rows = json.loads(Path(path).read_text())["rows"] if Path(path).is_file() else []
    return {_key(r["kind"], r["stride"], r["k"], r["dtype"], r["channels"], r["grid"]): (r["kernel"], r["auto"])
            for r in rows}


def table_source() -> str:
    """The file the choices come from and the measurement it records (for run records and reports)."""
    path = _path()
    if not Path(path).is_file():
        return f"{path} (absent: defaults)"
    return f"{path}: {json.loads(Path(path).read_text()).get('measured', '?')}"


def lookup(kind: str, stride: int, k: int, dtype: torch.dtype, grid: int, channels: int) -> tuple[str, str] | None:
    """``(kernel, auto)`` measured for this layer shape (``grid``: the input's extent along D), or
    None where it was not measured.

    Plain dictionary reads once the file is loaded (at import for the default file), so that
    ``torch.compile`` traces them, with static or dynamic shapes."""
    path = _path()
    if path not in _TABLES:
        _TABLES[path] = _load(path)
    return _TABLES[path].get(_key(kind, stride, k, DTYPE_NAMES.get(dtype), channels, grid))


# Unmeasured shapes: band (its tile has 16 outputs along D) only for 16-bit inputs at stride 1 from
# 16 voxels along D up, where it measured faster at every such shape (fp32: its three TF32
# products measured slower than direct at most shapes); PyTorch under auto for plain convs below
# 16 voxels along D, where its kernel measured faster at every such shape.
_SMALL_GRID = 16


def choose(kind: str, stride: int, k: int, dtype: torch.dtype, grid: int, channels: int) -> tuple[str, str]:
    """``(kernel, auto)`` for this layer shape: measured (:func:`lookup`), else the defaults above."""
    measured = lookup(kind, stride, k, dtype, grid, channels)
    if measured is not None:
        return measured
    band = dtype != torch.float32 and stride == 1 and grid >= _SMALL_GRID
    return "band" if band else "direct", "torch" if kind == "conv" and grid < _SMALL_GRID else "triton"


_TABLES[str(FILE)] = _load(str(FILE))
