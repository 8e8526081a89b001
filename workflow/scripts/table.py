"""Per-dataset tables (rule table)."""

import pandas as pd

from mednext.evaluation.per_case import read_per_case, write_atomic_csv
from mednext.evaluation.tables import dataset_tables, learning_curves, load_records, summarise_run_records
from rule_log import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    per_case = pd.concat([read_per_case(p) for p in sm.input.per_case], ignore_index=True)
    model_of = dict(zip(map(str, sm.input.records), sm.params.record_models))
    complexity = pd.concat([pd.read_csv(p) for p in sm.input.complexity], ignore_index=True)
    records = load_records(sm.input.records, model_of)
    tables = dataset_tables(per_case, sm.params.labels, complexity, summarise_run_records(records),
                            synthetic=sm.params.synthetic)
    tables["learning"] = learning_curves(records)
    for name, path in (("table", sm.output.table), ("per_class", sm.output.per_class),
                       ("comparisons", sm.output.comparisons), ("ranks", sm.output.ranks),
                       ("learning", sm.output.learning)):
        write_atomic_csv(tables[name], path)
