"""FLOPs (fvcore, 1x1x128^3) and the complexity CLI against the published table.

Counting all eight variants directly at 128^3 takes minutes on two cores (L k5 alone ~1 min,
5 GB), so the test uses an exact shortcut: every operation fvcore counts (convolutions and
GroupNorm) costs a constant times the number of voxels it reads or writes, and that number is
a product of one affine function per axis (n/2^l, or n/2^l - 1 for the up-sampled grids before
padding). The FLOP count is therefore affine in each of D, H, W separately, and its values at
the eight corners of {32, 48}^3 determine it everywhere. ``test_extrapolation_is_exact`` checks
that claim against a direct count at a held-out size.
"""

import csv
import itertools
import logging

import pytest

from mednext import PUBLISHED_COMPLEXITY, create_mednext
from mednext.complexity import count_flops, main

logging.getLogger("fvcore").setLevel(logging.ERROR)

LOW, HIGH = 32, 48


def _flops_extrapolated(model, target):
    """Multi-affine extrapolation of fvcore counts from the corners of {LOW, HIGH}^3 to ``target``."""
    total = 0
    for corner in itertools.product((LOW, HIGH), repeat=3):
        weight = 1
        for size, goal in zip(corner, target):
            other = HIGH if size == LOW else LOW
            weight *= (goal - other) / (size - other)
        total += weight * count_flops(model, (1, 1, *corner))
    return total


@pytest.mark.parametrize("variant,kernel", [("S", 5), ("B", 3)])
def test_extrapolation_is_exact(variant, kernel):
    model = create_mednext(variant, 1, 2, kernel, deep_supervision=True, checkpointing=False)
    target = (64, 80, 48)
    assert _flops_extrapolated(model, target) == pytest.approx(count_flops(model, (1, 1, *target)), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("variant,kernel", sorted(PUBLISHED_COMPLEXITY))
def test_gflops_at_128_match_published_within_one_percent(variant, kernel):
    model = create_mednext(variant, 1, 2, kernel, checkpointing=False)
    gflops = _flops_extrapolated(model, (128, 128, 128)) / 1e9
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


def test_cli_table_and_bad_variant(capsys):
    assert main(["-v", "S", "-k", "3", "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert "MedNeXt-S k3" in out and "5.55" in out
    assert main(["-v", "XL", "--size", "32"]) == 2
    assert "unknown variant" in capsys.readouterr().err
