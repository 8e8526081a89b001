"""A small DAG through a real SLURM cluster with `snakemake --profile slurm`.

Needs a running cluster (`.ci/start-slurm.sh` starts a one-node one on this machine, with a
fake GPU); skipped where `sinfo` finds none.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return proc.returncode == 0 and any(s.strip() in ("idle", "mixed", "allocated") for s in proc.stdout.split())


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _cluster_up(), reason="no SLURM cluster (.ci/start-slurm.sh)")]


def test_small_dag_runs_through_slurm_with_gpu_requests(tmp_path):
    for item in ("Snakefile", "config", "workflow", "slurm", "paper", "profiles"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    cfg = {
        "nnunet": {"raw": "resources/raw", "preprocessed": "resources/pre", "results": "resources/res",
                   "num_processes": 1, "num_processes_da": 1, "device": "cpu", "compile": False},
        "results": "results",
        "complexity_input_size": 32,
        "models": ["nnunet", "mednext_S_k3"],
        "datasets": {"phantom": {"id": 901, "name": "Phantom", "synthetic": True,
                                 "phantom": {"cases": 5, "seed": 1, "shape": [28, 28, 20], "spacing": [1, 1, 1.5]},
                                 "folds": [0], "patch": 32, "patch_swinunetr": 64,
                                 "budget": {"epochs": 1, "iterations": 1, "val_iterations": 1}}},
        "resources": {"train": {"gpu": 1, "runtime": 30, "mem_mb": 6000, "cpus_per_task": 1},
                      "default": {"runtime": 30, "mem_mb": 3000, "cpus_per_task": 1}},
    }
    (tmp_path / "slurm_test.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(["snakemake", "--profile", "slurm", "--configfile", "slurm_test.yaml", "--slurm-no-account",
                           "--jobs", "2", "--slurm-init-seconds-before-status-checks", "2",
                           "--seconds-between-status-checks", "3", "--max-status-checks-per-second", "10"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert (tmp_path / "results" / "tables" / "phantom.csv").is_file()
    assert (tmp_path / "results" / "figures" / "phantom_scaling.png").is_file()
    paper = (tmp_path / "paper" / "results.md").read_text()
    assert paper.startswith("# MedNeXt benchmark: results (SYNTHETIC DATA)")
    assert "](../results/figures/phantom_scaling.png)" in paper
    nnunet = (tmp_path / "results" / "tables" / "complexity_nnunet_phantom.csv").read_text()
    assert nnunet.startswith("model,label,params_m,gflops")
    # every job went through sbatch; the training job asked for the GPU, the others did not
    jobs = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout.splitlines()
    ours = [j for j in jobs if f"WorkDir={tmp_path}" in j]
    assert ours, "no SLURM job ran in the test's working directory"
    by_rule = {}
    for line in ours:
        name = re.search(r"JobName=(\S+)", line).group(1)
        comment = re.search(r"Comment=(\S+)", line)
        rule = comment.group(1) if comment else name
        by_rule.setdefault(rule, []).append(line)
    gpu_jobs = [j for j in ours if re.search(r"gres/gpu[:=]1|gpu:1", j)]
    assert len(gpu_jobs) == 2 and all("train" in j for j in gpu_jobs), by_rule.keys()  # nnU-Net and MedNeXt
    assert all(re.search(r"State=COMPLETED|JobState=COMPLETED", j) for j in ours)
