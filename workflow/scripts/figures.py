"""Figures of one dataset (rule figures)."""

import sys
from pathlib import Path

import pandas as pd

from mednext.evaluation.figures import make_figures
from mednext.evaluation.per_case import read_per_case

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
sm = snakemake  # noqa: F821
per_case = pd.concat([read_per_case(p) for p in sm.input.per_case], ignore_index=True)
make_figures(pd.read_csv(sm.input.table), per_case, pd.read_csv(sm.input.comparisons), pd.read_csv(sm.input.ranks),
             Path(sm.output[0]).parent, sm.wildcards.dataset, sm.params.name, sm.params.synthetic)
