"""Per-case tables: evaluation of a folder, atomic writes, and validation with the file named."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mednext.evaluation.per_case import COLUMNS, PerCaseError, evaluate_folder, read_per_case, write_atomic_csv
from mednext.evaluation.regions import classes_for


def _nii(path, array):
    nib.save(nib.Nifti1Image(array.astype(np.uint8), np.diag([0.8, 0.8, 2.0, 1])), str(path))


@pytest.fixture
def folders(tmp_path):
    pred, ref = tmp_path / "pred", tmp_path / "ref"
    pred.mkdir()
    ref.mkdir()
    for i in range(3):
        r = np.zeros((16, 16, 8), np.uint8)
        r[4:10, 4:10, 2:6] = 1
        if i != 2:
            r[11:14, 11:14, 2:4] = 2  # case 2 has no class 2
        p = np.roll(r, i, axis=0)
        _nii(ref / f"case{i}.nii.gz", r)
        _nii(pred / f"case{i}.nii.gz", p)
    return pred, ref


def test_evaluate_folder_and_roundtrip(folders, tmp_path):
    pred, ref = folders
    classes = classes_for("phantom", {"labels": {"background": 0, "a": 1, "b": 2}})
    df = evaluate_folder(pred, ref, {"case0": 0, "case1": 1, "case2": 2}, classes, 1.0,
                         "phantom", "m", allowed_labels=[0, 1, 2])
    assert list(df.columns) == COLUMNS and len(df) == 6
    row = df[(df.case == "case0") & (df.region == "a")].iloc[0]
    assert row.paper_dice == row.paper_sdc == row.physical_dice == row.physical_nsd == 1.0 and row.fold == 0
    undefined = df[(df.case == "case2") & (df.region == "b")].iloc[0]  # both empty
    assert np.isnan(undefined.paper_dice) and np.isnan(undefined.paper_sdc)
    assert undefined.physical_dice == undefined.physical_nsd == 1.0  # Metrics Reloaded: both empty is best
    out = tmp_path / "t" / "per_case.csv"
    write_atomic_csv(df, out)
    back = read_per_case(out)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert [p.name for p in out.parent.iterdir()] == ["per_case.csv"]  # no temp file left


def _row(case, dice, nsd, voxels):
    return {"dataset": "d", "model": "m", "fold": 0, "case": case, "region": "a",
            **{f"{p}_{k}": v for p in ("paper", "physical") for k, v in (
                ("labels", "1"), ("dice", dice), ("reference_voxels", voxels), ("predicted_voxels", voxels + 1))},
            "paper_sdc": nsd, "physical_nsd": nsd}


def _valid():
    # c1: both masks empty: NaN under paper, 1 under physical
    return pd.DataFrame([_row("c0", 0.9, 0.8, 10), _row("c1", np.nan, np.nan, 0)]).assign(
        paper_predicted_voxels=[11, 0], physical_predicted_voxels=[11, 0], physical_dice=[0.9, 1.0],
        physical_nsd=[0.8, 1.0])[COLUMNS]


@pytest.mark.parametrize("mutate,message", [
    (lambda df: df.drop(columns=["physical_nsd"]), r"missing column\(s\) \['physical_nsd'\]"),
    (lambda df: df.assign(paper_dice=[np.nan, np.nan]), r"paper_dice is NaN for case 'c0'"),
    (lambda df: df.assign(paper_reference_voxels=[10, 3]), r"paper_dice is NaN for case 'c1'"),
    (lambda df: pd.concat([df, df.iloc[[0]]]), r"duplicate case 'c0' region 'a'"),
    (lambda df: df.assign(physical_nsd=[1.5, 1.0]), r"physical_nsd outside \[0, 1\]"),
    (lambda df: df.assign(physical_dice=[0.9, np.nan]), r"physical_dice is NaN for case 'c1'.*never NaN"),
    (lambda df: df.assign(case=["c0", None]), r"empty values in column 'case'"),
])
def test_malformed_per_case_files_name_the_file(tmp_path, mutate, message):
    path = tmp_path / "bad_per_case.csv"
    mutate(_valid()).to_csv(path, index=False)
    with pytest.raises(PerCaseError, match=r"bad_per_case\.csv: " + message):
        read_per_case(path)


def test_valid_file_reads(tmp_path):
    path = tmp_path / "ok.csv"
    _valid().to_csv(path, index=False)
    assert len(read_per_case(path)) == 2
