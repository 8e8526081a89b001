"""Download -> verify -> extract -> convert for each dataset, from fake archives served on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mednext.data.acquire import (AccessReport, access_status, convert, convert_options, download,
                                   extraction_folder)
from mednext.data.archives import ArchiveError, safe_extract
from mednext.data.convert import ConversionError, RawDatasetWriter
from mednext.data.download import ChecksumError, DownloadError, sha256_of
from mednext.data.synapse import CredentialsError, HttpMirrorAccess, SynapseClientAccess
from mednext.data.validate import DatasetError, check_raw_dataset
from tests.data import fakes


class NoSynapse:
    """A Synapse stand-in that fails the test if it is asked for anything."""

    def fetch(self, *args, **kwargs):
        raise AssertionError("Synapse must not be contacted")


def _run(tmp_path: Path, dataset: str, folder: str, overrides=None, synapse=None):
    dl, sums, raw = tmp_path / "downloads", tmp_path / "checksums", tmp_path / "raw" / folder
    manifest = download(dataset, dl, sums, overrides, synapse=synapse, log=lambda *_: None)
    out = convert(dataset, dl, raw, log=lambda *_: None)
    return manifest, out, sums


def _labels(path: Path) -> np.ndarray:
    return np.asanyarray(nib.load(str(path)).dataobj)


def test_btcv_from_synapse_mirror(tmp_path):
    archive = fakes.btcv_zip()
    with fakes.LocalServer({"/syn3379050/RawData.zip": archive}) as srv:
        manifest, out, sums = _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=HttpMirrorAccess(srv.base))
    summary = check_raw_dataset(out)
    assert summary["cases"] == 3 and summary["labels"] == list(range(14))
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["BTCV_0001.nii.gz", "BTCV_0002.nii.gz",
                                                                     "BTCV_0021.nii.gz"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["labels"]["spleen"] == 1 and meta["labels"]["left adrenal gland"] == 13
    # the copy is the source file, byte for byte
    src = tmp_path / "x.zip"
    src.write_bytes(archive)
    ref = safe_extract(src, tmp_path / "ref")
    assert (out / "imagesTr" / "BTCV_0021_0000.nii.gz").read_bytes() == \
        (ref / "RawData/Training/img/img0021.nii.gz").read_bytes()
    # the first download recorded the checksum; the manifest says so; extraction was cleaned up
    record = json.loads((sums / "btcv.json").read_text())["files"]["RawData.zip"]
    assert record == {"size": len(archive), "sha256": sha256_of(src), "source": "synapse:syn3379050"}
    assert json.loads(manifest.read_text())["files"]["RawData.zip"]["status"] == "recorded"
    assert not list((tmp_path / "downloads" / "btcv").glob("*extracted*"))
    assert not list((tmp_path / "raw").glob(".*partial"))


def test_manual_placement_is_used_and_verified(tmp_path):
    archive = fakes.btcv_zip()
    fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", archive)
    manifest, out, _ = _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert check_raw_dataset(out)["cases"] == 3
    # a second run against the recorded checksum verifies instead of recording
    again = download("btcv", tmp_path / "downloads", tmp_path / "checksums", synapse=NoSynapse(), log=lambda *_: None)
    assert json.loads(again.read_text())["files"]["RawData.zip"]["status"] == "verified"


def test_a_source_file_override_is_the_file_converted(tmp_path):
    # before: download fetched and verified source.file, convert then looked for the default amos22.zip
    with fakes.LocalServer({"/mirror/amos22-v2.zip": fakes.amos_zip()}) as srv:
        manifest, out, sums = _run(tmp_path, "amos22", "Dataset002_AMOS22",
                                   {"url": srv.url("/mirror/amos22-v2.zip"), "file": "amos22-v2.zip"})
    assert json.loads(manifest.read_text())["file"] == "amos22-v2.zip"
    assert not (tmp_path / "downloads" / "amos22" / "amos22.zip").exists()
    assert check_raw_dataset(out)["cases"] == 3
    manifest.write_text("[1, 2]")
    with pytest.raises(DatasetError, match=rf"{manifest}: not a download manifest.*delete it and download again"):
        convert("amos22", tmp_path / "downloads", tmp_path / "raw" / "again", log=lambda *_: None)


def test_amos22_ct_cases_of_training_and_validation(tmp_path):
    with fakes.LocalServer({"/amos22.zip": fakes.amos_zip()}) as srv:
        _, out, _ = _run(tmp_path, "amos22", "Dataset002_AMOS22", {"url": srv.url("/amos22.zip")})
    cases = sorted(p.name for p in (out / "labelsTr").iterdir())
    assert cases == ["amos_0001.nii.gz", "amos_0005.nii.gz", "amos_0008.nii.gz"]  # 0540 is MRI, 0002 unlabelled
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["labels"]["spleen"] == 1 and len(meta["labels"]) == 16
    assert meta["overwrite_image_reader_writer"] == "NibabelIOWithReorient"
    assert check_raw_dataset(out)["cases"] == 3


@pytest.mark.parametrize("options,cases", [
    ({"task": 1, "parts": ["training"]}, ["amos_0001", "amos_0005"]),  # CT of the training part only
    ({"task": 2}, ["amos_0001", "amos_0005", "amos_0008", "amos_0540"]),  # CT and MRI (540)
])
def test_amos22_case_set_is_a_config_value(tmp_path, options, cases):
    fakes.write(tmp_path / "dl" / "amos22" / "amos22.zip", fakes.amos_zip())
    download("amos22", tmp_path / "dl", tmp_path / "sums", log=lambda *_: None)
    settings = {"id": 2, "name": "AMOS22", "cases": options}
    out = convert("amos22", tmp_path / "dl", tmp_path / "raw" / "Dataset002_AMOS22", log=lambda *_: None,
                  options=convert_options("amos22", settings))
    assert sorted(p.name[:-7] for p in (out / "labelsTr").iterdir()) == cases
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == ({"0": "CT"} if options["task"] == 1 else {"0": "CT or MRI"})
    assert f"task {options['task']}" in meta["description"]
    with pytest.raises(DatasetError, match=r"amos22: unknown conversion option\(s\) \['modality'\]"):
        convert("amos22", tmp_path / "dl", tmp_path / "raw" / "x", options={"modality": "CT"})
    with pytest.raises(DatasetError, match="task must be 1 \\(CT\\) or 2"):
        convert("amos22", tmp_path / "dl", tmp_path / "raw" / "y", log=lambda *_: None, options={"task": 3})
    assert not (tmp_path / "raw" / "y").exists()


def test_kits19_labels_archive_and_imaging_per_case(tmp_path):
    files = fakes.kits_files(cases=(0, 1))
    with fakes.LocalServer(files) as srv:
        overrides = {"labels_url": srv.url("/kits19.zip"), "imaging_url": srv.url("/imaging/case_{case:05d}.nii.gz")}
        manifest, out, sums = _run(tmp_path, "kits19", "Dataset003_KiTS19", overrides)
        requested = [p for p, _ in srv.requests]
    assert "/imaging/case_00210.nii.gz" not in requested  # only labelled cases are fetched
    assert sorted(json.loads(manifest.read_text())["files"]) == [
        "imaging/case_00000.nii.gz", "imaging/case_00001.nii.gz", "kits19-labels.zip"]
    assert sorted(json.loads((sums / "kits19.json").read_text())["files"]) == sorted(
        json.loads(manifest.read_text())["files"])
    assert sorted(p.name for p in (out / "imagesTr").iterdir()) == ["case_00000_0000.nii.gz", "case_00001_0000.nii.gz"]
    assert (out / "imagesTr" / "case_00001_0000.nii.gz").read_bytes() == files["/imaging/case_00001.nii.gz"]
    assert check_raw_dataset(out)["labels"] == [0, 1, 2]


def test_brats21_plain_labels_0_to_3_as_the_official_code(tmp_path):
    with fakes.LocalServer({"/syn25829067/BraTS2021_Training_Data.tar": fakes.brats_tar()}) as srv:
        _, out, _ = _run(tmp_path, "brats21", "Dataset004_BraTS21", synapse=HttpMirrorAccess(srv.base))
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "T1", "1": "T1ce", "2": "T2", "3": "Flair"}
    # labels, not regions: every model trains softmax; regions are applied at evaluation only
    assert meta["labels"] == {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumor": 3}
    assert "regions_class_order" not in meta
    src = tmp_path / "brats.tar"
    src.write_bytes(fakes.brats_tar())
    ref = safe_extract(src, tmp_path / "ref")
    for case in ("BraTS2021_00000", "BraTS2021_00002"):
        original = _labels(ref / case / f"{case}_seg.nii.gz")
        converted = _labels(out / "labelsTr" / f"{case}.nii.gz")
        assert set(np.unique(original)) == {0, 1, 2, 4} and converted.shape == original.shape
        # voxel by voxel: BraTS 0 -> 0, 2 (edema) -> 1, 1 (necrosis / non-enhancing) -> 2, 4 (enhancing) -> 3
        expected = np.select([original == 2, original == 1, original == 4], [1, 2, 3], default=0)
        np.testing.assert_array_equal(converted, expected)
        assert set(np.unique(converted)) == {0, 1, 2, 3}
    assert (out / "imagesTr" / "BraTS2021_00002_0003.nii.gz").read_bytes() == \
        (ref / "BraTS2021_00002" / "BraTS2021_00002_flair.nii.gz").read_bytes()
    assert check_raw_dataset(out)["channels"] == 4 and check_raw_dataset(out)["labels"] == [0, 1, 2, 3]


def test_brats21_with_qform_and_sform_apart_converts_and_checks(tmp_path):
    """nnU-Net's label conversion writes through SimpleITK (which reads the qform here), the images are copied
    as they are (nibabel takes their sform): the check goes by SimpleITK's geometry, as nnU-Net reads them."""
    qform = fakes.AFFINE.copy()
    qform[:3, 3] = [-20.0, 10.0, 5.0]
    fakes.write(tmp_path / "dl" / "brats21" / "BraTS2021_Training_Data.tar", fakes.brats_tar(qform=qform))
    download("brats21", tmp_path / "dl", tmp_path / "sums", synapse=NoSynapse(), log=lambda *_: None)
    out = convert("brats21", tmp_path / "dl", tmp_path / "raw" / "Dataset004_BraTS21", log=lambda *_: None)
    assert check_raw_dataset(out)["cases"] == 2


