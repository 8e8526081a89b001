"""A run's identity: what changes no result reruns nothing; a new budget or learning rate trains a fresh run.

One small benchmark (two phantom datasets, MedNeXt-S k5, one epoch of one iteration) runs to the
end once; the tests then change one setting at a time.
"""

import hashlib
import json
import os
import re
import shutil

import pytest
import torch

from mednext.nnunet.checkpoints import load_checkpoint

from .small_run import config, snakemake, workdir, write_config

pytestmark = pytest.mark.slow

BUDGET = {"epochs": 1, "iterations": 1, "val_iterations": 1}
RUN = "Dataset{id}_{name}/nnUNetTrainerMedNeXt_S_k5__nnUNetPlans_MedNeXt__3d_fullres_p32/fold_0"


def _datasets(**changes):
    datasets = {key: {"id": 900 + i, "name": name, "synthetic": True, "folds": [0], "patch": 32,
                      "phantom": {"cases": 5, "seed": i, "shape": [28, 28, 20], "spacing": [1, 1, 1.5]},
                      "budget": dict(BUDGET)}
                for i, (key, name) in ((4, ("a", "PhantomA")), (5, ("b", "PhantomB")))}
    for key, cfg in changes.items():
        datasets[key].update(cfg)
    return datasets


def _config(datasets=None, **nnunet):
    return config(datasets or _datasets(), models=["mednext_S_k5"], **nnunet)


