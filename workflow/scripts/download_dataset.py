"""Fetch and verify one dataset's files (rule download); see mednext.data.acquire."""

import os

from mednext.data.acquire import ERRORS, download, download_source
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=ERRORS):  # noqa: F821 (snakemake is injected)
    dataset = snakemake.wildcards.dataset  # noqa: F821 (a paper dataset, downloaded once for all its variants)
    # the param is the source's file only: where it comes from changes no byte
    source = download_source(dataset, snakemake.config["datasets"])  # noqa: F821
    download(dataset, snakemake.output[0].rsplit("/", 2)[0],  # noqa: F821
             os.environ["MEDNEXT_CHECKSUMS"], source, log=print)
