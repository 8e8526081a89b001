"""Depthwise 3D convolution in Triton: forward, input gradient, weight and bias gradient.

Two families of kernels compute every depthwise convolution MedNeXt has, forward and backward;
per layer shape one of them runs (the measured table of :mod:`mednext.kernels.choices`; :func:`use_band`).

**direct**: one tap at a time. Each program owns one (sample, channel) and a ``BD x BH x BW`` tile
of outputs; for every tap it loads the shifted input tile (masked at the borders), which stays in
L1/L2 with its halo.

* ``_gather_kernel``: ``y[o] = b + sum_t w[t] * x[o * S - P + t]`` (a strided convolution). It is
  the forward of ``Conv3d`` and the input gradient of ``ConvTranspose3d``.
* ``_scatter_kernel``: ``y[o] = b + sum_{t, q: q * S - P + t = o} w[t] * x[q]`` (a transposed
  convolution), computed as a gather: each program takes the outputs of one residue class
  ``o = S * q' + r`` and visits only the taps ``t`` with ``(r + P - t) % S == 0``. It is the forward
  of ``ConvTranspose3d`` and the input gradient of ``Conv3d``.
* ``_weight_grad_kernel``: ``dw[t] = sum_o g[o] * a[o * S - P + t]`` with ``g`` on the coarse grid;
  one partial sum per (sample, tile, channel, tap), written to a buffer and summed afterwards in a
  fixed order: deterministic, no atomics. ``g = dy, a = x`` for ``Conv3d``, ``g = x, a = dy`` for
  ``ConvTranspose3d``.

**band**: the convolution as matrix products on the tensor cores (``_band_kernel``,
``_band_weight_grad_kernel``; see the comment above them). They compute the same functions except
the forward of a strided transposed convolution, which stays with ``_scatter_kernel``; their
weight-gradient programs each sum several tiles of one (sample, channel, tap row) before writing
partial sums, again deterministic.

Inputs are fp32, bf16 or fp16; products accumulate in fp32; outputs take the input's dtype.

The ops are registered with ``torch.library.triton_op`` (``mednext::dwconv3d``,
``mednext::dwconv3d_transpose``, ``mednext::dwconv3d_weight_grad``), with autograd and
shape-only fake implementations, so ``torch.compile`` traces through them without a graph break
(Inductor sees the Triton kernels themselves).

Import this module only through :mod:`mednext.kernels` (lazily): Triton reads ``TRITON_INTERPRET``
when the kernels are defined, i.e. at import.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch.library import triton_op, wrap_triton

from mednext.kernels import _interpreting

SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


@triton.jit
def _tile_coords(t, tiles_h, tiles_w, BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr):
    """Coordinates along D, H, W of tile ``t`` of a grid cut into ``BD x BH x BW`` tiles."""
    d = (t // (tiles_w * tiles_h)) * BD + tl.arange(0, BD)
    h = ((t // tiles_w) % tiles_h) * BH + tl.arange(0, BH)
    w = (t % tiles_w) * BW + tl.arange(0, BW)
    return d, h, w


@triton.jit
def _store_tile(y_ptr, nc, od, oh, ow, OD, OH, OW, acc):
    """Write the accumulator of one (sample, channel) tile where it lies inside the output grid."""
    out = (od < OD)[:, None, None] & (oh < OH)[None, :, None] & (ow < OW)[None, None, :]
    offs = od[:, None, None] * OH * OW + oh[None, :, None] * OW + ow[None, None, :]
    tl.store(y_ptr + nc.to(tl.int64) * OD * OH * OW + offs, acc.to(y_ptr.dtype.element_ty), mask=out)


@triton.jit
def _gather_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    C, D, H, W, OD, OH, OW, tiles_h, tiles_w, tiles,
    K: tl.constexpr, S: tl.constexpr, P: tl.constexpr, HAS_BIAS: tl.constexpr,
    BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr,
):
    pid = tl.program_id(0)
    t = pid % tiles
    nc = pid // tiles
    c = nc % C
    od, oh, ow = _tile_coords(t, tiles_h, tiles_w, BD, BH, BW)
    x_base = x_ptr + nc.to(tl.int64) * D * H * W
    w_base = w_ptr + c * K * K * K
    acc = tl.zeros((BD, BH, BW), dtype=tl.float32)
    for i in range(K):
        di = od * S - P + i
        md = (di >= 0) & (di < D)
        for j in range(K):
            hj = oh * S - P + j
            mdh = md[:, None, None] & ((hj >= 0) & (hj < H))[None, :, None]
            row = di[:, None, None] * H * W + hj[None, :, None] * W
            for l in tl.static_range(K):
                wl = ow * S - P + l
                mask = mdh & ((wl >= 0) & (wl < W))[None, None, :]
                xv = tl.load(x_base + row + wl[None, None, :], mask=mask, other=0.0)
                acc += xv.to(tl.float32) * tl.load(w_base + (i * K + j) * K + l).to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c).to(tl.float32)
    _store_tile(y_ptr, nc, od, oh, ow, OD, OH, OW, acc)


@triton.jit
def _scatter_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    C, D, H, W, OD, OH, OW, tiles_h, tiles_w, tiles,
    K: tl.constexpr, S: tl.constexpr, P: tl.constexpr, HAS_BIAS: tl.constexpr,
    BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr,
):
    pid = tl.program_id(0)
    t = pid % tiles
    rest = pid // tiles
    res = rest % (S * S * S)  # residue class (rd, rh, rw) of the outputs this program writes
    nc = rest // (S * S * S)
    c = nc % C
    rd = res // (S * S)
    rh = (res // S) % S
    rw = res % S
    qd, qh, qw = _tile_coords(t, tiles_h, tiles_w, BD, BH, BW)
    x_base = x_ptr + nc.to(tl.int64) * D * H * W
    w_base = w_ptr + c * K * K * K
    acc = tl.zeros((BD, BH, BW), dtype=tl.float32)
    # output o = S * q + r receives tap t from input (o + P - t) / S = q + (r + P - t) / S, where
    # (r + P - t) is a multiple of S; adding S * K before the division keeps the operand positive.
    for i in range((rd + P) % S, K, S):
        di = qd + (rd + P - i + S * K) // S - K
        md = (di >= 0) & (di < D)
        for j in range((rh + P) % S, K, S):
            hj = qh + (rh + P - j + S * K) // S - K
            mdh = md[:, None, None] & ((hj >= 0) & (hj < H))[None, :, None]
            row = di[:, None, None] * H * W + hj[None, :, None] * W
            for l in range((rw + P) % S, K, S):
                wl = qw + (rw + P - l + S * K) // S - K
                mask = mdh & ((wl >= 0) & (wl < W))[None, None, :]
                xv = tl.load(x_base + row + wl[None, None, :], mask=mask, other=0.0)
                acc += xv.to(tl.float32) * tl.load(w_base + (i * K + j) * K + l).to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c).to(tl.float32)
    _store_tile(y_ptr, nc, qd * S + rd, qh * S + rh, qw * S + rw, OD, OH, OW, acc)


@triton.jit
def _weight_grad_kernel(
    g_ptr, a_ptr, part_ptr,
    C, GD, GH, GW, AD, AH, AW, tiles_h, tiles_w, tiles,
    K: tl.constexpr, S: tl.constexpr, P: tl.constexpr,
    BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr,
):
    pid = tl.program_id(0)
    t = pid % tiles
    nc = pid // tiles
    c = nc % C
    n = nc // C
    od, oh, ow = _tile_coords(t, tiles_h, tiles_w, BD, BH, BW)
    inside = (od < GD)[:, None, None] & (oh < GH)[None, :, None] & (ow < GW)[None, None, :]
    g_offs = od[:, None, None] * GH * GW + oh[None, :, None] * GW + ow[None, None, :]
    g = tl.load(g_ptr + nc.to(tl.int64) * GD * GH * GW + g_offs, mask=inside, other=0.0).to(tl.float32)
    a_base = a_ptr + nc.to(tl.int64) * AD * AH * AW
    # partial sums laid out (sample, tile, channel, tap): summed over the first two afterwards
    p_base = part_ptr + ((n * tiles + t) * C + c).to(tl.int64) * K * K * K
    for i in range(K):
        di = od * S - P + i
        md = (di >= 0) & (di < AD)
        for j in range(K):
            hj = oh * S - P + j
            mdh = inside & md[:, None, None] & ((hj >= 0) & (hj < AH))[None, :, None]
            row = di[:, None, None] * AH * AW + hj[None, :, None] * AW
            for l in tl.static_range(K):
                wl = ow * S - P + l
                mask = mdh & ((wl >= 0) & (wl < AW))[None, None, :]
                av = tl.load(a_base + row + wl[None, None, :], mask=mask, other=0.0)
                tl.store(p_base + (i * K + j) * K + l, tl.sum(g * av.to(tl.float32)))


# ---- "band" kernels: the convolution as products on the tensor cores -----------------------------
#
# Along D a depthwise conv is a band matrix: for a tile of BD outputs along D and taps (j, l) along
# H and W fixed, y[a] = sum_i w[i, j, l] * x[S * a + i] (stride S). Stacking the l taps as well,
# the rows r = l * E + e (E = S * (BD - 1) + K input planes per l) of one matrix
#
#     X_j[r, q] = x[S * d0 - P + e, S * h(q) + j - P, S * w(q) + l - P]   (q: the tile's H x W outputs)
#
# hold every input the tile needs for tap row j, and
#
#     y[a, q] = sum_j sum_r Wb_j[a, r] * X_j[r, q],   Wb_j[a, r] = w[e - S * a, j, l]  (0 <= e - S * a < K)
#
# is K matrix products on the tensor cores (fp32 inputs: three TF32 products, "tf32x3", about
# fp32's accuracy; 16-bit inputs: one product, exact in the fp32 accumulator). The weight gradient
# is the transposed product, C_j[r, a] = sum_q X_j[r, q] * g[a, q], summed over the program's
# tiles, and dw[i, j, l] = sum_a C_j[l * E + S * a + i, a] (a diagonal sum, once per program).
# Stride 1 with FLIP (the kernel mirrored) is the input gradient of a stride-1 conv; the stride-2
# transposed conv's forward stays with the direct scatter kernel.
#
# UPCAST converts bf16 operands to fp32 before the products: Triton's interpreter multiplies bf16
# blocks as their raw 16-bit integers, so the tests (on the CPU) take this path for bf16; on a GPU
# bf16 operands go to the tensor cores as they are.


@triton.jit
def _band_tile_coords(t, tiles_h, tiles_w, BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr):
    """First output plane along D, and the H and W coordinates of the BH x BW positions, of tile ``t``."""
    q = tl.arange(0, BH * BW)
    return (t // (tiles_w * tiles_h)) * BD, ((t // tiles_w) % tiles_h) * BH + q // BW, (t % tiles_w) * BW + q % BW


@triton.jit
def _band_rows(x_base, d0, h, w, j, D, H, W,
               K: tl.constexpr, S: tl.constexpr, P: tl.constexpr, E: tl.constexpr, R: tl.constexpr):
    """X_j of the comment above: rows (l, e), columns the tile's outputs (h, w); zeros outside x."""
    r = tl.arange(0, R)
    l = r // E
    d = S * d0 - P + r % E
    row_ok = (r < K * E) & (d >= 0) & (d < D)
    hj = S * h + j - P
    wl = S * w[None, :] + l[:, None] - P
    mask = row_ok[:, None] & ((hj >= 0) & (hj < H))[None, :] & (wl >= 0) & (wl < W)
    return tl.load(x_base + d[:, None] * H * W + (hj * W)[None, :] + wl, mask=mask, other=0.0)


