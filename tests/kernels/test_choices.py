"""The measured kernel choices (mednext/kernels/choices.json) and how ``dwconv="auto"`` and the
Triton ops follow them. ``auto`` picks Triton only on CUDA; these tests stand in for a CUDA device
by making ``resolve_backend`` answer "triton", and run the kernels under the interpreter."""

import json

import pytest
import torch
import torch.nn.functional as F

import mednext.kernels as K
from mednext.kernels import _triton_module, choices, depthwise_conv3d, depthwise_conv_transpose3d


def test_the_committed_table_covers_every_depthwise_conv_of_mednext_at_128():
    """Every conv of bench_dwconv's list (128^3, batch 2) for k 3 and 5, fp32 and bf16, is in the file."""
    shapes = [("conv", 1, 32 * 2**lv, 128 // 2**lv) for lv in range(5)]
    shapes += [("conv", 2, 32 * 2**lv, 128 // 2**lv) for lv in range(4)]
    shapes += [("transpose", 2, 32 * 2 ** (lv + 1), 128 // 2 ** (lv + 1)) for lv in range(4)]
    for k in (3, 5):
        for dtype in (torch.float32, torch.bfloat16):
            for kind, stride, channels, grid in shapes:
                kernel, auto = choices.lookup(kind, stride, k, dtype, grid, channels)
                assert kernel in ("band", "direct") and auto in ("triton", "torch")
    assert "H100" in json.loads(choices.FILE.read_text())["measured"]
    # fp16 takes bf16's choices; other shapes are not in the table
    assert choices.lookup("conv", 1, 5, torch.float16, 128, 32) == choices.lookup("conv", 1, 5, torch.bfloat16, 128, 32)
    assert choices.lookup("conv", 1, 5, torch.float32, 96, 32) is None


@pytest.fixture
def table(tmp_path, monkeypatch, band_launches):
    """A choices file of two shapes (channels 3, grid 5, k 3, fp32): the stride-1 conv on Triton's
    band kernel, the stride-2 conv on PyTorch's kernel; and a stand-in CUDA device for ``auto``.
    Yields the band kernels' launches."""
    rows = [
        {"kind": "conv", "stride": 1, "k": 3, "dtype": "fp32", "grid": 5, "channels": 3, "kernel": "band", "auto": "triton"},
        {"kind": "conv", "stride": 2, "k": 3, "dtype": "fp32", "grid": 5, "channels": 3, "kernel": "direct", "auto": "torch"},
    ]
    path = tmp_path / "choices.json"
    path.write_text(json.dumps({"measured": "a test", "rows": rows}))
    monkeypatch.setenv("MEDNEXT_DWCONV_CHOICES", str(path))
    monkeypatch.setattr(K, "resolve_backend", lambda backend, device, dtype=torch.float32: "torch" if backend == "torch" else "triton")
    return band_launches


def test_auto_follows_the_measured_choice_per_shape(table, triton_calls):
    x = torch.randn(2, 3, 5, 5, 5, requires_grad=True)
    w = torch.randn(3, 1, 3, 3, 3, requires_grad=True)
    y1 = depthwise_conv3d(x, w, None, 1, 1, backend="auto")  # measured: Triton, band
    assert triton_calls == {"dwconv3d": 1} and table == [("band", 1)]
    y1.sum().backward()  # the layer's backward follows its forward's kernel family
    assert table == [("band", 1), ("band", 1), ("band_weight_grad", 1)]
    assert torch.allclose(y1, F.conv3d(x, w, None, 1, 1, groups=3), atol=1e-5)
    depthwise_conv3d(x, w, None, 2, 1, backend="auto").sum().backward()  # measured: PyTorch
    assert triton_calls == {"dwconv3d": 1, "dwconv3d_transpose": 1, "dwconv3d_weight_grad": 1}
    # "triton" never falls back: the stride-2 conv runs the measured kernel family (direct)
    depthwise_conv3d(x, w, None, 2, 1, backend="triton")
    assert triton_calls["dwconv3d"] == 2 and len(table) == 3
    # unmeasured shapes under auto: a plain conv below 16 voxels along D on PyTorch, the
    # transposed conv on Triton (fp32: direct)
    depthwise_conv3d(torch.randn(1, 3, 6, 6, 6), w, None, 1, 1, backend="auto")
    assert triton_calls["dwconv3d"] == 2
    depthwise_conv_transpose3d(torch.randn(1, 3, 6, 6, 6), w, None, 1, 1, backend="auto")
    assert triton_calls["dwconv3d_transpose"] == 2 and len(table) == 3


def test_the_defaults_without_a_measurement():
    def use_band(*shape):
        return _triton_module().use_band(choices.choose(*shape)[0])

    assert use_band("conv", 1, 3, torch.bfloat16, 16, 7) and use_band("conv", 1, 3, torch.float16, 64, 7)
    assert not use_band("conv", 1, 3, torch.bfloat16, 15, 7)
    assert not use_band("conv", 1, 3, torch.float32, 64, 7)  # fp32: direct (measured faster)
    assert not use_band("conv", 2, 3, torch.bfloat16, 64, 7)
    assert choices.lookup("conv", 1, 3, torch.bfloat16, 16, 7) is None


def test_the_source_of_the_choices_is_named(tmp_path, monkeypatch):
    assert choices.table_source().startswith(str(choices.FILE)) and "H100" in choices.table_source()
    monkeypatch.setenv("MEDNEXT_DWCONV_CHOICES", str(tmp_path / "none.json"))
    assert choices.table_source().endswith("(absent: defaults)")
    assert choices.lookup("conv", 1, 5, torch.bfloat16, 128, 32) is None
