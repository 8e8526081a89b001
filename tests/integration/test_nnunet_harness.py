"""Every trainer through the real nnU-Net v2 CLIs on a tiny phantom dataset (CPU, 32^3 patches).

Builds its own nnU-Net raw dataset, runs nnUNetv2_plan_and_preprocess, mednext-plan, then
nnUNetv2_train for every trainer but MedNeXt-M/L k5 and their UpKern (one epoch of one iteration;
those four are found by nnU-Net and built in-process) and nnUNetv2_predict for a
MedNeXt and a baseline trainer. A 4-channel BraTS-like phantom with labels 0-3 checks that
BraTS trains with softmax, as the official code does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mednext import VARIANTS
from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.trainer import DEEP_SUPERVISION_WEIGHTS, unwrap

from .nnunet_env import DATASET, DATASET_ID, PLANS, SMALL, SMALL_SWIN, NnUNetWorld

pytestmark = pytest.mark.slow

MEDNEXT = [f"nnUNetTrainerMedNeXt_{v}_k{k}" for v in "SBML" for k in (3, 5)]
UPKERN = [f"nnUNetTrainerMedNeXt_{v}_k5_UpKern" for v in "SBML"]
ABLATIONS = ["nnUNetTrainerMedNeXt_B_k3_NoResResample", "nnUNetTrainerMedNeXt_B_k3_Twice"]
BASELINES = ["nnUNetTrainerUNETR", "nnUNetTrainerSwinUNETR"]
EVERY_TRAINER = MEDNEXT + UPKERN + ABLATIONS + BASELINES
# Trained through nnUNetv2_train: all but M and L at k5 and their UpKern runs, which differ from S and B at k5 only
# in the variant (the largest CPU trainings here; CI time). Every trainer, those four too, is found by nnU-Net and
# builds its network in test_nnunet_finds_every_trainer_and_builds_its_network, and M and L UpKern interpolate
# their trained k3 in test_upkern_trainer_starts_from_interpolated_k3.
NOT_TRAINED = {f"nnUNetTrainerMedNeXt_{v}_k5{s}" for v in "ML" for s in ("", "_UpKern")}
TRAINED = [t for t in EVERY_TRAINER if t not in NOT_TRAINED]
# (trainer, the trainer whose checkpoint it starts from)
DEPENDS = {**{t: t.replace("_k5_UpKern", "_k3") for t in UPKERN if t in TRAINED},
           "nnUNetTrainerMedNeXt_B_k3_Twice": "nnUNetTrainerMedNeXt_B_k3"}
CONFIG = {t: SMALL_SWIN if t == "nnUNetTrainerSwinUNETR" else SMALL for t in EVERY_TRAINER}
# runs given another MEDNEXT_CHECKPOINTING than the trainers' default for their variant
CHECKPOINTING = {"nnUNetTrainerMedNeXt_S_k5": "pointwise", "nnUNetTrainerMedNeXt_L_k3": "none"}



def depthwise_layers(variant: str) -> int:
    """MedNeXt's depthwise convolutions: one per block, 4 down and 4 up blocks."""
    return sum(VARIANTS[variant].blocks) + 8


def default_checkpointing(variant: str) -> str:
    """Unset: pointwise where the official code checkpoints every block (M, L), else none."""
    return {"block": "pointwise", "none": "none"}[VARIANTS[variant].checkpointing]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> NnUNetWorld:
    w = NnUNetWorld(tmp_path_factory.mktemp("nnunet"))
    w.build()
    return w


