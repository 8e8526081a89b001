"""``run_record.json``: what a finished run was, written beside its ``checkpoint_final.pth``.

The run's settings (budget, learning rate), patch and batch size, wall time, peak GPU memory,
the learning curve (losses and pseudo Dice per epoch, and the validation before the first training
step: how far a run initialised from another starts ahead), device and versions, and every attempt (one
per job: start, end, epochs, why it ended, and the machine and settings it trained with: device,
GPU, depthwise-conv backend, checkpointing, peak GPU memory, the inputs it trained on), so that tables
can say what was run. A run that starts afresh (epoch 0) keeps the earlier attempts only where they trained on
the same inputs (failed starts of this run); those on other data were of another run.
The record's own device, backend and memory fields are the last attempt's; a run resumed
elsewhere shows each attempt's in ``attempts``.
:class:`BudgetedTrainer` writes it when training ends; the attempts are kept meanwhile in
``attempts.json`` beside the checkpoints, the validation before training in
``before_training.json``. For nnU-Net's stock trainer, which writes none::

    python -m mednext.nnunet.run_record FOLD_DIR TRAINER   # a record from checkpoint_final.pth, if missing
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from os.path import isfile, join

import torch

from mednext.files import write_text_atomic
from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.inputs import changed_inputs
from mednext.nnunet.runspec import Budget

__all__ = ["ATTEMPTS", "BEFORE_TRAINING", "RUN_RECORD", "attempt_setup", "end_attempt", "learning_curve",
           "note_attempt", "peak_gpu_memory_gib", "read_attempts",
           "read_before_training", "record_from_checkpoint", "start_attempt", "training_seconds",
           "write_before_training", "write_run_record", "main"]

RUN_RECORD = "run_record.json"
ATTEMPTS = "attempts.json"
BEFORE_TRAINING = "before_training.json"


def write_before_training(folder: str, validation: dict) -> None:
    """The validation of the network as initialised, before its first training step (kept across resumes)."""
    write_text_atomic(join(folder, BEFORE_TRAINING), json.dumps(validation, indent=2))


def _read_json(folder: str, name: str, missing):
    path = join(folder, name)
    return json.loads(open(path).read()) if isfile(path) else missing


def read_before_training(folder: str) -> dict | None:
    return _read_json(folder, BEFORE_TRAINING, None)


def read_attempts(folder: str) -> list[dict]:
    return _read_json(folder, ATTEMPTS, [])


def _write_attempts(folder: str, attempts: list[dict]) -> None:
    write_text_atomic(join(folder, ATTEMPTS), json.dumps(attempts, indent=2))


def start_attempt(folder: str, epoch: int, inputs: dict[str, str] | None = None) -> None:
    """A new attempt starting at ``epoch`` on ``inputs`` (:func:`mednext.nnunet.inputs.run_inputs`); one left open by
    its predecessor was killed before it could say why. An attempt at epoch 0 starts the run afresh: the earlier
    attempts that trained on other inputs (a failed start, then the data changed) are forgotten."""
    attempts = read_attempts(folder)
    if epoch == 0:
        attempts = [a for a in attempts if not changed_inputs(a.get("inputs"), inputs or {})]
    for a in attempts:
        if a["ended"] is None:
            a["ended"] = "killed"  # no end time: SIGKILL, node failure, walltime without notice
    attempts.append({"start": time.time(), "end": None, "start_epoch": int(epoch), "epochs_done": None,
                     "ended": None, "detail": None, "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
                     "host": socket.gethostname(), "inputs": inputs})
    _write_attempts(folder, attempts)


def note_attempt(folder: str, **fields) -> None:
    """Add ``fields`` to the current (open) attempt, e.g. its :func:`attempt_setup` once the network is built."""
    attempts = read_attempts(folder)
    if attempts and attempts[-1]["ended"] is None:
        attempts[-1].update(fields)
        _write_attempts(folder, attempts)


def end_attempt(folder: str, epochs_done: int, ended: str, detail: str | None = None, **fields) -> None:
    """Close the current attempt: ``ended`` is "finished", "notice" (stopped to be continued) or "failed"."""
    note_attempt(folder, end=time.time(), epochs_done=int(epochs_done), ended=ended, detail=detail, **fields)


def attempt_setup(trainer) -> dict:
    """What one attempt of ``trainer`` trains with that may differ between attempts (resumed on another node)."""
    cuda = trainer.device.type == "cuda"
    return {"device": str(trainer.device),
            "gpu_name": torch.cuda.get_device_name(trainer.device) if cuda else None,
            "cpu_threads": torch.get_num_threads() if trainer.device.type == "cpu" else None,
            "dwconv": getattr(trainer, "dwconv_backend", None),  # MedNeXt runs: depthwise-conv backend
            "dwconv_choices": getattr(trainer, "dwconv_choices", None),  # ... and the Triton backend's choices
            "checkpointing": getattr(trainer, "checkpointing", None)}  # MedNeXt runs: what backward recomputed


def peak_gpu_memory_gib(trainer) -> float | None:
    """Peak GPU memory allocated since the attempt started (its statistics are reset then); None on CPU."""
    cuda = trainer.device.type == "cuda"
    return torch.cuda.max_memory_allocated(trainer.device) / 2**30 if cuda else None


def training_seconds(logging: dict) -> float:
    """Sum of epoch durations from nnU-Net's own log (kept in checkpoints, so resumes add up)."""
    starts, ends = logging.get("epoch_start_timestamps") or [], logging.get("epoch_end_timestamps") or []
    return float(sum(e - s for s, e in zip(starts, ends)))


