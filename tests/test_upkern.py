"""UpKern: trilinear kernel upsampling from a small-kernel into a large-kernel MedNeXt."""

import pytest
import torch
import torch.nn.functional as F

from mednext import UpKernError, create_mednext, upkern


def _trained_like(model):
    """Random (non-default) weights so that copies and interpolations are distinguishable."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model


@pytest.mark.parametrize("deep_supervision", [False, True])
def test_upkern_s_k3_into_s_k5(deep_supervision):
    source = _trained_like(create_mednext("S", 1, 3, kernel_size=3, deep_supervision=deep_supervision))
    target = create_mednext("S", 1, 3, kernel_size=5, deep_supervision=deep_supervision)
    src = {k: v.clone() for k, v in source.state_dict().items()}
    report = upkern(src, target)
    dst = target.state_dict()

    # exactly the depthwise kernels are interpolated (encoder, down, bottleneck, up, decoder)
    depthwise = {k for k, v in src.items() if k.endswith("dwconv.weight")}
    assert set(report.interpolated) == depthwise
    assert len(depthwise) == 2 * 9 + 8  # 18 blocks + 4 down + 4 up
    for key in depthwise:
        assert dst[key].shape[2:] == (5, 5, 5)
        expected = F.interpolate(src[key], size=(5, 5, 5), mode="trilinear", align_corners=False)
        torch.testing.assert_close(dst[key], expected, rtol=0, atol=0)
        # with align_corners=False the centre of a 5-kernel samples the centre of the 3-kernel exactly
        torch.testing.assert_close(dst[key][..., 2, 2, 2], src[key][..., 1, 1, 1])

    # everything else (1x1x1 convs, norms, biases, heads) is copied unchanged
    assert set(report.copied) == set(src) - depthwise
    for key in report.copied:
        assert torch.equal(dst[key], src[key]), key
    assert "interpolated" in str(report)


def test_upkern_same_kernel_is_a_plain_copy():
    source = _trained_like(create_mednext("B", 1, 2, kernel_size=3))
    target = create_mednext("B", 1, 2, kernel_size=3)
    report = upkern(source.state_dict(), target)
    assert report.interpolated == []
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x))


def test_upkern_refuses_other_variant_with_key_named():
    source = create_mednext("S", 1, 3, kernel_size=3)
    target = create_mednext("B", 1, 3, kernel_size=5)
    with pytest.raises(UpKernError, match=r"encoder\.1\.0\.branch\.expand\.weight"):
        upkern(source.state_dict(), target)


def test_upkern_refuses_other_class_count_with_key_named():
    source = create_mednext("S", 1, 3, kernel_size=3)
    target = create_mednext("S", 1, 4, kernel_size=5)
    with pytest.raises(UpKernError, match=r"head\.conv\.weight"):
        upkern(source.state_dict(), target)


def test_upkern_refuses_missing_and_unexpected_keys():
    target = create_mednext("S", 1, 3, kernel_size=5)
    state = create_mednext("S", 1, 3, kernel_size=3).state_dict()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    missing = dict(state)
    del missing["decoder.0.1.branch.norm.bias"]
    with pytest.raises(UpKernError, match=r"missing in source: \['decoder\.0\.1\.branch\.norm\.bias'\]"):
        upkern(missing, target)
    extra = dict(state, **{"bogus.weight": torch.zeros(1)})
    with pytest.raises(UpKernError, match=r"unexpected in source: \['bogus\.weight'\]"):
        upkern(extra, target)
    # deep-supervision heads present only in the source: unexpected keys, not silently dropped
    ds_state = create_mednext("S", 1, 3, kernel_size=3, deep_supervision=True).state_dict()
    with pytest.raises(UpKernError, match="ds_heads"):
        upkern(ds_state, target)
    # nothing was loaded by the refused calls
    for key, value in target.state_dict().items():
        assert torch.equal(value, before[key])


def test_upkern_refuses_a_smaller_target_kernel():
    # k5 -> k3 would be a trilinear shrink, silently called UpKern
    source = _trained_like(create_mednext("S", 1, 3, kernel_size=5))
    target = create_mednext("S", 1, 3, kernel_size=3)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(UpKernError, match=r"only enlarges kernels: .*\(5, 5, 5\) in the source and \(3, 3, 3\)"):
        upkern(source.state_dict(), target)
    for key, value in target.state_dict().items():
        assert torch.equal(value, before[key])


def test_upkern_names_the_known_wrappings_of_a_state_dict():
    target = create_mednext("S", 1, 3, kernel_size=5)
    state = create_mednext("S", 1, 3, kernel_size=3).state_dict()
    with pytest.raises(UpKernError, match=r"whole nnU-Net checkpoint: pass its .*\['network_weights'\]"):
        upkern({"network_weights": state, "optimizer_state": {}, "current_epoch": 3}, target)
    for prefix in ("_orig_mod.", "module."):
        with pytest.raises(UpKernError, match=rf"every source key starts with '{prefix}'.*removeprefix"):
            upkern({prefix + k: v for k, v in state.items()}, target)
    # the hinted fix works
    wrapped = {"_orig_mod." + k: v for k, v in state.items()}
    upkern({k.removeprefix("_orig_mod."): v for k, v in wrapped.items()}, target)
