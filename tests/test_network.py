"""MedNeXt network: published sizes, shapes, deep supervision, ablation switch, checkpointing."""

import pytest
import torch

from mednext import PUBLISHED_COMPLEXITY, VARIANTS, MedNeXt, create_mednext
from mednext.blocks import ConvNeXtBranch
from mednext.complexity import count_parameters

ALL = [(v, k) for v in "SBML" for k in (3, 5)]


@pytest.mark.parametrize("variant,kernel", ALL)
@pytest.mark.parametrize("deep_supervision", [False, True])
def test_parameter_count_matches_published(variant, kernel, deep_supervision):
    model = create_mednext(variant, in_channels=1, num_classes=2, kernel_size=kernel, deep_supervision=deep_supervision)
    published_m, _ = PUBLISHED_COMPLEXITY[(variant, kernel)]
    assert abs(count_parameters(model) / 1e6 - published_m) <= 0.1


SHAPES = [
    # variant, kernel, in_ch, classes, input spatial, deep supervision
    ("S", 3, 1, 3, (32, 32, 32), False),
    ("S", 5, 2, 4, (16, 32, 48), True),
    ("B", 3, 1, 2, (32, 16, 16), True),
    ("M", 5, 4, 3, (32, 32, 16), False),
    ("L", 3, 1, 14, (16, 16, 32), True),
]


