"""Extract and convert one verified download into an nnU-Net raw dataset (rule convert_dataset)."""

import sys
from pathlib import Path

from mednext.data.acquire import ERRORS, convert

log = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected)
sys.stdout = sys.stderr = log
try:
    convert(snakemake.params.dataset, snakemake.params.downloads, Path(snakemake.output[0]).parent,  # noqa: F821
            log=lambda msg: print(msg, flush=True))
except ERRORS as err:
    print(f"error: {err}", flush=True)  # on the console too: show-failed-logs (profiles/default)
    raise SystemExit(1)