@pytest.fixture(scope="module")
def trained(world) -> NnUNetWorld:
    """Train every trainer, two at a time; UpKern and Twice wait for their k3 run."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {}
        independent = [t for t in TRAINED if t not in DEPENDS]
        for trainer in independent:
            env = {"MEDNEXT_CHECKPOINTING": CHECKPOINTING[trainer]} if trainer in CHECKPOINTING else {}
            futures[trainer] = pool.submit(world.train, trainer, CONFIG[trainer], **env)
        futures["nnUNetTrainerBudget"] = pool.submit(world.train, "nnUNetTrainerBudget", "3d_fullres", "nnUNetPlans")

        def after(dep, trainer):
            futures[dep].result()
            return world.train(trainer)

        for trainer, dep in DEPENDS.items():
            futures[trainer] = pool.submit(after, dep, trainer)
        for f in futures.values():
            f.result()
    return world


def test_mednext_plans(world):
    plans = world.plans_json()
    full = plans["configurations"]["3d_fullres"]
    assert full["spacing"] == [1.0, 1.0, 1.0]
    assert full["patch_size"] == [128, 128, 128] and full["batch_size"] == 2
    assert plans["configurations"][SMALL] == {"inherits_from": "3d_fullres", "patch_size": [32, 32, 32]}
    assert set(plans["configurations"]) == {"3d_fullres", SMALL, SMALL_SWIN}
    assert plans["experiment_planner_used"] == "MedNeXtPlanner"
    # preprocessed at 1 mm: the phantom's 1.5 mm axis got more voxels
    assert (world.preprocessed / DATASET / full["data_identifier"]).is_dir()


@pytest.mark.parametrize("trainer", TRAINED)
def test_every_trainer_trains_through_the_cli(trained, trainer):
    fold = trained.fold_dir(trainer, CONFIG[trainer])
    assert (fold / "checkpoint_final.pth").is_file()
    assert (fold / "validation" / "summary.json").is_file()  # nnU-Net's own out-of-fold validation ran
    record = json.loads((fold / "run_record.json").read_text())
    assert record["trainer"] == trainer
    assert record["budget"] == {"epochs": 1, "iterations": 1, "val_iterations": 1}
    assert record["epochs_completed"] == 1
    edge = 64 if CONFIG[trainer] == SMALL_SWIN else 32
    assert record["patch_size"] == [edge] * 3 and record["batch_size"] == 2
    assert record["training_seconds"] > 0
    assert record["cpu_threads"] == 1  # the job's OMP_NUM_THREADS, not nnUNetv2_train's "every core of the machine"
    curve = record["learning_curve"]  # nnU-Net's own per-epoch log, for the learning-curve figure
    assert {k: len(v) for k, v in curve.items()} == dict.fromkeys(
        ("train_loss", "val_loss", "pseudo_dice", "ema_pseudo_dice"), 1)
    assert 0 <= curve["pseudo_dice"][0] <= 1 and curve["val_loss"][0] == curve["val_loss"][0]  # not NaN
    before = record["before_training"]  # one validation epoch on the network as initialised, before any step
    assert set(before) == {"val_loss", "pseudo_dice"} and np.isfinite(before["val_loss"])
    assert 0 <= before["pseudo_dice"] <= 1
    assert json.loads((fold / "before_training.json").read_text()) == before
    is_mednext = trainer.startswith("nnUNetTrainerMedNeXt")
    assert record["initial_lr"] == (1e-3 if is_mednext else 1e-4)
    assert record["deep_supervision"] is is_mednext
    assert record["dwconv"] == ("torch" if is_mednext else None)  # dwconv="auto" resolves to PyTorch on the CPU
    assert record["dwconv_choices"] is None  # (the measured per-layer choices apply to the Triton backend only)
    default = default_checkpointing(trainer.split("_")[1]) if is_mednext else None
    assert record["checkpointing"] == CHECKPOINTING.get(trainer, default)
    if trainer in DEPENDS:
        source = record["initialised_from"]
        assert source["trainer"] == DEPENDS[trainer]
        assert source["checkpoint"] == str(trained.fold_dir(DEPENDS[trainer]) / "checkpoint_final.pth")
        assert source["interpolated"] == (0 if trainer.endswith("_Twice") else depthwise_layers(trainer.split("_")[1]))
    else:
        assert record["initialised_from"] is None


def test_nnunet_default_trainer_on_default_plans(trained):
    fold = trained.fold_dir("nnUNetTrainerBudget", "3d_fullres", "nnUNetPlans")
    assert (fold / "checkpoint_final.pth").is_file()
    record = json.loads((fold / "run_record.json").read_text())
    assert record["initial_lr"] == 1e-2 and record["plans"] == "nnUNetPlans"


def test_every_checkpoint_loads_with_the_allow_list(trained):
    paths = sorted(trained.results.rglob("checkpoint_*.pth"))
    assert len(paths) >= len(TRAINED) + 1
    for path in paths:
        assert "network_weights" in load_checkpoint(path), path


def test_resume_under_other_settings_is_refused(trained):
    """--c with another budget or learning rate than the checkpoint's stops, naming both."""
    trainer = "nnUNetTrainerMedNeXt_S_k5"
    args = ["nnUNetv2_train", str(DATASET_ID), SMALL, "0", "-tr", trainer, "-p", PLANS, "-device", "cpu", "--c"]
    for change, requested in (({"MEDNEXT_EPOCHS": "2"}, "'epochs': 2"), ({"MEDNEXT_LR": "1e-4"}, "'initial_lr': 0.0001")):
        proc = trained.run(args, f"resume_{trainer}", check=False, **change)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "RunSettingsError" in out and "was trained with {'budget': {'epochs': 1" in out, out[-2000:]
        assert f"this run asks for {{'budget': {{'epochs': {2 if 'MEDNEXT_EPOCHS' in change else 1}" in out
        assert requested in out


