"""mednext-evaluate: the workflow's per-case rows from a folder of predictions; bad inputs name the file."""

import json
import re
import runpy
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mednext.evaluation.cli import main
from mednext.evaluation.per_case import COLUMNS, read_per_case

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "evaluate.py"
AFFINE = np.diag([0.8, 0.8, 3.0, 1.0])
KITS_JSON = {"name": "Dataset003_KiTS19", "labels": {"background": 0, "kidney": 1, "tumor": 2},
             "file_ending": ".nii.gz", "channel_names": {"0": "CT"}, "numTraining": 4}


def _nii(path, array, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array, np.uint8), affine), str(path))
    return path


@pytest.fixture
def kits(tmp_path):
    """A KiTS-like raw folder (4 cases) and the workflow's out-of-fold layout: fold_N/validation/ + manifest."""
    raw = tmp_path / "Dataset003_KiTS19"
    (raw / "dataset.json").parent.mkdir(parents=True)
    (raw / "dataset.json").write_text(json.dumps(KITS_JSON))
    splits = [{"train": ["case_00002", "case_00003"], "val": ["case_00000", "case_00001"]},
              {"train": ["case_00000", "case_00001"], "val": ["case_00002", "case_00003"]}]
    rows = []
    rng = np.random.default_rng(0)
    for fold, split in enumerate(splits):
        for i, case in enumerate(split["val"]):
            ref = np.zeros((24, 20, 10), np.uint8)
            ref[4:18, 4:16, 2:8] = 1
            if case != "case_00003":  # one case without tumor: NaN tumor in both protocols
                ref[8:12, 6:10, 3:6] = 2
            pred = np.roll(ref, int(rng.integers(0, 2)), axis=2)
            pred[10:14, 8:12, 4:6] = 2 if i == 0 else pred[10:14, 8:12, 4:6]
            _nii(raw / "labelsTr" / f"{case}.nii.gz", ref)
            path = _nii(tmp_path / "results" / f"fold_{fold}" / "validation" / f"{case}.nii.gz", pred)
            rows.append({"case": case, "fold": fold, "path": str(path)})
    manifest = tmp_path / "predictions.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    (tmp_path / "splits_final.json").write_text(json.dumps(splits))
    return SimpleNamespace(raw=raw, manifest=manifest, splits=tmp_path / "splits_final.json", root=tmp_path)


def _workflow_evaluate(kits, out, monkeypatch):
    """The workflow's rule evaluate, its script run as Snakemake runs it (a ``snakemake`` object injected)."""
    sm = SimpleNamespace(input=SimpleNamespace(predictions=str(kits.manifest),
                                               dataset_json=str(kits.raw / "dataset.json")),
                         params=SimpleNamespace(labels=str(kits.raw / "labelsTr"), tolerance=1.0, classes_of="kits19"),
                         wildcards=SimpleNamespace(dataset="kits19", model="mednext_B_k3"),
                         log=[str(kits.root / "evaluate.log")], output=[str(out)])
    _run_script(SCRIPT, sm, monkeypatch)


def _run_script(script: Path, sm: SimpleNamespace, monkeypatch) -> None:
    # the script sends stdout and stderr to its log (restored right after) and imports its sibling
    # rule_log, which Snakemake finds because it runs a script with the script's folder on sys.path
    with monkeypatch.context() as mp:
        mp.setattr(sys, "stdout", sys.stdout)
        mp.setattr(sys, "stderr", sys.stderr)
        mp.syspath_prepend(str(script.parent))
        runpy.run_path(str(script), init_globals={"snakemake": sm})


def test_the_workflow_lists_predictions_with_the_datasets_file_ending(tmp_path, monkeypatch):
    """Rule oof_predictions finds nnU-Net's predictions by the raw dataset's file_ending (before: .nii.gz only, so
    a dataset of .nii files was never evaluated: its predictions were 'missing')."""
    (tmp_path / "dataset.json").write_text(json.dumps({**KITS_JSON, "file_ending": ".nii"}))
    splits = [{"train": ["b"], "val": ["a"]}, {"train": ["a"], "val": ["b"]}]
    (tmp_path / "splits_final.json").write_text(json.dumps(splits))
    for fold, case in enumerate("ab"):
        _nii(tmp_path / f"fold_{fold}" / "validation" / f"{case}.nii", np.zeros((4, 4, 4)))
    out = tmp_path / "listing.tsv"
    sm = SimpleNamespace(input=SimpleNamespace(validation=[str(tmp_path / f"fold_{f}" / "validation") for f in (0, 1)],
                                               splits=str(tmp_path / "splits_final.json"),
                                               dataset_json=str(tmp_path / "dataset.json")),
                         params=SimpleNamespace(folds=[0, 1]), log=[str(tmp_path / "oof.log")], output=[str(out)])
    _run_script(SCRIPT.parent / "oof_predictions.py", sm, monkeypatch)
    listing = pd.read_csv(out, sep="\t")
    assert listing.to_dict("list") == {"case": ["a", "b"], "fold": [0, 1],
                                       "path": [str(tmp_path / f"fold_{f}" / "validation" / f"{c}.nii")
                                                for f, c in enumerate("ab")]}


