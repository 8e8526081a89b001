"""List the out-of-fold predictions of one model (rule oof_predictions); stop on any missing case."""

import json
import sys
from pathlib import Path

import pandas as pd

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
splits = json.loads(Path(snakemake.input.splits).read_text())  # noqa: F821
rows = []
for fold, folder in snakemake.params.fold_dirs.items():  # noqa: F821
    for case in splits[int(fold)]["val"]:
        path = Path(folder) / "validation" / f"{case}{snakemake.params.file_ending}"  # noqa: F821
        if not path.is_file():
            raise SystemExit(f"missing out-of-fold prediction {path}: rerun the training job of fold {fold} "
                             "(nnU-Net writes these in its final validation)")
        rows.append({"case": case, "fold": int(fold), "path": str(path)})
pd.DataFrame(rows).to_csv(snakemake.output[0], sep="\t", index=False)  # noqa: F821
