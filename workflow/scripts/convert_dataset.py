"""Extract and convert one verified download into an nnU-Net raw dataset (rule convert_dataset)."""

from pathlib import Path

from mednext.data.acquire import ERRORS, convert
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=ERRORS):  # noqa: F821 (snakemake is injected)
    convert(snakemake.params.dataset, snakemake.params.downloads, Path(snakemake.output[0]).parent, log=print)  # noqa: F821
