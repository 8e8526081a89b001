"""Params and fvcore GFLOPs of the network nnU-Net planned for one dataset (rule complexity_nnunet)."""

import logging
import sys
import warnings

import pandas as pd

from mednext.nnunet.complexity import nnunet_complexity
from mednext.nnunet.registry import REFERENCE_MODEL, model_spec

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
logging.getLogger("fvcore").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")
row = nnunet_complexity(snakemake.input.plans, snakemake.input.dataset_json, size=int(snakemake.params.size))  # noqa: F821
row = {"model": REFERENCE_MODEL, "label": model_spec(REFERENCE_MODEL).label, **row,
       "published_params_m": None, "published_gflops": None}
print(row, file=sys.stderr)
pd.DataFrame([row]).to_csv(snakemake.output[0], index=False)  # noqa: F821
