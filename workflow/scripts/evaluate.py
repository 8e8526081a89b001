"""Per-case Dice and NSD of one model's out-of-fold predictions (rule evaluate)."""

import json
from pathlib import Path

import pandas as pd

from mednext.evaluation.per_case import COLUMNS, evaluate_folder, write_atomic_csv
from mednext.evaluation.regions import regions_for
from rule_log import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    sm = snakemake  # noqa: F821
    dataset_json = json.loads(Path(sm.input.dataset_json).read_text())
    regions = regions_for(sm.wildcards.dataset, dataset_json)
    allowed = sorted({v for vs in regions.values() for v in vs} | {0})
    manifest = pd.read_csv(sm.input.predictions, sep="\t")
    manifest["folder"] = [str(Path(p).parent) for p in manifest["path"]]
    frames = [
        evaluate_folder(folder, sm.params.labels, dict(zip(group["case"], group["fold"])), regions, sm.params.tolerance,
                        sm.wildcards.dataset, sm.wildcards.model, allowed, dataset_json["file_ending"])
        for folder, group in manifest.groupby("folder")
    ]
    write_atomic_csv(pd.concat(frames, ignore_index=True)[COLUMNS], sm.output[0])
