"""nnU-Net's trainer with the run's settings: budget and learning rate from the environment.

Demos, tests and quick looks shrink the paper's 1000 epochs x 250 iterations without touching
code: :class:`BudgetedTrainer` reads the budget (``MEDNEXT_EPOCHS``, ``MEDNEXT_ITERATIONS``,
``MEDNEXT_VAL_ITERATIONS``, see :class:`mednext.nnunet.runspec.Budget`) when it is created, and
``MEDNEXT_SAVE_EVERY`` (epochs between ``checkpoint_latest.pth``; nnU-Net's 50 if unset).

Its checkpoints record those settings, and a resumed run (``nnUNetv2_train ... --c``) refuses a
checkpoint trained under other settings. When training ends it writes ``run_record.json``
beside ``checkpoint_final.pth`` (:mod:`mednext.nnunet.run_record`), with every attempt (job) the
run took.

Long runs outlive their jobs: on notice (:mod:`mednext.nnunet.notice`: SIGTERM, SIGUSR1, or the
SLURM job's end coming) the trainer finishes its epoch, saves ``checkpoint_latest.pth`` and exits
with 75, which the workflow continues with ``--c``; ``checkpoint_latest.pth`` outlives training as a
link to ``checkpoint_final.pth``. Every checkpoint is written to a temporary
file and renamed, so a kill during a save leaves the previous one whole. A run whose validation
loss turns NaN or infinite stops with :class:`DivergedError` before that epoch's weights are saved.

Before the first training step the trainer runs one of nnU-Net's validation epochs on the network
as initialised (``before_training.json``, then the run record): a run started from another run's
weights (UpKern) shows there how far ahead it starts, which the first epoch's validation can hide
(a from-scratch net that predicts only background has a low cross-entropy after a few steps).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from os.path import isfile, join

import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.collate_outputs import collate_outputs

from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.inputs import INPUTS_KEY, changed_inputs, run_inputs
from mednext.nnunet.notice import CONTINUE_EXIT, Notice
from mednext.nnunet.run_record import (attempt_setup, end_attempt, note_attempt, peak_gpu_memory_gib,
                                        start_attempt, write_before_training, write_run_record)
from mednext.nnunet.runspec import Budget, positive_from_env

__all__ = ["BudgetedTrainer", "DivergedError", "INITIALISED_KEY", "RunSettingsError", "SETTINGS_KEY", "check_diverged"]

SETTINGS_KEY = "mednext_settings"  # in a checkpoint's init_args
# also there: the checkpoint a run started from (UpKern), so that a resumed run's record still names it; not a
# setting (a resume does not compare it), since only the attempt that starts the run loads the source
INITIALISED_KEY = "mednext_initialised_from"


class RunSettingsError(RuntimeError):
    """A checkpoint was trained under other settings than the run that would resume it."""


class DivergedError(RuntimeError):
    """Training diverged: the validation loss is not finite (the network's outputs are NaN or infinite)."""


def check_diverged(logging: dict, folder: str) -> None:
    """Raise :class:`DivergedError` when the last epoch's validation loss (nnU-Net's log) is NaN or infinite.

    nnU-Net trains on through NaNs; a run whose weights have become NaN would then spend its whole budget
    and be evaluated as a model. (A NaN in one training step alone, which AMP's grad scaler skips, leaves
    the weights and so the validation loss finite.)
    """
    val_losses = logging.get("val_losses") or []
    if val_losses and not np.isfinite(val_losses[-1]):
        train = (logging.get("train_losses") or [float("nan")])[-1]
        raise DivergedError(
            f"training diverged in epoch {len(val_losses) - 1} of {folder}: validation loss {val_losses[-1]}, "
            f"training loss {train}. Lower the learning rate (MEDNEXT_LR; in the workflow a dataset's lr_k5 for "
            "kernel-5 runs, as the paper did for KiTS19), then delete this run's folder and train again.")


class BudgetedTrainer(nnUNetTrainer):
    """nnU-Net's trainer with the budget from the environment, a run record, atomic checkpoints and
    checkpoint-on-notice. Nothing of the recipe changes."""

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        if self.device.type == "cpu" and os.environ.get("OMP_NUM_THREADS"):
            # nnUNetv2_train -device cpu sets torch's threads to every core of the machine, whatever the job was
            # given: two jobs on two cores then run four threads and each runs several times slower. A job's
            # OMP_NUM_THREADS (the workflow sets it to the rule's threads) wins.
            torch.set_num_threads(positive_from_env("OMP_NUM_THREADS", 1))
        budget = Budget.from_env()
        self.num_epochs = budget.epochs
        self.num_iterations_per_epoch = budget.iterations
        self.num_val_iterations_per_epoch = budget.val_iterations
        self.save_every = positive_from_env("MEDNEXT_SAVE_EVERY", self.save_every)
        self.initialised_from: dict | None = None  # filled by trainers that start from a checkpoint
        self._inputs: dict[str, str] | None = None  # mednext.nnunet.inputs.run_inputs, once training runs
        self.notice: Notice | None = None  # set when training starts
        self.set_recipe()

    def set_recipe(self) -> None:
        """Where a subclass sets its recipe's tunables (learning rate, weight decay, ...) over nnU-Net's."""

    def run_settings(self) -> dict:
        """What makes this run's result what it is, beyond trainer, plans, configuration and fold."""
        budget = Budget(self.num_epochs, self.num_iterations_per_epoch, self.num_val_iterations_per_epoch)
        return {"budget": asdict(budget), "initial_lr": self.initial_lr}

    def source_checkpoint(self) -> str | None:
        """The checkpoint this run starts from (trainers that start from another run say which)."""
        return None

    def run_inputs(self) -> dict[str, str]:
        """What this run trains on (:func:`mednext.nnunet.inputs.run_inputs`), computed once: when training starts
        (after nnU-Net wrote the splits) or when a checkpoint is resumed."""
        if self._inputs is None:
            self._inputs = run_inputs(self._plans_json(), self.source_checkpoint())
        return self._inputs

    def _plans_json(self) -> str:
        return join(self.preprocessed_dataset_folder_base, f"{self.plans_manager.plans_name}.json")

    def save_checkpoint(self, filename: str) -> None:
        self.my_init_kwargs[SETTINGS_KEY] = self.run_settings()
        self.my_init_kwargs[INITIALISED_KEY] = self.initialised_from
        self.my_init_kwargs[INPUTS_KEY] = self.run_inputs()
        partial = f"{filename}.part"
        super().save_checkpoint(partial)
        if isfile(partial):  # rank 0 with checkpointing on
            os.replace(partial, filename)

    def load_checkpoint(self, filename_or_checkpoint: dict | str) -> None:
        checkpoint = filename_or_checkpoint
        if not isinstance(checkpoint, dict):
            checkpoint = load_checkpoint(filename_or_checkpoint, self.device)  # refuses all but nnU-Net's contents
        where = filename_or_checkpoint if isinstance(filename_or_checkpoint, str) else "the checkpoint"
        recorded, requested = checkpoint["init_args"].get(SETTINGS_KEY), self.run_settings()
        if recorded != requested:
            raise RunSettingsError(
                f"{where} was trained with {recorded or 'unrecorded settings'}, but this run asks for {requested}: "
                "a run never continues under other settings. Train into another folder (the workflow names one "
                "per budget and learning rate) or delete this one.")
        changed = changed_inputs(checkpoint["init_args"].get(INPUTS_KEY), self.run_inputs())
        if changed:
            raise RunSettingsError(
                f"{where} was trained on other inputs ({', '.join(changed)} changed since): a run never continues on "
                "other data. Delete this run's folder to train it again (the workflow does so itself).")
        # nnU-Net 2.8 reads the file again itself (it fails on a dict); the file holds nothing else, as just checked
        super().load_checkpoint(filename_or_checkpoint)
        self.initialised_from = checkpoint["init_args"].get(INITIALISED_KEY)

    def run_training(self):
        try:
            super().run_training()
        except SystemExit as stop:
            if stop.code != CONTINUE_EXIT:
                self._end_attempt("failed", f"exit {stop.code}")
                self._stop_dataloaders()
            raise
        except BaseException as err:
            self._end_attempt("failed", f"{type(err).__name__}: {err}"[:500])
            # else the process would hang at exit, joining augmentation workers nobody stopped (a job that
            # failed would hold its node until the walltime)
            self._stop_dataloaders()
            raise
        finally:
            if self.notice is not None:
                self.notice.uninstall()

    def on_train_start(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.notice = Notice.from_env()
        self.notice.install()  # before the data loader workers fork: they inherit a handler, not death by SIGTERM
        if self.local_rank == 0:  # before nnU-Net opens the data: a bad case is a failed attempt
            # on the inputs as they are now (outside the workflow nnU-Net writes the splits only in a moment)
            now = run_inputs(self._plans_json(), self.source_checkpoint())
            start_attempt(self.output_folder, self.current_epoch, now)
        super().on_train_start()
        inputs = self.run_inputs()  # now, not in the first checkpoint's save
        if self.local_rank == 0:  # the network is built now: what this attempt trains with
            note_attempt(self.output_folder, **attempt_setup(self), inputs=inputs)
        # epoch 0 is a network as initialised, never a resume (nnU-Net's checkpoints hold >= 1 epoch): a start that
        # failed before its first checkpoint validated another initialisation (or another UpKern source)
        if self.current_epoch == 0 and self.local_rank == 0 and not self.is_ddp:
            write_before_training(self.output_folder, self.validate_before_training())

    def validate_before_training(self) -> dict:
        """One of nnU-Net's validation epochs (its batches, loss and pseudo Dice) on the network as it is now."""
        with torch.no_grad():
            self.on_validation_epoch_start()
            outputs = collate_outputs([self.validation_step(next(self.dataloader_val))
                                       for _ in range(self.num_val_iterations_per_epoch)])
        tp, fp, fn = (np.sum(outputs[k], 0) for k in ("tp_hard", "fp_hard", "fn_hard"))
        with np.errstate(invalid="ignore", divide="ignore"):
            dice = 2 * tp / (2 * tp + fp + fn)
        validation = {"val_loss": float(np.mean(outputs["loss"])), "pseudo_dice": float(np.nanmean(dice))}
        self.print_to_log_file(f"Before training: val_loss {validation['val_loss']:.4f}, "
                               f"pseudo Dice {validation['pseudo_dice']:.4f}")
        return validation

    def on_epoch_end(self):
        check_diverged(self.logger.get_checkpoint(), self.output_folder)  # before nnU-Net saves the epoch's weights
        super().on_epoch_end()  # counts the epoch: current_epoch is now the number of epochs done
        log = self.logger.get_checkpoint()
        epoch_s = log["epoch_end_timestamps"][-1] - log["epoch_start_timestamps"][-1]
        why = self.notice.reason(self.notice.final_s if self.current_epoch >= self.num_epochs else epoch_s)
        if why is None:
            return
        # nnU-Net's save_checkpoint stores current_epoch + 1 (it expects to run before the count; cf. its on_train_end)
        self.current_epoch -= 1
        self.save_checkpoint(join(self.output_folder, "checkpoint_latest.pth"))
        self.current_epoch += 1
        self.print_to_log_file(f"Stopped on notice ({why}) after {self.current_epoch} epochs; continue with --c")
        self._end_attempt("notice", why)
        self._stop_dataloaders()
        raise SystemExit(CONTINUE_EXIT)

    def on_train_end(self):
        super().on_train_end()  # writes checkpoint_final.pth, deletes checkpoint_latest.pth
        if self.local_rank == 0:
            # A job killed during the final validation or its wrap-up (SLURM TIMEOUT) is rerun by the workflow,
            # which first deletes its outputs (checkpoint_final.pth among them): the run resumes from this link
            # (a hard link: no extra disk), not from scratch. To train a finished run again, delete its folder.
            final, latest = join(self.output_folder, "checkpoint_final.pth"), join(self.output_folder, "checkpoint_latest.pth")
            if isfile(final) and not isfile(latest):
                os.link(final, latest)
        self._end_attempt("finished")
        if self.local_rank == 0:
            write_run_record(self)

    def _end_attempt(self, ended: str, detail: str | None = None) -> None:
        if self.local_rank == 0 and self.notice is not None:
            end_attempt(self.output_folder, self.current_epoch, ended, detail,
                        peak_gpu_memory_gib=peak_gpu_memory_gib(self))

    def _stop_dataloaders(self) -> None:
        """End the augmentation workers, as nnU-Net's on_train_end does, so that the process can exit."""
        for loader in (self.dataloader_train, self.dataloader_val):
            if hasattr(loader, "_finish"):
                loader._finish()
