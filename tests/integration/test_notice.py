"""A training stopped at random moments (SIGTERM, or SIGKILL in the middle of a checkpoint write)
resumes from whole checkpoints and ends with exactly its budgeted epochs."""

import json
import os
import random
import signal
import subprocess
import time

import pytest

from mednext.data.phantom import write_phantom_dataset
from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.notice import CONTINUE_EXIT
from mednext.nnunet.run_record import read_attempts

from .nnunet_env import DATASET, DATASET_ID, NnUNetWorld

pytestmark = pytest.mark.slow

EPOCHS = 8
TRAINER = "nnUNetTrainerBudget"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = NnUNetWorld(tmp_path_factory.mktemp("notice"))
    write_phantom_dataset(world.raw / DATASET, cases=5, seed=0, shape=(28, 28, 20), spacing=(1.0, 1.0, 1.5))
    world.run(["nnUNetv2_plan_and_preprocess", "-d", str(DATASET_ID), "-c", "3d_fullres", "-np", "1"], "plan")
    return world


def _start(world, fold_dir, log):
    resume = ["--c"] if (fold_dir / "checkpoint_latest.pth").exists() else []
    return subprocess.Popen(["nnUNetv2_train", str(DATASET_ID), "3d_fullres", "0", "-tr", TRAINER, "-device", "cpu",
                             *resume], env=world.env(MEDNEXT_EPOCHS=str(EPOCHS), MEDNEXT_ITERATIONS="4",
                                                     MEDNEXT_SAVE_EVERY="1"),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_training(fold_dir, logs_before, proc, timeout=300):
    """Until this attempt's own nnU-Net log says an epoch started (the notice handler is installed before)."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        new = set(fold_dir.glob("training_log_*.txt")) - logs_before
        if any("Epoch " in p.read_text() for p in new):
            return
        time.sleep(0.05)


def _epoch_of(checkpoint_file):
    return int(load_checkpoint(checkpoint_file)["current_epoch"]) if checkpoint_file.exists() else 0


def test_sigterm_and_sigkill_mid_write_resume_to_the_budget(world):
    fold_dir = world.results / DATASET / f"{TRAINER}__nnUNetPlans__3d_fullres" / "fold_0"
    latest, rng = fold_dir / "checkpoint_latest.pth", random.Random(0)
    kinds = ["kill_during_write", "term", "term", "kill_during_write", "term"]
    outcomes = []
    with open(world.logs / "notice_train.log", "w") as log:
        for kind in kinds + ["finish"]:
            before = _epoch_of(latest)  # every resume starts from a checkpoint that loads
            logs_before = set(fold_dir.glob("training_log_*.txt"))
            proc = _start(world, fold_dir, log)
            if kind == "term":
                _wait_for_training(fold_dir, logs_before, proc)  # past start-up (the handler is in place) ...
                time.sleep(rng.uniform(0, 2))  # ... then somewhere in an epoch
                proc.send_signal(signal.SIGTERM)
            elif kind == "kill_during_write":
                part = fold_dir / "checkpoint_latest.pth.part"
                deadline = time.time() + 300
                while not part.exists() and proc.poll() is None and time.time() < deadline:
                    time.sleep(0.002)
                # the whole process group, as a node loss or scancel does: a SIGKILL of the trainer alone left its
                # augmentation workers orphaned, holding ~0.6 GB each for the rest of the test session
                os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait(timeout=600)
            outcomes.append((kind, rc, before, _epoch_of(latest)))
            if kind == "term" and rc == CONTINUE_EXIT:
                # stopped at the end of the epoch it was in: the checkpoint holds every epoch the attempt finished
                assert read_attempts(fold_dir)[-1]["epochs_done"] == _epoch_of(latest), outcomes
            if (fold_dir / "checkpoint_final.pth").exists():
                break
    assert (fold_dir / "checkpoint_final.pth").exists(), outcomes
    assert outcomes[-1][1] == 0, outcomes
    assert load_checkpoint(fold_dir / "checkpoint_final.pth")["current_epoch"] == EPOCHS
    assert sum(rc == CONTINUE_EXIT for _, rc, *_ in outcomes) >= 2, outcomes
    assert sum(rc == -signal.SIGKILL for _, rc, *_ in outcomes) >= 1, outcomes
    attempts = read_attempts(fold_dir)
    assert len(attempts) == len(outcomes)
    ends = [a["ended"] for a in attempts]
    assert ends[-1] == "finished" and "notice" in ends and "killed" in ends, ends
    record = json.loads((fold_dir / "run_record.json").read_text())
    assert record["epochs_completed"] == EPOCHS and [a["ended"] for a in record["attempts"]] == ends
