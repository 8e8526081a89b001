"""FLOPs (fvcore, 1x1x128^3) and the complexity CLI against the published table.

A direct count of all eight variants at 128^3 takes minutes on two cores (L k5 alone ~1 min,
5 GB); the library derives it exactly from four counts at small inputs
(``count_flops_multiaffine``: MedNeXt's count is affine in each of D, H, W and symmetric in them).
``test_multiaffine_count_is_exact`` checks that claim against a direct count at a held-out size.
"""

import csv
import logging

import pytest

from mednext import PUBLISHED_COMPLEXITY, create_mednext
from mednext.complexity import count_flops, count_flops_multiaffine, main, mednext_complexity, training_memory

logging.getLogger("fvcore").setLevel(logging.ERROR)


@pytest.mark.parametrize("variant,kernel,residual", [("S", 5, True), ("B", 3, True), ("B", 3, False)])
def test_multiaffine_count_is_exact(variant, kernel, residual):
    model = create_mednext(variant, 1, 2, kernel, deep_supervision=True, residual_resampling=residual,
                           checkpointing=False)
    target = (1, 1, 64, 80, 48)
    assert count_flops_multiaffine(model, target) == count_flops(model, target)


def test_multiaffine_count_uses_four_small_counts(monkeypatch):
    from mednext import complexity

    seen = []

    def volume(model, shape):  # D*H*W is symmetric and multi-affine: the shortcut must reproduce it exactly
        seen.append(tuple(shape))
        return shape[2] * shape[3] * shape[4]

    monkeypatch.setattr(complexity, "count_flops", volume)
    assert count_flops_multiaffine(None, (1, 1, 128, 96, 160)) == 128 * 96 * 160
    assert sorted(s[2:] for s in seen) == [(16, 16, 32), (16, 16, 48), (16, 32, 32), (32, 32, 32)]
    seen.clear()
    assert count_flops_multiaffine(None, (1, 1, 32, 16, 32)) == 32 * 16 * 32  # small: counted directly
    assert seen == [(1, 1, 32, 16, 32)]


@pytest.mark.slow
@pytest.mark.parametrize("variant,kernel", sorted(PUBLISHED_COMPLEXITY))
def test_gflops_at_128_match_published_within_one_percent(variant, kernel):
    gflops = mednext_complexity(variant, kernel, size=128).gflops
    published = PUBLISHED_COMPLEXITY[(variant, kernel)][1]
    assert abs(gflops / published - 1) < 0.01, f"{variant} k{kernel}: {gflops:.1f} vs published {published}"


def test_flops_grow_with_kernel_and_are_positive():
    small = count_flops(create_mednext("S", 1, 2, 3), (1, 1, 32, 32, 32))
    large = count_flops(create_mednext("S", 1, 2, 5), (1, 1, 32, 32, 32))
    assert 0 < small < large


def test_cli_writes_csv(tmp_path):
    out = tmp_path / "complexity.csv"
    assert main(["-v", "S", "B", "-k", "3", "--size", "32", "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["variant"], r["kernel_size"]) for r in rows] == [("S", "3"), ("B", "3")]
    assert float(rows[0]["params_m"]) == pytest.approx(5.55, abs=0.01)
    assert float(rows[0]["gflops"]) == pytest.approx(count_flops(create_mednext("S", 1, 2, 3), (1, 1, 32, 32, 32)) / 1e9)
    assert rows[0]["published_gflops"] == ""  # published figures are for 128^3 only


def test_published_figures_only_beside_comparable_counts(monkeypatch):
    from mednext import complexity

    monkeypatch.setattr(complexity, "count_flops", lambda model, shape: 0)  # only the metadata matters here
    assert complexity.mednext_complexity("S", 3, size=128).published_gflops == 130.0
    assert complexity.mednext_complexity("S", 3, size=64).published_gflops is None
    assert complexity.mednext_complexity("S", 3, size=128, in_channels=4).published_params_m is None
    assert complexity.mednext_complexity("B", 3, size=128, residual_resampling=False).published_gflops is None
    assert complexity.mednext_complexity("S", 3, size=128, deep_supervision=True).published_gflops is None


def test_cli_table_and_bad_variant(capsys):
    assert main(["-v", "S", "-k", "3", "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert "MedNeXt-S k3" in out and "5.55" in out
    assert main(["-v", "XL", "--size", "32"]) == 2
    assert "unknown variant" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [(["--size", "40"], "every spatial size must be divisible by 16"),
                                          (["-k", "4", "--size", "32"], "kernel_size must be a positive odd integer")])
def test_cli_refuses_a_size_or_kernel_mednext_cannot_take(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["-v", "S", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "mednext-complexity: error:" in err and message in err and "Traceback" not in err


def test_training_memory_counts_what_each_checkpointing_mode_keeps():
    counts = {mode: training_memory(create_mednext("L", 1, 14, 5, checkpointing=mode), (1, 1, 64, 64, 64))
              for mode in ("none", "pointwise", "block")}
    # pointwise keeps two of a block's 3 + 2R tensors (R = 3..8 in L); block keeps one per block
    assert counts["none"] > 2.5 * counts["pointwise"]
    assert counts["pointwise"] > counts["block"]


def test_training_memory_leaves_the_model_alone_and_matches_a_gpu_measurement():
    model = create_mednext("S", 1, 14, 5, checkpointing=False, dwconv="triton")  # counted with PyTorch's convs
    before = {k: v.clone() for k, v in model.state_dict().items()}
    counted = training_memory(model, (2, 1, 128, 128, 128))
    assert all(p.device.type == "cpu" for p in model.parameters()) and model.dwconv == "triton"
    assert all(v.equal(before[k]) for k, v in model.state_dict().items())
    # benchmarks/RESULTS.md: MedNeXt-S k5, fp32, 128^3, batch 2, same step, on an H100: 30.95 GiB peak
    # (max allocated). The count leaves out cuDNN's workspaces and the allocator's rounding: a little less.
    assert 0.9 * 30.95 < counted / 2**30 < 30.95