def test_upkern_source_of_another_budget_is_refused(trained):
    proc = trained.run(["nnUNetv2_train", str(DATASET_ID), SMALL, "0", "-tr", "nnUNetTrainerMedNeXt_S_k5_UpKern", "-p",
                        PLANS, "-device", "cpu"], "upkern_other_budget", check=False, MEDNEXT_EPOCHS="2",
                       nnUNet_results=str(trained.root / "results_other"),
                       MEDNEXT_SOURCE_CHECKPOINT=str(trained.fold_dir("nnUNetTrainerMedNeXt_S_k3") / "checkpoint_final.pth"))
    assert proc.returncode != 0
    assert "was trained with budget {'epochs': 1" in proc.stderr and "runs with {'epochs': 2" in proc.stderr


@pytest.mark.parametrize("trainer", ["nnUNetTrainerMedNeXt_S_k3", "nnUNetTrainerUNETR"])
def test_predict_through_the_cli(trained, trainer, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    src = trained.raw / DATASET / "imagesTr" / "phantom_003_0000.nii.gz"
    shutil.copy(src, inp / src.name)
    trained.run(["nnUNetv2_predict", "-i", str(inp), "-o", str(out), "-d", str(DATASET_ID), "-c", SMALL, "-f", "0",
                 "-tr", trainer, "-p", PLANS, "-device", "cpu", "--disable_tta", "-npp", "1", "-nps", "1"],
                f"predict_{trainer}")
    pred = nib.load(out / "phantom_003.nii.gz")
    image = nib.load(src)
    assert pred.shape == image.shape
    np.testing.assert_allclose(pred.header.get_zooms(), image.header.get_zooms(), rtol=1e-5)
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1, 2, 3, 4}


def _trainer_instance(world, monkeypatch, trainer_cls, results_dir, configuration=SMALL):
    for k, v in world.env(nnUNet_results=str(results_dir)).items():
        if k.startswith("nnUNet") or k.startswith("MEDNEXT"):
            monkeypatch.setenv(k, v)
    plans = world.plans_json()
    plans["continue_training"] = False
    dataset_json = json.loads((world.preprocessed / DATASET / "dataset.json").read_text())
    trainer = trainer_cls(plans, configuration, 0, dataset_json, torch.device("cpu"))
    trainer.initialize()
    return trainer


def _copy_checkpoint(world, trainer_name, results_dir):
    src = world.fold_dir(trainer_name) / "checkpoint_final.pth"
    dst = results_dir / src.relative_to(world.results)
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    return load_checkpoint(dst)["network_weights"]


