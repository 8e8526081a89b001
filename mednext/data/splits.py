"""The pinned 5-fold splits every model of a dataset trains on (nnU-Net's ``splits_final.json``).

The splits are nnU-Net's own (``generate_crossval_split``, seed 12345, sorted case ids) and are
generated once: ``config/splits/<dataset>.json`` is shipped for datasets whose case list is known
in advance (BTCV, KiTS19) and written by the first conversion for the others (commit it). A
shipped file must list exactly the dataset's cases; a difference (another release, a missing
case) stops the run instead of silently training on other folds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nnunetv2.utilities.crossval_split import generate_crossval_split

from mednext.data.validate import DatasetError
from mednext.files import write_text_atomic

__all__ = ["DEFAULT", "SEED", "N_FOLDS", "make_splits", "pinned_identity", "pinned_splits", "raw_cases"]

SEED, N_FOLDS = 12345, 5
DEFAULT = "nnU-Net's splits of the listed cases"  # pinned_identity of make_splits' folds


def raw_cases(raw_dir: str | Path) -> list[str]:
    raw_dir = Path(raw_dir)
    ending = json.loads((raw_dir / "dataset.json").read_text()).get("file_ending", ".nii.gz")
    return sorted(p.name[: -len(ending)] for p in (raw_dir / "labelsTr").glob(f"*{ending}"))


def make_splits(cases: list[str]) -> list[dict]:
    return generate_crossval_split(sorted(cases), seed=SEED, n_splits=N_FOLDS)


def _read(shipped: Path) -> list[dict]:
    try:
        splits = json.loads(shipped.read_text())
        if isinstance(splits, list) and splits and all(
                isinstance(f, dict) and isinstance(f.get("train"), list) and isinstance(f.get("val"), list)
                for f in splits):
            return splits
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    raise DatasetError(f"{shipped}: not a list of folds in nnU-Net's splits_final.json form ([{{\"train\": [case ids], "
                       "\"val\": [case ids]}, ...]). Correct it, or delete it to make new splits (results are then not "
                       "comparable with earlier runs).")


def pinned_identity(shipped: str | Path) -> str:
    """What a pinned file means for the results, for the workflow to rerun on: :data:`DEFAULT` where it is absent
    or holds nnU-Net's own splits of the cases it lists (the file a first run records: what the runs trained on
    already), else the sha256 of its folds (an edit reruns the splits and every training on them; a change of
    white space alone does not). A file that is not splits: the sha256 of its bytes (the rule then says why)."""
    shipped = Path(shipped)
    if not shipped.is_file():
        return DEFAULT
    try:
        splits = _read(shipped)
    except DatasetError:
        return hashlib.sha256(shipped.read_bytes()).hexdigest()
    if splits == make_splits(sorted(set(splits[0]["train"]) | set(splits[0]["val"]))):
        return DEFAULT
    return hashlib.sha256(json.dumps(splits).encode()).hexdigest()


def pinned_splits(cases: list[str], shipped: str | Path, write_if_missing: bool) -> tuple[list[dict], str]:
    """The splits for ``cases``: the shipped file (checked), or new ones (written there if asked)."""
    shipped = Path(shipped)
    if shipped.is_file():
        splits = _read(shipped)
        for i, fold in enumerate(splits):
            if sorted(fold["train"] + fold["val"]) != sorted(cases):
                listed = set(fold["train"]) | set(fold["val"])
                extra, missing = sorted(listed - set(cases)), sorted(set(cases) - listed)
                raise DatasetError(
                    f"{shipped}: fold {i} does not cover exactly this dataset's {len(cases)} cases (listed but "
                    f"absent: {extra[:5]}{'...' if len(extra) > 5 else ''}; present but unlisted: "
                    f"{missing[:5]}{'...' if len(missing) > 5 else ''}). The dataset differs from the one the "
                    "splits were made for (another release, a missing case, other `cases` in its config): restore "
                    "the missing cases, or delete the file to make new splits (results are then not comparable "
                    "with earlier runs); to keep both case lists, add the other as a variant (`of`), which has "
                    "its own splits file.")
        return splits, "shipped"
    splits = make_splits(cases)
    if write_if_missing:
        write_text_atomic(shipped, json.dumps(splits, indent=1) + "\n")
        return splits, "generated and recorded"
    return splits, "generated"
