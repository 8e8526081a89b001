"""The tidy per-case table: one row per case x region for one dataset x model (x fold).

Written by evaluating a folder of out-of-fold predictions against the references, read back
(with validation) by the aggregation step. Columns: ``dataset, model, fold, case, region, dice,
nsd, reference_voxels, predicted_voxels``. A metric may be NaN only where it is undefined
(reference and prediction both empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from mednext.evaluation.metrics import evaluate_case
from mednext.files import write_text_atomic

__all__ = ["COLUMNS", "PerCaseError", "evaluate_folder", "read_per_case", "write_atomic_csv"]

COLUMNS = ["dataset", "model", "fold", "case", "region", "dice", "nsd", "reference_voxels", "predicted_voxels"]


class PerCaseError(ValueError):
    """A malformed per-case file; the message names it."""


def evaluate_folder(pred_dir: str | Path, ref_dir: str | Path, case_folds: Mapping[str, int],
                    regions: Mapping[str, Sequence[int]], tolerance_mm: float, dataset: str, model: str,
                    allowed_labels: Sequence[int] | None = None, file_ending: str = ".nii.gz") -> pd.DataFrame:
    """Score ``pred_dir/<case><ending>`` against ``ref_dir/<case><ending>`` for every case in ``case_folds``."""
    pred_dir, ref_dir = Path(pred_dir), Path(ref_dir)
    rows = []
    for case, fold in sorted(case_folds.items()):
        for metric in evaluate_case(case, pred_dir / f"{case}{file_ending}", ref_dir / f"{case}{file_ending}",
                                    regions, tolerance_mm, allowed_labels):
            rows.append({"dataset": dataset, "model": model, "fold": int(fold), **asdict(metric)})
    return pd.DataFrame(rows, columns=COLUMNS)


def write_atomic_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV so that a reader never sees a half-written file (temp file + rename)."""
    write_text_atomic(path, df.to_csv(index=False))


def read_per_case(path: str | Path) -> pd.DataFrame:
    """Read and validate a per-case CSV; any defect is a :class:`PerCaseError` naming the file."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except Exception as err:
        raise PerCaseError(f"{path}: cannot be read as CSV ({err})") from err
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise PerCaseError(f"{path}: missing column(s) {missing}; expected {COLUMNS}")
    for col in ("dataset", "model", "fold", "case", "region", "reference_voxels", "predicted_voxels"):
        if df[col].isna().any():
            raise PerCaseError(f"{path}: empty values in column {col!r} (row {int(df[col].isna().idxmax()) + 2})")
    both_empty = (df["reference_voxels"] == 0) & (df["predicted_voxels"] == 0)
    for col in ("dice", "nsd"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & ~both_empty
        if bad.any():
            row = df[bad].iloc[0]
            raise PerCaseError(f"{path}: {col} is NaN for case {row['case']!r} region {row['region']!r}, "
                               "but NaN is only allowed where reference and prediction are both empty")
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
