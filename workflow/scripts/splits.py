"""Pinned 5-fold splits (rule splits); see mednext.data.splits."""

import json
import sys
from pathlib import Path

from mednext.data.splits import pinned_splits, raw_cases
from mednext.data.validate import DatasetError

log = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected)
sys.stderr = log
try:
    splits, how = pinned_splits(raw_cases(snakemake.params.raw), snakemake.params.shipped,  # noqa: F821
                                write_if_missing=snakemake.params.record)  # noqa: F821
except DatasetError as err:
    print(f"error: {err}", file=log, flush=True)  # on the console too: show-failed-logs (profiles/default)
    raise SystemExit(1)
Path(snakemake.output[0]).write_text(json.dumps(splits, indent=2))  # noqa: F821
print(f"{how}: {snakemake.params.shipped}", file=log)  # noqa: F821
