"""Params and fvcore GFLOPs of the network nnU-Net planned for one dataset.

nnU-Net's architecture depends on the dataset (its plans: stages, features, kernel sizes), so
unlike MedNeXt's it is counted per dataset (rule ``complexity_nnunet``). The counting itself is
``mednext.complexity``'s.
"""

from __future__ import annotations

import json
import math

from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from mednext.complexity import count_flops, count_parameters

__all__ = ["nnunet_complexity"]


def nnunet_complexity(plans_file: str, dataset_json_file: str, configuration: str = "3d_fullres",
                      size: int = 128) -> dict:
    """Params (M) and GFLOPs of the network nnU-Net planned for one dataset, at ``1 x C x size^3``.

    Deep-supervision heads are not counted.
    """
    with open(dataset_json_file) as f:
        dataset_json = json.load(f)
    plans = PlansManager(plans_file)
    cfg = plans.get_configuration(configuration)
    in_channels = len(dataset_json["channel_names"])
    network = get_network_from_plans(cfg.network_arch_class_name, cfg.network_arch_init_kwargs,
                                     cfg.network_arch_init_kwargs_req_import, in_channels,
                                     plans.get_label_manager(dataset_json).num_segmentation_heads,
                                     allow_init=False, deep_supervision=False)
    strides = cfg.network_arch_init_kwargs.get("strides", [])
    total = [math.prod(s[a] if isinstance(s, (list, tuple)) else s for s in strides) for a in range(3)]
    if any(size % t for t in total):
        raise ValueError(f"{plans_file}: nnU-Net's {configuration} network downsamples by {total}; an input of "
                         f"{size}^3 does not divide by it. Count at a size that does (complexity_input_size).")
    return {"params_m": count_parameters(network) / 1e6,
            "gflops": count_flops(network, (1, in_channels, size, size, size)) / 1e9,
            "input_size": size, "patch_size": "x".join(str(p) for p in cfg.patch_size)}
