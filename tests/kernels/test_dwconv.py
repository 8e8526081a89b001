"""The Triton depthwise kernels against PyTorch's convolutions in fp64.

Without a GPU these run under Triton's interpreter (``TRITON_INTERPRET=1``, set in
tests/conftest.py), one program instance after the other: shapes stay tiny. Each test runs with
both kernel families, ``direct`` and ``band`` (``triton_dwconv.KERNEL``).
"""

import re

import pytest
import torch
import torch.nn.functional as F

from mednext.kernels import (
    DepthwiseConv3d,
    _triton_module,
    DepthwiseConvTranspose3d,
    depthwise_conv3d,
    depthwise_conv_transpose3d,
    resolve_backend,
)

OPS = {"conv": (depthwise_conv3d, F.conv3d), "transpose": (depthwise_conv_transpose3d, F.conv_transpose3d)}


@pytest.fixture(params=["direct", "band"])
def kernel(request, monkeypatch, band_launches):
    """Run the test with one kernel family everywhere, and check afterwards that it ran: every
    forward and backward of a layer launches both band kernels (forward or input gradient, and
    weight gradient) in band mode, and neither in direct mode."""
    monkeypatch.setattr(_triton_module(), "KERNEL", request.param)
    yield request.param
    launched = {name for name, _ in band_launches}
    assert launched == ({"band", "band_weight_grad"} if request.param == "band" else set())


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def _case(op: str, k: int, stride: int, dtype=torch.float32):
    """Batch 2, 3 channels, an odd non-cubic grid, a non-contiguous input."""
    x = torch.randn(2, 3, 3, 4, 5, dtype=dtype).permute(0, 1, 4, 3, 2).requires_grad_()  # (2, 3, 5, 4, 3)
    assert not x.is_contiguous()
    w = (torch.randn(3, 1, k, k, k) / k**1.5).to(dtype).requires_grad_()
    b = torch.randn(3).to(dtype).requires_grad_()
    ours, ref = OPS[op]
    y = ours(x, w, b, stride, k // 2, backend="triton")
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, w, b), g)
    ref_in = [t.detach().double().requires_grad_() for t in (x, w, b)]
    y_ref = ref(*ref_in, stride=stride, padding=k // 2, groups=3)
    grads_ref = torch.autograd.grad(y_ref, ref_in, g.double())
    return (y, *grads), (y_ref, *grads_ref)


@pytest.mark.parametrize("op", ["conv", "transpose"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_forward_and_gradients_equal_pytorch_fp64(op, k, stride, kernel, triton_calls):
    ours, ref = _case(op, k, stride)
    assert ours[0].shape == ref[0].shape
    for name, a, b in zip(("output", "input grad", "weight grad", "bias grad"), ours, ref):
        assert a.dtype == torch.float32
        assert _rel(a, b) < 1e-5, f"{name}: relative error {_rel(a, b):.2e}"
    assert triton_calls == {"dwconv3d": 1, "dwconv3d_transpose": 1, "dwconv3d_weight_grad": 1}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_accumulate_in_fp32(dtype, kernel, triton_calls):
    ours, ref = _case("conv", 3, 1, dtype)
    assert ours[0].dtype == dtype and ours[2].dtype == dtype
    for a, b in zip(ours, ref):
        assert _rel(a, b) < 1e-2  # one rounding of the result to 8 (bf16) or 11 (fp16) bits
    assert triton_calls["dwconv3d"] == 1


@pytest.mark.parametrize("op", ["conv", "transpose"])
@pytest.mark.parametrize("stride", [1, 2])
def test_non_contiguous_bias_equals_pytorch(op, stride, kernel):
    """A strided bias (every other element of a buffer) is read by its values, not its storage."""
    x = torch.randn(1, 2, 4, 3, 5, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, 3, requires_grad=True)
    b = torch.randn(4)[::2].requires_grad_()
    assert not b.is_contiguous()
    ours, ref = OPS[op]
    y = ours(x, w, b, stride, 1, backend="triton")
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, w, b), g)
    ref_in = [t.detach().double().requires_grad_() for t in (x, w, b)]
    y_ref = ref(*ref_in, stride=stride, padding=1, groups=2)
    grads_ref = torch.autograd.grad(y_ref, ref_in, g.double())
    for name, a, r in zip(("output", "input grad", "weight grad", "bias grad"), (y, *grads), (y_ref, *grads_ref)):
        assert _rel(a, r) < 1e-5, f"{name}: relative error {_rel(a, r):.2e}"


@pytest.mark.parametrize("op", ["conv", "transpose"])
def test_weight_gradient_is_deterministic(op, kernel):
    x = torch.randn(2, 2, 7, 5, 6)
    w = torch.randn(2, 1, 3, 3, 3, requires_grad=True)
    fn = OPS[op][0]
    grads = [torch.autograd.grad(fn(x, w, None, 2, 1, backend="triton").square().sum(), w)[0] for _ in range(2)]
    assert torch.equal(grads[0], grads[1])


@pytest.mark.parametrize("op, stride, shape", [("conv", 1, (2, 2, 33, 5, 40)), ("conv", 2, (1, 2, 35, 9, 66)),
                                               ("transpose", 2, (1, 2, 17, 5, 33))])
def test_band_kernels_over_many_tiles(op, stride, shape, monkeypatch):
    """Grids of several band tiles along each axis, and weight-gradient programs summing more than
    one chunk of tiles (33 x 5 x 40 at stride 1: 3 x 3 x 2 = 18 tiles, chunks of 16)."""
    monkeypatch.setattr(_triton_module(), "KERNEL", "band")
    x = torch.randn(*shape, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, 3, requires_grad=True)
    ours, ref = OPS[op]
    y = ours(x, w, None, stride, 1, backend="triton")
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, w), g)
    ref_in = [t.detach().double().requires_grad_() for t in (x, w)]
    y_ref = ref(*ref_in, stride=stride, padding=1, groups=2)
    for name, a, b in zip(("output", "input grad", "weight grad"), (y, *grads), (y_ref, *torch.autograd.grad(y_ref, ref_in, g.double()))):
        assert _rel(a, b) < 1e-5, f"{name}: relative error {_rel(a, b):.2e}"