def _planned(wd, cfg, *args):
    """Jobs per rule that a dry run of ``all`` plans under ``cfg``."""
    write_config(wd, cfg, "changed.yaml")
    proc = snakemake(wd, "-n", "--quiet", "rules", *args, configfile="changed.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M) if m[1] != "total"}


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    wd = workdir(tmp_path_factory.mktemp("identity") / "checkout", _datasets(), models=["mednext_S_k5"])
    # a MEDNEXT_CHECKPOINTING or MEDNEXT_LR left in the user's shell does not reach the jobs: the config leaves
    # the one unset, and the learning rate is the run's (its folder's), the recipe's here (test_new_budget_or_lr...)
    proc = snakemake(wd, env={**os.environ, "MEDNEXT_CHECKPOINTING": "block", "MEDNEXT_LR": "1e-4"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _planned(wd, _config()) == {}
    return wd


@pytest.mark.parametrize("change", [
    {"num_processes_da": 2}, {"num_processes": 2}, {"compile": True}, {"save_every": 7}, {"checkpointing": "block"},
    {"device": "cuda"}],
    ids=["da-workers", "planning-processes", "compile", "save-every", "checkpointing", "device"])
def test_result_neutral_settings_rerun_nothing(done, change):
    assert _planned(done, _config(**change)) == {}


def test_resources_rerun_nothing(done):
    cfg = _config()
    cfg["resources"] = {"train": {"mem_mb": 1234, "cpus_per_task": 2},
                        "default": {"runtime": 7, "mem_mb": 999, "cpus_per_task": 2}}
    cfg["cluster"] = {"max_runtime_min": 5, "notice_s": 30, "safety": 2, "overhead_min": 1}
    cfg["train_requests"] = {"mednext_S_k5": {"s_per_it": 9.0, "gpu_mem_gb": 40}}
    assert _planned(done, cfg) == {}


def test_moved_checkout_reruns_nothing(done, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(done, moved, symlinks=True)  # keeps modification times, as cp -a or mv would
    assert _planned(moved, _config()) == {}


def test_budget_change_reruns_only_that_datasets_trainings_and_dependents(done):
    planned = _planned(done, _config(_datasets(a={"budget": {**BUDGET, "epochs": 2}})))
    assert planned == {"train": 1, "oof_predictions": 1, "evaluate": 1, "table": 1, "figures": 1,
                       "ablations": 1, "paper": 1, "all": 1}


def test_an_edited_pinned_split_reruns_that_datasets_splits_and_trainings(done):
    """config/splits/<dataset>.json pins a dataset's folds: an edit of it reruns the splits and every training on
    them; the file a first run records (nnU-Net's splits of the same cases) reruns nothing."""
    pinned = done / "config/splits/a.json"
    splits = json.loads((done / "resources/pre/Dataset904_PhantomA/splits_final.json").read_text())
    assert not pinned.exists()
    try:
        pinned.write_text(json.dumps(splits, indent=1))
        assert _planned(done, _config()) == {}
        fold = splits[0]
        fold["train"][0], fold["val"][0] = fold["val"][0], fold["train"][0]  # still every case, in other folds
        pinned.write_text(json.dumps(splits, indent=1))
        assert _planned(done, _config()) == {"splits": 1, "data_identity": 1, "train": 1, "oof_predictions": 1,
                                             "evaluate": 1, "table": 1, "figures": 1, "ablations": 1, "paper": 1,
                                             "all": 1}
    finally:
        pinned.unlink(missing_ok=True)
    assert _planned(done, _config()) == {}


def test_a_rule_before_training_that_runs_again_retrains_nothing(done):
    """A newer rule script (a pull that edits it) reruns its rule (Snakemake's code trigger) and every rule after
    it: the phantom, planning and the splits are written again, the same. No run trains again: its plans and
    splits are ancient inputs of rule train, and what they hold is its input data_identity.json."""
    checkpoints = sorted(done.glob("resources/res/**/checkpoint_final.pth"))
    before = {p: _digest(p) for p in checkpoints}
    os.utime(done / "workflow/scripts/phantom_dataset.py")  # newer than every file the first run wrote
    planned = _planned(done, _config())
    assert planned["phantom_dataset"] == 2 and planned["plan_nnunet"] == 2 and planned["splits"] == 2
    assert "train" not in planned, planned
    proc = snakemake(done)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {p: _digest(p) for p in checkpoints} == before and len(before) == 2
    assert _planned(done, _config()) == {}


def test_a_missing_out_of_fold_prediction_names_the_command_that_restores_it(done):
    run = f"resources/res/e1_it1_val1/{RUN.format(id=905, name='PhantomB')}"
    prediction = next((done / run / "validation").glob("*.nii.gz"))
    checkpoint = done / run / "checkpoint_final.pth"
    weights = load_checkpoint(checkpoint)["network_weights"]
    prediction.unlink()
    write_config(done, _config(), "changed.yaml")
    listing = "results/predictions/b/mednext_S_k5.tsv"
    proc = snakemake(done, listing, "--forcerun", listing, configfile="changed.yaml")
    assert proc.returncode != 0
    log = (done / "logs/oof_predictions/b/mednext_S_k5.log").read_text()
    command = re.search(r"`(snakemake --forcerun \S+)`", log).group(1)
    assert f"error: missing out-of-fold prediction {prediction.relative_to(done)}" in log
    assert command == f"snakemake --forcerun {checkpoint.relative_to(done)}"
    proc = snakemake(done, *command.split()[1:], configfile="changed.yaml")  # with the usual target: all
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert prediction.is_file()
    again = load_checkpoint(checkpoint)
    assert all(torch.equal(again["network_weights"][k], v) for k, v in weights.items())  # validated, not retrained
    assert len(again["logging"]["epoch_end_timestamps"]) == 1
    assert _planned(done, _config()) == {}


def test_data_changed_behind_a_finished_run_stops_its_listing_naming_the_retraining_command(done):
    """Data whose change data_identity cannot see (a paper dataset re-released under the same file name, its
    conversion run again): the runs' records name other dataset files than the preprocessed folder holds now."""
    pre = done / "resources/pre/Dataset905_PhantomB"
    fingerprint = pre / "dataset_fingerprint.json"
    fingerprint.write_text(json.dumps({**json.loads(fingerprint.read_text()), "re_released": True}))
    write_config(done, _config(), "changed.yaml")
    listing = "results/predictions/b/mednext_S_k5.tsv"
    proc = snakemake(done, listing, "--forcerun", listing, configfile="changed.yaml")
    assert proc.returncode != 0
    assert not (done / listing).exists()
    log = (done / "logs/oof_predictions/b/mednext_S_k5.log").read_text()
    assert "(dataset_fingerprint.json changed since;" in log, log
    command = re.search(r"`(snakemake --forcerun \S+)`", log).group(1)
    assert command == f"snakemake --forcerun {(pre / 'data_identity.json').relative_to(done)}"
    proc = snakemake(done, *command.split()[1:], configfile="changed.yaml")  # with the usual target: all
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _, record, _ = _trained(done, f"e1_it1_val1/{RUN.format(id=905, name='PhantomB')}")
    assert record["attempts"][-1]["inputs"]["dataset_fingerprint.json"] == _digest(fingerprint)  # trained again
    assert (done / listing).is_file() and _planned(done, _config()) == {}


def _trained(wd, run):
    fold = wd / "resources/res" / run
    record = json.loads((fold / "run_record.json").read_text())
    return fold, record, load_checkpoint(fold / "checkpoint_final.pth")


def test_new_budget_or_lr_trains_fresh_beside_the_old_run(done):
    old = RUN.format(id=904, name="PhantomA")
    old_fold, old_record, _ = _trained(done, f"e1_it1_val1/{old}")
    before = {p.name: _digest(p) for p in old_fold.glob("*.pth")} | {"run_record.json": _digest(
        old_fold / "run_record.json")}
    assert old_record["budget"] == BUDGET and old_record["initial_lr"] == 1e-3
    assert old_record["checkpointing"] == "none"  # S's official choice

    for changes, settings, lr, ckpt in (({"budget": {**BUDGET, "epochs": 2}}, "e2_it1_val1", 1e-3, "none"),
                                        ({"lr_k5": 1e-4}, "e1_it1_val1_lr0.0001", 1e-4, "pointwise")):
        # nnunet.checkpointing reaches the training job (and, result-neutral, changes no folder)
        cfg = _config(_datasets(a=changes), **({} if ckpt == "none" else {"checkpointing": ckpt}))
        write_config(done, cfg, "changed.yaml")
        target = f"resources/res/{settings}/{old}/checkpoint_final.pth"
        proc = snakemake(done, target, configfile="changed.yaml")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        fold, record, checkpoint = _trained(done, f"{settings}/{old}")
        epochs = cfg["datasets"]["a"]["budget"]["epochs"]
        assert record["budget"] == cfg["datasets"]["a"]["budget"] and record["initial_lr"] == lr
        assert record["epochs_completed"] == epochs and record["checkpointing"] == ckpt
        assert len(checkpoint["logging"]["epoch_end_timestamps"]) == epochs  # from scratch, not resumed
        assert not (done / "logs/train" / settings / f"{old}.log").read_text().startswith("resuming")
        assert {p.name: _digest(p) for p in old_fold.glob("*.pth")} | {
            "run_record.json": _digest(old_fold / "run_record.json")} == before


def test_a_run_whose_data_changed_trains_afresh_in_its_folder(done):
    """Another phantom (the same settings, so the same folder): the training job reruns, and neither resumes the
    old run's weights (its checkpoint_latest.pth) nor keeps its files. Last: it changes dataset a for good."""
    run = f"e1_it1_val1/{RUN.format(id=904, name='PhantomA')}"
    _, _, old = _trained(done, run)
    phantom = {"cases": 5, "seed": 7, "shape": [28, 28, 20], "spacing": [1, 1, 1.5]}
    cfg = _config(_datasets(a={"phantom": phantom}))
    assert _planned(done, cfg)["train"] == 1
    proc = snakemake(done, f"resources/res/{run}/checkpoint_final.pth", configfile="changed.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    fold, record, new = _trained(done, run)
    log = (done / "logs/train" / f"{run}.log").read_text()
    assert "was trained on other inputs (dataset.json, dataset_fingerprint.json" in log
    assert "training afresh" in log and "resuming from" not in log.split("training afresh")[-1]
    assert [a["ended"] for a in record["attempts"]] == ["finished"]  # the old run's attempts went with it
    assert new["init_args"]["mednext_inputs"] != old["init_args"]["mednext_inputs"]
    assert len(new["logging"]["epoch_end_timestamps"]) == 1
    # the job's question (mednext.nnunet.inputs): the new checkpoint is resumable, the old one is not
    from mednext.nnunet.inputs import STALE_EXIT, main

    assert main([str(fold / "checkpoint_final.pth"), str(done / "resources/pre/Dataset904_PhantomA/"
                                                          "nnUNetPlans_MedNeXt.json")]) == 0
    stale = fold.parent / "old_checkpoint.pth"
    torch.save(old, stale)
    assert main([str(stale), str(done / "resources/pre/Dataset904_PhantomA/nnUNetPlans_MedNeXt.json")]) == STALE_EXIT