@triton.jit
def _band_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    C, D, H, W, OD, OH, OW, tiles_h, tiles_w, tiles,
    K: tl.constexpr, S: tl.constexpr, P: tl.constexpr, FLIP: tl.constexpr, HAS_BIAS: tl.constexpr,
    UPCAST: tl.constexpr, PRECISION: tl.constexpr,
    BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr, E: tl.constexpr, R: tl.constexpr,
):
    """``y = b + conv(x, w)`` at stride S; with FLIP the kernel mirrored (the input gradient)."""
    pid = tl.program_id(0)
    t = pid % tiles
    nc = pid // tiles
    c = nc % C
    d0, h, w = _band_tile_coords(t, tiles_h, tiles_w, BD, BH, BW)
    x_base = x_ptr + nc.to(tl.int64) * D * H * W
    a = tl.arange(0, BD)
    r = tl.arange(0, R)
    i = r[None, :] % E - S * a[:, None]  # the D tap of Wb_j[a, r]
    l = r // E
    tap_ok = (i >= 0) & (i < K) & (r < K * E)[None, :]
    if FLIP:
        i = K - 1 - i
        l = K - 1 - l
    acc = tl.zeros((BD, BH * BW), dtype=tl.float32)
    for j in range(K):
        jj = j
        if FLIP:
            jj = K - 1 - j
        wb = tl.load(w_ptr + c * K * K * K + (i * K + jj) * K + l[None, :], mask=tap_ok, other=0.0)
        rows = _band_rows(x_base, d0, h, w, j, D, H, W, K, S, P, E, R)
        if UPCAST:
            wb = wb.to(tl.float32)
            rows = rows.to(tl.float32)
        acc = tl.dot(wb, rows, acc, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c).to(tl.float32)
    od = d0 + a
    out = (od < OD)[:, None] & ((h < OH) & (w < OW))[None, :]
    offs = od[:, None] * OH * OW + (h * OW + w)[None, :]
    tl.store(y_ptr + nc.to(tl.int64) * OD * OH * OW + offs, acc.to(y_ptr.dtype.element_ty), mask=out)


