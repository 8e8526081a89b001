"""When a training stops early (signal, SLURM deadline), and the attempts a run record lists."""

import os
import signal
import time

from mednext.nnunet.notice import Notice, slurm_end_time
from mednext.nnunet.run_record import end_attempt, read_attempts, start_attempt


def test_deadline_stops_before_an_epoch_that_would_pass_it():
    notice = Notice(deadline=time.time() + 100, final_s=300)
    assert notice.reason(10) is None
    assert notice.reason(200) == "walltime"
    assert notice.reason(notice.final_s) == "walltime"  # after the last epoch: the final validation goes to a new job
    assert Notice().reason(1e9) is None  # no deadline outside SLURM


def test_sigterm_and_sigusr1_are_caught_then_handed_back():
    before = signal.getsignal(signal.SIGUSR1)
    notice = Notice()
    notice.install()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.01)
        assert notice.reason(0) == "signal SIGUSR1"
    finally:
        notice.uninstall()
    assert signal.getsignal(signal.SIGUSR1) is before


def test_no_slurm_job_no_end_time(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert slurm_end_time() is None


def test_attempts_left_open_were_killed(tmp_path):
    start_attempt(tmp_path, 0)
    end_attempt(tmp_path, 3, "notice", "walltime")
    start_attempt(tmp_path, 3)  # then SIGKILL: nobody closes it
    start_attempt(tmp_path, 3)
    end_attempt(tmp_path, 5, "finished")
    attempts = read_attempts(tmp_path)
    assert [(a["start_epoch"], a["epochs_done"], a["ended"]) for a in attempts] == [
        (0, 3, "notice"), (3, None, "killed"), (3, 5, "finished")]


def test_a_fresh_start_forgets_the_attempts_on_other_inputs(tmp_path):
    old, new = {"dataset.json": "a", "nnUNetPlans.json": "p"}, {"dataset.json": "b", "nnUNetPlans.json": "p"}
    start_attempt(tmp_path, 0, old)
    end_attempt(tmp_path, 0, "failed", "a bad case")
    start_attempt(tmp_path, 0, old)  # the same start again, then SIGKILL
    assert [a["ended"] for a in read_attempts(tmp_path)] == ["failed", None]
    start_attempt(tmp_path, 0, {**old, "splits_final.json": "s"})  # a file the earlier ones did not know of: same run
    assert [a["ended"] for a in read_attempts(tmp_path)] == ["failed", "killed", None]
    end_attempt(tmp_path, 2, "notice", "walltime")
    start_attempt(tmp_path, 2, new)  # a resume never forgets (its checkpoint was checked against the inputs)
    assert len(read_attempts(tmp_path)) == 4
    start_attempt(tmp_path, 0, new)  # the data changed, the run starts afresh: the attempts on the old data go
    attempts = read_attempts(tmp_path)
    assert [(a["start_epoch"], a["ended"], a["inputs"]) for a in attempts] == [(2, "killed", new), (0, None, new)]