def test_brats21_region_based_is_an_explicit_option(tmp_path):
    fakes.write(tmp_path / "dl" / "brats21" / "BraTS2021_Training_Data.tar", fakes.brats_tar())
    download("brats21", tmp_path / "dl", tmp_path / "sums", synapse=NoSynapse(), log=lambda *_: None)
    assert convert_options("brats21", {"id": 4, "name": "BraTS21"}) == {}  # off by default
    out = convert("brats21", tmp_path / "dl", tmp_path / "raw" / "Dataset004_BraTS21", log=lambda *_: None,
                  options=convert_options("brats21", {"region_based": True}))
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["labels"]["whole tumor"] == [1, 2, 3] and meta["regions_class_order"] == [1, 2, 3]
    with pytest.raises(DatasetError, match=r"btcv: unknown conversion option\(s\) \['region_based'\]"):
        convert("btcv", tmp_path / "dl", tmp_path / "raw" / "x", options={"region_based": True})


@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_damaged_first_copy_is_refused_and_not_recorded(tmp_path, damage):
    """No checksum is published for it: the first copy becomes the reference, so it is read whole first."""
    archive = fakes.btcv_zip()
    bad = bytearray(archive[: len(archive) // 2] if damage == "truncated" else archive)
    if damage == "flipped byte":
        bad[len(bad) // 3] ^= 0xFF
    placed = fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", bytes(bad))
    with pytest.raises(ArchiveError, match=rf"^{placed}: .*Not recorded in .*btcv\.json: delete {placed} and run again"):
        download("btcv", tmp_path / "downloads", tmp_path / "checksums", synapse=NoSynapse(), log=lambda *_: None)
    assert not (tmp_path / "checksums" / "btcv.json").exists()
    assert not (tmp_path / "downloads" / "btcv" / "download.json").exists()
    placed.write_bytes(archive)  # the fix the message gives: a whole copy
    manifest, out, _ = _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert json.loads(manifest.read_text())["files"]["RawData.zip"]["status"] == "recorded"
    assert check_raw_dataset(out)["cases"] == 3


def test_an_archive_gone_after_its_download_names_the_manifest(tmp_path):
    fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip())
    manifest = download("btcv", tmp_path / "downloads", tmp_path / "checksums", synapse=NoSynapse(),
                        log=lambda *_: None)
    (tmp_path / "downloads" / "btcv" / "RawData.zip").unlink()
    with pytest.raises(ArchiveError, match=rf"RawData\.zip: missing.*delete {manifest} as well"):
        convert("btcv", tmp_path / "downloads", tmp_path / "raw" / "Dataset001_BTCV", log=lambda *_: None)


def test_truncated_download_fails_then_resumes(tmp_path):
    archive = fakes.amos_zip()
    with fakes.LocalServer({"/amos22.zip": archive}) as srv:
        srv.truncate_once.add("/amos22.zip")
        overrides = {"url": srv.url("/amos22.zip")}
        with pytest.raises(DownloadError, match=rf"stopped after {len(archive) // 2} of {len(archive)} bytes"):
            download("amos22", tmp_path / "dl", tmp_path / "sums", overrides, log=lambda *_: None)
        folder = tmp_path / "dl" / "amos22"
        assert not (folder / "amos22.zip").exists() and not (folder / "download.json").exists()
        assert (folder / "amos22.zip.part").stat().st_size == len(archive) // 2
        assert not (tmp_path / "sums" / "amos22.json").exists()
        with pytest.raises(DatasetError, match="download.json.*missing"):
            convert("amos22", tmp_path / "dl", tmp_path / "raw" / "Dataset002_AMOS22", log=lambda *_: None)
        download("amos22", tmp_path / "dl", tmp_path / "sums", overrides, log=lambda *_: None)
        assert srv.requests[-1] == ("/amos22.zip", f"bytes={len(archive) // 2}-")  # resumed, not restarted
    assert (folder / "amos22.zip").read_bytes() == archive and not (folder / "amos22.zip.part").exists()


def test_wrong_checksum_names_file_and_writes_no_manifest(tmp_path):
    sums = fakes.write(tmp_path / "sums" / "amos22.json", json.dumps(
        {"files": {"amos22.zip": {"size": 123, "sha256": "0" * 64, "source": "x"}}}).encode())
    before = sums.read_bytes()
    with fakes.LocalServer({"/amos22.zip": fakes.amos_zip()}) as srv:
        with pytest.raises(ChecksumError, match=r"amos22\.zip: size \d+ / sha256 [0-9a-f]{64} but .*records size 123"):
            download("amos22", tmp_path / "dl", tmp_path / "sums", {"url": srv.url("/amos22.zip")}, log=lambda *_: None)
    assert not (tmp_path / "dl" / "amos22" / "download.json").exists()
    assert sums.read_bytes() == before  # the record is never overwritten by a mismatching file


def test_cli_reports_checksum_error_without_traceback(tmp_path):
    fakes.write(tmp_path / "dl" / "btcv" / "RawData.zip", b"not the release")
    fakes.write(tmp_path / "sums" / "btcv.json", json.dumps(
        {"files": {"RawData.zip": {"size": 1, "sha256": "1" * 64, "source": "x"}}}).encode())
    proc = subprocess.run([sys.executable, "-m", "mednext.data.acquire", "download", "btcv", "--downloads",
                           str(tmp_path / "dl"), "--checksums", str(tmp_path / "sums")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {tmp_path / 'dl' / 'btcv' / 'RawData.zip'}: size 15")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv,expected", [
    (["download", "btcv", "--source", "{bad"], "argument --source: not JSON"),
    (["convert", "amos22", "out", "--options", "[1]"], "argument --options: '[1]' is not a JSON object"),
])
def test_cli_json_arguments_that_are_not_objects_are_usage_errors(tmp_path, capsys, argv, expected):
    from mednext.data.acquire import main

    with pytest.raises(SystemExit) as exit_:  # before: a JSONDecodeError / AttributeError traceback
        main(argv + ["--downloads", str(tmp_path / "dl")])
    assert exit_.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "dl").exists()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_unsafe_tar_is_refused_and_nothing_is_written(tmp_path, kind):
    members = {"BraTS2021_00000/BraTS2021_00000_t1.nii.gz": fakes.image(0)}
    links = None
    if kind == "dotdot":
        members["BraTS2021_00000/../../escaped.txt"] = b"x"
    elif kind == "absolute":
        members["/tmp/escaped.txt"] = b"x"
    else:
        links = {"BraTS2021_00000/link": "/etc/passwd"}
    fakes.write(tmp_path / "dl" / "brats21" / "BraTS2021_Training_Data.tar", fakes.tar_bytes(members, links))
    download("brats21", tmp_path / "dl", tmp_path / "sums", synapse=NoSynapse(), log=lambda *_: None)
    out = tmp_path / "raw" / "Dataset004_BraTS21"
    with pytest.raises(ArchiveError, match=r"BraTS2021_Training_Data\.tar: member .*(outside|absolute|link)"):
        convert("brats21", tmp_path / "dl", out, log=lambda *_: None)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()
    assert not out.exists() and not list((tmp_path / "dl" / "brats21").glob("*extract*"))


def test_zip_with_dotdot_is_refused(tmp_path):
    archive = fakes.write(tmp_path / "a.zip", fakes.zip_bytes({"ok.txt": b"1", "../evil.txt": b"2"}))
    with pytest.raises(ArchiveError, match=r"'\.\./evil\.txt' points outside"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out").exists()


def test_unexpected_label_value_names_the_case_and_leaves_nothing(tmp_path):
    fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip(bad_label=20))
    with pytest.raises(DatasetError, match=r"label0021\.nii\.gz: unknown label value\(s\) \[20\].*Case BTCV_0021"):
        _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    raw = tmp_path / "raw"
    assert not (raw / "Dataset001_BTCV").exists()
    assert not raw.exists() or not list(raw.iterdir())  # no partial folder either


@pytest.mark.parametrize("stray", ["img/img_0001.nii.gz", "label/label0001.v2.nii.gz"])
def test_btcv_files_outside_the_release_names_are_refused(tmp_path, stray):
    """A stray file would replace a case's image or add a case (its digits taken for a case number)."""
    extra = {f"RawData/Training/{stray}": fakes.image(5)}
    fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip(extra=extra))
    name = stray.split("/")[1]
    with pytest.raises(ConversionError, match=rf"unexpected file\(s\) \['{re.escape(name)}'\]"):
        _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert not (tmp_path / "raw" / "Dataset001_BTCV").exists()


def test_a_case_added_twice_is_refused(tmp_path):
    image = fakes.write(tmp_path / "src" / "a.nii.gz", fakes.image(1))
    label = fakes.write(tmp_path / "src" / "a_label.nii.gz", fakes.label([1], 1))
    writer = RawDatasetWriter(tmp_path / "raw" / "Dataset009_Twice", "twice")
    writer.add("case_1", [image], label, {0, 1})
    writer.add("case_1", [image], label, {0, 1})
    with pytest.raises(ConversionError, match=r"a_label\.nii\.gz: case case_1 of twice comes twice"):
        writer.finish({0: "CT"}, {"background": 0, "a": 1})
    writer.abort()
    assert not (tmp_path / "raw").exists() or not list((tmp_path / "raw").iterdir())


def test_an_earlier_conversion_is_replaced_and_any_other_folder_refused(tmp_path):
    """Snakemake deletes dataset.json before it runs a conversion again (a new release, other settings): the rest of
    that conversion goes and the new one takes its place. A folder in the way that was not converted here stays."""
    archive = fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip())
    _, out, _ = _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert json.loads((out / "conversion.json").read_text()) == {"dataset": "btcv",
                                                                 "cases": ["BTCV_0001", "BTCV_0002", "BTCV_0021"]}
    (out / "dataset.json").unlink()
    (out / "labelsTr" / "stale_case.nii.gz").write_bytes(b"")  # of the earlier conversion only
    fakes.write(archive, fakes.btcv_zip(numbers=(1, 2, 3, 21)))
    shutil.rmtree(tmp_path / "checksums")  # another release: its checksum is recorded anew
    _, out, _ = _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert check_raw_dataset(out)["cases"] == 4
    assert not (out / "labelsTr" / "stale_case.nii.gz").exists()
    assert not list((tmp_path / "raw").glob(".*"))  # no partial folder left

    other = tmp_path / "raw" / "Dataset001_BTCV"
    (other / "dataset.json").unlink()
    (other / "conversion.json").unlink()  # say, a raw folder written by hand or by an earlier version
    with pytest.raises(ConversionError, match=rf"^{other} exists without dataset.json and was not converted here.*"
                                              "move it away or delete it"):
        _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert len(list((other / "labelsTr").iterdir())) == 4  # left as it was