def test_a_diverged_run_stops_before_saving_its_weights(world, monkeypatch, tmp_path):
    from mednext.nnunet.budget import DivergedError
    from mednext.nnunet.trainers.mednext_trainers import nnUNetTrainerMedNeXt_S_k3

    trainer = _trainer_instance(world, monkeypatch, nnUNetTrainerMedNeXt_S_k3, tmp_path)
    with torch.no_grad():
        unwrap(trainer.network).stem.weight.fill_(float("nan"))
    with pytest.raises(DivergedError, match=r"diverged in epoch 0 of .*validation loss nan"):
        trainer.run_training()
    folder = trainer.output_folder
    # nnU-Net would have saved this epoch as checkpoint_best.pth (its first EMA) and gone on to checkpoint_final
    assert not any(os.path.exists(os.path.join(folder, f"checkpoint_{k}.pth")) for k in ("best", "latest", "final"))
    assert json.loads(open(os.path.join(folder, "attempts.json")).read())[-1]["ended"] == "failed"
    assert not np.isfinite(json.loads(open(os.path.join(folder, "before_training.json")).read())["val_loss"])

    # started afresh in the same folder (say, at a lower learning rate): the record's validation before training is
    # of this start's network, not of the failed start's; the failed attempt stays in the run's history.
    # This start recomputes blocks in backward (S defaults to none): each attempt records what it trained with
    monkeypatch.setenv("MEDNEXT_CHECKPOINTING", "block")
    trainer = _trainer_instance(world, monkeypatch, nnUNetTrainerMedNeXt_S_k3, tmp_path)
    trainer.run_training()
    record = json.loads(open(os.path.join(folder, "run_record.json")).read())
    assert np.isfinite(record["before_training"]["val_loss"])
    assert [a["ended"] for a in record["attempts"]] == ["failed", "finished"]  # the same inputs: one run's history
    inputs = [a["inputs"] for a in record["attempts"]]
    assert inputs[0] == inputs[1] and {"dataset.json", "splits_final.json"} <= set(inputs[0])
    assert [a["checkpointing"] for a in record["attempts"]] == ["none", "block"] and record["checkpointing"] == "block"
    assert all(a["device"] == "cpu" and a["dwconv"] == "torch" and a["peak_gpu_memory_gib"] is None
               for a in record["attempts"])


def _nnunet_finds(world, monkeypatch, trainer_name):
    """The trainer class as nnUNetv2_train finds it: nnU-Net's own lookup, through nnUNet_extTrainer."""
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    monkeypatch.setenv("nnUNet_extTrainer", world.env()["nnUNet_extTrainer"])
    return recursive_find_trainer_class_by_name(trainer_name)


@pytest.mark.parametrize("trainer_name", EVERY_TRAINER)
def test_nnunet_finds_every_trainer_and_builds_its_network(world, monkeypatch, tmp_path, trainer_name):
    """Also the four not trained through the CLI above (M and L at k5, and their UpKern)."""
    cls = _nnunet_finds(world, monkeypatch, trainer_name)
    assert cls.__name__ == trainer_name
    trainer = _trainer_instance(world, monkeypatch, cls, tmp_path, CONFIG[trainer_name])
    network = unwrap(trainer.network)
    if trainer_name.startswith("nnUNetTrainerMedNeXt"):
        variant, k = trainer_name.split("_")[1], int(trainer_name.split("_")[2][1])
        depthwise = [m for m in network.modules()
                     if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)) and m.groups == m.in_channels > 1]
        assert len(depthwise) == depthwise_layers(variant)
        assert {m.kernel_size for m in depthwise} == {(k, k, k)}
        assert trainer.checkpointing == default_checkpointing(variant) and trainer.enable_deep_supervision
        assert trainer.initial_lr == 1e-3
    else:
        assert not trainer.enable_deep_supervision and trainer.initial_lr == 1e-4
    edge = 64 if CONFIG[trainer_name] == SMALL_SWIN else 32
    with torch.no_grad():
        out = trainer.network(torch.zeros(1, 1, edge, edge, edge))
    head = out[0] if isinstance(out, (list, tuple)) else out
    assert head.shape == (1, 5, edge, edge, edge)  # background + the phantom's four labels


