"""A small DAG through a real SLURM cluster with `snakemake --profile slurm`: trainings longer than
their walltime continue in requeued jobs; a training that fails stops after its retries.

Needs a running cluster (`.ci/start-slurm.sh` starts a one-node one on this machine, with a
fake GPU); skipped where `sinfo` finds none.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.runspec import Budget

ROOT = Path(__file__).resolve().parents[2]


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return proc.returncode == 0 and any(s.strip() in ("idle", "mixed", "allocated") for s in proc.stdout.split())


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _cluster_up(), reason="no SLURM cluster (.ci/start-slurm.sh)")]


# A 1-minute walltime (SLURM counts in minutes) with a 50 s notice: each job trains one epoch (about 5 s for
# nnU-Net on 2 busy cores) after its start-up (> 10 s), stops, saves and requeues itself; the final validation
# (overhead_min) gets a job of its own: 3 jobs for the one training. (One model: the requeue path is the
# workflow's and mednext.nnunet.budget.BudgetedTrainer's, which every trainer here derives from.)
BUDGET = {"epochs": 2, "iterations": 3, "val_iterations": 1}
CLUSTER = {"max_runtime_min": 1, "notice_s": 50, "safety": 1, "overhead_min": 1}
NNUNET_RUN = "Dataset901_Phantom/nnUNetTrainerBudget__nnUNetPlans__3d_fullres/fold_0"


def _snakemake_slurm(wd, *targets, timeout=1800):
    return subprocess.run(["snakemake", "--profile", "slurm", "--configfile", "slurm_test.yaml", "--slurm-no-account",
                           "--jobs", "2", "--slurm-init-seconds-before-status-checks", "2",
                           "--seconds-between-status-checks", "3", "--max-status-checks-per-second", "10", *targets],
                          cwd=wd, capture_output=True, text=True, timeout=timeout)


def _our_jobs(wd) -> list[str]:
    jobs = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout.splitlines()
    return [j for j in jobs if f"WorkDir={wd}" in j]


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """The small DAG, its one training (nnU-Net) in three requeued jobs (BUDGET, CLUSTER)."""
    tmp_path = tmp_path_factory.mktemp("slurm")
    for item in ("Snakefile", "config", "workflow", "slurm", "paper", "profiles"):
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    cfg = {
        "nnunet": {"raw": "resources/raw", "preprocessed": "resources/pre", "results": "resources/res",
                   "num_processes": 1, "num_processes_da": 1, "device": "cpu", "compile": False},
        "results": "results",
        "complexity_input_size": 32,
        "models": ["nnunet"],
        "datasets": {"phantom": {"id": 901, "name": "Phantom", "synthetic": True,
                                 "phantom": {"cases": 5, "seed": 1, "shape": [28, 28, 20], "spacing": [1, 1, 1.5]},
                                 "folds": [0], "patch": 32, "patch_swinunetr": 64, "budget": BUDGET}},
        "cluster": CLUSTER,
        "resources": {"train": {"gpu": 1, "mem_mb": 6000, "cpus_per_task": 1},
                      "default": {"runtime": 30, "mem_mb": 3000, "cpus_per_task": 1}},
    }
    (tmp_path / "slurm_test.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path, cfg, _snakemake_slurm(tmp_path)


def test_small_dag_runs_through_slurm_with_gpu_requests(slurm_run):
    tmp_path, _, proc = slurm_run
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
    ours = _our_jobs(tmp_path)
    assert ours, "no SLURM job ran in the test's working directory"
    by_rule = {}
    for line in ours:
        name = re.search(r"JobName=(\S+)", line).group(1)
        comment = re.search(r"Comment=(\S+)", line)
        rule = comment.group(1) if comment else name
        by_rule.setdefault(rule, []).append(line)
    gpu_jobs = [j for j in ours if re.search(r"gres/gpu[:=]1|gpu:1", j)]
    assert len(gpu_jobs) == 1 and all("train" in j for j in gpu_jobs), by_rule.keys()  # the one training
    assert all(re.search(r"State=COMPLETED|JobState=COMPLETED", j) for j in ours)
    assert all(re.search(r"TimeLimit=00:01:00", j) for j in gpu_jobs)  # cluster.max_runtime_min


def test_training_longer_than_its_walltime_continues_in_requeued_jobs(slurm_run):
    tmp_path, _, proc = slurm_run
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    fold = tmp_path / "resources" / "res" / Budget(**BUDGET).tag / NNUNET_RUN
    assert load_checkpoint(fold / "checkpoint_final.pth")["current_epoch"] == BUDGET["epochs"]
    attempts = json.loads((fold / "run_record.json").read_text())["attempts"]
    assert [a["ended"] for a in attempts][-1] == "finished", attempts
    assert len(attempts) >= 3 and all(a["ended"] == "notice" for a in attempts[:-1]), attempts  # 2+ continuations
    assert all(a["detail"] == "walltime" for a in attempts[:-1])
    assert len({a["slurm_job_id"] for a in attempts}) == 1  # one SLURM job, requeued
    for stopped, resumed in zip(attempts, attempts[1:]):  # a stop on notice loses no epoch
        assert resumed["start_epoch"] == stopped["epochs_done"] > stopped["start_epoch"], attempts
    restarts = [int(re.search(r"Restarts=(\d+)", j).group(1)) for j in _our_jobs(tmp_path) if re.search(r"gres/gpu[:=]1|gpu:1", j)]
    assert len(restarts) == 1 and min(restarts) >= 2, restarts


def test_a_failing_training_fails_after_its_retries(slurm_run):
    """An unreadable preprocessed case: the job fails, is retried once (the profile's retries), and the workflow
    stops; nothing is requeued."""
    tmp_path, cfg, _ = slurm_run
    cfg = {**cfg, "models": ["nnunet"]}
    cfg["datasets"]["phantom"] = {**cfg["datasets"]["phantom"], "budget": {"epochs": 2, "iterations": 1,
                                                                           "val_iterations": 1}}
    (tmp_path / "slurm_test.yaml").write_text(yaml.safe_dump(cfg))
    for case in (tmp_path / "resources" / "pre" / "Dataset901_Phantom" / "nnUNetPlans_3d_fullres").glob("*.b2nd"):
        case.write_bytes(b"not an array")
    fold = tmp_path / "resources" / "res" / "e2_it1_val1" / NNUNET_RUN
    before = {j.split()[0] for j in _our_jobs(tmp_path)}
    proc = _snakemake_slurm(tmp_path, str(fold.relative_to(tmp_path) / "checkpoint_final.pth"), timeout=900)
    assert proc.returncode != 0
    attempts = json.loads((fold / "attempts.json").read_text())
    assert [a["ended"] for a in attempts] == ["failed", "failed"], attempts
    new = [j for j in _our_jobs(tmp_path) if j.split()[0] not in before]
    assert len(new) == 2 and all("Restarts=0" in j and "JobState=FAILED" in j for j in new), new
