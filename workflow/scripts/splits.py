"""Pinned 5-fold splits (rule splits); see mednext.data.splits."""

import json
import os
from pathlib import Path

from mednext.data.splits import pinned_splits, raw_cases
from mednext.data.validate import DatasetError
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=DatasetError):  # noqa: F821 (snakemake is injected)
    raw = Path(os.environ["nnUNet_raw"]) / snakemake.wildcards.ds  # noqa: F821
    splits, how = pinned_splits(raw_cases(raw), snakemake.params.shipped,  # noqa: F821
                                write_if_missing=snakemake.params.record)  # noqa: F821
    Path(snakemake.output[0]).write_text(json.dumps(splits, indent=2))  # noqa: F821
    print(f"{how}: {snakemake.params.shipped}")  # noqa: F821