def test_bad_inputs_are_refused_by_name():
    x = torch.randn(1, 3, 4, 4, 4)
    w = torch.randn(3, 1, 3, 3, 3)
    with pytest.raises(ValueError, match="dtype"):
        depthwise_conv3d(x, w.half(), None, 1, 1, backend="triton")
    with pytest.raises(ValueError, match="groups = C"):
        depthwise_conv3d(x, torch.randn(4, 1, 3, 3, 3), None, 1, 1, backend="triton")
    with pytest.raises(ValueError, match="odd"):
        depthwise_conv3d(x, torch.randn(3, 1, 4, 4, 4), None, 1, 1, backend="triton")
    with pytest.raises(ValueError, match="fp32, bf16 or fp16"):
        depthwise_conv3d(x.double(), w.double(), None, 1, 1, backend="triton")
    with pytest.raises(ValueError, match="bias"):
        depthwise_conv3d(x, w, torch.randn(2), 1, 1, backend="triton")
    with pytest.raises(ValueError, match="backend"):
        depthwise_conv3d(x, w, None, 1, 1, backend="cuda")


@pytest.mark.parametrize("op, shape, k, stride, padding", [
    ("conv", (1, 2, 2, 4, 3), 5, 1, 0),  # input smaller than the kernel: negative output extents
    ("conv", (1, 2, 4, 4, 4), 5, 1, 0),  # output extent 0
    ("conv", (1, 2, 0, 4, 4), 3, 1, 1),  # an empty spatial axis
    ("conv", (1, 2, 4, 0, 4), 3, 2, 2),  # an empty spatial axis, padded to a non-empty output
    ("transpose", (1, 2, 0, 4, 4), 3, 1, 1),
    ("transpose", (1, 2, 1, 4, 4), 1, 1, 1),  # output extent -1
])
def test_degenerate_spatial_shapes_are_refused_by_name(op, shape, k, stride, padding):
    x = torch.randn(*shape)
    w = torch.randn(2, 1, k, k, k)
    message = rf"input shape {re.escape(str(shape))} with kernel {k}, stride {stride}, padding {padding}"
    with pytest.raises(ValueError, match=message):
        OPS[op][0](x, w, None, stride, padding, backend="triton")