@pytest.mark.parametrize("variant,kernel,in_ch,classes,spatial,ds", SHAPES)
def test_output_shapes(variant, kernel, in_ch, classes, spatial, ds):
    model = create_mednext(variant, in_ch, classes, kernel, deep_supervision=ds)
    x = torch.randn(2, in_ch, *spatial)
    for mode in (model.train, model.eval):  # nnU-Net v2 needs the list in eval mode too
        mode()
        with torch.no_grad():
            out = model(x)
        if not ds:
            assert out.shape == (2, classes, *spatial)
            continue
        assert isinstance(out, list) and len(out) == 5
        for scale, o in enumerate(out):
            assert o.shape == (2, classes, *(s // 2**scale for s in spatial))


def test_deep_supervision_can_be_switched_after_construction():
    model = create_mednext("S", 1, 3, deep_supervision=True).eval()
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        full = model(x)
        model.deep_supervision = False
        single = model(x)
    assert isinstance(single, torch.Tensor)
    torch.testing.assert_close(single, full[0])
    model.deep_supervision = True
    assert isinstance(model(x), list)
    plain = create_mednext("S", 1, 3, deep_supervision=False)
    with pytest.raises(ValueError, match="deep_supervision=True"):
        plain.deep_supervision = True


@pytest.mark.parametrize("spatial", [(32, 32, 30), (24, 32, 32), (33, 32, 32)])
def test_input_not_divisible_by_16_is_a_clear_error(spatial):
    model = create_mednext("S", 1, 2)
    with pytest.raises(ValueError, match="divisible by 16") as err:
        model(torch.randn(1, 1, *spatial))
    assert str(spatial) in str(err.value)


def test_too_small_or_wrong_input_is_a_clear_error():
    model = create_mednext("S", 1, 2)
    with pytest.raises(ValueError, match="too small"):
        model(torch.randn(1, 1, 16, 16, 16))
    with pytest.raises(ValueError, match="input channels"):
        model(torch.randn(1, 3, 32, 32, 32))
    with pytest.raises(ValueError, match="5D"):
        model(torch.randn(1, 32, 32, 32))


def test_residual_resampling_false_removes_exactly_the_shortcut_convs():
    with_res = create_mednext("B", 1, 2, residual_resampling=True)
    without = create_mednext("B", 1, 2, residual_resampling=False)
    removed = set(with_res.state_dict()) - set(without.state_dict())
    expected = {f"{kind}.{i}.shortcut.{p}" for kind in ("down", "up") for i in range(4) for p in ("weight", "bias")}
    assert removed == expected
    assert set(without.state_dict()) <= set(with_res.state_dict())
    removed_params = sum(with_res.state_dict()[k].numel() for k in removed)
    assert count_parameters(with_res) - count_parameters(without) == removed_params
    # the plain network still works end to end
    assert without(torch.randn(1, 1, 32, 32, 32)).shape == (1, 2, 32, 32, 32)


def test_skips_are_added_not_concatenated():
    model = create_mednext("S", 1, 2)
    for level, stage in enumerate(model.decoder):
        assert stage[0].branch.dwconv.in_channels == 32 * 2**level  # same width as the skip


def test_scaling_table_is_what_the_network_builds():
    for name, spec in VARIANTS.items():
        model = create_mednext(name, 1, 2)
        stages = list(model.encoder) + [model.bottleneck] + list(reversed(model.decoder))
        assert [len(s) for s in stages] == list(spec.blocks)
        assert [s[0].branch.expand.out_channels // s[0].branch.expand.in_channels for s in stages] == list(
            spec.expansion
        )
        # down block i takes the expansion of stage i + 1; up block into decoder level l that of dec l
        assert [d.branch.expand.out_channels // d.branch.expand.in_channels for d in model.down] == list(
            spec.expansion[1:5]
        )
        assert [u.branch.expand.out_channels // u.branch.expand.in_channels for u in model.up] == [
            spec.expansion[8 - lv] for lv in range(4)
        ]
        assert model.checkpointing == spec.checkpointing


def test_every_parameter_receives_a_gradient():
    model = create_mednext("S", 1, 2, kernel_size=3, deep_supervision=True).train()
    out = model(torch.randn(1, 1, 32, 32, 32))
    sum(o.square().mean() for o in out).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []


@pytest.mark.parametrize("mode", ["pointwise", "block"])
def test_checkpointing_gives_identical_outputs_and_gradients(mode):
    torch.manual_seed(1)
    ref = create_mednext("S", 1, 2, kernel_size=5, deep_supervision=True, checkpointing="none").train()
    ckpt = create_mednext("S", 1, 2, kernel_size=5, deep_supervision=True, checkpointing=mode).train()
    ckpt.load_state_dict(ref.state_dict())
    x = torch.randn(2, 1, 32, 32, 32)
    outs = []
    for model in (ref, ckpt):
        out = model(x)
        sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in out).backward()
        outs.append((out, {n: p.grad.clone() for n, p in model.named_parameters()}))
    # recomputation repeats the same ops on the same inputs: bit-identical on the CPU
    for a, b in zip(outs[0][0], outs[1][0]):
        assert torch.equal(a, b)
    for name, grad in outs[0][1].items():
        assert torch.equal(grad, outs[1][1][name]), name


def test_pointwise_checkpointing_recomputes_in_backward_only_while_training():
    model = create_mednext("S", 1, 2, checkpointing="pointwise")
    branches = [m for m in model.modules() if isinstance(m, ConvNeXtBranch)]
    assert branches and all(b.recompute for b in branches)
    calls = []
    for b in branches:
        b.norm.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(1, 1, 32, 32, 32)
    model.train()(x).sum().backward()
    assert len(calls) == 2 * len(branches)  # once in forward, once more in backward
    calls.clear()
    model.eval()(x)
    with torch.no_grad():
        model.train()(x)
    assert len(calls) == 2 * len(branches)  # evaluation and no_grad: no recompute, nothing to recompute for
    model.checkpointing = False
    assert model.checkpointing == "none" and not any(b.recompute for b in branches)


@pytest.mark.parametrize("mode", ["pointwise", "block"])
def test_checkpointing_compiles_without_graph_break(mode):
    """AOTAutograd (what Inductor partitions) traces the recomputation regions: same loss, same gradients.
    (Inductor itself needs a GPU or minutes of C++ compilation here; aot_eager runs the same graphs eagerly.)"""
    torch.manual_seed(0)
    model = create_mednext("S", 1, 2, kernel_size=5, deep_supervision=True, checkpointing=mode, dwconv="torch").train()
    x = torch.randn(1, 1, 32, 32, 32)

    def grads(m):
        loss = sum(o.square().mean() for o in m(x))
        return loss, torch.autograd.grad(loss, list(model.parameters()))

    ref_loss, ref = grads(model)
    loss, got = grads(torch.compile(model, fullgraph=True, backend="aot_eager"))
    torch.testing.assert_close(loss, ref_loss, rtol=1e-6, atol=0)
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_block_checkpointing_recomputes_every_block_in_backward():
    model = create_mednext("S", 1, 2, checkpointing="block").train()
    branches = [m for m in model.modules() if isinstance(m, ConvNeXtBranch)]
    assert not any(b.recompute for b in branches)  # the whole block is recomputed, not its pointwise part twice
    calls = []
    for b in branches:
        b.dwconv.register_forward_hook(lambda *_: calls.append(1))
    model(torch.randn(1, 1, 32, 32, 32)).sum().backward()
    assert len(calls) == 2 * len(branches)


def test_checkpointing_defaults_follow_official_code():
    assert create_mednext("S", 1, 2).checkpointing == "none"
    assert create_mednext("B", 1, 2).checkpointing == "none"
    assert create_mednext("M", 1, 2).checkpointing == "block"
    assert create_mednext("L", 1, 2).checkpointing == "block"
    assert create_mednext("L", 1, 2, checkpointing=False).checkpointing == "none"
    assert create_mednext("L", 1, 2, checkpointing="pointwise").checkpointing == "pointwise"
    with pytest.raises(ValueError, match="checkpointing must be one of"):
        create_mednext("S", 1, 2, checkpointing="blocks")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(variant="XL", in_channels=1, num_classes=2),
        dict(variant="S", in_channels=0, num_classes=2),
        dict(variant="S", in_channels=1, num_classes=2, kernel_size=4),
    ],
)
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        create_mednext(**kwargs)


