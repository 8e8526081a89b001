"""Fetch and verify one dataset's files (rule download); see mednext.data.acquire."""

import os

from mednext.data.acquire import ERRORS, download
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=ERRORS):  # noqa: F821 (snakemake is injected)
    download(snakemake.wildcards.dataset, snakemake.output[0].rsplit("/", 2)[0],  # noqa: F821
             os.environ["MEDNEXT_CHECKSUMS"], snakemake.params.source, log=print)  # noqa: F821
