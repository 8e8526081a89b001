"""Fetch and verify one dataset's files (rule download); see mednext.data.acquire."""

import os

from mednext.data.acquire import ERRORS, download
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=ERRORS):  # noqa: F821 (snakemake is injected)
    dataset = snakemake.wildcards.dataset  # noqa: F821
    source = snakemake.config["datasets"][dataset].get("source", {})  # noqa: F821 (the param is its file only)
    download(dataset, snakemake.output[0].rsplit("/", 2)[0],  # noqa: F821
             os.environ["MEDNEXT_CHECKSUMS"], source, log=print)