def learning_curve(logging: dict) -> dict[str, list[float]]:
    """Per epoch, from nnU-Net's own log: training and validation loss, pseudo Dice (the mean over classes of the
    validation batches' Dice) and its moving average (nnU-Net's EMA, which picks checkpoint_best)."""
    keys = {"train_loss": "train_losses", "val_loss": "val_losses", "pseudo_dice": "mean_fg_dice",
            "ema_pseudo_dice": "ema_fg_dice"}
    return {name: [float(v) for v in logging.get(key) or []] for name, key in keys.items()}


def _write(folder: str, record: dict) -> dict:
    write_text_atomic(join(folder, RUN_RECORD), json.dumps(record, indent=2))
    return record


def write_run_record(trainer) -> dict:
    """The record of a finished :class:`~mednext.nnunet.budget.BudgetedTrainer` run."""
    import mednext

    cm = trainer.configuration_manager
    return _write(trainer.output_folder, {
        "trainer": trainer.__class__.__name__,
        "plans": trainer.plans_manager.plans_name,
        "configuration": trainer.configuration_name,
        "fold": trainer.fold,
        **trainer.run_settings(),
        "epochs_completed": trainer.current_epoch,
        "patch_size": [int(p) for p in cm.patch_size],
        "batch_size": int(trainer.batch_size),
        "spacing": [float(s) for s in cm.spacing],
        "deep_supervision": trainer.enable_deep_supervision,
        "initialised_from": trainer.initialised_from,
        "training_seconds": training_seconds(trainer.logger.get_checkpoint()),
        "learning_curve": learning_curve(trainer.logger.get_checkpoint()),
        "before_training": read_before_training(trainer.output_folder),
        "attempts": read_attempts(trainer.output_folder),
        "peak_gpu_memory_gib": peak_gpu_memory_gib(trainer),  # the last attempt's, as the fields below
        **attempt_setup(trainer),
        "versions": {"torch": torch.__version__, "nnunetv2": _dist_version("nnunetv2"), "mednext": mednext.__version__,
                     "python": platform.python_version()},
    })


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def record_from_checkpoint(fold_folder: str, trainer: str) -> dict:
    """A run record for a run made by a trainer that writes none (nnU-Net's stock ``nnUNetTrainer``).

    The budget is nnU-Net's default (the stock trainer has no other); epochs, learning rate and
    training time come from the checkpoint's own log. Peak GPU memory is unknown (None).
    """
    checkpoint = load_checkpoint(join(fold_folder, "checkpoint_final.pth"))
    logging, init = checkpoint.get("logging", {}), checkpoint.get("init_args", {})
    return _write(fold_folder, {
        "trainer": trainer,
        "plans": init.get("plans", {}).get("plans_name"),
        "configuration": init.get("configuration"),
        "fold": init.get("fold"),
        "budget": asdict(Budget()),
        "initial_lr": float(logging["lrs"][0]) if logging.get("lrs") else None,
        "epochs_completed": int(checkpoint.get("current_epoch", 0)),
        "training_seconds": training_seconds(logging),
        "learning_curve": learning_curve(logging),
        "peak_gpu_memory_gib": None,
        "source": "checkpoint_final.pth (trainer writes no run record)",
    })


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m mednext.nnunet.run_record FOLD_DIR TRAINER", file=sys.stderr)
        return 2
    if not isfile(join(args[0], RUN_RECORD)):
        record_from_checkpoint(*args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
