"""Each block against the paper's formula written out with torch.nn.functional."""

import pytest
import torch
import torch.nn.functional as F

from mednext.blocks import MedNeXtBlock, MedNeXtDownBlock, MedNeXtUpBlock


def _branch_reference(branch, x, conv):
    """dwconv -> GroupNorm(C groups) -> 1x1 expand -> GELU -> 1x1 project, functional form."""
    dw = branch.dwconv
    y = conv(x, dw.weight, dw.bias, stride=dw.stride, padding=dw.padding, groups=dw.groups)
    y = F.group_norm(y, y.shape[1], branch.norm.weight, branch.norm.bias, eps=1e-5)
    y = F.gelu(F.conv3d(y, branch.expand.weight, branch.expand.bias))
    return F.conv3d(y, branch.project.weight, branch.project.bias)


def _randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.3)


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_block_is_residual_convnext_branch(kernel_size):
    block = MedNeXtBlock(channels=4, expansion=3, kernel_size=kernel_size)
    _randomise(block)
    x = torch.randn(2, 4, 6, 8, 10)
    ref = x + _branch_reference(block.branch, x, F.conv3d)
    torch.testing.assert_close(block(x), ref)
    assert block.branch.dwconv.groups == 4 and block.branch.dwconv.kernel_size == (kernel_size,) * 3
    assert block.branch.expand.out_channels == 12


@pytest.mark.parametrize("residual", [True, False])
def test_down_block_halves_grid_doubles_channels(residual):
    block = MedNeXtDownBlock(in_channels=4, expansion=2, kernel_size=5, residual=residual)
    _randomise(block)
    x = torch.randn(1, 4, 8, 12, 16)
    out = block(x)
    assert out.shape == (1, 8, 4, 6, 8)
    ref = _branch_reference(block.branch, x, F.conv3d)
    if residual:
        ref = ref + F.conv3d(x, block.shortcut.weight, block.shortcut.bias, stride=2)
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("residual", [True, False])
def test_up_block_doubles_grid_pads_front(residual):
    block = MedNeXtUpBlock(in_channels=8, expansion=2, kernel_size=3, residual=residual)
    _randomise(block)
    x = torch.randn(1, 8, 3, 4, 5)
    out = block(x)
    assert out.shape == (1, 4, 6, 8, 10)
    core = _branch_reference(block.branch, x, F.conv_transpose3d)  # 2n - 1 per axis
    if residual:
        core = core + F.conv_transpose3d(x, block.shortcut.weight, block.shortcut.bias, stride=2)
    assert core.shape[2:] == (5, 7, 9)
    torch.testing.assert_close(out[:, :, 1:, 1:, 1:], core)
    # the zero voxel sits at the front of each axis
    for axis in (2, 3, 4):
        assert torch.count_nonzero(out.select(axis, 0)) == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: MedNeXtBlock(4, kernel_size=4),
        lambda: MedNeXtBlock(4, kernel_size=0),
        lambda: MedNeXtBlock(4, expansion=0),
        lambda: MedNeXtUpBlock(5),
    ],
)
def test_bad_block_arguments_raise_value_error(make):
    with pytest.raises(ValueError):
        make()
