"""The raw-dataset check reports every bad case in one run, each with its file and the fix."""

import json

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


def test_a_damaged_gzip_stream_is_not_readable(raw):
    """nibabel stops reading at the data's end; gzip's checksum after it is checked too."""
    image = raw / "imagesTr" / "phantom_002_0000.nii.gz"
    data = bytearray(image.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 of the trailer
    image.write_bytes(bytes(data))
    np.asanyarray(nib.load(image).dataobj)  # what nibabel alone accepts
    with pytest.raises(DatasetError, match=rf"^{image}: not a readable NIfTI file"):
        check_raw_dataset(raw)


def test_4d_label_and_4d_image_are_refused(raw):
    label = raw / "labelsTr" / "phantom_001.nii.gz"
    img = nib.load(label)
    nib.save(nib.Nifti1Image(np.stack([np.asarray(img.dataobj)] * 2, -1), img.affine), str(label))
    image = raw / "imagesTr" / "phantom_003_0000.nii.gz"
    img = nib.load(image)
    nib.save(nib.Nifti1Image(np.stack([np.asarray(img.dataobj)] * 2, -1), img.affine), str(image))
    with pytest.raises(DatasetError) as err:
        check_raw_dataset(raw)
    assert f"{label}: a label map must be 3D, got shape (12, 12, 8, 2)" in str(err.value)
    assert f"{image}: shape (12, 12, 8, 2) differs from its label" in str(err.value)


@pytest.mark.parametrize("change", [lambda m: m.pop("numTraining"), lambda m: m.update(labels=["a", "b"]),
                                    lambda m: m.pop("file_ending")], ids=["numTraining", "labels", "file_ending"])
def test_an_invalid_dataset_json_is_named(raw, change):
    meta_path = raw / "dataset.json"
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match=rf"^{meta_path}: not a valid nnU-Net dataset.json"):
        check_raw_dataset(raw)
    meta_path.write_text("{not json")
    with pytest.raises(DatasetError, match=rf"^{meta_path}: not a valid nnU-Net dataset.json"):
        check_raw_dataset(raw)



@pytest.mark.parametrize("labels, problem", [
    (lambda ls: {k: v for k, v in ls.items() if k != "background"}, 'labels need "background": 0'),
    (lambda ls: {**ls, "extra": max(ls.values()) + 2}, "are not consecutive (0, 1, 2, ...)")],
    ids=["no-background", "gap"])
def test_labels_nnunet_refuses_are_named_before_planning(raw, labels, problem):
    meta_path = raw / "dataset.json"
    meta = json.loads(meta_path.read_text())
    meta["labels"] = labels(meta["labels"])
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetError) as err:  # before: passed (a gap), or 'unknown label value [0]' per case
        check_raw_dataset(raw)
    assert str(err.value).startswith(f"{meta_path}: ") and problem in str(err.value)

def test_a_phantom_written_again_has_only_its_own_cases(raw):
    """Snakemake removes dataset.json before it reruns the rule; the images of a larger phantom stay behind."""
    (raw / "dataset.json").unlink()
    write_phantom_dataset(raw, cases=2, seed=1, shape=(12, 12, 8))
    assert sorted(p.name for p in (raw / "labelsTr").iterdir()) == ["phantom_000.nii.gz", "phantom_001.nii.gz"]
    assert len(list((raw / "imagesTr").iterdir())) == 2 and check_raw_dataset(raw)["cases"] == 2


def test_the_phantom_refuses_a_folder_of_another_dataset(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"name": "mine", "numTraining": 3}))
    with pytest.raises(FileExistsError, match="not a phantom"):
        write_phantom_dataset(tmp_path, cases=1, shape=(12, 12, 8))
    # without its dataset.json (Snakemake deletes the rule's output first): its files, or linked folders
    (tmp_path / "dataset.json").unlink()
    (tmp_path / "labelsTr").mkdir()
    (tmp_path / "labelsTr" / "mine_001.nii.gz").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a phantom"):
        write_phantom_dataset(tmp_path, cases=1, shape=(12, 12, 8))
    assert (tmp_path / "labelsTr" / "mine_001.nii.gz").read_bytes() == b"x"
    (tmp_path / "labelsTr" / "mine_001.nii.gz").unlink()
    (tmp_path / "imagesTr").symlink_to(tmp_path / "labelsTr")
    with pytest.raises(FileExistsError, match="not a phantom"):
        write_phantom_dataset(tmp_path, cases=1, shape=(12, 12, 8))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_an_image_with_nan_or_inf_voxels_is_named(raw, value):
    image = raw / "imagesTr" / "phantom_001_0000.nii.gz"
    img = nib.load(image)
    data = np.asarray(img.dataobj, dtype=np.float32).copy()
    data[1, 2, 3] = data[4, 5, 6] = value
    nib.save(nib.Nifti1Image(data, img.affine), str(image))
    with pytest.raises(DatasetError, match=rf"^{image}: 2 voxel\(s\) are NaN or infinite; replace them"):
        check_raw_dataset(raw)
