"""Fetch and verify one dataset's files (rule download); see mednext.data.acquire."""

import sys

from mednext.data.acquire import ERRORS, download

log = open(snakemake.log[0], "w")  # noqa: F821 (snakemake is injected)
sys.stdout = sys.stderr = log
try:
    download(snakemake.wildcards.dataset, snakemake.output[0].rsplit("/", 2)[0],  # noqa: F821
             snakemake.params.checksums, snakemake.params.source, log=lambda msg: print(msg, flush=True))  # noqa: F821
except ERRORS as err:
    print(f"error: {err}", flush=True)  # on the console too: show-failed-logs (profiles/default)
    raise SystemExit(1)
