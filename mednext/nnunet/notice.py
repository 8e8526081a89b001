"""When a training must stop early: its SLURM job is about to end, or it was sent SIGTERM or SIGUSR1.

A stopped training saves ``checkpoint_latest.pth`` at the end of the epoch it is in and exits
with :data:`CONTINUE_EXIT` (75, ``EX_TEMPFAIL``): "continue me with ``--c``", never a failure.

Why an epoch boundary: nnU-Net checkpoints count whole epochs (``current_epoch``); weights saved in
the middle of an epoch would be trained on iterations that the resumed run repeats. Why a deadline
read from SLURM and not only SLURM's ``--signal``: with the Snakemake SLURM plugin the rule's shell
runs in ``srun`` under a second ``snakemake`` process; a signal sent to the job step reaches that
``snakemake`` too (Python dies of an unhandled SIGUSR1), and ``--signal=B:...`` reaches only the
batch shell, which dies of it. SLURM also sends it up to a minute early. The job's end time
(``squeue -o %e``) is exact: the trainer starts no epoch it cannot finish ``notice_s`` before it,
and after its last epoch goes on only with ``final_s`` left for the final checkpoint, validation
and export (else it stops, and the next job does just those).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime

from mednext.nnunet.runspec import positive_from_env

__all__ = ["CONTINUE_EXIT", "FINAL_VARIABLE", "NOTICE_VARIABLE", "Notice", "slurm_end_time"]

CONTINUE_EXIT = 75  # EX_TEMPFAIL: stopped early on purpose, resume with --c
NOTICE_VARIABLE = "MEDNEXT_NOTICE_S"  # seconds kept free at the end of a job for the checkpoint and exit
FINAL_VARIABLE = "MEDNEXT_FINAL_S"  # seconds a run needs after its last epoch (final validation, export)
NOTICE_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def slurm_end_time(job_id: str | None = None) -> float | None:
    """The end of the SLURM job we run in (its time limit), in seconds since the epoch; None outside SLURM."""
    job_id = job_id or os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    try:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%e"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
        return datetime.strptime(out, "%Y-%m-%dT%H:%M:%S").timestamp()  # squeue prints local time
    except (OSError, subprocess.SubprocessError, ValueError):
        return None  # no squeue, or no time limit ("N/A", "UNLIMITED")


class Notice:
    """Whether to stop before the next epoch: a notice signal arrived, or the deadline would be passed."""

    def __init__(self, deadline: float | None = None, final_s: float = 0):
        self.deadline = deadline  # seconds since the epoch; None: no limit
        self.final_s = final_s
        self.signal: str | None = None
        self._previous: dict = {}

    @classmethod
    def from_env(cls) -> Notice:
        end = slurm_end_time()
        return cls(None if end is None else end - positive_from_env(NOTICE_VARIABLE, 600),
                   float(os.environ.get(FINAL_VARIABLE) or 0))

    def install(self) -> None:
        """Catch SIGTERM and SIGUSR1 (main thread only; elsewhere they keep their handlers)."""
        try:
            for sig in NOTICE_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._caught)
        except ValueError:  # not the main thread
            self._previous = {}

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _caught(self, signum, frame) -> None:
        self.signal = signal.Signals(signum).name

    def reason(self, next_s: float) -> str | None:
        """Why not to go on with work that takes ``next_s`` (an epoch, or ``final_s``); None: go on."""
        if self.signal:
            return f"signal {self.signal}"
        if self.deadline is not None and time.time() + next_s > self.deadline:
            return "walltime"
        return None
