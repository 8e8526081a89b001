"""Write the synthetic phantom as an nnU-Net raw dataset (rule phantom_dataset)."""

from pathlib import Path

from mednext.data.phantom import write_phantom_dataset
from rule_log import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    # the config's keys (cases, seed, shape, spacing, lesion; the schema allows no others) are the function's
    # parameters: its defaults are the one place a missing key is filled
    write_phantom_dataset(Path(snakemake.output[0]).parent, **snakemake.params.cfg)  # noqa: F821