@pytest.mark.parametrize("variant", "SML")
def test_upkern_trainer_starts_from_interpolated_k3(trained, monkeypatch, tmp_path, variant):
    """S trains its UpKern through the CLI above; M and L interpolate their CLI-trained k3 here."""
    name = f"nnUNetTrainerMedNeXt_{variant}_k5_UpKern"
    source = _copy_checkpoint(trained, f"nnUNetTrainerMedNeXt_{variant}_k3", tmp_path)
    trainer = _trainer_instance(trained, monkeypatch, _nnunet_finds(trained, monkeypatch, name), tmp_path)
    trainer.initialise_from_source()
    assert trainer.initialised_from["trainer"] == f"nnUNetTrainerMedNeXt_{variant}_k3"
    state = unwrap(trainer.network).state_dict()
    assert set(state) == set(source)
    interpolated = 0
    for key, value in state.items():
        if source[key].shape != value.shape:
            expected = F.interpolate(source[key], size=value.shape[2:], mode="trilinear", align_corners=False)
            torch.testing.assert_close(value, expected, rtol=0, atol=0)
            interpolated += 1
        else:
            assert torch.equal(value, source[key]), key
    assert interpolated == depthwise_layers(variant) == {"S": 26, "M": 42, "L": 62}[variant]


def test_a_resumed_upkern_run_still_names_its_source(trained, monkeypatch, tmp_path):
    """Only the attempt that starts a run loads the k3 source; a run continued from its checkpoint (--c, after a
    notice or a kill) keeps the source in its record, and continues only while the source is the same."""
    from mednext.nnunet.budget import RunSettingsError
    from mednext.nnunet.trainers.mednext_trainers import nnUNetTrainerMedNeXt_S_k5_UpKern

    _copy_checkpoint(trained, "nnUNetTrainerMedNeXt_S_k3", tmp_path)
    started = _trainer_instance(trained, monkeypatch, nnUNetTrainerMedNeXt_S_k5_UpKern, tmp_path)
    started.initialise_from_source()
    assert started.initialised_from["trainer"] == "nnUNetTrainerMedNeXt_S_k3"
    started.save_checkpoint(str(tmp_path / "checkpoint_latest.pth"))
    resumed = _trainer_instance(trained, monkeypatch, nnUNetTrainerMedNeXt_S_k5_UpKern, tmp_path)
    assert resumed.initialised_from is None
    resumed.load_checkpoint(str(tmp_path / "checkpoint_latest.pth"))
    assert resumed.initialised_from == started.initialised_from
    # a source trained again since: the run does not continue on other inputs (mednext.nnunet.inputs)
    source = load_checkpoint(started.source_checkpoint())
    source["network_weights"] = {k: v + 1 for k, v in source["network_weights"].items()}
    torch.save(source, started.source_checkpoint())
    again = _trainer_instance(trained, monkeypatch, nnUNetTrainerMedNeXt_S_k5_UpKern, tmp_path)
    with pytest.raises(RunSettingsError, match=r"checkpoint_latest\.pth was trained on other inputs \(source changed"):
        again.load_checkpoint(str(tmp_path / "checkpoint_latest.pth"))


def test_twice_trainer_starts_from_exact_k3(trained, monkeypatch, tmp_path):
    from mednext.nnunet.trainers.mednext_trainers import nnUNetTrainerMedNeXt_B_k3_Twice

    source = _copy_checkpoint(trained, "nnUNetTrainerMedNeXt_B_k3", tmp_path)
    trainer = _trainer_instance(trained, monkeypatch, nnUNetTrainerMedNeXt_B_k3_Twice, tmp_path)
    trainer.initialise_from_source()
    state = unwrap(trainer.network).state_dict()
    assert set(state) == set(source)
    for key in state:
        assert torch.equal(state[key], source[key]), key