def test_bad_stage_lists_raise_value_error():
    with pytest.raises(ValueError, match="9 positive integers"):
        MedNeXt(1, 2, expansion=(2,) * 8)
    with pytest.raises(ValueError, match="9 positive integers"):
        MedNeXt(1, 2, blocks=(2, 2, 2, 2, 0, 2, 2, 2, 2))


@pytest.mark.parametrize("name", ["deep_supervision", "residual_resampling"])
def test_string_booleans_are_refused(name):
    """A YAML or CLI "False" is a truthy str: before, it built the opposite network without a word."""
    with pytest.raises(ValueError, match=f"{name} must be True or False, got 'False'"):
        MedNeXt(1, 2, **{name: "False"})


def test_numpy_integers_build_and_bools_are_refused():
    """Sizes read from a plan or an array are NumPy ints; True is an int to Python but no size."""
    import numpy as np

    net = MedNeXt(np.int64(1), np.int64(2), channels=np.int64(8), kernel_size=np.int64(3),
                  blocks=tuple(np.int64(1) for _ in range(9)))
    assert type(net.in_channels) is int and type(net.kernel_size) is int
    with pytest.raises(ValueError, match="kernel_size must be a positive odd integer, got True"):
        MedNeXt(1, 2, kernel_size=True)
    with pytest.raises(ValueError, match="in_channels must be a positive integer, got True"):
        MedNeXt(True, 2)


def _to_monai_key(key: str) -> str:
    """Our parameter names -> MONAI 1.6 MedNeXt names (MONAI lists decoder stages deepest first)."""
    parts = key.split(".")
    sub = {"dwconv": "conv1", "norm": "norm", "expand": "conv2", "project": "conv3"}
    if parts[0] == "stem":
        return key
    if parts[0] == "head":
        return "out_0.conv_out." + parts[-1]
    if parts[0] == "ds_heads":
        return f"out_blocks.{3 - int(parts[1])}.conv_out.{parts[-1]}"
    if parts[0] in ("encoder", "decoder"):
        stage = int(parts[1]) if parts[0] == "encoder" else 3 - int(parts[1])
        name = "enc_stages" if parts[0] == "encoder" else "dec_stages"
        return f"{name}.{stage}.{parts[2]}.{sub[parts[4]]}.{parts[5]}"
    if parts[0] == "bottleneck":
        return f"bottleneck.{parts[1]}.{sub[parts[3]]}.{parts[4]}"
    if parts[0] in ("down", "up"):
        index = int(parts[1]) if parts[0] == "down" else 3 - int(parts[1])
        name = "down_blocks" if parts[0] == "down" else "up_blocks"
        inner = "res_conv" if parts[2] == "shortcut" else sub[parts[3]]
        return f"{name}.{index}.{inner}.{parts[-1]}"
    raise KeyError(key)


@pytest.mark.parametrize("kernel", [3, 5])
def test_small_variant_matches_monai_mednext_numerically(kernel):
    """MONAI's S variant follows the official code: same weights must give the same outputs."""
    monai_mednext = pytest.importorskip("monai.networks.nets.mednext")
    ours = create_mednext("S", 1, 3, kernel, deep_supervision=True).train()
    theirs = monai_mednext.create_mednext("S", spatial_dims=3, in_channels=1, out_channels=3,
                                          kernel_size=kernel, deep_supervision=True).train()
    assert count_parameters(ours) == count_parameters(theirs)
    theirs.load_state_dict({_to_monai_key(k): v for k, v in ours.state_dict().items()}, strict=True)
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    for o, t in zip(a, b):
        torch.testing.assert_close(o, t)