@triton.jit
def _band_weight_grad_kernel(
    g_ptr, a_ptr, part_ptr,
    C, GD, GH, GW, AD, AH, AW, tiles_h, tiles_w, tiles, chunks, per_chunk,
    K: tl.constexpr, S: tl.constexpr, P: tl.constexpr, KP: tl.constexpr,
    UPCAST: tl.constexpr, PRECISION: tl.constexpr,
    BD: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr, E: tl.constexpr, R: tl.constexpr,
):
    """Partial sums of ``dw[:, j, :]`` over ``per_chunk`` tiles: one program per (n, c, j, chunk)."""
    pid = tl.program_id(0)
    chunk = pid % chunks
    rest = pid // chunks
    j = rest % K
    nc = rest // K
    c = nc % C
    n = nc // C
    g_base = g_ptr + nc.to(tl.int64) * GD * GH * GW
    a_base = a_ptr + nc.to(tl.int64) * AD * AH * AW
    a = tl.arange(0, BD)
    acc = tl.zeros((R, BD), dtype=tl.float32)
    for t in range(chunk * per_chunk, tl.minimum(chunk * per_chunk + per_chunk, tiles)):
        d0, h, w = _band_tile_coords(t, tiles_h, tiles_w, BD, BH, BW)
        inside = ((d0 + a) < GD)[:, None] & ((h < GH) & (w < GW))[None, :]
        g = tl.load(g_base + (d0 + a)[:, None] * GH * GW + (h * GW + w)[None, :], mask=inside, other=0.0)
        rows = _band_rows(a_base, d0, h, w, j, AD, AH, AW, K, S, P, E, R)
        if UPCAST:
            g = g.to(tl.float32)
            rows = rows.to(tl.float32)
        acc = tl.dot(rows, tl.trans(g), acc, input_precision=PRECISION)
    # dw[i, j, l] = sum_a acc[l * E + S * a + i, a], for each i: over a, then over the rows of each
    # l. Partial sums laid out (sample, chunk, channel, tap) like the direct kernel's.
    r = tl.arange(0, R)
    ll = tl.arange(0, KP)
    p_base = part_ptr + ((n * chunks + chunk) * C + c).to(tl.int64) * K * K * K
    for i in tl.static_range(K):
        per_row = tl.sum(tl.where((r % E)[:, None] - S * a[None, :] == i, acc, 0.0), axis=1)
        dw = tl.sum(tl.where((r // E)[None, :] == ll[:, None], per_row[None, :], 0.0), axis=1)
        tl.store(p_base + i * K * K + j * K + ll, dw, mask=ll < K)


# Fixed tile shapes (no autotuning). Direct kernels: the largest power-of-two box up to these
# sizes that the grid needs, widest along W (contiguous in memory); one warp per 512 elements of
# the tile (at least one, at most eight), so that small grids (8^3, 16^3) get small programs.
_MAX_TILE = {"conv": (8, 8, 32), "weight_grad": (8, 16, 32)}  # BD, BH, BW
# Band kernels: 16 outputs along D (the smallest side of a tensor-core product) times 64 (stride
# 1) or 32 (stride 2: twice the rows) positions in H x W, up to 32 along W; each weight-gradient
# program sums up to 16 such tiles.
_BAND_BD, _BAND_HW, _BAND_MAX_BW, _BAND_TILES_PER_PROGRAM = 16, {1: 64, 2: 32}, 32, 16

# Which kernel family computes the convolutions: "band" or "direct" everywhere, or None for the
# measured choice per layer shape (mednext.kernels.choices). Tests and benchmarks set it.
KERNEL: str | None = None


def use_band(kernel: str) -> bool:
    """Whether a layer whose measured choice (:func:`mednext.kernels.choices.choose`) is ``kernel``
    runs the band kernels (forward, input and weight gradient, where they apply) or the direct
    ones: that choice, unless ``KERNEL`` says otherwise."""
    return (KERNEL or kernel) == "band"


def _tile(grid: tuple[int, int, int], kind: str) -> tuple[int, int, int, int]:
    d, h, w = (triton.next_power_of_2(int(s)) for s in grid)
    max_d, max_h, max_w = _MAX_TILE[kind]
    bd, bh, bw = min(d, max_d), min(h, max_h), min(w, max_w)
    return bd, bh, bw, max(1, min(8, bd * bh * bw // 512))


def _tiles(grid: tuple[int, int, int], bd: int, bh: int, bw: int) -> tuple[int, int, int]:
    th, tw = triton.cdiv(grid[1], bh), triton.cdiv(grid[2], bw)
    return th, tw, triton.cdiv(grid[0], bd) * th * tw


def _band_tile(grid: tuple[int, int, int], k: int, stride: int, dtype: torch.dtype) -> dict:
    """The band kernels' launch arguments: tile shape, rows of X_j, UPCAST, PRECISION, warps."""
    hw = _BAND_HW.get(stride, 32)
    bw = min(_BAND_MAX_BW, hw, triton.next_power_of_2(int(grid[2])))
    e = stride * (_BAND_BD - 1) + k
    upcast = dtype == torch.bfloat16 and _interpreting()
    precision = "tf32x3" if dtype == torch.float32 or upcast else "tf32"  # "tf32": 16-bit products as they are
    rows = triton.next_power_of_2(k * e)
    return {"BD": _BAND_BD, "BH": hw // bw, "BW": bw, "E": e, "R": rows, "UPCAST": upcast, "PRECISION": precision,
            "num_warps": 8 if rows * hw >= 8192 else 4}  # X_j of 8192 elements: 32 per thread


def _static(*values) -> tuple[int, ...]:
    """Sizes as Python ints. torch.compile may trace these ops with symbolic sizes (after a recompile
    for another batch size, say), but a launch's tile and constants need numbers: this specialises
    them (one guard; one compiled graph per shape, as without dynamic shapes)."""
    return tuple(int(v) for v in values)


def _band(x, weight, bias, stride: int, padding: int, flip: bool, out_grid) -> torch.Tensor:
    """Depthwise conv of ``x`` onto ``out_grid`` by the band kernel (the kernel mirrored if ``flip``)."""
    n, c, d, h, w = _static(*x.shape)
    k, = _static(weight.shape[-1])
    y = torch.empty((n, c, *out_grid), dtype=x.dtype, device=x.device)
    tile = _band_tile(out_grid, k, stride, x.dtype)
    th, tw, tiles = _tiles(out_grid, tile["BD"], tile["BH"], tile["BW"])
    wrap_triton(_band_kernel)[(n * c * tiles,)](
        x, weight, bias if bias is not None else weight, y, c, d, h, w, *out_grid, th, tw, tiles,
        K=k, S=stride, P=padding, FLIP=flip, HAS_BIAS=bias is not None, **tile,
    )
    return y


def _band_weight_grad(coarse, fine, k: int, stride: int, padding: int) -> torch.Tensor:
    """The weight gradient (see :func:`dwconv3d_weight_grad`) by the band kernel."""
    n, c = _static(*coarse.shape[:2])
    g_grid, a_grid = _static(*coarse.shape[2:]), _static(*fine.shape[2:])
    tile = _band_tile(g_grid, k, stride, coarse.dtype)
    th, tw, tiles = _tiles(g_grid, tile["BD"], tile["BH"], tile["BW"])
    per_chunk = min(tiles, _BAND_TILES_PER_PROGRAM)
    chunks = triton.cdiv(tiles, per_chunk)
    partial = torch.empty((n * chunks, c, k**3), dtype=torch.float32, device=coarse.device)
    wrap_triton(_band_weight_grad_kernel)[(n * c * k * chunks,)](
        coarse, fine, partial, c, *g_grid, *a_grid, th, tw, tiles, chunks, per_chunk,
        K=k, S=stride, P=padding, KP=triton.next_power_of_2(k), **tile,
    )
    return partial.sum(0).view(c, 1, k, k, k)


@triton_op("mednext::dwconv3d", mutates_args=())
def dwconv3d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int, band: bool
) -> torch.Tensor:
    """Depthwise ``F.conv3d(x, weight, bias, stride, padding, groups=C)`` (inputs already checked)."""
    n, c, d, h, w = _static(*x.shape)
    k, stride, padding = _static(weight.shape[-1], stride, padding)
    out_grid = tuple((s + 2 * padding - k) // stride + 1 for s in (d, h, w))
    if band:
        return _band(x, weight, bias, stride, padding, False, out_grid)
    y = torch.empty((n, c, *out_grid), dtype=x.dtype, device=x.device)
    bd, bh, bw, warps = _tile(out_grid, "conv")
    th, tw, tiles = _tiles(out_grid, bd, bh, bw)
    wrap_triton(_gather_kernel)[(n * c * tiles,)](
        x, weight, bias if bias is not None else weight, y, c, d, h, w, *out_grid, th, tw, tiles,
        K=k, S=stride, P=padding, HAS_BIAS=bias is not None, BD=bd, BH=bh, BW=bw, num_warps=warps,
    )
    return y


@triton_op("mednext::dwconv3d_transpose", mutates_args=())
def dwconv3d_transpose(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int,
    output_size: list[int], band: bool,
) -> torch.Tensor:
    """Depthwise ``F.conv_transpose3d(x, weight, bias, stride, padding, groups=C)`` onto ``output_size``
    (``band`` applies at stride 1 only)."""
    n, c, d, h, w = _static(*x.shape)
    k, stride, padding = _static(weight.shape[-1], stride, padding)
    out_grid = _static(*output_size)
    if band and stride == 1:  # the conv with the mirrored kernel and padding k - 1 - p
        return _band(x, weight, bias, 1, k - 1 - padding, True, out_grid)
    y = torch.empty((n, c, *out_grid), dtype=x.dtype, device=x.device)
    q_grid = tuple(triton.cdiv(s, stride) for s in out_grid)  # outputs per residue class
    bd, bh, bw, warps = _tile(q_grid, "conv")
    th, tw, tiles = _tiles(q_grid, bd, bh, bw)
    wrap_triton(_scatter_kernel)[(n * c * stride**3 * tiles,)](
        x, weight, bias if bias is not None else weight, y, c, d, h, w, *out_grid, th, tw, tiles,
        K=k, S=stride, P=padding, HAS_BIAS=bias is not None, BD=bd, BH=bh, BW=bw, num_warps=warps,
    )
    return y


@triton_op("mednext::dwconv3d_weight_grad", mutates_args=())
def dwconv3d_weight_grad(
    coarse: torch.Tensor, fine: torch.Tensor, kernel_size: int, stride: int, padding: int, band: bool
) -> torch.Tensor:
    """``dw[c, t] = sum_{n, o} coarse[n, c, o] * fine[n, c, o * stride - padding + t]``, shape (C, 1, k, k, k), fp32."""
    n, c = _static(*coarse.shape[:2])
    k, stride, padding = _static(kernel_size, stride, padding)
    g_grid, a_grid = _static(*coarse.shape[2:]), _static(*fine.shape[2:])
    if band:
        return _band_weight_grad(coarse, fine, k, stride, padding)
    bd, bh, bw, warps = _tile(g_grid, "weight_grad")
    th, tw, tiles = _tiles(g_grid, bd, bh, bw)
    partial = torch.empty((n * tiles, c, k**3), dtype=torch.float32, device=coarse.device)
    wrap_triton(_weight_grad_kernel)[(n * c * tiles,)](
        coarse, fine, partial, c, *g_grid, *a_grid, th, tw, tiles,
        K=k, S=stride, P=padding, BD=bd, BH=bh, BW=bw, num_warps=warps,
    )
    return partial.sum(0).view(c, 1, k, k, k)


# Shape-only fake implementations for torch.compile's tracing (triton_op's default runs the
# implementation on fake tensors, which the Triton interpreter cannot do).
@dwconv3d.register_fake
def _(x, weight, bias, stride, padding, band):
    k = weight.shape[-1]
    return x.new_empty((*x.shape[:2], *((s + 2 * padding - k) // stride + 1 for s in x.shape[2:])))


@dwconv3d_transpose.register_fake
def _(x, weight, bias, stride, padding, output_size, band):
    return x.new_empty((*x.shape[:2], *output_size))


@dwconv3d_weight_grad.register_fake
def _(coarse, fine, kernel_size, stride, padding, band):
    return coarse.new_empty((coarse.shape[1], 1, kernel_size, kernel_size, kernel_size), dtype=torch.float32)


def _bias_grad(grad: torch.Tensor) -> torch.Tensor:
    return grad.sum(dim=(0, 2, 3, 4), dtype=torch.float32)


def _setup(ctx, inputs, output) -> None:
    x, weight, bias, stride, padding = inputs[:5]
    ctx.save_for_backward(x, weight)
    ctx.stride, ctx.padding, ctx.has_bias, ctx.band = stride, padding, bias is not None, inputs[-1]


def _conv_backward(ctx, grad):
    x, weight = ctx.saved_tensors
    grad = grad.contiguous()
    k = weight.shape[-1]
    dx = dwconv3d_transpose(grad, weight, None, ctx.stride, ctx.padding, list(x.shape[2:]), ctx.band)
    dw = dwconv3d_weight_grad(grad, x, k, ctx.stride, ctx.padding, ctx.band).to(weight.dtype)
    db = _bias_grad(grad).to(weight.dtype) if ctx.has_bias else None
    return dx, dw, db, None, None, None


def _transpose_backward(ctx, grad):
    x, weight = ctx.saved_tensors
    grad = grad.contiguous()
    k = weight.shape[-1]
    dx = dwconv3d(grad, weight, None, ctx.stride, ctx.padding, ctx.band)
    dw = dwconv3d_weight_grad(x, grad, k, ctx.stride, ctx.padding, ctx.band).to(weight.dtype)
    db = _bias_grad(grad).to(weight.dtype) if ctx.has_bias else None
    return dx, dw, db, None, None, None, None


dwconv3d.register_autograd(_conv_backward, setup_context=_setup)
dwconv3d_transpose.register_autograd(_transpose_backward, setup_context=_setup)