def test_recipe_optimizer_loss_and_deep_supervision(world, monkeypatch, tmp_path):
    from baselines.monai_trainers import nnUNetTrainerSwinUNETR
    from mednext.nnunet.trainers.mednext_trainers import nnUNetTrainerMedNeXt_S_k3, nnUNetTrainerMedNeXt_S_k5

    trainer = _trainer_instance(world, monkeypatch, nnUNetTrainerMedNeXt_S_k3, tmp_path)
    opt = trainer.optimizer
    assert isinstance(opt, torch.optim.AdamW)
    group = opt.param_groups[0]
    assert (group["lr"], group["weight_decay"], group["eps"]) == (1e-3, 3e-5, 1e-4)
    assert trainer.lr_scheduler.exponent == 0.9
    np.testing.assert_allclose(trainer.loss.weight_factors, np.array([16, 8, 4, 2, 1]) / 31)
    assert trainer.loss.weight_factors == DEEP_SUPERVISION_WEIGHTS
    out = trainer.network(torch.zeros(1, 1, 32, 32, 32))
    assert [o.shape[2] for o in out] == [32, 16, 8, 4, 2]
    assert trainer._get_deep_supervision_scales() == [[1.0] * 3, [0.5] * 3, [0.25] * 3, [0.125] * 3, [0.0625] * 3]
    trainer.set_deep_supervision_enabled(False)
    assert isinstance(trainer.network(torch.zeros(1, 1, 32, 32, 32)), torch.Tensor)

    swin = _trainer_instance(world, monkeypatch, nnUNetTrainerSwinUNETR, tmp_path, SMALL_SWIN)
    assert not swin.enable_deep_supervision
    assert swin.optimizer.param_groups[0]["lr"] == 1e-4 and isinstance(swin.optimizer, torch.optim.AdamW)

    monkeypatch.setenv("MEDNEXT_LR", "1e-4")  # the paper's KiTS19 k5 setting, set by the workflow
    k5 = _trainer_instance(world, monkeypatch, nnUNetTrainerMedNeXt_S_k5, tmp_path)
    assert k5.initial_lr == 1e-4 and k5.optimizer.param_groups[0]["lr"] == 1e-4
    monkeypatch.setenv("MEDNEXT_LR", "fast")
    with pytest.raises(ValueError, match="MEDNEXT_LR='fast' must be a positive number"):
        nnUNetTrainerMedNeXt_S_k5(world.plans_json() | {"continue_training": False}, SMALL, 0,
                                  json.loads((world.preprocessed / DATASET / "dataset.json").read_text()),
                                  torch.device("cpu"))


def test_trainer_name_typo_is_a_clear_error(world):
    proc = world.train("nnUNetTrainerMedNeXt_S_k7", check=False)
    assert proc.returncode != 0
    assert "Could not find requested nnunet trainer nnUNetTrainerMedNeXt_S_k7" in proc.stdout + proc.stderr


def test_missing_upkern_source_is_a_clear_error(world, tmp_path):
    proc = world.run(["nnUNetv2_train", str(DATASET_ID), SMALL, "1", "-tr", "nnUNetTrainerMedNeXt_B_k5_UpKern", "-p",
                      PLANS, "-device", "cpu"], "missing_source", check=False, nnUNet_results=str(tmp_path))
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    expected = tmp_path / DATASET / f"nnUNetTrainerMedNeXt_B_k3__{PLANS}__{SMALL}" / "fold_1" / "checkpoint_final.pth"
    assert f"{expected} does not exist" in text
    assert f"nnUNetv2_train {DATASET} {SMALL} 1 -tr nnUNetTrainerMedNeXt_B_k3 -p {PLANS}" in text
    assert "or point MEDNEXT_SOURCE_CHECKPOINT at its checkpoint_final.pth" in text
    # a k5 at another rate (its own nnUNet_results): its source is trained at the recipe's rate, or found elsewhere
    proc = world.run(["nnUNetv2_train", str(DATASET_ID), SMALL, "1", "-tr", "nnUNetTrainerMedNeXt_B_k5_UpKern", "-p",
                      PLANS, "-device", "cpu"], "missing_source_lr", check=False, nnUNet_results=str(tmp_path),
                     MEDNEXT_LR="1e-4")
    text = proc.stdout + proc.stderr
    assert f"env -u MEDNEXT_LR nnUNetv2_train {DATASET} {SMALL} 1 -tr nnUNetTrainerMedNeXt_B_k3" in text
    assert "with MEDNEXT_LR=1e-4 this run has its own nnUNet_results" in text


def test_mednext_plan_help_is_plain_text(capsys):
    from mednext.nnunet.plans import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and ":class:" not in out and "``" not in out
    assert "share its preprocessed data." in out and "mednext-plan -d 4" in out


