"""Params and fvcore GFLOPs of every configured network (rule complexity)."""

import logging
import sys
import warnings

import pandas as pd
import torch

from mednext.complexity import count_flops, count_parameters, mednext_complexity
from mednext.nnunet.registry import model_spec

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
logging.getLogger("fvcore").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")
torch.set_num_threads(snakemake.threads)  # noqa: F821 (more threads than the job's cores only wait)
size = int(snakemake.params.size)  # noqa: F821
rows = []
counted = {}  # one count per architecture: k5 and k5_upkern (B k3 and B k3 twice) share one
for key in snakemake.params.models:  # noqa: F821
    spec = model_spec(key)
    if spec.family == "MedNeXt":
        arch = (spec.variant, spec.kernel_size, not key.endswith("_noresresample"))
        if arch not in counted:
            counted[arch] = mednext_complexity(spec.variant, spec.kernel_size, size=size, residual_resampling=arch[2])
        c = counted[arch]
        row = {"params_m": c.params_m, "gflops": c.gflops, "published_params_m": c.published_params_m,
               "published_gflops": c.published_gflops}
    else:
        from baselines.monai_trainers import build_swinunetr, build_unetr

        net = build_unetr(1, 2, (size,) * 3) if key == "unetr" else build_swinunetr(1, 2)
        row = {"params_m": count_parameters(net) / 1e6, "gflops": count_flops(net, (1, 1, size, size, size)) / 1e9,
               "published_params_m": None, "published_gflops": None}
    rows.append({"model": key, "label": spec.label, "input_size": size, **row})
    print(rows[-1], file=sys.stderr, flush=True)
# the columns also where no network is counted here (only nnU-Net configured: rule complexity_nnunet counts it)
COLUMNS = ["model", "label", "input_size", "params_m", "gflops", "published_params_m", "published_gflops"]
pd.DataFrame(rows, columns=COLUMNS).to_csv(snakemake.output[0], index=False)  # noqa: F821
