"""Dice against medpy, NSD/SDC against DeepMind's surface-distance, both protocols, empty-mask rules, file checks."""

import math

import nibabel as nib
import numpy as np
import pytest
import surface_distance
from medpy.metric.binary import dc

from mednext.evaluation.metrics import EvaluationError, dice, evaluate_case, evaluate_masks, nsd, sdc
from mednext.evaluation.regions import (allowed_labels, classes_for, ignore_label, regions_for,
                                       regions_from_dataset_json)

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


def test_empty_masks_follow_each_protocols_rule():
    empty = np.zeros((8, 8, 8), bool)
    full = empty.copy()
    full[2:5, 2:5, 2:5] = True
    assert math.isnan(dice(empty, empty)) and math.isnan(nsd(empty, empty, (1, 1, 1), 1))  # default: paper
    # physical: Metrics Reloaded's reference implementation scores both empty 1 (dsc, normalised_surface_distance)
    assert dice(empty, empty, 1.0) == 1.0 and nsd(empty, empty, (1, 1, 1), 1, 1.0) == 1.0
    assert dice(empty, full, 1.0) == 0.0 and nsd(empty, full, (1, 1, 1), 1, 1.0) == 0.0
    assert dice(empty, full) == 0.0 and nsd(empty, full, (1, 1, 1), 1) == 0.0  # missed structure
    assert dice(full, empty) == 0.0 and nsd(full, empty, (1, 1, 1), 1) == 0.0  # false positive


def _same(regions):
    return {name: {"paper": labels, "physical": labels} for name, labels in regions.items()}


def test_regions_union_labels():
    pred = np.zeros((10, 10, 10), int)
    ref = np.zeros((10, 10, 10), int)
    ref[2:5, 2:5, 2:5] = 1
    ref[3, 3, 3] = 2
    pred[2:5, 2:5, 2:5] = 2  # right kidney extent, all called tumor
    rows = evaluate_masks("c", pred, ref, (1, 1, 1), _same({"kidney": (1, 2), "tumor": (2,)}), 1.0)
    by = {r.region: r for r in rows}
    assert by["kidney"].physical_dice == by["kidney"].paper_dice == 1.0
    assert by["tumor"].physical_dice == pytest.approx(2 * 1 / (27 + 1))
    assert by["kidney"].physical_reference_voxels == 27 and by["tumor"].physical_predicted_voxels == 27
    assert by["kidney"].paper_labels == "1+2" and by["tumor"].physical_labels == "2"


