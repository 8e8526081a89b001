"""The benchmark's models: config key -> nnU-Net trainer, plans, configuration and source; the ablation comparisons.

The workflow, the tables and the figures all name models by these keys (``mednext_B_k5_upkern``);
:mod:`mednext.nnunet.runspec` turns a key into a run. :data:`ABLATIONS` is the one list of the
paper's ablation comparisons (a model may be the subject of several); :data:`ABLATION_MODELS` are
the runs they need, the ablation cells the workflow trains on its ablation datasets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["ABLATIONS", "ABLATION_MODELS", "Ablation", "FULLRES", "MEDNEXT_PLANS", "ModelSpec", "model_spec",
           "configuration_for_patch", "patch_of_configuration", "REFERENCE_MODEL"]

NNUNET_PLANS = "nnUNetPlans"
MEDNEXT_PLANS = "nnUNetPlans_MedNeXt"
FULLRES = "3d_fullres"
REFERENCE_MODEL = "nnunet"
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
    residual_resampling: bool = True


@dataclass(frozen=True)
class Ablation:
    """One ablation comparison: ``model`` minus ``reference``, per case."""

    model: str
    reference: str
    question: str  # what the comparison answers, for tables and figures: "<model> vs <reference>"


# The paper's ablation cells are MedNeXt-B's; every comparison of the ablation table, in its order.
ABLATIONS = (
    Ablation("mednext_B_k3_noresresample", "mednext_B_k3", "plain vs residual resampling"),
    Ablation("mednext_B_k5_upkern", "mednext_B_k5", "UpKern vs from scratch (k5)"),
    Ablation("mednext_B_k5_upkern", "mednext_B_k3_twice", "UpKern k5 vs k3 trained twice (equal training compute)"),
    Ablation("mednext_B_k5_upkern", "mednext_B_k3", "k5 UpKern vs k3"),
)
ABLATION_MODELS = tuple(dict.fromkeys(m for a in ABLATIONS for m in (a.reference, a.model)))


def configuration_for_patch(patch: int) -> str:
    """The MedNeXt-plans configuration for a cubic patch edge (``mednext-plan --small-patches``)."""
    return FULLRES if patch == 128 else f"{FULLRES}_p{patch}"


def patch_of_configuration(configuration: str) -> int:
    """The cubic patch edge of a MedNeXt-plans configuration (the inverse of :func:`configuration_for_patch`)."""
    return 128 if configuration == FULLRES else int(configuration.removeprefix(f"{FULLRES}_p"))


def model_spec(key: str, patch: int = 128, patch_swinunetr: int = 128) -> ModelSpec:
    """Resolve a model key.

    nnU-Net trains with ``nnUNetTrainerBudget`` under every budget, the paper's too: nnU-Net's
    ``nnUNetTrainer`` recipe unchanged, plus what every run here needs (budget from the
    environment, run record, atomic checkpoints, checkpoint on notice: :mod:`mednext.nnunet.budget`).
    """
    if key == "nnunet":
        return ModelSpec(key, "nnUNetTrainerBudget", NNUNET_PLANS, FULLRES, "nnU-Net", "nnU-Net")
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
    k3 = f"mednext_{v}_k3"
    spec = ModelSpec(key, f"nnUNetTrainerMedNeXt_{v}_k{k}", MEDNEXT_PLANS, configuration_for_patch(patch),
                     f"MedNeXt-{v} k{k}", "MedNeXt", v, k)
    if suffix == "_upkern":
        if k != 5:
            raise ValueError(f"{key}: UpKern initialises a k5 model from k3; use mednext_{v}_k5_upkern")
        return _variant(spec, key, "_UpKern", " UpKern", depends_on=k3)
    if suffix and (v, k) != ("B", 3):
        raise ValueError(f"{key}: the ablation trainers exist for B k3 (mednext_B_k3{suffix})")
    if suffix == "_twice":
        return _variant(spec, key, "_Twice", " trained twice", depends_on=k3)
    if suffix == "_noresresample":
        return _variant(spec, key, "_NoResResample", " no res. resampling", residual_resampling=False)
    return spec


def _variant(spec: ModelSpec, key: str, trainer_suffix: str, label_suffix: str, **changes) -> ModelSpec:
    return replace(spec, key=key, trainer=spec.trainer + trainer_suffix, label=spec.label + label_suffix, **changes)
