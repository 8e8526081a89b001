"""Write the synthetic phantom as an nnU-Net raw dataset (rule phantom_dataset)."""

from pathlib import Path

from mednext.data.phantom import write_phantom_dataset
from rule_log import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    cfg = snakemake.params.cfg  # noqa: F821
    write_phantom_dataset(Path(snakemake.output[0]).parent, cases=cfg.get("cases", 12), seed=cfg.get("seed", 0),  # noqa: F821
                          shape=cfg.get("shape", (64, 64, 40)), spacing=cfg.get("spacing", (1.0, 1.0, 1.5)),
                          lesion=cfg.get("lesion", True))
