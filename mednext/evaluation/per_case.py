"""The tidy per-case table: one row per case x class for one dataset x model (x fold).

Written by evaluating out-of-fold predictions against the references (the workflow's rule
``evaluate`` and the ``mednext-evaluate`` command write the same table), read back (with
validation) by the aggregation step. Each row holds both evaluation protocols
(``mednext.evaluation.metrics``): ``paper_labels, paper_dice, paper_sdc`` with the voxel counts
of the paper's class definition, and ``physical_labels, physical_dice, physical_nsd`` with
those of the physical one. A metric may be NaN only where it is undefined under its protocol:
a ``paper`` metric where reference and prediction are both empty; a ``physical`` one never (it
scores that 1: ``mednext.evaluation.metrics.BOTH_EMPTY``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from mednext.evaluation.metrics import BOTH_EMPTY, evaluate_case
from mednext.evaluation.regions import PROTOCOLS
from mednext.files import write_text_atomic

__all__ = ["COLUMNS", "METRICS", "PerCaseError", "evaluate_folder", "evaluate_predictions", "read_per_case",
           "write_atomic_csv"]

METRICS = {"paper": ("paper_dice", "paper_sdc"), "physical": ("physical_dice", "physical_nsd")}
COLUMNS = ["dataset", "model", "fold", "case", "region"] + [
    c for p in PROTOCOLS for c in (f"{p}_labels", *METRICS[p], f"{p}_reference_voxels", f"{p}_predicted_voxels")]


class PerCaseError(ValueError):
    """A malformed per-case file; the message names it."""


def evaluate_predictions(predictions: pd.DataFrame, ref_dir: str | Path,
                         classes: Mapping[str, Mapping[str, Sequence[int]]], tolerance_mm: float, dataset: str,
                         model: str, allowed_labels: Sequence[int] | None = None,
                         file_ending: str = ".nii.gz", ignore_label: int | None = None) -> pd.DataFrame:
    """Score each ``predictions`` row (``case, fold, path``) against ``ref_dir/<case><ending>``, sorted by case
    (``ignore_label``: see :func:`mednext.evaluation.metrics.evaluate_case`)."""
    rows = []
    for _, p in predictions.sort_values("case").iterrows():
        for metric in evaluate_case(p["case"], p["path"], Path(ref_dir) / f"{p['case']}{file_ending}", classes,
                                    tolerance_mm, allowed_labels, ignore_label):
            rows.append({"dataset": dataset, "model": model, "fold": int(p["fold"]), **asdict(metric)})
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluate_folder(pred_dir: str | Path, ref_dir: str | Path, case_folds: Mapping[str, int],
                    classes: Mapping[str, Mapping[str, Sequence[int]]], tolerance_mm: float, dataset: str, model: str,
                    allowed_labels: Sequence[int] | None = None, file_ending: str = ".nii.gz",
                    ignore_label: int | None = None) -> pd.DataFrame:
    """Score ``pred_dir/<case><ending>`` against ``ref_dir/<case><ending>`` for every case in ``case_folds``."""
    listing = pd.DataFrame([{"case": c, "fold": f, "path": str(Path(pred_dir) / f"{c}{file_ending}")}
                            for c, f in case_folds.items()], columns=["case", "fold", "path"])
    return evaluate_predictions(listing, ref_dir, classes, tolerance_mm, dataset, model, allowed_labels, file_ending,
                                ignore_label)


def write_atomic_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV so that a reader never sees a half-written file (temp file + rename)."""
    write_text_atomic(path, df.to_csv(index=False))


def read_per_case(path: str | Path) -> pd.DataFrame:
    """Read and validate a per-case CSV; any defect is a :class:`PerCaseError` naming the file."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={f"{p}_labels": str for p in PROTOCOLS})
    except Exception as err:
        raise PerCaseError(f"{path}: cannot be read as CSV ({err})") from err
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise PerCaseError(f"{path}: missing column(s) {missing}; expected {COLUMNS} (a per-case file written "
                           "before both evaluation protocols existed: rerun its evaluate job)")
    required = [c for c in COLUMNS if not any(c in m for m in METRICS.values())]
    for col in required:
        if df[col].isna().any():
            raise PerCaseError(f"{path}: empty values in column {col!r} (row {int(df[col].isna().idxmax()) + 2})")
    for protocol, metrics in METRICS.items():
        both_empty = (df[f"{protocol}_reference_voxels"] == 0) & (df[f"{protocol}_predicted_voxels"] == 0)
        undefined = both_empty if math.isnan(BOTH_EMPTY[protocol]) else False  # where NaN is the protocol's value
        for col in metrics:
            values = pd.to_numeric(df[col], errors="coerce")
            bad = values.isna() & ~undefined
            if bad.any():
                row = df[bad].iloc[0]
                rule = ("NaN is only allowed where reference and prediction are both empty"
                        if math.isnan(BOTH_EMPTY[protocol]) else
                        f"the {protocol} protocol is never NaN (both masks empty score {BOTH_EMPTY[protocol]:g}; "
                        "a file written before that rule: rerun its evaluate job)")
                raise PerCaseError(f"{path}: {col} is NaN for case {row['case']!r} region {row['region']!r}, "
                                   f"but {rule}")
            if ((values < 0) | (values > 1)).any():
                raise PerCaseError(f"{path}: {col} outside [0, 1]")
            df[col] = values
    duplicated = df.duplicated(["dataset", "model", "case", "region"])
    if duplicated.any():
        row = df[duplicated].iloc[0]
        raise PerCaseError(f"{path}: duplicate case {row['case']!r} region {row['region']!r} for model "
                           f"{row['model']!r}")
    df["fold"] = df["fold"].astype(int)
    return df
