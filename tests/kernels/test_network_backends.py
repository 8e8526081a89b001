"""A whole MedNeXt on the Triton backend equals the PyTorch backend; checkpoints move between them.

Under Triton's interpreter (no GPU here) the kernels run one program instance at a time, one
per channel and tile, so these tests use MedNeXt-S's stage layout (expansion and blocks of
every stage, residual down/up blocks, deep supervision) at width 4 instead of 32: the same
layers and kernel code paths with an eighth of the channels.
"""

import pytest
import torch

from mednext import MedNeXt, VARIANTS, upkern

S = VARIANTS["S"]
SHAPE = (1, 1, 16, 16, 32)  # the smallest input MedNeXt takes (one axis above 16)


def small_s(kernel_size: int, dwconv: str) -> MedNeXt:
    return MedNeXt(1, 3, channels=4, expansion=S.expansion, blocks=S.blocks, kernel_size=kernel_size,
                   deep_supervision=True, dwconv=dwconv)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.slow
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_triton_backend_equals_torch_backend(kernel_size, triton_calls):
    ref = small_s(kernel_size, "torch")
    net = small_s(kernel_size, "triton")
    net.load_state_dict(ref.state_dict())
    x = torch.randn(SHAPE)
    outs_ref, outs = ref(x), net(x)
    assert len(outs) == 5
    for a, b in zip(outs, outs_ref):
        assert _rel(a, b) < 1e-4
    sum(o.square().mean() for o in outs_ref).backward()
    sum(o.square().mean() for o in outs).backward()
    grads_ref = dict(ref.named_parameters())
    for name, p in net.named_parameters():
        q = grads_ref[name]
        assert p.grad is not None, name
        if name.endswith("dwconv.bias"):
            # GroupNorm (one group per channel) follows each depthwise conv and removes any
            # per-channel constant: this gradient is zero in exact arithmetic, float noise here.
            scale = grads_ref[name.replace("bias", "weight")].grad.norm()
            assert p.grad.norm() < 1e-3 * scale and q.grad.norm() < 1e-3 * scale, name
        else:
            assert _rel(p.grad, q.grad) < 1e-4, f"{name}: {_rel(p.grad, q.grad):.2e}"
    # every depthwise conv ran on the kernels: 2 per block/down/up stage entry, forward and backward
    assert triton_calls["dwconv3d"] >= 9 and triton_calls["dwconv3d_weight_grad"] >= 9


@pytest.mark.slow
def test_checkpoint_moves_between_backends_and_upkern_from_triton_k3(triton_calls):
    net = small_s(3, "triton")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(SHAPE)
    sum(o.square().mean() for o in net(x)).backward()
    opt.step()  # a Triton-trained k3 network
    state = net.state_dict()

    other = small_s(3, "torch")
    other.load_state_dict(state)
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in state.items())
    net.eval(), other.eval()
    with torch.no_grad():
        assert _rel(net(x)[0], other(x)[0]) < 1e-4
        net.dwconv = "torch"  # the switch reaches every depthwise layer
        assert torch.equal(net(x)[0], other(x)[0])

    k5 = small_s(5, "triton")
    report = upkern(state, k5)
    assert report.interpolated  # the depthwise kernels were resized
    with torch.no_grad():
        out = k5.eval()(x)[0]
    assert torch.isfinite(out).all() and out.shape == (1, 3, *SHAPE[2:])
