"""Extract and convert one verified download into an nnU-Net raw dataset (rule convert_dataset)."""

import sys
from pathlib import Path

from mednext.data.acquire import ERRORS, convert, convert_options

log = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected)
sys.stdout = sys.stderr = log
try:
    sm = snakemake  # noqa: F821
    convert(sm.params.dataset, sm.params.downloads, Path(sm.output[0]).parent, log=lambda msg: print(msg, flush=True),
            options=convert_options(sm.params.dataset, sm.params.settings))
except ERRORS as err:
    print(f"error: {err}", flush=True)  # on the console too: show-failed-logs (profiles/default)
    raise SystemExit(1)