@pytest.mark.parametrize("op", ["conv", "transpose"])
def test_empty_batch_equals_pytorch(op, kernel):
    x = torch.randn(0, 2, 3, 4, 5, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, 3, requires_grad=True)
    ours, ref = OPS[op]
    y = ours(x, w, None, 2, 1, backend="triton")
    assert y.shape == ref(x, w, None, 2, 1, groups=2).shape
    dx, dw = torch.autograd.grad(y.sum(), (x, w))
    assert dx.shape == x.shape and torch.equal(dw, torch.zeros_like(w))


def test_auto_backend_is_torch_off_cuda():
    assert resolve_backend("auto", "cpu") == "torch"
    assert resolve_backend("torch", "cuda") == "torch"
    assert resolve_backend("triton", "cpu") == "triton"
    # a dtype the kernels do not take stays on PyTorch
    assert resolve_backend("auto", "cuda", torch.float64) == "torch"


@pytest.mark.parametrize("cls, ref_cls", [(DepthwiseConv3d, torch.nn.Conv3d), (DepthwiseConvTranspose3d, torch.nn.ConvTranspose3d)])
def test_layers_keep_pytorch_parameters_and_outputs(cls, ref_cls, triton_calls):
    layer = cls(2, 3, stride=2, padding=1, backend="triton")
    ref = ref_cls(2, 2, 3, stride=2, padding=1, groups=2)
    ref.load_state_dict(layer.state_dict())  # same keys and shapes
    x = torch.randn(1, 2, 5, 6, 4)
    assert _rel(layer(x), ref(x)) < 1e-5
    layer.backend = "torch"
    assert torch.equal(layer(x), ref(x))
    assert sum(triton_calls.values()) == 1


@pytest.mark.parametrize("dynamic", [False, True])
def test_compiles_without_graph_break(dynamic, triton_calls):
    """Dynamo traces the ops as one graph (fullgraph: a graph break is an error), with static and
    dynamic shapes, and autograd runs through them. The "eager" backend runs that graph as is:
    Inductor cannot compile interpreted Triton kernels on the CPU (on a GPU it compiles them; see
    benchmarks/RESULTS.md)."""
    torch._dynamo.reset()

    def f(x, w, b):
        return depthwise_conv3d(x, w, b, 1, 1, backend="triton").sin().sum()

    x = torch.randn(1, 2, 5, 4, 3, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, 3, requires_grad=True)
    b = torch.randn(2, requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend="eager", dynamic=dynamic)
    got = torch.autograd.grad(compiled(x, w, b), (x, w, b))
    want = torch.autograd.grad(f(x, w, b), (x, w, b))
    for a, b_ in zip(got, want):
        assert torch.allclose(a, b_, rtol=1e-6, atol=1e-6)
    assert triton_calls["dwconv3d_weight_grad"] >= 2


@pytest.mark.parametrize("band", [True, False])
def test_ops_take_symbolic_sizes_as_torch_compile_traces_them(band, monkeypatch):
    """Under dynamic shapes (after a recompile for another shape) Inductor runs the ops' Python code
    on fake tensors with a symbolic stride and padding. A launch needs numbers: on an H200
    (benchmarks/RESULTS.md, 2026-11-28) the band launch code hashed a symbolic stride and the compile
    failed. Here the launches are recorded instead of run (fake tensors have no data)."""
    from torch._dynamo.source import ConstantSource
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import DimDynamic, ShapeEnv

    mod = _triton_module()
    launches = []
    monkeypatch.setattr(mod, "wrap_triton", lambda kernel: _Recorder(kernel, launches))
    env = ShapeEnv()

    def symbolic(value: int, name: str):
        return env.create_symintnode(env.create_symbol(value, ConstantSource(name), dynamic_dim=DimDynamic.DYNAMIC),
                                     hint=value)

    with FakeTensorMode(shape_env=env) as mode:
        x = mode.from_tensor(torch.randn(2, 3, 32, 32, 32))
        w = mode.from_tensor(torch.randn(3, 1, 5, 5, 5))
        y = mod.dwconv3d._init_fn(x, w, None, symbolic(2, "stride"), symbolic(2, "padding"), band)
        assert tuple(y.shape) == (2, 3, 16, 16, 16)
        dw = mod.dwconv3d_weight_grad._init_fn(y, x, 5, symbolic(2, "stride_dw"), symbolic(2, "padding_dw"), band)
        assert tuple(dw.shape) == (3, 1, 5, 5, 5)
        dx = mod.dwconv3d_transpose._init_fn(y, w, None, symbolic(2, "stride_t"), symbolic(2, "padding_t"),
                                             [31, 31, 31], band)
        assert tuple(dx.shape) == (2, 3, 31, 31, 31)
    assert len(launches) == 3
    for _, grid, constants in launches:
        assert all(type(g) is int for g in grid)
        assert all(type(v) in (int, bool, str) for v in constants.values())  # constexprs: numbers, never symbols