def test_a_replaced_archive_is_extracted_again(tmp_path):
    """A failed conversion keeps its extraction; the archive downloaded again replaces it."""
    archive = fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip(bad_label=20))
    with pytest.raises(DatasetError, match=r"unknown label value\(s\) \[20\]"):
        _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert (tmp_path / "downloads" / "btcv" / "extracted_Dataset001_BTCV").is_dir()
    fakes.write(archive, fakes.btcv_zip())
    shutil.rmtree(tmp_path / "checksums")  # it recorded the damaged archive's checksum
    _, out, _ = _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    assert check_raw_dataset(out)["cases"] == 3


def test_every_bad_case_is_named_in_one_conversion(tmp_path):
    fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip(bad_label=20, bad_image=1))
    with pytest.raises(DatasetError) as err:
        _run(tmp_path, "btcv", "Dataset001_BTCV", synapse=NoSynapse())
    text = str(err.value)
    assert "converting btcv: 2 problems" in text
    assert "img0001.nii.gz: not a readable NIfTI file" in text
    assert "label0021.nii.gz: unknown label value(s) [20]" in text
    assert not (tmp_path / "raw" / "Dataset001_BTCV").exists()


def test_missing_synapse_credentials_say_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("MEDNEXT_SYNAPSE_MIRROR", raising=False)
    access = SynapseClientAccess(config_file=tmp_path / "no-such-synapseConfig")
    with pytest.raises(CredentialsError) as err:
        download("brats21", tmp_path / "dl", tmp_path / "sums", synapse=access, log=lambda *_: None)
    text = str(err.value)
    assert "SYNAPSE_AUTH_TOKEN" in text and "https://www.synapse.org/#!Synapse:syn25829067/wiki/610863" in text
    assert str(tmp_path / "dl" / "brats21") in text  # the manual-placement alternative
    assert not (tmp_path / "dl" / "brats21" / "download.json").exists()


