"""Figures of one dataset (rule figures)."""

from pathlib import Path

import pandas as pd

from mednext.evaluation.figures import make_figures
from mednext.evaluation.per_case import read_per_case
from rule_log import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    per_case = pd.concat([read_per_case(p) for p in sm.input.per_case], ignore_index=True)
    make_figures(pd.read_csv(sm.input.table), per_case, pd.read_csv(sm.input.comparisons), pd.read_csv(sm.input.ranks),
                 Path(sm.output[0]).parent, sm.wildcards.dataset, sm.params.name, sm.params.synthetic,
                 learning=pd.read_csv(sm.input.learning))
