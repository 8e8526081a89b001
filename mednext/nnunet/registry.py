"""The benchmark's models: config key -> nnU-Net trainer, plans, configuration and dependency.

The workflow, the tables and the figures all name models by these keys (``mednext_B_k5_upkern``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mednext.nnunet.plans import MEDNEXT_PLANS

__all__ = ["ModelSpec", "model_spec", "configuration_for_patch", "DEFAULT_BUDGET", "REFERENCE_MODEL"]

NNUNET_PLANS = "nnUNetPlans"
REFERENCE_MODEL = "nnunet"
DEFAULT_BUDGET = {"epochs": 1000, "iterations": 250, "val_iterations": 50}
_MEDNEXT = re.compile(r"^mednext_(?P<v>[SBML])_k(?P<k>[35])(?P<suffix>_upkern|_noresresample|_twice)?$")


@dataclass(frozen=True)
class ModelSpec:
    key: str
    trainer: str
    plans: str
    configuration: str
    label: str  # for tables and figures
    family: str  # "nnU-Net", "UNETR", "SwinUNETR", "MedNeXt"
    variant: str | None = None
    kernel_size: int | None = None
    depends_on: str | None = None  # model key whose checkpoint this run starts from (same fold)


def configuration_for_patch(patch: int) -> str:
    """The MedNeXt-plans configuration for a cubic patch edge (``mednext-plan --small-patches``)."""
    return "3d_fullres" if patch == 128 else f"3d_fullres_p{patch}"


def model_spec(key: str, patch: int = 128, patch_swinunetr: int = 128, default_budget: bool = True) -> ModelSpec:
    """Resolve a model key. ``default_budget=False`` selects ``nnUNetTrainerBudget`` for nnU-Net itself."""
    if key == "nnunet":
        return ModelSpec(key, "nnUNetTrainer" if default_budget else "nnUNetTrainerBudget", NNUNET_PLANS,
                         "3d_fullres", "nnU-Net", "nnU-Net")
    if key == "unetr":
        return ModelSpec(key, "nnUNetTrainerUNETR", MEDNEXT_PLANS, configuration_for_patch(patch), "UNETR", "UNETR")
    if key == "swinunetr":
        return ModelSpec(key, "nnUNetTrainerSwinUNETR", MEDNEXT_PLANS, configuration_for_patch(patch_swinunetr),
                         "SwinUNETR", "SwinUNETR")
    match = _MEDNEXT.match(key)
    if not match:
        raise ValueError(f"unknown model {key!r}: use nnunet, unetr, swinunetr or mednext_<S|B|M|L>_k<3|5> "
                         "with an optional _upkern (k5), _noresresample or _twice (B k3) suffix")
    v, k, suffix = match["v"], int(match["k"]), match["suffix"] or ""
    trainer = f"nnUNetTrainerMedNeXt_{v}_k{k}"
    label = f"MedNeXt-{v} k{k}"
    depends = None
    if suffix == "_upkern":
        if k != 5:
            raise ValueError(f"{key}: UpKern initialises a k5 model from k3; use mednext_{v}_k5_upkern")
        trainer, label, depends = trainer + "_UpKern", label + " UpKern", f"mednext_{v}_k3"
    elif suffix in ("_noresresample", "_twice"):
        if (v, k) != ("B", 3):
            raise ValueError(f"{key}: the ablation trainers exist for B k3 (mednext_B_k3{suffix})")
        if suffix == "_twice":
            trainer, label, depends = trainer + "_Twice", label + " trained twice", "mednext_B_k3"
        else:
            trainer, label = trainer + "_NoResResample", label + " no res. resampling"
    return ModelSpec(key, trainer, MEDNEXT_PLANS, configuration_for_patch(patch), label, "MedNeXt", v, k, depends)
