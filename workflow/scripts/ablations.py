"""Cross-dataset tables: ablations, and ours beside published numbers (rule ablations)."""

from pathlib import Path

import pandas as pd

from mednext.evaluation.per_case import write_atomic_csv
from mednext.evaluation.tables import ablation_table, published_comparison
from rule_log import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    tables = {d: pd.read_csv(p) for d, p in zip(sm.params.datasets, sm.input.tables)}
    comparisons = {d: pd.read_csv(p) for d, p in zip(sm.params.datasets, sm.input.comparisons)}
    write_atomic_csv(ablation_table(comparisons, tables), sm.output.ablations)
    published = pd.read_csv(Path(sm.input.published))
    write_atomic_csv(published_comparison(tables, published), sm.output.published)
