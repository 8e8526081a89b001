"""What MedNeXt changes in nnU-Net's trainer, and how a run starts from another run's checkpoint.

* :class:`nnUNetTrainerMedNeXt`: the network (``mednext.create_mednext``), AdamW (lr 1e-3,
  weight decay 3e-5, eps 1e-4) with nnU-Net's poly decay (exponent 0.9), and deep supervision
  on all five outputs with weights 1, 1/2, 1/4, 1/8, 1/16 normalised to sum 1 (the official
  MedNeXt recipe). nnU-Net itself provides the rest: Dice+CE, grad-norm clip 12, AMP on GPU,
  augmentation, sliding-window inference.
  ``MEDNEXT_LR`` overrides the learning rate (the paper's KiTS19 kernel-5 runs used 1e-4; the
  workflow sets it from the dataset's ``lr_k5``); the run record keeps the value used.
  ``MEDNEXT_CHECKPOINTING`` (``none``, ``pointwise`` or ``block``) sets what backward recomputes
  (:class:`mednext.network.MedNeXt`); unset, :meth:`nnUNetTrainerMedNeXt.default_checkpointing`
  (``pointwise`` for M and L, ``none`` for S and B). It changes memory and time, never a result; the
  run record says which ran.
  ``torch.compile`` only where ``nnUNet_compile`` asks for it (nnU-Net compiles on GPU unless told
  not to): see :meth:`nnUNetTrainerMedNeXt._do_i_compile`.
* :class:`InitFromK3`: start training from the ``checkpoint_final.pth`` of the k3 trainer of
  the same variant, dataset, plans, configuration and fold, through :func:`mednext.upkern`
  (UpKern when the kernel grows; an exact copy for the "trained twice" control).
  ``MEDNEXT_SOURCE_CHECKPOINT`` names that file (the workflow passes its own); unset, it is
  the k3 run's folder under ``nnUNet_results``.

The named trainers (``nnUNetTrainerMedNeXt_B_k5_UpKern`` ...) are one-line subclasses in
``mednext/nnunet/trainers/``.
"""

from __future__ import annotations

import os
from os.path import isfile, join

import torch
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.utilities.file_path_utilities import get_output_folder
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn

from mednext.data.download import sha256_of
from mednext.nnunet.budget import SETTINGS_KEY, BudgetedTrainer, RunSettingsError
from mednext.nnunet.checkpoints import load_checkpoint
from mednext.nnunet.plans import check_patch_size
from mednext.nnunet.runspec import CHECKPOINTING_VARIABLE, LR_VARIABLE, positive_from_env
from mednext.kernels import choices, resolve_backend
from mednext.network import CHECKPOINTING, DEEP_SUPERVISION_WEIGHTS, check_checkpointing
from mednext.scaling import create_mednext, training_checkpointing
from mednext.upkern import upkern

__all__ = ["DEEP_SUPERVISION_WEIGHTS", "InitFromK3", "SOURCE_VARIABLE", "adamw_poly", "nnUNetTrainerMedNeXt", "unwrap"]

SOURCE_VARIABLE = "MEDNEXT_SOURCE_CHECKPOINT"