def _one_folder(kits, folder: Path) -> Path:
    folder.mkdir()
    for p in (kits.root / "results").glob("fold_*/validation/*.nii.gz"):
        shutil.copy(p, folder / p.name)
    return folder


def test_cli_writes_the_workflows_per_case_rows(kits, tmp_path, monkeypatch, capsys):
    workflow_csv = tmp_path / "workflow.csv"
    _workflow_evaluate(kits, workflow_csv, monkeypatch)
    pred = _one_folder(kits, tmp_path / "mednext_B_k3")  # what a user has: all predictions in one folder
    cli_csv = tmp_path / "cli" / "per_case.csv"
    assert main(["--dataset", "kits19", "--pred", str(pred), "--ref", str(kits.raw / "labelsTr"), "-o", str(cli_csv),
                 "--splits", str(kits.splits)]) == 0
    ours, theirs = read_per_case(cli_csv), read_per_case(workflow_csv)
    assert list(ours.columns) == COLUMNS and len(ours) == 8
    pd.testing.assert_frame_equal(ours, theirs)
    assert cli_csv.read_text() == workflow_csv.read_text()  # byte for byte
    kidney = ours[ours.region == "kidney"].iloc[0]
    assert kidney.paper_labels == "1" and kidney.physical_labels == "1+2"
    assert ours[(ours.case == "case_00003") & (ours.region == "tumor")].paper_dice.isna().all()
    printed = capsys.readouterr().out
    assert "kidney = paper 1 / physical 1+2" in printed and "paper_sdc (nan is 1)" in printed
    assert "physical_nsd" in printed and "mean (each protocol's averaging)" in printed

    # without splits: every reference case, fold -1; dataset.json found beside labelsTr
    assert main(["--dataset", "kits19", "--pred", str(pred), "--ref", str(kits.raw / "labelsTr"),
                 "-o", str(tmp_path / "nofold.csv"), "--name", "kits19_rerun", "--model", "mine"]) == 0
    nofold = read_per_case(tmp_path / "nofold.csv")
    assert (nofold.fold == -1).all() and (nofold.dataset == "kits19_rerun").all() and (nofold.model == "mine").all()
    columns = ["dataset", "model", "fold"]
    pd.testing.assert_frame_equal(nofold.drop(columns=columns), ours.drop(columns=columns))


def _bad(kits, tmp_path, capsys, mutate) -> str:
    pred = _one_folder(kits, tmp_path / "pred")
    target = mutate(pred)
    out = tmp_path / "out.csv"
    assert main(["--dataset-json", str(kits.raw / "dataset.json"), "--pred", str(pred),
                 "--ref", str(kits.raw / "labelsTr"), "-o", str(out)]) == 1
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))  # nothing written
    err = capsys.readouterr().err
    assert str(target) in err and "nothing written" in err
    return err


def test_missing_prediction(kits, tmp_path, capsys):
    def remove(pred):
        (pred / "case_00002.nii.gz").unlink()
        return pred / "case_00002.nii.gz"
    err = _bad(kits, tmp_path, capsys, remove)
    assert "missing prediction for reference case case_00002" in err


def test_prediction_without_reference(kits, tmp_path, capsys):
    def extra(pred):
        shutil.copy(pred / "case_00000.nii.gz", pred / "case_00099.nii.gz")
        return pred / "case_00099.nii.gz"
    assert "prediction without a reference" in _bad(kits, tmp_path, capsys, extra)


