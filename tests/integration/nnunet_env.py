"""A tiny nnU-Net world for tests: phantom raw dataset, default + MedNeXt plans, and CLI helpers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from mednext.data.phantom import write_phantom_dataset
from mednext.nnunet.env import ext_trainer_value

DATASET_ID = 501
DATASET = f"Dataset{DATASET_ID:03d}_Phantom"
SMALL = "3d_fullres_p32"
SMALL_SWIN = "3d_fullres_p64"  # SwinUNETR downsamples by 32: a 32^3 patch leaves one voxel for its norm
PLANS = "nnUNetPlans_MedNeXt"
# Small budget: one epoch of one iteration, one validation iteration.
BUDGET = {"MEDNEXT_EPOCHS": "1", "MEDNEXT_ITERATIONS": "1", "MEDNEXT_VAL_ITERATIONS": "1"}


class NnUNetWorld:
    def __init__(self, root: Path):
        self.root = root
        self.raw = root / "raw"
        self.preprocessed = root / "preprocessed"
        self.results = root / "results"
        self.logs = root / "logs"
        for p in (self.raw, self.preprocessed, self.results, self.logs):
            p.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict:
        env = dict(os.environ)
        env.update(
            nnUNet_raw=str(self.raw), nnUNet_preprocessed=str(self.preprocessed), nnUNet_results=str(self.results),
            nnUNet_extTrainer=ext_trainer_value(), nnUNet_def_n_proc="1", nnUNet_n_proc_DA="1", nnUNet_compile="f",
            OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore", **BUDGET,
        )
        env.update(extra)
        return env

    def run(self, args: list[str], log_name: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, env=self.env(**extra_env), capture_output=True, text=True)
        (self.logs / f"{log_name}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
        return proc

    def build(self) -> None:
        """Phantom raw data -> nnU-Net default plans + preprocessing -> MedNeXt plans + preprocessing."""
        write_phantom_dataset(self.raw / DATASET, cases=5, seed=0, shape=(28, 28, 20), spacing=(1.0, 1.0, 1.5))
        self.run(["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1",
                  "--verify_dataset_integrity"], "plan_nnunet")
        self.run(["mednext-plan", "-d", str(DATASET_ID), "--small-patches", "32", "64", "-np", "1"], "plan_mednext")

    def train(self, trainer: str, configuration: str = SMALL, plans: str = PLANS, fold: int = 0,
              check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        return self.run(["nnUNetv2_train", str(DATASET_ID), configuration, str(fold), "-tr", trainer, "-p", plans,
                         "-device", "cpu"], f"train_{trainer}_{configuration}_{fold}", check=check, **extra_env)

    def fold_dir(self, trainer: str, configuration: str = SMALL, plans: str = PLANS, fold: int = 0) -> Path:
        return self.results / DATASET / f"{trainer}__{plans}__{configuration}" / f"fold_{fold}"

    def plans_json(self, plans: str = PLANS) -> dict:
        return json.loads((self.preprocessed / DATASET / f"{plans}.json").read_text())