def test_token_is_never_printed(tmp_path, monkeypatch, capsys):
    """A client whose login error echoes the token: our message must not pass it on."""
    secret = "syn-token-that-must-not-leak-1234567890"
    fake = _FakeSynapseModules({}, project="syn3379050", refuse_login=f"bad token {secret}")
    monkeypatch.setitem(sys.modules, "synapseclient", fake.synapseclient)
    monkeypatch.setitem(sys.modules, "synapseutils", fake.synapseutils)
    monkeypatch.setenv("SYNAPSE_AUTH_TOKEN", secret)
    with pytest.raises(CredentialsError, match="SYNAPSE_AUTH_TOKEN is wrong or expired") as err:
        download("btcv", tmp_path / "dl", tmp_path / "sums", synapse=SynapseClientAccess(tmp_path / "none"),
                 log=print)
    out = capsys.readouterr()
    assert fake.logins == [secret]
    assert secret not in str(err.value) and secret not in out.out + out.err
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained traceback shows it


class _FakeSynapseModules:
    """Stand-ins for ``synapseclient`` / ``synapseutils`` with the API this project calls (4.x)."""

    def __init__(self, files: dict[str, tuple[str, bytes]], project: str, refuse: str | None = None,
                 refuse_login: str | None = None):
        import types

        self.logins, self.files, self.refuse = [], files, refuse
        outer = self

        class File:
            def __init__(self, path=None):
                self.path = path

        class Folder:
            pass

        class Synapse:
            def __init__(self, skip_checks=False, silent=None):
                pass

            def login(self, email=None, silent=False, authToken=None):
                outer.logins.append(authToken)
                if refuse_login:
                    raise RuntimeError(refuse_login)

            def get(self, entity, downloadFile=True, downloadLocation=None, ifcollision=None):  # noqa: N803
                if outer.refuse:
                    raise RuntimeError(outer.refuse)
                if entity == project:
                    return Folder()
                name, data = outer.files[entity]
                if not downloadFile:
                    return File()
                path = Path(downloadLocation) / name
                path.write_bytes(data)
                return File(str(path))

        def walk(syn, synId, includeTypes=None):  # noqa: N803
            assert synId == project and includeTypes == ["file"]
            yield (project, project), [], [(name, fid) for fid, (name, _) in outer.files.items()]

        self.synapseclient = types.SimpleNamespace(Synapse=Synapse, File=File)
        self.synapseutils = types.SimpleNamespace(walk=walk)


