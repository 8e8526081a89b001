"""Dice against medpy, NSD against DeepMind's surface-distance, empty-mask rules, file checks."""

import math

import nibabel as nib
import numpy as np
import pytest
import surface_distance
from medpy.metric.binary import dc

from mednext.evaluation.metrics import EvaluationError, dice, evaluate_case, evaluate_masks, nsd
from mednext.evaluation.regions import regions_for, regions_from_dataset_json

SPACINGS = [(1.0, 1.0, 1.0), (0.7, 0.8, 2.5), (3.0, 0.5, 0.5)]


def _random_blob(rng, shape=(24, 28, 20)):
    """A random union of ellipsoids: irregular shapes with real surfaces."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
    mask = np.zeros(shape, bool)
    for _ in range(rng.integers(1, 4)):
        c = rng.uniform(4, np.array(shape) - 4)
        r = rng.uniform(2, 7, 3)
        mask |= (((grid - c[:, None, None, None]) / r[:, None, None, None]) ** 2).sum(0) <= 1
    return mask


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("spacing", SPACINGS)
def test_nsd_equals_deepmind_and_dice_equals_medpy(seed, spacing):
    rng = np.random.default_rng(seed)
    ref, pred = _random_blob(rng), _random_blob(rng)
    pred |= np.roll(ref, rng.integers(-2, 3), axis=int(rng.integers(3)))  # overlap
    for tol in (0.5, 1.0, 2.0):
        expected = surface_distance.compute_surface_dice_at_tolerance(
            surface_distance.compute_surface_distances(ref, pred, spacing), tol)
        assert nsd(pred, ref, spacing, tol) == pytest.approx(expected, abs=1e-6)
    assert dice(pred, ref) == pytest.approx(dc(pred, ref), abs=1e-12)


def test_nsd_known_values():
    a = np.zeros((20, 20, 20), bool)
    a[5:12, 5:12, 5:12] = True
    assert nsd(a, a, (0.5, 1, 2), 0.0) == pytest.approx(1.0)
    far = np.roll(a, 10, axis=0)  # a 3-voxel gap between the two cubes
    assert nsd(far, a, (1, 1, 1), 1.0) == 0.0
    # a one-voxel shift along a 2 mm axis is within a 2 mm tolerance everywhere, not within 1 mm
    shifted = np.roll(a, 1, axis=2)
    assert nsd(shifted, a, (1, 1, 2), 2.0) == pytest.approx(1.0)
    assert nsd(shifted, a, (1, 1, 2), 1.0) < 1.0


def test_empty_masks_follow_metrics_reloaded():
    empty = np.zeros((8, 8, 8), bool)
    full = empty.copy()
    full[2:5, 2:5, 2:5] = True
    assert math.isnan(dice(empty, empty)) and math.isnan(nsd(empty, empty, (1, 1, 1), 1))
    assert dice(empty, full) == 0.0 and nsd(empty, full, (1, 1, 1), 1) == 0.0  # missed structure
    assert dice(full, empty) == 0.0 and nsd(full, empty, (1, 1, 1), 1) == 0.0  # false positive


def test_regions_union_labels():
    pred = np.zeros((10, 10, 10), int)
    ref = np.zeros((10, 10, 10), int)
    ref[2:5, 2:5, 2:5] = 1
    ref[3, 3, 3] = 2
    pred[2:5, 2:5, 2:5] = 2  # right kidney extent, all called tumor
    rows = evaluate_masks("c", pred, ref, (1, 1, 1), {"kidney": (1, 2), "tumor": (2,)}, 1.0)
    by = {r.region: r for r in rows}
    assert by["kidney"].dice == 1.0
    assert by["tumor"].dice == pytest.approx(2 * 1 / (27 + 1))
    assert by["kidney"].reference_voxels == 27 and by["tumor"].predicted_voxels == 27


def test_brats_regions_on_hand_made_label_map():
    # nnU-Net labels after conversion: 1 edema, 2 necrosis, 3 enhancing
    ref = np.zeros((6, 6, 6), int)
    ref[0:4, 0:4, 0:4] = 1  # edema: 64 voxels incl. what follows
    ref[1:3, 1:3, 1:3] = 2  # necrosis core: 8
    ref[1, 1, 1] = 3  # enhancing: 1
    regions = regions_for("brats21", {"labels": {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3],
                                                 "enhancing tumor": [3]}})
    rows = {r.region: r for r in evaluate_masks("c", ref, ref, (1, 1, 1), regions, 1.0)}
    assert rows["whole tumor"].reference_voxels == 64
    assert rows["tumor core"].reference_voxels == 8
    assert rows["enhancing tumor"].reference_voxels == 1
    assert regions_from_dataset_json({"labels": {"background": 0, "whole tumor": [1, 2, 3]}}) == {
        "whole tumor": (1, 2, 3)}
    assert regions_for("kits19", {"labels": {"background": 0, "kidney": 1, "tumor": 2}})["kidney"] == (1, 2)


def _write(path, array, spacing=(1.0, 1.0, 2.0)):
    nib.save(nib.Nifti1Image(array.astype(np.uint8), np.diag([*spacing, 1])), str(path))
    return path


def test_evaluate_case_reads_spacing_from_the_reference(tmp_path):
    ref = np.zeros((12, 12, 12), np.uint8)
    ref[3:8, 3:8, 3:8] = 1
    pred = np.roll(ref, 1, axis=2)
    rows = evaluate_case("c", _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref),
                         {"a": (1,)}, 2.0, allowed_labels=[0, 1])
    assert rows[0].nsd == pytest.approx(1.0)  # one voxel = 2 mm along that axis


def test_evaluate_case_errors_name_the_file(tmp_path):
    ref = _write(tmp_path / "ref.nii.gz", np.zeros((8, 8, 8)))
    small = _write(tmp_path / "small.nii.gz", np.zeros((8, 8, 7)))
    moved = _write(tmp_path / "moved.nii.gz", np.zeros((8, 8, 8)), spacing=(1, 1, 3))
    bad_label = np.zeros((8, 8, 8))
    bad_label[0, 0, 0] = 9
    unknown = _write(tmp_path / "unknown.nii.gz", bad_label)
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08garbage")
    regions = {"a": (1,)}
    with pytest.raises(EvaluationError, match=r"small\.nii\.gz.*shape"):
        evaluate_case("c", small, ref, regions, 1)
    with pytest.raises(EvaluationError, match=r"moved\.nii\.gz.*affine"):
        evaluate_case("c", moved, ref, regions, 1)
    with pytest.raises(EvaluationError, match=r"unknown\.nii\.gz.*unknown label value\(s\) \[9\]"):
        evaluate_case("c", unknown, ref, regions, 1, allowed_labels=[0, 1])
    with pytest.raises(EvaluationError, match=r"corrupt\.nii\.gz.*not a readable NIfTI"):
        evaluate_case("c", corrupt, ref, regions, 1)
    with pytest.raises(EvaluationError, match=r"missing\.nii\.gz.*not found"):
        evaluate_case("c", tmp_path / "missing.nii.gz", ref, regions, 1)
