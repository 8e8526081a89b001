"""UNETR and SwinUNETR (MONAI 1.6 networks) as nnU-Net v2 trainers.

Settings follow the official MedNeXt code's baselines: no deep supervision, AdamW (weight
decay 3e-5, eps 1e-4) with poly decay, lr 1e-4; UNETR with feature size 16, hidden size 768,
12 heads, MLP 3072, perceptron patch embedding, instance norm, residual blocks; SwinUNETR
with feature size 48. Both take the patch size from the plans (128^3 in the MedNeXt plans); SwinUNETR downsamples
by 32 and needs a patch of at least 64 along one axis.
"""

from __future__ import annotations

from monai.networks.nets import UNETR, SwinUNETR
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn

from mednext.nnunet.budget import BudgetedTrainer
from mednext.nnunet.trainer import adamw_poly


def _require_divisible(patch_size, divisor: int, network: str, plans_manager: PlansManager) -> tuple[int, ...]:
    """Patch edges divisible by the network's total stride, with more than one voxel at the coarsest level."""
    patch = tuple(int(p) for p in patch_size)
    if len(patch) != 3 or any(p % divisor for p in patch) or all(p == divisor for p in patch):
        raise ValueError(f"{network} needs a 3D patch whose edges are multiples of {divisor}, at least one of them "
                         f">= {2 * divisor}; plans {plans_manager.plans_name!r} give {list(patch)} "
                         f"(the MedNeXt plans have 3d_fullres_p64 for small runs)")
    return patch


def build_unetr(in_channels: int, num_classes: int, patch_size: tuple[int, int, int]) -> UNETR:
    """UNETR as in the official MedNeXt baselines (its ViT is sized for ``patch_size``)."""
    return UNETR(in_channels=in_channels, out_channels=num_classes, img_size=patch_size, feature_size=16,
                 hidden_size=768, mlp_dim=3072, num_heads=12, proj_type="perceptron", norm_name="instance",
                 conv_block=True, res_block=True, dropout_rate=0.0)


def build_swinunetr(in_channels: int, num_classes: int) -> SwinUNETR:
    """SwinUNETR as in the official MedNeXt baselines (feature size 48)."""
    return SwinUNETR(in_channels=in_channels, out_channels=num_classes, feature_size=48, use_checkpoint=False)


class _MonaiBaselineTrainer(BudgetedTrainer):
    """A MONAI network in nnU-Net: no deep supervision, AdamW + poly, lr 1e-4."""

    def set_recipe(self) -> None:
        self.enable_deep_supervision = False
        self.initial_lr = 1e-4
        self.weight_decay = 3e-5

    def set_deep_supervision_enabled(self, enabled: bool):
        pass  # nothing to switch; nnU-Net calls this around validation

    def configure_optimizers(self):
        return adamw_poly(self)


class nnUNetTrainerUNETR(_MonaiBaselineTrainer):
    @staticmethod
    def build_network_architecture(plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                                   num_input_channels: int, num_output_channels: int,
                                   enable_deep_supervision: bool = False) -> nn.Module:
        patch = _require_divisible(configuration_manager.patch_size, 16, "UNETR", plans_manager)
        return build_unetr(num_input_channels, num_output_channels, patch)


class nnUNetTrainerSwinUNETR(_MonaiBaselineTrainer):
    @staticmethod
    def build_network_architecture(plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                                   num_input_channels: int, num_output_channels: int,
                                   enable_deep_supervision: bool = False) -> nn.Module:
        _require_divisible(configuration_manager.patch_size, 32, "SwinUNETR", plans_manager)
        return build_swinunetr(num_input_channels, num_output_channels)
