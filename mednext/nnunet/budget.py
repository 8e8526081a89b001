"""nnU-Net's trainer with the run's settings: budget and learning rate from the environment.

Demos, tests and quick looks shrink the paper's 1000 epochs x 250 iterations without touching
code: :class:`BudgetedTrainer` reads the budget (``MEDNEXT_EPOCHS``, ``MEDNEXT_ITERATIONS``,
``MEDNEXT_VAL_ITERATIONS``, see :class:`mednext.nnunet.runspec.Budget`) when it is created, and
``MEDNEXT_SAVE_EVERY`` (epochs between ``checkpoint_latest.pth``; nnU-Net's 50 if unset).

Its checkpoints record those settings, and a resumed run (``nnUNetv2_train ... --c``) refuses a
checkpoint trained under other settings. When training ends it writes ``run_record.json``
beside ``checkpoint_final.pth`` (:mod:`mednext.nnunet.run_record`).
"""

from __future__ import annotations

from dataclasses import asdict

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.run_record import write_run_record
from mednext.nnunet.runspec import Budget, positive_from_env

__all__ = ["BudgetedTrainer", "RunSettingsError", "SETTINGS_KEY"]

SETTINGS_KEY = "mednext_settings"  # in a checkpoint's init_args


class RunSettingsError(RuntimeError):
    """A checkpoint was trained under other settings than the run that would resume it."""


class BudgetedTrainer(nnUNetTrainer):
    """nnU-Net's trainer with the budget from the environment and a run record. Nothing else changes."""

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        budget = Budget.from_env()
        self.num_epochs = budget.epochs
        self.num_iterations_per_epoch = budget.iterations
        self.num_val_iterations_per_epoch = budget.val_iterations
        self.save_every = positive_from_env("MEDNEXT_SAVE_EVERY", self.save_every)
        self.initialised_from: dict | None = None  # filled by trainers that start from a checkpoint
        self.set_recipe()

    def set_recipe(self) -> None:
        """Where a subclass sets its recipe's tunables (learning rate, weight decay, ...) over nnU-Net's."""

    def run_settings(self) -> dict:
        """What makes this run's result what it is, beyond trainer, plans, configuration and fold."""
        budget = Budget(self.num_epochs, self.num_iterations_per_epoch, self.num_val_iterations_per_epoch)
        return {"budget": asdict(budget), "initial_lr": self.initial_lr}

    def save_checkpoint(self, filename: str) -> None:
        self.my_init_kwargs[SETTINGS_KEY] = self.run_settings()
        super().save_checkpoint(filename)

    def load_checkpoint(self, filename_or_checkpoint: dict | str) -> None:
        checkpoint = filename_or_checkpoint
        if not isinstance(checkpoint, dict):
            checkpoint = load_checkpoint(filename_or_checkpoint, self.device)  # refuses all but nnU-Net's contents
        recorded, requested = checkpoint["init_args"].get(SETTINGS_KEY), self.run_settings()
        if recorded != requested:
            where = filename_or_checkpoint if isinstance(filename_or_checkpoint, str) else "the checkpoint"
            raise RunSettingsError(
                f"{where} was trained with {recorded or 'unrecorded settings'}, but this run asks for {requested}: "
                "a run never continues under other settings. Train into another folder (the workflow names one "
                "per budget and learning rate) or delete this one.")
        # nnU-Net 2.8 reads the file again itself (it fails on a dict); the file holds nothing else, as just checked
        super().load_checkpoint(filename_or_checkpoint)

    def on_train_start(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        super().on_train_start()

    def on_train_end(self):
        super().on_train_end()
        if self.local_rank == 0:
            write_run_record(self)
