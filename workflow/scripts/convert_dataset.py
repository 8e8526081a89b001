"""Extract and convert one verified download into an nnU-Net raw dataset (rule convert_dataset)."""

from pathlib import Path

from mednext.data.acquire import ERRORS, convert, convert_options
from rule_log import rule_log

with rule_log(snakemake.log[0], expected=ERRORS):  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    downloads = Path(sm.input[0]).parent.parent  # <downloads>/<dataset>/download.json
    convert(sm.params.dataset, downloads, Path(sm.output[0]).parent, log=print,
            options=convert_options(sm.params.dataset, sm.params.settings))
