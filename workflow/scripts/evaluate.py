"""Per-case Dice and NSD of one model's out-of-fold predictions (rule evaluate)."""

import json
import sys
from pathlib import Path

import pandas as pd

from mednext.evaluation.per_case import COLUMNS, write_atomic_csv
from mednext.evaluation.metrics import evaluate_case
from mednext.evaluation.regions import regions_for

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
sm = snakemake  # noqa: F821
dataset_json = json.loads(Path(sm.input.dataset_json).read_text())
regions = regions_for(sm.wildcards.dataset, dataset_json)
allowed = sorted({v for vs in regions.values() for v in vs} | {0})
manifest = pd.read_csv(sm.input.predictions, sep="\t")
rows = []
for case, fold, path in manifest[["case", "fold", "path"]].itertuples(index=False):
    reference = Path(sm.params.labels) / f"{case}{dataset_json['file_ending']}"
    for m in evaluate_case(case, path, reference, regions, sm.params.tolerance, allowed):
        rows.append({"dataset": sm.wildcards.dataset, "model": sm.wildcards.model, "fold": int(fold),
                     "case": m.case, "region": m.region, "dice": m.dice, "nsd": m.nsd,
                     "reference_voxels": m.reference_voxels, "predicted_voxels": m.predicted_voxels})
write_atomic_csv(pd.DataFrame(rows, columns=COLUMNS), sm.output[0])
