"""Pinned 5-fold splits (rule splits): the shipped file if there is one, else nnU-Net's own seeded split."""

import json
import shutil
import sys
from pathlib import Path

from nnunetv2.utilities.crossval_split import generate_crossval_split

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
shipped = Path(snakemake.params.shipped)  # noqa: F821
out = Path(snakemake.output[0])  # noqa: F821
if shipped.is_file():
    shutil.copy(shipped, out)
else:
    dataset_json = json.loads((Path(snakemake.params.raw) / "dataset.json").read_text())  # noqa: F821
    ending = dataset_json["file_ending"]
    cases = sorted(p.name[: -len(ending)] for p in (Path(snakemake.params.raw) / "labelsTr").glob(f"*{ending}"))  # noqa: F821
    splits = generate_crossval_split(cases, seed=12345, n_splits=5)  # nnU-Net's default split
    out.write_text(json.dumps(splits, indent=2))
