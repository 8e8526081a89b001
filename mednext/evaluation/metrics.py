"""Per-case, per-class metrics of the two evaluation protocols (``paper`` and ``physical``).

* ``paper``, the official MedNeXt evaluation (``region_based_evaluation.py`` of MIC-DKFZ/MedNeXt):
  Dice, and the surface Dice "SDC" from DeepMind's ``surface-distance`` at **unit spacing**
  (``[1, 1, 1]``) with a tolerance of 1, i.e. one voxel whatever the image's spacing.
* ``physical``: Dice, and the normalized surface Dice "NSD" at the image's own spacing with the
  dataset's tolerance in mm (DeepMind's implementation called as is).

Empty masks (:data:`BOTH_EMPTY`): reference and prediction both empty -> ``paper``: NaN (the
official code's rule: undefined, dropped from the means); ``physical``: 1, the best value (Metrics
Reloaded's rule, as its reference implementation scores DSC and NSD: MetricsReloaded
``pairwise_measures.py``, ``dsc`` and ``normalised_surface_distance``). Exactly one of them empty
-> 0 in both protocols. That is medpy's Dice and what ``surface-distance`` returns with one empty
mask (no surface point lies within tolerance), so the official values are reproduced; we return it
without calling the library, whose empty-mask path uses ``np.Inf`` and fails under NumPy 2. The
protocols differ in this rule, in the surface metric, in KiTS19's kidney class
(``mednext.evaluation.regions``) and in how cases and classes are averaged
(``mednext.evaluation.statistics``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import surface_distance

from mednext.data.validate import read_nifti, same_sitk_geometry

__all__ = ["BOTH_EMPTY", "dice", "nsd", "sdc", "CaseMetric", "evaluate_masks", "evaluate_case", "load_label_map",
           "label_text", "EvaluationError"]


class EvaluationError(ValueError):
    """A prediction or reference that cannot be evaluated; the message names the file."""


# Dice and surface Dice of a class whose reference and prediction are both empty, per protocol
BOTH_EMPTY = {"paper": math.nan, "physical": 1.0}


def _empty_rule(pred: np.ndarray, ref: np.ndarray, both_empty: float) -> float | None:
    """``both_empty`` if both are empty, 0 if exactly one is, None if neither is."""
    has_pred, has_ref = bool(pred.any()), bool(ref.any())
    if not has_pred and not has_ref:
        return both_empty
    if has_pred != has_ref:
        return 0.0
    return None


def dice(pred: np.ndarray, ref: np.ndarray, both_empty: float = math.nan) -> float:
    """Dice of two boolean masks (``both_empty`` when both are empty: NaN, the paper protocol's value)."""
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    special = _empty_rule(pred, ref, both_empty)
    if special is not None:
        return special
    return float(2.0 * np.logical_and(pred, ref).sum() / (pred.sum() + ref.sum()))


def nsd(pred: np.ndarray, ref: np.ndarray, spacing_mm: Sequence[float], tolerance_mm: float,
        both_empty: float = math.nan) -> float:
    """Normalized surface Dice at ``tolerance_mm`` (DeepMind's implementation; ``both_empty`` when both are empty)."""
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    special = _empty_rule(pred, ref, both_empty)
    if special is not None:
        return special
    distances = surface_distance.compute_surface_distances(ref, pred, tuple(float(s) for s in spacing_mm))
    return float(surface_distance.compute_surface_dice_at_tolerance(distances, float(tolerance_mm)))


def sdc(pred: np.ndarray, ref: np.ndarray) -> float:
    """The official MedNeXt surface Dice: spacing [1, 1, 1], tolerance 1 (one voxel along any axis)."""
    return nsd(pred, ref, (1.0, 1.0, 1.0), 1.0, BOTH_EMPTY["paper"])


def label_text(labels: Sequence[int]) -> str:
    """Label values as written in the per-case table, e.g. ``1+2``."""
    return "+".join(str(int(v)) for v in labels)


@dataclass(frozen=True)
class CaseMetric:
    """One row of the tidy per-case table: one class of one case under both protocols."""

    case: str
    region: str
    paper_labels: str
    paper_dice: float
    paper_sdc: float
    paper_reference_voxels: int
    paper_predicted_voxels: int
    physical_labels: str
    physical_dice: float
    physical_nsd: float
    physical_reference_voxels: int
    physical_predicted_voxels: int


def evaluate_masks(case: str, pred: np.ndarray, ref: np.ndarray, spacing_mm: Sequence[float],
                   classes: Mapping[str, Mapping[str, Sequence[int]]], tolerance_mm: float) -> list[CaseMetric]:
    """Both protocols for every class of one case; ``classes`` maps name -> {protocol: label values}."""
    rows = []
    for name, labels in classes.items():
        p, r = np.isin(pred, labels["paper"]), np.isin(ref, labels["paper"])
        q, s = np.isin(pred, labels["physical"]), np.isin(ref, labels["physical"])
        rows.append(CaseMetric(
            case, name,
            label_text(labels["paper"]), dice(p, r, BOTH_EMPTY["paper"]), sdc(p, r), int(r.sum()), int(p.sum()),
            label_text(labels["physical"]), dice(q, s, BOTH_EMPTY["physical"]),
            nsd(q, s, spacing_mm, tolerance_mm, BOTH_EMPTY["physical"]), int(s.sum()), int(q.sum())))
    return rows


def load_label_map(path: str | Path) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Integer label array, affine and spacing (mm) of a NIfTI label map, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{path}: file not found")
    try:
        img, data = read_nifti(path)
    except Exception as err:  # nibabel and gzip raise several types for truncated, damaged or foreign files
        raise EvaluationError(f"{path}: not a readable NIfTI file ({err}); re-create or re-download it") from err
    if data.ndim != 3:
        raise EvaluationError(f"{path}: expected a 3D label map, got shape {data.shape}")
    if not np.all(np.isfinite(data)) or not np.all(np.equal(np.mod(data, 1), 0)):
        raise EvaluationError(f"{path}: label maps must hold integer values")
    return data.astype(np.int64), img.affine, tuple(float(z) for z in img.header.get_zooms()[:3])


def evaluate_case(case: str, pred_path: str | Path, ref_path: str | Path,
                  classes: Mapping[str, Mapping[str, Sequence[int]]], tolerance_mm: float,
                  allowed_labels: Sequence[int] | None = None, ignore_label: int | None = None) -> list[CaseMetric]:
    """Load prediction and reference, check they agree in grid and labels, and score every class.

    ``ignore_label``: the value of nnU-Net's ``ignore`` label (``dataset.json``; sparse references),
    allowed in the reference only; its voxels count in neither mask (as nnU-Net's own evaluation),
    so the voxel counts and both protocols' metrics leave them out."""
    pred, pred_affine, _ = load_label_map(pred_path)
    ref, ref_affine, spacing = load_label_map(ref_path)
    if pred.shape != ref.shape:
        raise EvaluationError(f"{pred_path}: shape {pred.shape} differs from the reference {ref_path} {ref.shape}; "
                              "predictions must be exported at the original image geometry")
    if not np.allclose(pred_affine, ref_affine, atol=1e-3) and not same_sitk_geometry(pred_path, ref_path):
        raise EvaluationError(f"{pred_path}: affine (spacing/orientation) differs from the reference {ref_path}; "
                              "predictions must be exported at the original image geometry")
    if allowed_labels is not None:
        in_ref = [*allowed_labels, *([] if ignore_label is None else [ignore_label])]
        for path, array, allowed in ((pred_path, pred, list(allowed_labels)), (ref_path, ref, in_ref)):
            unknown = sorted(set(np.unique(array).tolist()) - set(allowed))
            if unknown:
                raise EvaluationError(f"{path}: unknown label value(s) {unknown}; expected a subset of "
                                      f"{sorted(allowed)} (see the dataset's dataset.json)")
    if ignore_label is not None:
        ignored = ref == ignore_label
        pred, ref = np.where(ignored, 0, pred), np.where(ignored, 0, ref)
    return evaluate_masks(case, pred, ref, spacing, classes, tolerance_mm)
