"""Per-dataset tables (rule table)."""

import sys

import pandas as pd

from mednext.evaluation.per_case import read_per_case, write_atomic_csv
from mednext.evaluation.tables import dataset_tables, read_records

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
sm = snakemake  # noqa: F821
per_case = pd.concat([read_per_case(p) for p in sm.input.per_case], ignore_index=True)
folds_per_model = len(sm.input.records) // len(sm.params.models)
model_of = {str(p): sm.params.models[i // folds_per_model] for i, p in enumerate(sm.input.records)}
complexity = pd.concat([pd.read_csv(p) for p in sm.input.complexity], ignore_index=True)
tables = dataset_tables(per_case, sm.params.labels, complexity,
                        read_records(sm.input.records, model_of), synthetic=sm.params.synthetic)
for name, path in (("table", sm.output.table), ("per_class", sm.output.per_class),
                   ("comparisons", sm.output.comparisons), ("ranks", sm.output.ranks)):
    write_atomic_csv(tables[name], path)