BRATS_JSON = {"labels": {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumor": 3}}


def test_brats_regions_on_hand_made_label_map():
    # labels after the Task137 conversion: 1 edema, 2 non-enhancing tumor / necrosis, 3 enhancing
    ref = np.zeros((6, 6, 6), int)
    ref[0:4, 0:4, 0:4] = 1  # edema: 64 voxels incl. what follows
    ref[1:3, 1:3, 1:3] = 2  # necrosis core: 8
    ref[1, 1, 1] = 3  # enhancing: 1
    classes = classes_for("brats21", BRATS_JSON)
    rows = {r.region: r for r in evaluate_masks("c", ref, ref, (1, 1, 1), classes, 1.0)}
    for protocol in ("paper", "physical"):
        assert getattr(rows["whole tumor"], f"{protocol}_reference_voxels") == 64
        assert getattr(rows["tumor core"], f"{protocol}_reference_voxels") == 8
        assert getattr(rows["enhancing tumor"], f"{protocol}_reference_voxels") == 1
    assert allowed_labels(classes) == [0, 1, 2, 3]
    assert regions_from_dataset_json({"labels": {"background": 0, "whole tumor": [1, 2, 3]}}) == {
        "whole tumor": (1, 2, 3)}
    kits = {"labels": {"background": 0, "kidney": 1, "tumor": 2}}
    assert regions_for("kits19", kits, "paper")["kidney"] == (1,)  # get_kits19_regions of the official code
    assert regions_for("kits19", kits, "physical")["kidney"] == (1, 2)  # the KiTS challenge: kidney incl. tumor
    assert regions_for("btcv", {"labels": {"background": 0, "spleen": 1}}, "physical") == {"spleen": (1,)}
    with pytest.raises(ValueError, match="unknown evaluation protocol 'mm'"):
        regions_for("btcv", kits, "mm")


def _official_dice(pred, ref):
    """medpy's Dice with the official code's NaN for two empty masks (written here, not imported)."""
    return math.nan if not pred.any() and not ref.any() else float(dc(pred, ref))


def _official_sdc(pred, ref):
    """The official SDC: SimpleITK's (z, y, x) array order, spacing [1, 1, 1], tolerance 1."""
    if not pred.any() and not ref.any():
        return math.nan
    gt, pr = np.ascontiguousarray(ref.T), np.ascontiguousarray(pred.T)
    return float(surface_distance.compute_surface_dice_at_tolerance(
        surface_distance.compute_surface_distances(gt, pr, [1, 1, 1]), 1))


def test_both_protocols_reproduce_the_reference_implementations():
    """KiTS-like pair whose label-1 and label-{1,2} kidney differ, on an anisotropic 0.8 x 0.8 x 3 mm grid."""
    spacing = (0.8, 0.8, 3.0)
    ref = np.zeros((40, 36, 16), np.uint8)
    ref[8:30, 8:28, 3:12] = 1  # kidney
    ref[14:22, 12:20, 5:9] = 2  # tumor inside it
    pred = np.roll(ref, 1, axis=2)  # the whole prediction one slice (3 mm) off
    pred[20:26, 12:20, 6:10] = np.where(pred[20:26, 12:20, 6:10] > 0, 2, 0)  # tumor grown into the kidney
    classes = classes_for("kits19", {"labels": {"background": 0, "kidney": 1, "tumor": 2}})
    rows = {r.region: r for r in evaluate_masks("case", pred, ref, spacing, classes, 1.0)}
    kidney1, kidney12 = (ref == 1, pred == 1), (ref > 0, pred > 0)
    assert dc(kidney1[1], kidney1[0]) != pytest.approx(dc(kidney12[1], kidney12[0]), abs=1e-3)  # they differ
    for (r, p), prefix in ((kidney1, "paper"), (kidney12, "physical")):
        assert getattr(rows["kidney"], f"{prefix}_dice") == pytest.approx(_official_dice(p, r), abs=1e-6)
    assert rows["kidney"].paper_sdc == pytest.approx(_official_sdc(kidney1[1], kidney1[0]), abs=1e-6)
    assert rows["kidney"].physical_nsd == pytest.approx(surface_distance.compute_surface_dice_at_tolerance(
        surface_distance.compute_surface_distances(kidney12[0], kidney12[1], spacing), 1.0), abs=1e-6)
    tumor = (ref == 2, pred == 2)
    assert rows["tumor"].paper_dice == rows["tumor"].physical_dice == pytest.approx(dc(tumor[1], tumor[0]), abs=1e-6)
    assert rows["tumor"].paper_sdc == pytest.approx(_official_sdc(tumor[1], tumor[0]), abs=1e-6)

    # one voxel (3 mm) off along z: within the official tolerance of one voxel, not within 1 mm
    shifted = np.roll(kidney12[0], 1, axis=2)
    assert sdc(shifted, kidney12[0]) == pytest.approx(1.0, abs=1e-6)
    assert _official_sdc(shifted, kidney12[0]) == pytest.approx(1.0, abs=1e-6)
    physical = nsd(shifted, kidney12[0], spacing, 1.0)
    assert physical < 0.9
    assert physical == pytest.approx(surface_distance.compute_surface_dice_at_tolerance(
        surface_distance.compute_surface_distances(kidney12[0], shifted, spacing), 1.0), abs=1e-6)


def test_empty_classes_follow_the_official_code():
    """Both empty: NaN under paper (the official code's rule), 1 under physical (Metrics Reloaded); one empty:
    Dice 0 (medpy) and surface Dice 0."""
    ref = np.zeros((12, 12, 12), np.uint8)
    ref[3:8, 3:8, 3:8] = 1
    rows = {r.region: r for r in evaluate_masks("c", ref, ref, (1, 1, 1), _same({"a": (1,), "b": (2,)}), 1.0)}
    assert math.isnan(rows["b"].paper_dice) and math.isnan(rows["b"].paper_sdc)
    assert rows["b"].physical_dice == 1.0 and rows["b"].physical_nsd == 1.0
    missed = np.zeros_like(ref)
    rows = {r.region: r for r in evaluate_masks("c", missed, ref, (1, 1, 1), _same({"a": (1,)}), 1.0)}
    assert rows["a"].paper_dice == dc(missed == 1, ref == 1) == 0.0 and rows["a"].paper_sdc == 0.0


def _write(path, array, spacing=(1.0, 1.0, 2.0)):
    nib.save(nib.Nifti1Image(array.astype(np.uint8), np.diag([*spacing, 1])), str(path))
    return path


def test_evaluate_case_reads_spacing_from_the_reference(tmp_path):
    ref = np.zeros((12, 12, 12), np.uint8)
    ref[3:8, 3:8, 3:8] = 1
    pred = np.roll(ref, 1, axis=2)
    rows = evaluate_case("c", _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref),
                         _same({"a": (1,)}), 1.0, allowed_labels=[0, 1])
    assert rows[0].physical_nsd < 1.0  # one voxel = 2 mm along that axis: beyond 1 mm
    assert rows[0].paper_sdc == pytest.approx(1.0)  # but within one voxel


def test_a_reference_without_qform_or_sform_takes_nnunets_export(tmp_path):
    """nibabel gives a header with neither form (codes 0) a fallback affine; nnU-Net exports the prediction with
    the geometry SimpleITK reads, which then decides (a real difference is still refused)."""
    import SimpleITK as sitk

    ref = np.zeros((10, 12, 8), np.uint8)
    ref[2:6, 3:8, 2:5] = 1
    img = nib.Nifti1Image(ref, np.diag([0.8, 0.9, 2.0, 1.0]))
    img.set_qform(None, code=0)
    img.set_sform(None, code=0)
    nib.save(img, str(tmp_path / "ref.nii.gz"))
    read = sitk.ReadImage(str(tmp_path / "ref.nii.gz"))
    for name, spacing in (("pred", read.GetSpacing()), ("other", (1.0, 1.0, 1.0))):
        exported = sitk.GetImageFromArray(sitk.GetArrayFromImage(read))
        exported.CopyInformation(read)
        exported.SetSpacing(spacing)
        sitk.WriteImage(exported, str(tmp_path / f"{name}.nii.gz"))
    assert not np.allclose(nib.load(tmp_path / "pred.nii.gz").affine, nib.load(tmp_path / "ref.nii.gz").affine)
    rows = evaluate_case("c", tmp_path / "pred.nii.gz", tmp_path / "ref.nii.gz", _same({"a": (1,)}), 1.0, [0, 1])
    assert rows[0].paper_dice == rows[0].physical_nsd == 1.0
    with pytest.raises(EvaluationError, match=r"other\.nii\.gz.*affine"):
        evaluate_case("c", tmp_path / "other.nii.gz", tmp_path / "ref.nii.gz", _same({"a": (1,)}), 1.0, [0, 1])


def test_the_ignore_label_counts_in_neither_mask(tmp_path):
    """nnU-Net's ``ignore`` label (sparse references): allowed in the reference, its voxels left out of both masks."""
    dataset_json = {"labels": {"background": 0, "organ": 1, "ignore": 2}}
    classes = classes_for("mine", dataset_json)
    assert list(classes) == ["organ"] and ignore_label(dataset_json) == 2 and allowed_labels(classes) == [0, 1]
    assert ignore_label({"labels": {"background": 0, "organ": 1}}) is None
    ref = np.zeros((10, 10, 10), np.uint8)
    ref[2:6, 2:6, 2:6] = 1
    ref[7:9, 2:6, 2:6] = 2  # not annotated
    pred = (ref > 0).astype(np.uint8)  # organ predicted where the reference is not annotated too
    paths = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    row = evaluate_case("c", *paths, classes, 1.0, allowed_labels(classes), ignore_label(dataset_json))[0]
    assert row.paper_dice == row.physical_dice == row.paper_sdc == 1.0
    assert row.paper_reference_voxels == row.paper_predicted_voxels == 64
    with pytest.raises(EvaluationError, match=r"r\.nii\.gz: unknown label value\(s\) \[2\]"):
        evaluate_case("c", *paths, classes, 1.0, allowed_labels(classes))  # without the ignore label
    with pytest.raises(EvaluationError, match=r"p2\.nii\.gz: unknown label value\(s\) \[2\]"):  # never predicted
        evaluate_case("c", _write(tmp_path / "p2.nii.gz", ref), paths[1], classes, 1.0, allowed_labels(classes), 2)


def test_evaluate_case_errors_name_the_file(tmp_path):
    ref = _write(tmp_path / "ref.nii.gz", np.zeros((8, 8, 8)))
    small = _write(tmp_path / "small.nii.gz", np.zeros((8, 8, 7)))
    moved = _write(tmp_path / "moved.nii.gz", np.zeros((8, 8, 8)), spacing=(1, 1, 3))
    bad_label = np.zeros((8, 8, 8))
    bad_label[0, 0, 0] = 9
    unknown = _write(tmp_path / "unknown.nii.gz", bad_label)
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08garbage")
    regions = _same({"a": (1,)})
    with pytest.raises(EvaluationError, match=r"small\.nii\.gz.*shape"):
        evaluate_case("c", small, ref, regions, 1)
    with pytest.raises(EvaluationError, match=r"moved\.nii\.gz.*affine"):
        evaluate_case("c", moved, ref, regions, 1)
    with pytest.raises(EvaluationError, match=r"unknown\.nii\.gz.*unknown label value\(s\) \[9\]"):
        evaluate_case("c", unknown, ref, regions, 1, allowed_labels=[0, 1])
    with pytest.raises(EvaluationError, match=r"corrupt\.nii\.gz.*not a readable NIfTI"):
        evaluate_case("c", corrupt, ref, regions, 1)
    big = np.random.default_rng(0).integers(0, 2, (48, 48, 48))  # the header alone does not reach the trailer
    big_ref = _write(tmp_path / "big_ref.nii.gz", big)
    damaged = _write(tmp_path / "damaged.nii.gz", big)
    data = bytearray(damaged.read_bytes())
    data[-8] ^= 0xFF  # gzip's CRC-32: nibabel alone reads the voxels and stops before it
    damaged.write_bytes(bytes(data))
    with pytest.raises(EvaluationError, match=r"damaged\.nii\.gz.*not a readable NIfTI.*CRC check failed"):
        evaluate_case("c", damaged, big_ref, regions, 1)
    with pytest.raises(EvaluationError, match=r"missing\.nii\.gz.*not found"):
        evaluate_case("c", tmp_path / "missing.nii.gz", ref, regions, 1)
