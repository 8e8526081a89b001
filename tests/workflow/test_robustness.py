"""The workflow survives a killed training job and refuses corrupt input without half-written results."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import nibabel as nib
import numpy as np
import pytest

from mednext.data.phantom import write_phantom_dataset
from mednext.nnunet.checkpoints import load_checkpoint

from .small_run import config, snakemake, workdir, write_config

pytestmark = pytest.mark.slow


def _phantom(**budget):
    return {"phantom": {"id": 902, "name": "Phantom", "synthetic": True,
                        "phantom": {"cases": 5, "seed": 2, "shape": [28, 28, 20], "spacing": [1, 1, 1.5]},
                        "folds": [0], "patch": 32, "budget": budget}}


def test_killed_training_resumes_and_finishes(tmp_path):
    wd = workdir(tmp_path, _phantom(epochs=4, iterations=2, val_iterations=1), save_every=1)
    run = "e4_it2_val1/Dataset902_Phantom/nnUNetTrainerMedNeXt_S_k3__nnUNetPlans_MedNeXt__3d_fullres_p32/fold_0"
    fold = wd / "resources/res" / run
    target = str(fold.relative_to(wd) / "checkpoint_final.pth")
    proc = subprocess.Popen(["snakemake", "--configfile", "test.yaml", "--cores", "2", target], cwd=wd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:  # wait until at least one epoch is saved, then kill everything
            if (fold / "checkpoint_latest.pth").is_file() and proc.poll() is None:
                time.sleep(1)
                break
            if proc.poll() is not None:
                pytest.fail("snakemake ended before a checkpoint was written")
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint_latest.pth within 10 minutes")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (fold / "checkpoint_final.pth").exists()
    interrupted_epoch = load_checkpoint(fold / "checkpoint_latest.pth")["current_epoch"]
    assert 1 <= interrupted_epoch < 4

    # a hard kill leaves Snakemake's lock behind: unlock, as a user would, then rerun
    assert snakemake(wd, "--unlock").returncode == 0
    rerun = snakemake(wd, target, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    log = (wd / "logs/train" / f"{run}.log").read_text()
    last_attempt = log.split("\n== ")[-1]  # the log keeps every attempt, each after a "== <time> on <host>" line
    assert f"\nresuming from {fold.relative_to(wd)}/checkpoint_latest.pth\n" in last_attempt
    final = load_checkpoint(fold / "checkpoint_final.pth")
    assert final["current_epoch"] == 4
    assert len(final["logging"]["epoch_end_timestamps"]) == 4  # continued, not restarted
    record = json.loads((fold / "run_record.json").read_text())
    assert record["epochs_completed"] == 4 and record["budget"]["epochs"] == 4
    assert len(record["learning_curve"]["val_loss"]) == 4  # the resumed run's curve holds every epoch
    assert (fold / "validation" / "summary.json").is_file()


def _user_dataset(tmp_path):
    raw = tmp_path / "mydata"
    write_phantom_dataset(raw, cases=5, seed=3, shape=(20, 20, 16))
    return raw, {"mine": {"id": 903, "name": "Mine", "path": str(raw), "folds": [0], "patch": 32,
                          "budget": {"epochs": 1, "iterations": 1, "val_iterations": 1}}}


def _no_results(wd):
    """Nothing derived from the dataset exists: no metrics, no dataset table, no checkpoint."""
    results = wd / "results"
    derived = list(results.glob("per_case/**/*.csv")) + list(results.glob("tables/mine*.csv"))
    return not derived and not list((wd / "resources").rglob("checkpoint_final.pth"))


def test_corrupt_image_stops_the_dag_naming_the_file(tmp_path):
    raw, datasets = _user_dataset(tmp_path / "data")
    bad = raw / "labelsTr" / "phantom_002.nii.gz"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated download
    wd = workdir(tmp_path / "wd", datasets)
    proc = snakemake(wd)
    assert proc.returncode != 0
    assert f"{bad}: not a readable NIfTI file" in proc.stdout + proc.stderr
    assert not (wd / "resources/pre/Dataset903_Mine/raw_dataset_check.json").exists()
    assert not (wd / "resources/pre/Dataset903_Mine/nnUNetPlans.json").exists()
    assert _no_results(wd)


def test_two_bad_cases_stop_the_dag_naming_both_in_one_run(tmp_path):
    raw, datasets = _user_dataset(tmp_path / "data")
    path = raw / "labelsTr" / "phantom_004.nii.gz"
    img = nib.load(path)
    data = np.asarray(img.dataobj).copy()
    data[0, 0, 0] = 7
    nib.save(nib.Nifti1Image(data, img.affine), str(path))
    image = raw / "imagesTr" / "phantom_001_0000.nii.gz"
    image.write_bytes(b"\x89PNG\r\n a picture, not a NIfTI")
    wd = workdir(tmp_path / "wd", datasets)
    proc = snakemake(wd)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"{path}: unknown label value(s) [7]" in out
    assert f"{image}: not a readable NIfTI file" in out
    assert _no_results(wd)


def test_a_rerun_of_the_user_dataset_link_leaves_the_users_files(tmp_path):
    """Snakemake deletes a job's outputs before it reruns it: the output is a copy of dataset.json beside links
    to the user's folders, never the user's own file."""
    raw, datasets = _user_dataset(tmp_path / "data")
    wd = workdir(tmp_path / "wd", datasets)
    check = "resources/pre/Dataset903_Mine/raw_dataset_check.json"
    for forced in ((), ("--forcerun", "link_user_dataset")):
        proc = snakemake(wd, check, *forced)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert (raw / "dataset.json").is_file() and len(list((raw / "labelsTr").iterdir())) == 5
    linked = wd / "resources/raw/Dataset903_Mine"
    assert not linked.is_symlink() and (linked / "labelsTr").resolve() == raw / "labelsTr"
    assert json.loads((linked / "dataset.json").read_text()) == json.loads((raw / "dataset.json").read_text())
    assert json.loads((wd / check).read_text())["cases"] == 5
    identity = "resources/pre/Dataset903_Mine/data_identity.json"
    assert snakemake(wd, identity).returncode == 0

    def planned(configfile="test.yaml"):  # jobs per rule of a dry run up to the file that retrains the runs
        proc = snakemake(wd, identity, check, "-n", "--quiet", "rules", configfile=configfile)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return {m[1] for m in re.finditer(r"^(\w+)\s+\d+$", proc.stdout + proc.stderr, re.M)} - {"total"}

    assert planned() == set()
    # the same files elsewhere (copied: new modification times): linked again, the same data, no run retrains
    moved = tmp_path / "data" / "moved"
    shutil.copytree(raw, moved)
    write_config(wd, config({"mine": {**datasets["mine"], "path": str(moved)}}), "moved.yaml")
    assert planned("moved.yaml") == {"link_user_dataset", "check_raw_dataset"}
    # a label replaced under the same dataset.json: linked and checked again, and every run on it retrains
    label = raw / "labelsTr" / "phantom_001.nii.gz"
    img = nib.load(label)
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.uint8), img.affine), str(label))
    assert planned() == {"link_user_dataset", "check_raw_dataset", "data_identity"}
    # a folder of its own in the way (the phantom that had this id and name before): named, and left as it is
    (linked / "labelsTr").unlink()
    (linked / "labelsTr").mkdir()
    (linked / "labelsTr" / "phantom_000.nii.gz").write_bytes(b"")
    proc = snakemake(wd, check, "--forcerun", "link_user_dataset")
    assert proc.returncode != 0
    assert f"error: {linked.relative_to(wd)}/labelsTr is a folder of its own, not a link" in proc.stdout + proc.stderr
    assert [p.name for p in (linked / "labelsTr").iterdir()] == ["phantom_000.nii.gz"]