def unwrap(network: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or torch.compile wrappers."""
    network = getattr(network, "module", network)  # DDP
    return getattr(network, "_orig_mod", network)  # torch.compile


def adamw_poly(trainer):
    """AdamW (eps 1e-4, stable under fp16) with nnU-Net's poly decay: the paper's optimiser for every model."""
    optimizer = torch.optim.AdamW(trainer.network.parameters(), lr=trainer.initial_lr,
                                  weight_decay=trainer.weight_decay, eps=1e-4)
    return optimizer, PolyLRScheduler(optimizer, trainer.initial_lr, trainer.num_epochs)


class nnUNetTrainerMedNeXt(BudgetedTrainer):
    """MedNeXt in nnU-Net v2. Subclasses set ``variant`` and ``kernel_size`` (and ablation switches)."""

    variant: str = "S"
    kernel_size: int = 3
    residual_resampling: bool = True

    def set_recipe(self) -> None:
        self.initial_lr = positive_from_env(LR_VARIABLE, 1e-3, float)
        self.weight_decay = 3e-5

    @property
    def dwconv_backend(self) -> str:
        """Who computes the depthwise convs of this run: ``"triton"`` (our kernels, on CUDA) or ``"torch"``.

        The network is built with ``dwconv="auto"``; this is what that resolves to on the trainer's device.
        """
        return resolve_backend(unwrap(self.network).dwconv, self.device)

    @property
    def dwconv_choices(self) -> str | None:
        """Where the Triton backend takes its per-layer choices from (the kernel family; under
        ``auto`` also PyTorch's kernel on the shapes where it measured faster): the file and its
        measurement. None where PyTorch computes every depthwise conv."""
        return choices.table_source() if self.dwconv_backend == "triton" else None

    @property
    def checkpointing(self) -> str:
        """What backward recomputes in this run (``MEDNEXT_CHECKPOINTING``, or :meth:`default_checkpointing`)."""
        return unwrap(self.network).checkpointing

    @classmethod
    def default_checkpointing(cls) -> str:
        """What backward recomputes when ``MEDNEXT_CHECKPOINTING`` is unset:
        :func:`mednext.scaling.training_checkpointing` (``pointwise`` for M and L, ``none`` for S and B)."""
        return training_checkpointing(cls.variant)

    def _do_i_compile(self) -> bool:
        """``torch.compile`` (of the network and of nnU-Net's Dice loss) only where ``nnUNet_compile`` is set
        to true; nnU-Net's own default is on, on GPU.

        On an H200 (torch 2.11, 2026-11-28, benchmarks/RESULTS.md), a compiled MedNeXt with our Triton ops
        ran no faster than the eager one (dynamo broke the graph at our autocast check) and failed to
        compile with pointwise checkpointing. Both causes are addressed since (``mednext.kernels``), but a
        compiled step has not yet been seen to finish on a GPU.
        """
        if "nnUNet_compile" not in os.environ:  # nnU-Net compiles then; its own check reads a value that is set
            return False
        return super()._do_i_compile()

    @staticmethod
    def checkpointing_from_env() -> str | None:
        """``MEDNEXT_CHECKPOINTING`` if set (one of :data:`mednext.network.CHECKPOINTING`), else None."""
        mode = os.environ.get(CHECKPOINTING_VARIABLE, "").strip()
        if not mode:
            return None
        try:
            return check_checkpointing(mode)
        except ValueError:
            raise ValueError(f"environment variable {CHECKPOINTING_VARIABLE}={mode!r} must be one of "
                             f"{', '.join(CHECKPOINTING)} (unset it for the trainers' default of the variant)"
                             ) from None

    @classmethod
    def build_network_architecture(cls, plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                                   num_input_channels: int, num_output_channels: int,
                                   enable_deep_supervision: bool = True) -> nn.Module:
        check_patch_size(configuration_manager.patch_size, f" (plans {plans_manager.plans_name!r})")
        # The heads always exist so that one checkpoint serves training and inference alike.
        network = create_mednext(cls.variant, num_input_channels, num_output_channels, cls.kernel_size,
                                 deep_supervision=True, residual_resampling=cls.residual_resampling,
                                 checkpointing=cls.checkpointing_from_env() or cls.default_checkpointing())
        network.deep_supervision = enable_deep_supervision
        return network

    def set_deep_supervision_enabled(self, enabled: bool):
        unwrap(self.network).deep_supervision = enabled

    def _get_deep_supervision_scales(self):
        if not self.enable_deep_supervision:
            return None
        return [[1 / 2**i] * 3 for i in range(len(DEEP_SUPERVISION_WEIGHTS))]

    def _build_loss(self):
        # nnU-Net's Dice+CE exactly as configured by the parent, wrapped with MedNeXt's five weights
        # (nnU-Net's own wrapper drops the lowest output; MedNeXt supervises all five).
        enabled, self.enable_deep_supervision = self.enable_deep_supervision, False
        try:
            loss = super()._build_loss()
        finally:
            self.enable_deep_supervision = enabled
        return DeepSupervisionWrapper(loss, DEEP_SUPERVISION_WEIGHTS) if enabled else loss

    def configure_optimizers(self):
        return adamw_poly(self)


class InitFromK3:
    """Mixin: before the first epoch, load the k3 run of the same fold through :func:`mednext.upkern`.

    Resumed runs (``--c``) continue from their own checkpoint instead.
    """

    source_kernel_size: int = 3

    @classmethod
    def source_trainer_name(cls) -> str:
        return f"nnUNetTrainerMedNeXt_{cls.variant}_k{cls.source_kernel_size}"

    def source_checkpoint(self) -> str:
        return os.environ.get(SOURCE_VARIABLE) or join(
            get_output_folder(self.plans_manager.dataset_name, self.source_trainer_name(), self.plans_manager.plans_name,
                              self.configuration_name, self.fold), "checkpoint_final.pth")

    def initialise_from_source(self) -> None:
        path = self.source_checkpoint()
        if not isfile(path):
            lr = os.environ.get(LR_VARIABLE)
            raise FileNotFoundError(
                f"{self.__class__.__name__} starts from the trained {self.source_trainer_name()} of the same fold, "
                f"but {path} does not exist. Train it first:\n  "
                + (f"env -u {LR_VARIABLE} " if lr else "")  # the source trains at its recipe's rate
                + f"nnUNetv2_train {self.plans_manager.dataset_name} {self.configuration_name} {self.fold} -tr "
                f"{self.source_trainer_name()} -p {self.plans_manager.plans_name}\nor point {SOURCE_VARIABLE} at "
                "its checkpoint_final.pth where it was trained elsewhere"
                + (f" (with {LR_VARIABLE}={lr} this run has its own nnUNet_results; its k3 source is in the "
                   "paper-rate one)" if lr else "")
            )
        checkpoint = load_checkpoint(path)
        trained, budget = checkpoint["init_args"].get(SETTINGS_KEY, {}).get("budget"), self.run_settings()["budget"]
        if trained != budget:
            raise RunSettingsError(f"{path} was trained with budget {trained}, but {self.__class__.__name__} runs with "
                                   f"{budget}: a run starts only from a source trained with its own budget")
        report = upkern(checkpoint["network_weights"], unwrap(self.network))
        digest = sha256_of(path)
        self.initialised_from = {"checkpoint": path, "sha256": digest, "trainer": self.source_trainer_name(),
                                 "interpolated": len(report.interpolated), "copied": len(report.copied)}
        self.print_to_log_file(f"Initialised from {path}: {report}")

    def on_train_start(self):
        if self.current_epoch == 0:
            if not self.was_initialized:
                self.initialize()
            self.initialise_from_source()
        super().on_train_start()
