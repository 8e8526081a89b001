"""MedNeXt plans: nnU-Net's planner with the paper's settings.

The paper trains every model (MedNeXt, UNETR, SwinUNETR) at 1.0 mm isotropic spacing with
128^3 patches and batch size 2. :class:`MedNeXtPlanner` is nnU-Net's own
``ExperimentPlanner`` (normalisation, resampling, transposition and median shapes all come from
it) with those three values fixed, and only the ``3d_fullres`` configuration. Smaller-patch
configurations (``3d_fullres_p32``, ...) inherit from it and share its preprocessed data: they
are the budget knob for demos and tests. Run after ``nnUNetv2_plan_and_preprocess -d ID``::

    mednext-plan -d 4                     # writes nnUNetPlans_MedNeXt.json and preprocesses
    nnUNetv2_train 4 3d_fullres 0 -tr nnUNetTrainerMedNeXt_B_k3 -p nnUNetPlans_MedNeXt
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from os.path import isfile, join

import numpy as np
from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner
from nnunetv2.experiment_planning.experiment_planners.network_topology import get_pool_and_conv_props

from mednext.network import DIVISOR
from mednext.nnunet.registry import FULLRES, MEDNEXT_PLANS, configuration_for_patch

__all__ = ["MEDNEXT_PLANS", "MedNeXtPlanner", "check_patch_size", "plan_mednext", "main"]


DESCRIPTION = """\
Write the MedNeXt plans of a dataset with the paper's settings (1.0 mm isotropic
spacing, 128^3 patches, batch size 2, 3d_fullres only; everything else as nnU-Net
plans it) and preprocess 3d_fullres. Smaller-patch configurations (3d_fullres_p32,
...) inherit from it and share its preprocessed data."""
EPILOG = """\
run after nnUNetv2_plan_and_preprocess -d ID, e.g.:
  mednext-plan -d 4        # writes nnUNetPlans_MedNeXt.json and preprocesses
  nnUNetv2_train 4 3d_fullres 0 -tr nnUNetTrainerMedNeXt_B_k3 -p nnUNetPlans_MedNeXt"""


def check_patch_size(patch_size: Sequence[int], where: str = "") -> None:
    """MedNeXt needs every patch edge divisible by 16 and more than one voxel in the 1/16 bottleneck."""
    edges = [int(p) for p in patch_size]
    if len(edges) != 3 or any(e < DIVISOR or e % DIVISOR for e in edges) or all(e == DIVISOR for e in edges):
        raise ValueError(
            f"patch size {edges}{where} does not fit MedNeXt: every edge must be a multiple of {DIVISOR} "
            f"(four stride-2 downsamplings) and at least one edge >= {2 * DIVISOR}"
        )


class MedNeXtPlanner(ExperimentPlanner):
    """nnU-Net's default planner with fixed spacing, patch size and batch size (3d_fullres only)."""

    def __init__(
        self,
        dataset_name_or_id: str | int,
        patch_size: Sequence[int] = (128, 128, 128),
        batch_size: int = 2,
        spacing: Sequence[float] = (1.0, 1.0, 1.0),
        plans_name: str = MEDNEXT_PLANS,
        small_patches: Sequence[int] = (32, 64),
    ) -> None:
        check_patch_size(patch_size)
        for edge in small_patches:
            check_patch_size((edge,) * 3)
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        super().__init__(dataset_name_or_id, plans_name=plans_name,
                         overwrite_target_spacing=[float(s) for s in spacing])
        self.fixed_patch_size = [int(p) for p in patch_size]
        self.fixed_batch_size = int(batch_size)
        self.small_patches = [int(e) for e in small_patches]

    def get_plans_for_configuration(self, spacing, median_shape, data_identifier, approximate_n_voxels_dataset,
                                    _cache) -> dict:
        plan = super().get_plans_for_configuration(spacing, median_shape, data_identifier,
                                                   approximate_n_voxels_dataset, _cache)
        if len(spacing) != 3:
            return plan  # 2d/lowres plans are computed by the parent and dropped in save_plans
        plan["patch_size"] = tuple(self.fixed_patch_size)
        plan["batch_size"] = self.fixed_batch_size
        # keep nnU-Net's own U-Net description consistent with the fixed patch (5 stages, stride 2)
        _, pool, conv, patch, _ = get_pool_and_conv_props(spacing, np.array(self.fixed_patch_size),
                                                          self.UNet_featuremap_min_edge_length, 999999)
        arch = plan["architecture"]["arch_kwargs"]
        n_stages = len(pool)
        arch.update(
            n_stages=n_stages,
            features_per_stage=tuple(min(self.UNet_max_features_3d, self.UNet_base_num_features * 2**i)
                                     for i in range(n_stages)),
            kernel_sizes=conv,
            strides=pool,
            n_conv_per_stage=self.UNet_blocks_per_stage_encoder[:n_stages],
            n_conv_per_stage_decoder=self.UNet_blocks_per_stage_decoder[:n_stages - 1],
        )
        return plan

    def save_plans(self, plans: dict) -> None:
        """Save ``plans`` with this planner's configurations only (nnU-Net's ``plan_experiment`` calls it once)."""
        fullres = plans["configurations"].get(FULLRES)
        if fullres is None:
            raise ValueError(f"{self.dataset_name} is not a 3D dataset: MedNeXt plans need a 3d_fullres configuration")
        plans["configurations"] = {FULLRES: fullres}
        for edge in set(self.small_patches) - {128}:  # 128 is 3d_fullres itself
            plans["configurations"][configuration_for_patch(edge)] = {
                "inherits_from": FULLRES,
                "patch_size": [edge, edge, edge],
            }
        plans["experiment_planner_used"] = self.__class__.__name__
        plans_file = join(os.environ["nnUNet_preprocessed"], self.dataset_name, self.plans_identifier + ".json")
        if isfile(plans_file):
            os.remove(plans_file)  # the parent merges old configurations; we want exactly these
        super().save_plans(plans)