def test_synapse_client_finds_the_file_in_the_project_and_logs_in_with_the_token(tmp_path, monkeypatch):
    tar = fakes.brats_tar()
    fake = _FakeSynapseModules({"syn999": ("BraTS2021_Training_Data.tar", tar), "syn998": ("other.txt", b"x")},
                               project="syn25829067")
    monkeypatch.setitem(sys.modules, "synapseclient", fake.synapseclient)
    monkeypatch.setitem(sys.modules, "synapseutils", fake.synapseutils)
    monkeypatch.setenv("SYNAPSE_AUTH_TOKEN", "tok")
    download("brats21", tmp_path / "dl", tmp_path / "sums", synapse=SynapseClientAccess(tmp_path / "none"),
             log=lambda *_: None)
    assert fake.logins == ["tok"]
    folder = tmp_path / "dl" / "brats21"
    assert (folder / "BraTS2021_Training_Data.tar").read_bytes() == tar
    assert not (folder / ".synapse-download").exists()


def test_synapse_refusal_points_to_the_terms(tmp_path, monkeypatch):
    fake = _FakeSynapseModules({}, project="syn3379050", refuse="403 Client Error: Forbidden")
    monkeypatch.setitem(sys.modules, "synapseclient", fake.synapseclient)
    monkeypatch.setitem(sys.modules, "synapseutils", fake.synapseutils)
    config = fakes.write(tmp_path / "synapseConfig", b"[authentication]\nauthtoken = abc\n")
    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    with pytest.raises(CredentialsError, match=r"accept the data terms at https://www\.synapse\.org/#!Synapse:syn3193805"):
        download("btcv", tmp_path / "dl", tmp_path / "sums", synapse=SynapseClientAccess(config), log=lambda *_: None)
    assert fake.logins == [None]  # the config file's token: the client reads it itself
    assert not (tmp_path / "dl" / "btcv" / "download.json").exists()


