"""The raw-dataset check reports every bad case in one run, each with its file and the fix."""

import nibabel as nib
import numpy as np
import pytest

from mednext.data.phantom import write_phantom_dataset
from mednext.data.validate import DatasetError, check_raw_dataset, main


@pytest.fixture
def raw(tmp_path):
    return write_phantom_dataset(tmp_path / "Dataset905_Bad", cases=4, seed=1, shape=(12, 12, 8))


def _unknown_label(raw, case, value=7):
    path = raw / "labelsTr" / f"{case}.nii.gz"
    img = nib.load(path)
    data = np.asarray(img.dataobj).copy()
    data[0, 0, 0] = value
    nib.save(nib.Nifti1Image(data, img.affine), str(path))
    return path


def test_two_different_bad_cases_are_named_in_one_run(raw, capsys):
    label = _unknown_label(raw, "phantom_001")
    image = raw / "imagesTr" / "phantom_003_0000.nii.gz"
    image.write_bytes(b"a PNG or DICOM file renamed to .nii.gz")
    assert main([str(raw), str(raw / "summary.json")]) == 1
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert f"{label}: unknown label value(s) [7]" in err and "Fix the label map" in err
    assert f"{image}: not a readable NIfTI file" in err and "Re-create or re-download this case" in err
    assert not (raw / "summary.json").exists()


def test_count_mismatch_is_reported_beside_the_bad_cases(raw):
    label = _unknown_label(raw, "phantom_002", value=9)
    (raw / "labelsTr" / "phantom_000.nii.gz").unlink()
    with pytest.raises(DatasetError) as err:
        check_raw_dataset(raw)
    text = str(err.value)
    assert "3 label files but dataset.json says numTraining=4" in text
    assert f"{label}: unknown label value(s) [9]" in text


def test_one_problem_is_reported_as_is(raw):
    _unknown_label(raw, "phantom_000")
    with pytest.raises(DatasetError, match=r"^\S+phantom_000\.nii\.gz: unknown label value\(s\) \[7\]"):
        check_raw_dataset(raw)


def test_a_clean_dataset_passes(raw):
    assert check_raw_dataset(raw)["cases"] == 4