def test_mednext_plan_names_what_it_lacks_without_a_traceback(tmp_path):
    # before: nnU-Net's RuntimeError / FileNotFoundError tracebacks
    raw, pre = tmp_path / "raw", tmp_path / "pre"
    (raw / "Dataset998_X").mkdir(parents=True)
    (raw / "Dataset998_X" / "dataset.json").write_text(json.dumps({
        "labels": {"background": 0, "a": 1}, "channel_names": {"0": "CT"}, "numTraining": 1, "file_ending": ".nii.gz"}))
    pre.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("nnUNet_")}

    def plan(dataset, **folders):
        return subprocess.run(["mednext-plan", "-d", dataset, "-np", "1"], env={**env, **folders},
                              capture_output=True, text=True)

    for proc, expected in (
            (plan("998"), "nnUNet_raw and nnUNet_preprocessed not set; export nnUNet_raw="),
            (plan("997", nnUNet_raw=str(raw), nnUNet_preprocessed=str(pre)),
             f"no dataset 997 in nnUNet_raw or nnUNet_preprocessed (nnUNet_raw={raw}, nnUNet_preprocessed={pre})"),
            (plan("998", nnUNet_raw=str(raw), nnUNet_preprocessed=str(pre)),
             f"{pre / 'Dataset998_X' / 'dataset_fingerprint.json'}: missing; mednext-plan plans from nnU-Net's "
             "fingerprint: run `nnUNetv2_plan_and_preprocess -d 998`")):
        assert proc.returncode == 1, proc.stderr
        assert f"error: mednext-plan: {expected}" in proc.stderr and "Traceback" not in proc.stderr
    assert list(pre.iterdir()) == []


def test_mednext_plan_says_once_where_it_saved_the_plans(world):
    log = (world.logs / "plan_mednext.log").read_text()
    assert log.count(f"Plans were saved to {world.preprocessed / DATASET / PLANS}.json") == 1


def test_patch_not_divisible_by_16_is_a_clear_error(world):
    from mednext.nnunet.plans import MedNeXtPlanner

    with pytest.raises(ValueError, match="multiple of 16"):
        MedNeXtPlanner(DATASET_ID, patch_size=(128, 128, 120))
    # a configuration edited by hand with a bad patch is refused by the trainer, naming the patch
    plans_file = world.preprocessed / DATASET / f"{PLANS}.json"
    plans = json.loads(plans_file.read_text())
    plans["configurations"]["3d_fullres_p24"] = {"inherits_from": "3d_fullres", "patch_size": [24, 24, 24]}
    plans_file.write_text(json.dumps(plans, indent=2))
    try:
        proc = world.train("nnUNetTrainerMedNeXt_S_k3", configuration="3d_fullres_p24", check=False)
    finally:
        del plans["configurations"]["3d_fullres_p24"]
        plans_file.write_text(json.dumps(plans, indent=2))
    assert proc.returncode != 0
    assert "patch size [24, 24, 24]" in proc.stderr and "multiple of 16" in proc.stderr


def test_swinunetr_refuses_a_patch_too_small(world):
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from baselines.monai_trainers import nnUNetTrainerSwinUNETR

    pm = PlansManager(world.plans_json())
    with pytest.raises(ValueError, match=r"multiples of 32.*\[32, 32, 32\]"):
        nnUNetTrainerSwinUNETR.build_network_architecture(pm, pm.get_configuration(SMALL), 1, 5)
    net = nnUNetTrainerSwinUNETR.build_network_architecture(pm, pm.get_configuration(SMALL_SWIN), 1, 5)
    assert sum(p.numel() for p in net.parameters()) > 1e6


