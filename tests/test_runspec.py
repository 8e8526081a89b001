"""The run spec: one function names every run, its folder, source, budget and learning rate."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from mednext.nnunet.requests import train_request
from mednext.nnunet.runspec import Budget, run_spec

ROOT = Path(__file__).resolve().parents[1]


def _config(name):
    cfg = yaml.safe_load((ROOT / "config" / name).read_text())
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))  # fills in the schema's defaults
    return cfg


def test_paper_runs_use_nnunets_folders_and_kits19_k5_its_own():
    cfg = _config("config.yaml")
    run = run_spec("btcv", "mednext_B_k5_upkern", 2, cfg)
    assert run.folder == "Dataset001_BTCV/nnUNetTrainerMedNeXt_B_k5_UpKern__nnUNetPlans_MedNeXt__3d_fullres/fold_2"
    assert run.source.folder == "Dataset001_BTCV/nnUNetTrainerMedNeXt_B_k3__nnUNetPlans_MedNeXt__3d_fullres/fold_2"
    assert run.budget == Budget() and run.lr is None
    assert run_spec("btcv", "nnunet", 0, cfg).trainer == "nnUNetTrainerBudget"  # stock recipe, our run handling
    kits = run_spec("kits19", "mednext_L_k5_upkern", 1, cfg)
    assert kits.folder.startswith("lr0.0001/Dataset003_KiTS19/nnUNetTrainerMedNeXt_L_k5_UpKern__")
    assert kits.environment()["MEDNEXT_LR"] == "0.0001"
    assert kits.source.lr is None and kits.source.folder.startswith("Dataset003_KiTS19/")  # k3 keeps the recipe


def test_demo_budget_names_its_folder_and_selects_the_budget_trainer():
    cfg = _config("demo.yaml")
    cfg["datasets"]["phantom"]["budget"] = {"epochs": 2, "iterations": 3, "val_iterations": 1}
    cfg["datasets"]["phantom"]["model_budgets"] = {}
    run = run_spec("phantom", "nnunet", 0, cfg)
    assert run.trainer == "nnUNetTrainerBudget"
    assert run.folder == "e2_it3_val1/Dataset900_Phantom/nnUNetTrainerBudget__nnUNetPlans__3d_fullres/fold_0"
    assert run.environment() == {"MEDNEXT_EPOCHS": "2", "MEDNEXT_ITERATIONS": "3", "MEDNEXT_VAL_ITERATIONS": "1"}
    assert run_spec("phantom", "swinunetr", 0, cfg).configuration == "3d_fullres_p64"
    twice = run_spec("phantom", "mednext_B_k3_twice", 0, cfg)
    assert twice.source.folder == twice.folder.replace("_Twice", "")


def test_model_budgets_override_the_dataset_budget_and_name_the_folder():
    cfg = _config("demo.yaml")
    ds = cfg["datasets"]["phantom"]
    ds["budget"], ds["model_budgets"] = {"epochs": 6, "iterations": 20}, {"nnunet": {"epochs": 10, "iterations": 25}}
    nnunet, mednext = run_spec("phantom", "nnunet", 0, cfg), run_spec("phantom", "mednext_B_k3", 0, cfg)
    assert nnunet.budget == Budget(epochs=10, iterations=25) and nnunet.folder.startswith("e10_it25_val50/")
    assert mednext.budget == Budget(epochs=6, iterations=20) and mednext.folder.startswith("e6_it20_val50/")
    # UpKern starts from its k3 source and must share its budget: a different one is refused when the DAG is built
    ds["model_budgets"]["mednext_B_k5_upkern"] = {"epochs": 3}
    with pytest.raises(ValueError, match="mednext_B_k5_upkern starts from mednext_B_k3 and must train with its budget"):
        run_spec("phantom", "mednext_B_k5_upkern", 0, cfg)


def test_budget_from_the_environment(monkeypatch):
    assert Budget.from_env() == Budget()
    monkeypatch.setenv("MEDNEXT_EPOCHS", "3")
    assert Budget.from_env() == Budget(epochs=3)
    monkeypatch.setenv("MEDNEXT_ITERATIONS", "0")
    with pytest.raises(ValueError, match="MEDNEXT_ITERATIONS='0' must be a positive integer"):
        Budget.from_env()


def test_train_requests_follow_the_model_and_stop_at_the_cap():
    cfg = _config("config.yaml")
    nnunet, large = (train_request(run_spec("btcv", m, 0, cfg), cfg) for m in ("nnunet", "mednext_L_k5_upkern"))
    cap = cfg["cluster"]["max_runtime_min"]
    assert nnunet.runtime_min == nnunet.estimate_min < large.runtime_min == cap < large.estimate_min
    cfg["datasets"]["btcv"]["train_requests"] = {"nnunet": {"s_per_it": 0.26}}  # a dataset's own speed wins
    slower = train_request(run_spec("btcv", "nnunet", 0, cfg), cfg)
    assert slower.estimate_min > nnunet.estimate_min and slower.gpu_mem_gb == nnunet.gpu_mem_gb
    cfg["train_requests"].pop("unetr")
    assert train_request(run_spec("btcv", "unetr", 0, cfg), cfg).runtime_min == cap  # unknown speed: the cap
    cfg["resources"]["train"]["runtime"] = 90  # a fixed runtime wins for every model
    assert train_request(run_spec("btcv", "mednext_L_k5_upkern", 0, cfg), cfg).runtime_min == 90


def test_checkpointing_from_the_environment(monkeypatch):
    from mednext.nnunet.trainer import nnUNetTrainerMedNeXt

    monkeypatch.delenv("MEDNEXT_CHECKPOINTING", raising=False)
    assert nnUNetTrainerMedNeXt.checkpointing_from_env() is None  # the trainers' default for the variant
    monkeypatch.setenv("MEDNEXT_CHECKPOINTING", "pointwise")
    assert nnUNetTrainerMedNeXt.checkpointing_from_env() == "pointwise"
    monkeypatch.setenv("MEDNEXT_CHECKPOINTING", "True")
    with pytest.raises(ValueError, match="MEDNEXT_CHECKPOINTING='True' must be one of none, pointwise, block"):
        nnUNetTrainerMedNeXt.checkpointing_from_env()


def test_trainers_default_checkpointing_recomputes_the_pointwise_part_where_the_official_code_checkpoints():
    from mednext.nnunet.trainers.mednext_trainers import (nnUNetTrainerMedNeXt_B_k5, nnUNetTrainerMedNeXt_L_k5_UpKern,
                                                          nnUNetTrainerMedNeXt_M_k3, nnUNetTrainerMedNeXt_S_k3)

    assert nnUNetTrainerMedNeXt_S_k3.default_checkpointing() == "none"
    assert nnUNetTrainerMedNeXt_B_k5.default_checkpointing() == "none"
    assert nnUNetTrainerMedNeXt_M_k3.default_checkpointing() == "pointwise"  # official: block
    assert nnUNetTrainerMedNeXt_L_k5_UpKern.default_checkpointing() == "pointwise"


@pytest.mark.parametrize("value, compiles", [(None, False), ("t", True), ("true", True), ("1", True), ("f", False)])
def test_mednext_trainers_compile_only_when_asked(monkeypatch, value, compiles):
    import torch
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    from mednext.nnunet.trainer import nnUNetTrainerMedNeXt

    if value is None:
        monkeypatch.delenv("nnUNet_compile", raising=False)
    else:
        monkeypatch.setenv("nnUNet_compile", value)
    on_gpu = object.__new__(nnUNetTrainerMedNeXt)  # _do_i_compile reads the device and the environment only
    on_gpu.device = torch.device("cuda", 0)
    assert on_gpu._do_i_compile() is compiles
    assert nnUNetTrainer._do_i_compile(on_gpu) is (value != "f")  # nnU-Net's own default: compile on GPU
    on_cpu = object.__new__(nnUNetTrainerMedNeXt)
    on_cpu.device = torch.device("cpu")
    on_cpu.print_to_log_file = lambda *args, **kwargs: None  # nnU-Net logs why it does not compile there
    assert on_cpu._do_i_compile() is False  # nnU-Net never compiles on the CPU
