"""The training budget (epochs x iterations) and the run record written beside each checkpoint.

The paper trains 1000 epochs x 250 iterations. Demos, tests and quick looks shrink that
without touching code, through environment variables read when a trainer is created:

=========================  ==========================================  =========
variable                   meaning                                     default
=========================  ==========================================  =========
``MEDNEXT_NUM_EPOCHS``     epochs                                      1000
``MEDNEXT_ITERS_PER_EPOCH`` training iterations per epoch              250
``MEDNEXT_VAL_ITERS``      validation iterations per epoch             50
``MEDNEXT_SAVE_EVERY``     write ``checkpoint_latest.pth`` every N     50
=========================  ==========================================  =========

(The patch size is part of the plans: use a configuration such as ``3d_fullres_p32``.)
Whatever the budget, :class:`BudgetedTrainer` writes ``run_record.json`` next to
``checkpoint_final.pth``: the budget actually run, patch and batch size, wall time, peak GPU
memory, device and versions, so that tables can say what was run.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from os.path import join

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

__all__ = ["Budget", "BudgetedTrainer", "RUN_RECORD", "positive_from_env", "record_from_checkpoint"]

RUN_RECORD = "run_record.json"


def positive_from_env(name: str, default: int | float, kind: type = int) -> int | float:
    """``kind(os.environ[name])`` if the variable is set, else ``default``; anything not > 0 is an error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not value > 0:
        what = "integer" if kind is int else "number"
        raise ValueError(f"environment variable {name}={raw!r} must be a positive {what} (unset it for {default})")
    return value


@dataclass(frozen=True)
class Budget:
    """How long a run trains."""

    num_epochs: int = 1000
    iterations_per_epoch: int = 250
    val_iterations_per_epoch: int = 50
    save_every: int = 50

    @classmethod
    def from_env(cls) -> Budget:
        d = cls()
        return cls(
            num_epochs=positive_from_env("MEDNEXT_NUM_EPOCHS", d.num_epochs),
            iterations_per_epoch=positive_from_env("MEDNEXT_ITERS_PER_EPOCH", d.iterations_per_epoch),
            val_iterations_per_epoch=positive_from_env("MEDNEXT_VAL_ITERS", d.val_iterations_per_epoch),
            save_every=positive_from_env("MEDNEXT_SAVE_EVERY", d.save_every),
        )


class BudgetedTrainer(nnUNetTrainer):
    """nnU-Net's trainer with the budget from the environment and a run record. Nothing else changes."""

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        budget = Budget.from_env()
        self.num_epochs = budget.num_epochs
        self.num_iterations_per_epoch = budget.iterations_per_epoch
        self.num_val_iterations_per_epoch = budget.val_iterations_per_epoch
        self.save_every = budget.save_every
        self.initialised_from: dict | None = None  # filled by trainers that start from a checkpoint

    def on_train_start(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        super().on_train_start()

    def on_train_end(self):
        super().on_train_end()
        if self.local_rank == 0:
            self._write_run_record()

    def _training_seconds(self) -> float:
        """Sum of epoch durations from nnU-Net's own log (kept in checkpoints, so resumes add up)."""
        starts = self.logger.get_value("epoch_start_timestamps", step=None) or []
        ends = self.logger.get_value("epoch_end_timestamps", step=None) or []
        return float(sum(e - s for s, e in zip(starts, ends)))

    def _write_run_record(self) -> None:
        import nnunetv2

        import mednext

        cm = self.configuration_manager
        record = {
            "trainer": self.__class__.__name__,
            "plans": self.plans_manager.plans_name,
            "configuration": self.configuration_name,
            "fold": self.fold,
            "budget": asdict(Budget(self.num_epochs, self.num_iterations_per_epoch,
                                    self.num_val_iterations_per_epoch, self.save_every)),
            "epochs_completed": self.current_epoch,
            "patch_size": [int(p) for p in cm.patch_size],
            "batch_size": int(self.batch_size),
            "spacing": [float(s) for s in cm.spacing],
            "initial_lr": self.initial_lr,
            "deep_supervision": self.enable_deep_supervision,
            "initialised_from": self.initialised_from,
            "training_seconds": self._training_seconds(),
            "peak_gpu_memory_gib": (torch.cuda.max_memory_allocated(self.device) / 2**30
                                    if self.device.type == "cuda" else None),
            "device": str(self.device),
            "gpu_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None,
            "versions": {"torch": torch.__version__, "nnunetv2": getattr(nnunetv2, "__version__", None)
                         or _dist_version("nnunetv2"), "mednext": mednext.__version__,
                         "python": platform.python_version()},
        }
        with open(join(self.output_folder, RUN_RECORD), "w") as f:
            json.dump(record, f, indent=2)


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def record_from_checkpoint(fold_folder: str, trainer: str) -> dict:
    """A run record for a run made by a trainer that writes none (nnU-Net's stock ``nnUNetTrainer``).

    The budget is nnU-Net's default (the stock trainer has no other); epochs and training time
    come from the checkpoint's own log. Peak GPU memory is unknown (None).
    """
    checkpoint = torch.load(join(fold_folder, "checkpoint_final.pth"), map_location="cpu", weights_only=False)
    logging = checkpoint.get("logging", {})
    starts, ends = logging.get("epoch_start_timestamps", []), logging.get("epoch_end_timestamps", [])
    init = checkpoint.get("init_args", {})
    record = {
        "trainer": trainer,
        "plans": init.get("plans", {}).get("plans_name"),
        "configuration": init.get("configuration"),
        "fold": init.get("fold"),
        "budget": asdict(Budget()),
        "epochs_completed": int(checkpoint.get("current_epoch", 0)),
        "training_seconds": float(sum(e - s for s, e in zip(starts, ends))),
        "peak_gpu_memory_gib": None,
        "source": "checkpoint_final.pth (trainer writes no run record)",
    }
    with open(join(fold_folder, RUN_RECORD), "w") as f:
        json.dump(record, f, indent=2)
    return record


def main(argv=None) -> int:
    """``python -m mednext.nnunet.budget ensure-record FOLD_DIR TRAINER``: write a record if the trainer wrote none."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "ensure-record":
        print("usage: python -m mednext.nnunet.budget ensure-record FOLD_DIR TRAINER", file=sys.stderr)
        return 2
    if not os.path.isfile(join(args[1], RUN_RECORD)):
        record_from_checkpoint(args[1], args[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