def test_nnunet_complexity_counts_the_planned_network(trained):
    """nnU-Net's own network, rebuilt from the dataset's plans, has exactly the trained checkpoint's weights."""
    from mednext.nnunet.complexity import nnunet_complexity

    plans = trained.preprocessed / DATASET / "nnUNetPlans.json"
    dataset_json = trained.preprocessed / DATASET / "dataset.json"
    ckpt = load_checkpoint(trained.fold_dir("nnUNetTrainerBudget", "3d_fullres", "nnUNetPlans") / "checkpoint_final.pth")
    # nnU-Net's state dict lists shared modules twice (decoder.encoder, all_modules): count each storage once
    n_weights = sum({v.data_ptr(): v.numel() for v in ckpt["network_weights"].values()}.values())
    small, large = (nnunet_complexity(str(plans), str(dataset_json), size=s) for s in (32, 64))
    assert small["params_m"] * 1e6 == pytest.approx(n_weights, abs=0.5)
    assert large["gflops"] == pytest.approx(8 * small["gflops"], rel=1e-6)  # convolutions only: FLOPs ~ voxels
    strides = json.loads(plans.read_text())["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    assert strides["strides"][1] == [2, 2, 2]  # the phantom's plans downsample by >= 4 per axis: 30^3 cannot pass
    with pytest.raises(ValueError, match=r"nnUNetPlans\.json: nnU-Net's 3d_fullres network downsamples by"):
        nnunet_complexity(str(plans), str(dataset_json), size=30)


def test_brats_like_labels_train_softmax(tmp_path):
    """A 4-channel BraTS-like phantom with plain labels 0-3 (the official Task137 dataset.json) trains softmax:
    four output channels, no regions; nnU-Net's validation writes label maps 0-3 for the evaluation's regions."""
    from nnunetv2.utilities.label_handling.label_handling import LabelManager

    from mednext.data.convert import BRATS21_LABELS
    from mednext.data.phantom import make_case

    world = NnUNetWorld(tmp_path)  # its own small world: no need for the phantom's plans
    dataset_id, name = 502, "Dataset502_BraTSLike"
    raw = world.raw / name
    (raw / "imagesTr").mkdir(parents=True)
    (raw / "labelsTr").mkdir()
    rng = np.random.default_rng(1)
    for i in range(5):
        image, label, spacing = make_case(rng, (24, 24, 24), (1.0, 1.0, 1.0))
        affine = np.diag([*spacing, 1.0])
        # nested tumour-like classes: "organs" 1 and 3 as edema, 2 as non-enhancing, the lesion (4) as enhancing
        brats = np.select([label == 4, label == 2, np.isin(label, (1, 3))], [3, 2, 1], 0).astype(np.uint8)
        nib.save(nib.Nifti1Image(brats, affine), str(raw / "labelsTr" / f"brats_{i:03d}.nii.gz"))
        for channel in range(4):
            noisy = (image + rng.normal(0, 5, image.shape)).astype(np.float32)
            nib.save(nib.Nifti1Image(noisy, affine), str(raw / "imagesTr" / f"brats_{i:03d}_{channel:04d}.nii.gz"))
    (raw / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "T1", "1": "T1ce", "2": "T2", "3": "Flair"}, "labels": BRATS21_LABELS,
        "numTraining": 5, "file_ending": ".nii.gz"}))
    world.run(["nnUNetv2_extract_fingerprint", "-d", str(dataset_id), "-np", "1"], "fingerprint_brats")
    world.run(["mednext-plan", "-d", str(dataset_id), "--small-patches", "32", "-np", "1"], "plan_brats")
    trainer = "nnUNetTrainerMedNeXt_S_k3"
    world.run(["nnUNetv2_train", str(dataset_id), SMALL, "0", "-tr", trainer, "-p", PLANS, "-device", "cpu"],
              "train_brats")
    fold = world.results / name / f"{trainer}__{PLANS}__{SMALL}" / "fold_0"
    dataset_json = json.loads((world.preprocessed / name / "dataset.json").read_text())
    labels = LabelManager(dataset_json["labels"], dataset_json.get("regions_class_order"))
    assert not labels.has_regions and labels.num_segmentation_heads == 4  # softmax over background + 3 labels
    weights = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)["network_weights"]
    assert weights["head.conv.bias"].shape == (4,)
    predictions = list((fold / "validation").glob("*.nii.gz"))
    assert predictions and all(set(np.unique(np.asarray(nib.load(p).dataobj))) <= {0, 1, 2, 3} for p in predictions)