def plan_mednext(dataset_id: int | str, preprocess: bool = True, num_processes: int = 4, **planner_settings) -> dict:
    """Write the MedNeXt plans for a fingerprinted dataset and (optionally) preprocess 3d_fullres.

    ``planner_settings`` override :class:`MedNeXtPlanner`'s (patch_size, batch_size, spacing,
    plans_name, small_patches).
    """
    planner = MedNeXtPlanner(dataset_id, **planner_settings)
    plans = planner.plan_experiment()
    if preprocess:
        from nnunetv2.experiment_planning.plan_and_preprocess_api import preprocess_dataset

        dataset_number = int(planner.dataset_name[len("Dataset"):len("Dataset") + 3])
        preprocess_dataset(dataset_number, planner.plans_identifier, (FULLRES,), (num_processes,),
                           show_progress_bar=False)
    return plans


def main(argv: Sequence[str] | None = None) -> int:
    # Planner settings left out keep MedNeXtPlanner's defaults (the paper's).
    unset = argparse.SUPPRESS
    p = argparse.ArgumentParser(prog="mednext-plan", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("-d", "--dataset", required=True, nargs="+", help="dataset id(s) or name(s)")
    p.add_argument("--patch", dest="patch_size", type=int, nargs=3, default=unset, help="patch size (paper: 128^3)")
    p.add_argument("--batch-size", type=int, default=unset, help="(paper: 2)")
    p.add_argument("--spacing", type=float, nargs=3, default=unset, help="target spacing in mm (paper: 1 1 1)")
    p.add_argument("--small-patches", type=int, nargs="*", default=unset,
                   help="edges of extra inherited configurations 3d_fullres_pN (default 32 64)")
    p.add_argument("-p", "--plans-name", default=unset)
    p.add_argument("--no-preprocess", action="store_true", help="only write the plans")
    p.add_argument("-np", "--num-processes", type=int,
                   default=int(os.environ.get("nnUNet_def_n_proc", 4)), help="preprocessing workers")
    settings = vars(p.parse_args(argv))
    datasets, preprocess, workers = settings.pop("dataset"), not settings.pop("no_preprocess"), settings.pop("num_processes")
    for dataset in datasets:
        dataset = int(dataset) if dataset.isdigit() else dataset
        problem = _not_plannable(dataset)
        if problem:
            print(f"error: mednext-plan: {problem}", file=sys.stderr)
            return 1
        plan_mednext(dataset, preprocess, workers, **settings)
    return 0


def _not_plannable(dataset: int | str) -> str | None:
    """Why nnU-Net's planner cannot start on ``dataset`` (an id or name), with the fix; None when it can."""
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    unset = [v for v in ("nnUNet_raw", "nnUNet_preprocessed") if not os.environ.get(v)]
    if unset:
        return (f"{' and '.join(unset)} not set; export nnUNet_raw=... nnUNet_preprocessed=... "
                "nnUNet_results=... as for any nnU-Net use (the workflow sets them from its config)")
    nnUNet_raw, nnUNet_preprocessed = os.environ["nnUNet_raw"], os.environ["nnUNet_preprocessed"]
    folders = f"nnUNet_raw={nnUNet_raw}, nnUNet_preprocessed={nnUNet_preprocessed}"
    try:
        name = maybe_convert_to_dataset_name(dataset)
    except RuntimeError:
        return f"no dataset {dataset} in nnUNet_raw or nnUNet_preprocessed ({folders}); set those variables"
    fingerprint = join(nnUNet_preprocessed, name, "dataset_fingerprint.json")
    if not isfile(fingerprint):
        return (f"{fingerprint}: missing; mednext-plan plans from nnU-Net's fingerprint: run "
                f"`nnUNetv2_plan_and_preprocess -d {dataset}` (or nnUNetv2_extract_fingerprint) first")
    return None


if __name__ == "__main__":
    raise SystemExit(main())