@pytest.mark.parametrize("array,affine,message", [
    (np.zeros((24, 20, 9)), AFFINE, "shape"),
    (np.zeros((24, 20, 10)), np.diag([0.8, 0.8, 2.0, 1.0]), "affine"),
    (np.full((24, 20, 10), 7), AFFINE, r"unknown label value\(s\) \[7\]"),
])
def test_bad_prediction_names_the_file(kits, tmp_path, capsys, array, affine, message):
    err = _bad(kits, tmp_path, capsys, lambda pred: _nii(pred / "case_00001.nii.gz", array, affine))
    assert re.search(message, err)


def test_dataset_or_dataset_json_is_required(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--pred", str(tmp_path), "--ref", str(tmp_path), "-o", str(tmp_path / "x.csv")])
    assert "give --dataset" in capsys.readouterr().err


def test_dataset_json_without_labels_names_the_file(kits, tmp_path, capsys):
    dataset_json = tmp_path / "dataset.json"
    dataset_json.write_text(json.dumps({k: v for k, v in KITS_JSON.items() if k != "labels"}))
    out = tmp_path / "out.csv"
    assert main(["--dataset-json", str(dataset_json), "--pred", str(_one_folder(kits, tmp_path / "pred")),
                 "--ref", str(kits.raw / "labelsTr"), "-o", str(out)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"{dataset_json}: no labels" in err and "nothing written" in err


def test_output_that_is_a_folder_is_refused_before_evaluating(tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    with pytest.raises(SystemExit) as exit_:  # refused before the (missing) predictions are even looked at
        main(["--dataset", "kits19", "--pred", str(tmp_path / "none"), "--ref", str(tmp_path / "none"),
              "-o", str(folder)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"-o {folder}: a folder" in err and "per_case.csv" in err and "Traceback" not in err
    assert not list(folder.iterdir())



def test_dataset_json_without_foreground_names_the_file(kits, tmp_path, capsys):
    dataset_json = tmp_path / "dataset.json"
    dataset_json.write_text(json.dumps({**KITS_JSON, "labels": {"background": 0}}))
    out = tmp_path / "out.csv"
    assert main(["--dataset-json", str(dataset_json), "--pred", str(_one_folder(kits, tmp_path / "pred")),
                 "--ref", str(kits.raw / "labelsTr"), "-o", str(out)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"{dataset_json}: defines no foreground labels" in err and "nothing written" in err


def test_output_inside_a_file_is_refused_before_evaluating(tmp_path, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:  # before: evaluated everything, then a NotADirectoryError traceback
        main(["--dataset", "kits19", "--pred", str(tmp_path / "none"), "--ref", str(tmp_path / "none"),
              "-o", str(blocker / "sub" / "per_case.csv")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"{blocker} is a file, not a folder" in err and "Traceback" not in err
    assert blocker.read_text() == "not a folder"

def test_split_case_without_reference_says_the_reference_is_missing(kits, tmp_path, capsys):
    splits = json.loads(kits.splits.read_text())
    splits[1]["val"].append("case_00009")  # neither a reference nor a prediction
    (tmp_path / "splits.json").write_text(json.dumps(splits))
    out = tmp_path / "out.csv"
    assert main(["--dataset", "kits19", "--pred", str(_one_folder(kits, tmp_path / "pred")),
                 "--ref", str(kits.raw / "labelsTr"), "-o", str(out), "--splits", str(tmp_path / "splits.json")]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"{kits.raw / 'labelsTr' / 'case_00009.nii.gz'}: missing reference for case case_00009" in err
    assert "missing prediction" not in err and str(tmp_path / "splits.json") in err


def test_folds_need_splits(kits, tmp_path, capsys):
    out = tmp_path / "out.csv"
    with pytest.raises(SystemExit) as exit_:
        main(["--dataset", "kits19", "--pred", str(_one_folder(kits, tmp_path / "pred")),
              "--ref", str(kits.raw / "labelsTr"), "-o", str(out), "--folds", "1"])
    assert exit_.value.code == 2 and "--folds needs --splits" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("fold", ["-1", "2"])
def test_folds_outside_the_splits_are_refused(kits, tmp_path, capsys, fold):
    # before: -1 evaluated the last fold (Python indexing) and wrote its cases as fold -1
    out = tmp_path / "out.csv"
    assert main(["--dataset", "kits19", "--pred", str(_one_folder(kits, tmp_path / "pred")),
                 "--ref", str(kits.raw / "labelsTr"), "-o", str(out), "--splits", str(kits.splits),
                 "--folds", "0", fold]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"--folds {fold}: {kits.splits} has folds 0 to 1" in err
