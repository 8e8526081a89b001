"""Download, verify and convert a real dataset (rule real_dataset).

Acquisition of BTCV, AMOS22, KiTS19 and BraTS21 is tracked as its own piece of work; until it
lands, this rule stops with what to do instead.
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
dataset = snakemake.params.dataset  # noqa: F821
raise SystemExit(
    f"Automatic download and conversion of {dataset!r} is not available yet. Convert the dataset to nnU-Net "
    f"raw format yourself (nnunetv2.dataset_conversion has scripts for BraTS21 and AMOS) and either place it at "
    f"{snakemake.output[0].rsplit('/', 1)[0]} or set datasets.{dataset}.path in your config."  # noqa: F821
)
