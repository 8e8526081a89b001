"""A whole MedNeXt on the Triton backend equals the PyTorch backend; checkpoints move between them.

Under Triton's interpreter (no GPU here) the kernels run one program instance at a time, one
per channel and tile, so these tests use MedNeXt-S's stage layout (expansion and blocks of
every stage, residual down/up blocks, deep supervision) at width 2 instead of 32: the same
layers and kernel code paths with a sixteenth of the channels.
"""

import pytest
import torch

from mednext import MedNeXt, VARIANTS, upkern
from mednext.kernels import _triton_module

from .counting import count_triton_calls

pytestmark = pytest.mark.slow

S = VARIANTS["S"]
SHAPE = (1, 1, 16, 16, 32)  # the smallest input MedNeXt takes (one axis above 16)


def small_s(kernel_size: int, dwconv: str, blocks: tuple[int, ...] = S.blocks) -> MedNeXt:
    return MedNeXt(1, 3, channels=2, expansion=S.expansion, blocks=blocks, kernel_size=kernel_size,
                   deep_supervision=True, dwconv=dwconv)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def forward_backward(kernel_size: int, blocks: tuple[int, ...] = S.blocks) -> dict:
    """The same weights and input through both backends, with the Triton ops' calls counted."""
    torch.manual_seed(0)
    ref = small_s(kernel_size, "torch", blocks)
    net = small_s(kernel_size, "triton", blocks)
    net.load_state_dict(ref.state_dict())
    x = torch.randn(SHAPE)
    with count_triton_calls() as calls:
        outs_ref, outs = ref(x), net(x)
        sum(o.square().mean() for o in outs_ref).backward()
        sum(o.square().mean() for o in outs).backward()
    return {"ref": ref, "net": net, "x": x, "outs_ref": outs_ref, "outs": outs, "calls": calls, "blocks": sum(blocks)}


@pytest.fixture(scope="module")
def k3():
    return forward_backward(3)


def check_equal(run: dict) -> None:
    assert len(run["outs"]) == 5
    for a, b in zip(run["outs"], run["outs_ref"]):
        assert _rel(a, b) < 1e-4
    grads_ref = dict(run["ref"].named_parameters())
    for name, p in run["net"].named_parameters():
        q = grads_ref[name]
        assert p.grad is not None, name
        if name.endswith("dwconv.bias"):
            # GroupNorm (one group per channel) follows each depthwise conv and removes any
            # per-channel constant: this gradient is zero in exact arithmetic, float noise here.
            scale = grads_ref[name.replace("bias", "weight")].grad.norm()
            assert p.grad.norm() < 1e-3 * scale and q.grad.norm() < 1e-3 * scale, name
        else:
            assert _rel(p.grad, q.grad) < 1e-4, f"{name}: {_rel(p.grad, q.grad):.2e}"
    # every depthwise conv ran on the kernels: the blocks of 9 stages, 4 down, 4 up
    calls, blocks = run["calls"], run["blocks"]
    assert calls["dwconv3d"] >= blocks + 4 and calls["dwconv3d_transpose"] >= 4
    assert calls["dwconv3d_weight_grad"] >= blocks + 8


def test_triton_backend_equals_torch_backend_k3(k3):
    check_equal(k3)


def test_triton_backend_equals_torch_backend_k5_on_the_band_kernels(monkeypatch, band_launches):
    """k5 with the band kernels in every layer (k3 above: fp32 takes the direct ones by default). One block a
    stage: every layer kind at every resolution, 17 depthwise layers instead of 26 (CI time; each band kernel
    is checked alone against PyTorch in test_dwconv)."""
    monkeypatch.setattr(_triton_module(), "KERNEL", "band")
    check_equal(forward_backward(5, blocks=(1,) * 9))
    assert {name for name, _ in band_launches} == {"band", "band_weight_grad"}
    assert {stride for _, stride in band_launches} == {1, 2}


def test_checkpoint_moves_between_backends_and_upkern_from_triton_k3(k3):
    net, x = k3["net"], k3["x"]
    torch.optim.SGD(net.parameters(), lr=0.1).step()  # a Triton-trained k3 network
    state = net.state_dict()
    other = small_s(3, "torch")
    other.load_state_dict(state)
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in state.items())
    net.eval(), other.eval()
    with torch.no_grad():
        assert _rel(net(x)[0], other(x)[0]) < 1e-4
        net.dwconv = "torch"  # the switch reaches every depthwise layer
        assert torch.equal(net(x)[0], other(x)[0])

    k5 = small_s(5, "torch")
    report = upkern(state, k5)
    assert len(report.interpolated) == 26  # every depthwise kernel: 18 blocks, 4 down, 4 up
    with torch.no_grad():
        out = k5.eval()(x)[0]
    assert torch.isfinite(out).all() and out.shape == (1, 3, *SHAPE[2:])