class _Recorder:
    """Stands in for ``wrap_triton(kernel)``: ``[grid](*args, **constants)`` records the launch."""

    def __init__(self, kernel, launches: list):
        self.kernel, self.launches = kernel, launches

    def __getitem__(self, grid):
        return lambda *args, **constants: self.launches.append((self.kernel, grid, constants))


def test_autocast_reaches_the_triton_ops_without_asking_torch_amp_is_autocast_available(monkeypatch, triton_calls):
    """Inside an autocast region the ops compute in the autocast dtype, as ``F.conv3d`` does there.
    The dispatch asks ``torch.is_autocast_enabled`` only: torch.compile of torch 2.11 cannot trace
    ``torch._C._is_autocast_available`` and broke the graph at every depthwise conv (H200 run,
    benchmarks/RESULTS.md, 2026-11-28)."""

    def untraceable(*args, **kwargs):
        raise AssertionError("torch._C._is_autocast_available called")

    x = torch.randn(1, 2, 5, 4, 3)
    w = torch.randn(2, 1, 3, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # (entering autocast asks it itself)
        monkeypatch.setattr(torch._C, "_is_autocast_available", untraceable)
        got = depthwise_conv3d(x, w, None, 1, 1, backend="triton")
        monkeypatch.undo()
        want = F.conv3d(x, w, None, 1, 1, groups=2)
    assert got.dtype == want.dtype == torch.bfloat16
    assert _rel(got, want) < 1e-2
    assert triton_calls["dwconv3d"] == 1
    meta = torch.empty(1, 2, 5, 4, 3, device="meta")  # no autocast on meta: PyTorch's conv, no question asked
    assert depthwise_conv3d(meta, w.to("meta"), None, 1, 1, backend="auto").shape == (1, 2, 5, 4, 3)


def test_autocast_leaves_fp64_inputs_alone(monkeypatch, triton_calls):
    """Autocast casts fp32, bf16 and fp16 convolutions only; ``F.conv3d`` keeps an fp64 one in fp64.
    ``"auto"`` (routed here as on a CUDA tensor) then runs PyTorch in fp64; ``"triton"`` refuses
    fp64 as it does outside autocast, rather than computing in bf16."""
    import mednext.kernels as kernels

    resolve = kernels.resolve_backend
    monkeypatch.setattr(kernels, "resolve_backend", lambda backend, device, dtype: resolve(backend, "cuda", dtype))
    x = torch.randn(1, 2, 5, 4, 3, dtype=torch.float64)
    w = torch.randn(2, 1, 3, 3, 3, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert depthwise_conv_transpose3d(x.float(), w.float(), None, 1, 1).dtype == torch.bfloat16
        assert triton_calls == {"dwconv3d_transpose": 1}  # auto runs Triton for an fp32 input
        got = depthwise_conv_transpose3d(x, w, None, 1, 1, backend="auto")
        want = F.conv_transpose3d(x, w, None, 1, 1, groups=2)
        assert got.dtype == want.dtype == torch.float64
        assert torch.equal(got, want)
        with pytest.raises(ValueError, match="fp32, bf16 or fp16"):
            depthwise_conv3d(x, w, None, 1, 1, backend="triton")
    assert triton_calls == {"dwconv3d_transpose": 1}


def test_auto_backend_is_torch_on_rocm(monkeypatch):
    """ROCm tensors are "cuda" too, but Triton's AMD backend refuses the band kernels' TF32 precisions."""
    monkeypatch.setattr(torch.version, "hip", None)
    assert resolve_backend("auto", "cuda", torch.float32) == "triton"  # Triton imports here (interpreted)
    monkeypatch.setattr(torch.version, "hip", "6.2.41133")
    assert resolve_backend("auto", "cuda", torch.float32) == "torch"
    assert resolve_backend("auto", "cuda", torch.bfloat16) == "torch"
    assert resolve_backend("triton", "cuda") == "triton"  # asked for by name: still Triton