def test_access_status_says_what_needs_the_user(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("MEDNEXT_SYNAPSE_MIRROR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.synapseConfig
    dl = tmp_path / "dl"
    ready, line = access_status("btcv", dl)
    assert not ready and "SYNAPSE_AUTH_TOKEN" in line and f"place RawData.zip in {dl / 'btcv'}/" in line
    assert access_status("amos22", dl)[0] and "no account needed" in access_status("amos22", dl)[1]
    fakes.write(dl / "brats21" / "BraTS2021_Training_Data.tar", b"placed by hand")
    assert access_status("brats21", dl) == (True, f"brats21: BraTS2021_Training_Data.tar placed in {dl / 'brats21'}/ "
                                                  "(verified at download)")
    monkeypatch.setenv("SYNAPSE_AUTH_TOKEN", "secret-token-value")
    installed = {"synapseclient": False}
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object() if installed.get(name, True) else None)
    ready, line = access_status("btcv", dl)
    assert not ready and "NEEDS synapseclient" in line
    installed["synapseclient"] = True
    ready, line = access_status("btcv", dl)
    assert ready and "from SYNAPSE_AUTH_TOKEN" in line and "secret-token-value" not in line


def test_access_report_logs_each_dataset_once(tmp_path, monkeypatch, caplog):
    import logging
    from types import SimpleNamespace

    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("MEDNEXT_SYNAPSE_MIRROR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    report = AccessReport(tmp_path / "dl", log=logging.getLogger("test-access"))
    with caplog.at_level(logging.INFO, logger="test-access"):
        for dataset in ("btcv", "btcv", "amos22"):
            assert report.input(SimpleNamespace(dataset=dataset)) == []
    assert [(r.levelname, r.getMessage()[:27]) for r in caplog.records] == [
        ("WARNING", "data access: btcv: NEEDS a "), ("INFO", "data access: amos22: direct")]
    with pytest.raises(CredentialsError, match=r"(?s)before the first job.*btcv: NEEDS.*--keep-going"):
        report.check()
    silent = AccessReport(tmp_path / "dl", log=None)  # e.g. inside a cluster job: says and checks nothing
    silent("btcv")
    silent.check()


def test_each_raw_dataset_extracts_into_its_own_folder_and_the_old_shared_one_goes(tmp_path):
    """Variants of one download (datasets.<key>.of) convert at once: each extracts beside the download into
    extracted_<raw folder>; the one shared folder earlier versions kept after a failed conversion is removed."""
    fakes.write(tmp_path / "downloads" / "btcv" / "RawData.zip", fakes.btcv_zip())
    old = fakes.write(tmp_path / "downloads" / "btcv" / "extracted" / "RawData" / "stale.txt", b"x")
    download("btcv", tmp_path / "downloads", tmp_path / "checksums", synapse=NoSynapse(), log=lambda *_: None)
    for folder in ("Dataset001_BTCV", "Dataset011_BTCVAgain"):
        convert("btcv", tmp_path / "downloads", tmp_path / "raw" / folder, keep_extracted=True, log=lambda *_: None)
        assert (extraction_folder(tmp_path / "downloads", "btcv", tmp_path / "raw" / folder) / "RawData").is_dir()
        assert check_raw_dataset(tmp_path / "raw" / folder)["cases"] == 3
    assert not old.parent.parent.exists()
    assert sorted(p.name for p in (tmp_path / "downloads" / "btcv").iterdir()) == [
        "RawData.zip", "download.json", "extracted_Dataset001_BTCV", "extracted_Dataset011_BTCVAgain"]
